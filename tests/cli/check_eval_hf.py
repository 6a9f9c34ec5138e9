#!/usr/bin/env python3
"""Checks `edgeroute eval --logits` against Hugging Face on the same texts.

Usage: check_eval_hf.py --edgeroute BIN --model DIR --texts FILE.jsonl --work DIR

Row i of FILE.jsonl ({"text": ...} per line) gets the model's label
id2label[i % k]; the rows are written as labeled JSONL into WORK and
`edgeroute eval --json --logits` runs on them (FP32, the default for a
directory). The check fails when
  * a row's logits differ by more than 1e-4 from those of
    AutoModelForSequenceClassification on the same text (the directory's own
    tokenizer, truncated to the model's maximum length);
  * the logits file is not in input order, carries another label, or its
    "predicted" is not the argmax of its logits;
  * the report's example count, accuracy, NLL or (when scikit-learn is
    installed) macro-F1 disagree with what the logits file implies.
Exit codes: 0 pass, 1 fail, 77 skip (model or torch/transformers absent).
"""
import argparse
import json
import subprocess
import sys
from pathlib import Path

TOLERANCE = 1e-4


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--edgeroute", required=True, type=Path)
    ap.add_argument("--model", required=True, type=Path)
    ap.add_argument("--texts", required=True, type=Path)
    ap.add_argument("--work", required=True, type=Path)
    args = ap.parse_args()
    if not (args.model / "model.safetensors").exists():
        print(f"SKIP: {args.model} is absent (ctest fixture engine_models)")
        return 77
    try:
        import torch
        from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer
    except ImportError as e:
        print(f"SKIP: {e}")
        return 77

    config = AutoConfig.from_pretrained(str(args.model))
    names = [config.id2label[i] for i in range(len(config.id2label))]
    texts = [json.loads(line)["text"] for line in args.texts.read_text(encoding="utf-8").splitlines() if line.strip()]
    labels = [names[i % len(names)] for i in range(len(texts))]
    args.work.mkdir(parents=True, exist_ok=True)
    data = args.work / "data.jsonl"
    with data.open("w", encoding="utf-8") as f:
        for text, label in zip(texts, labels):
            f.write(json.dumps({"text": text, "label": label}) + "\n")
    logits_path = args.work / "logits.jsonl"
    run = subprocess.run([str(args.edgeroute), "eval", "--json", "--model", str(args.model), "--data", str(data),
                          "--logits", str(logits_path)], capture_output=True, text=True)
    if run.returncode != 0:
        print(f"FAIL: edgeroute eval exited with {run.returncode}:\n{run.stdout}{run.stderr}")
        return 1
    report = json.loads(run.stdout)
    rows = [json.loads(line) for line in logits_path.read_text(encoding="utf-8").splitlines()]

    problems = []
    if len(rows) != len(texts) or report["examples"] != len(texts):
        problems.append(f"{len(texts)} texts, {len(rows)} logits rows, report says {report['examples']}")
    for i, row in enumerate(rows):
        if row["row"] != i or row["label"] != labels[i]:
            problems.append(f"logits line {i + 1}: row {row['row']} label {row['label']!r}, expected {i} {labels[i]!r}")
            break
    ours = torch.tensor([row["logits"] for row in rows], dtype=torch.float64)
    predicted = [names[j] for j in ours.argmax(dim=1).tolist()]
    if [row["predicted"] for row in rows] != predicted:
        problems.append("'predicted' is not the argmax of the logits")

    tok = AutoTokenizer.from_pretrained(str(args.model))
    model = AutoModelForSequenceClassification.from_pretrained(str(args.model), attn_implementation="eager").eval()
    max_len = min(tok.model_max_length, config.max_position_embeddings)
    theirs = []
    with torch.no_grad():
        for start in range(0, len(texts), 32):
            enc = tok(texts[start:start + 32], truncation=True, max_length=max_len, padding=True, return_tensors="pt")
            theirs.append(model(**enc).logits.double())
    theirs = torch.cat(theirs)
    diff = (ours - theirs).abs().max().item()
    print(f"{args.model.name}: {len(texts)} texts, max |logit diff| vs Hugging Face {diff:.3g}")
    if diff > TOLERANCE:
        worst = (ours - theirs).abs().max(dim=1).values.argmax().item()
        problems.append(f"max |logit diff| {diff:.3g} > {TOLERANCE} (worst row {worst}: {texts[worst]!r})")

    truth = torch.tensor([names.index(label) for label in labels])
    accuracy = (ours.argmax(dim=1) == truth).double().mean().item()
    nll = torch.nn.functional.cross_entropy(ours, truth).item()
    if abs(report["accuracy"] - accuracy) > 1e-12:
        problems.append(f"report accuracy {report['accuracy']} != {accuracy} from the logits")
    if abs(report["nll"] - nll) > 1e-6:
        problems.append(f"report NLL {report['nll']} != {nll} from the logits")
    try:
        from sklearn.metrics import f1_score
    except ImportError:
        print("macro-F1 not cross-checked: scikit-learn is not installed")
    else:
        macro_f1 = f1_score(labels, predicted, average="macro")
        if abs(report["macro_f1"] - macro_f1) > 1e-12:
            problems.append(f"report macro-F1 {report['macro_f1']} != scikit-learn's {macro_f1}")

    for p in problems:
        print(f"FAIL: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
