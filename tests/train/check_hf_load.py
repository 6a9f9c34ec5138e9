#!/usr/bin/env python3
"""Checks that a directory saved by edgeroute_train loads in Hugging Face
transformers unchanged and computes what our C++ forward computed.

Usage: check_hf_load.py OUT

OUT is the saved model directory; OUT.edgeroute.safetensors holds our outputs
(written by train_roundtrip: input_ids, attention_mask, last_hidden_state,
pooler_output, logits or mlm_logits, and the texts in its metadata). The
check fails when the Auto class of config.json's architecture reports any
missing, unexpected or mismatched key, when HF's tokenizer in OUT gives other
ids, or when an output differs by more than 1e-4 (padded positions ignored).
Exit codes: 0 pass, 1 fail, 77 skip (nothing was saved).
"""
import json
import sys
from pathlib import Path

TOLERANCE = 1e-4


def main() -> int:
    out = Path(sys.argv[1])
    ours_path = Path(str(out) + ".edgeroute.safetensors")
    if not (out / "config.json").exists() or not ours_path.exists():
        print(f"SKIP: {out} or {ours_path} is absent")
        return 77

    import torch
    from safetensors import safe_open
    from transformers import (AutoConfig, AutoModel, AutoModelForMaskedLM, AutoModelForSequenceClassification,
                              AutoTokenizer)

    with safe_open(str(ours_path), "pt") as f:
        ours = {k: f.get_tensor(k) for k in f.keys()}
        meta = f.metadata()
    texts = json.loads(meta["texts"])
    arch = (AutoConfig.from_pretrained(str(out)).architectures or [""])[0]
    if arch.endswith("ForSequenceClassification"):
        cls = AutoModelForSequenceClassification
    elif arch.endswith("ForMaskedLM"):
        cls = AutoModelForMaskedLM
    else:
        cls = AutoModel
    model, info = cls.from_pretrained(str(out), output_loading_info=True, attn_implementation="eager")
    model.eval()
    problems = [f"{key}: {sorted(map(str, value))}" for key, value in info.items() if value]

    tok = AutoTokenizer.from_pretrained(str(out))
    enc = tok(texts, truncation=True, max_length=int(meta["max_len"]), padding=True, return_tensors="pt")
    ids, mask = ours["input_ids"], ours["attention_mask"]
    if not torch.equal(enc["input_ids"], ids):
        problems.append("the saved tokenizer gives other token ids than ours")

    with torch.no_grad():
        res = model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    valid = mask.bool().unsqueeze(-1)
    diffs = {"last_hidden_state": ((res.hidden_states[-1] - ours["last_hidden_state"]).abs() * valid).max().item()}
    if "pooler_output" in ours and getattr(res, "pooler_output", None) is not None:
        diffs["pooler_output"] = (res.pooler_output - ours["pooler_output"]).abs().max().item()
    if "logits" in ours:
        diffs["logits"] = (res.logits - ours["logits"]).abs().max().item()
    if "mlm_logits" in ours:
        diffs["mlm_logits"] = ((res.logits - ours["mlm_logits"]).abs() * valid).max().item()
    for name, d in diffs.items():
        if not d <= TOLERANCE:
            problems.append(f"{name} differs by {d:.3g} (> {TOLERANCE})")
    print(f"{out.name}: {cls.__name__} ({arch}), max |HF - ours|: " +
          ", ".join(f"{k} {v:.3g}" for k, v in diffs.items()))
    for p in problems:
        print(f"FAIL: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
