"""End to end through the `edgeroute` binary: dapt -> train -> eval on a tiny
random BERT and DistilBERT (python/make_tiny_models.py) and a few hundred synthetic support
messages, then Hugging Face loads the trained directory unchanged and must give
the logits `edgeroute eval --logits` printed (max abs diff <= 1e-4).

Run by ctest (label parity) with the project's venv:
  EDGEROUTE_BIN=build/bin/edgeroute TINY_MODELS=build/tests/train/models \
  WORK=/tmp/x python -m pytest -q tests/train/test_pipeline.py
"""
import csv
import json
import os
import random
import subprocess
from pathlib import Path

import pytest

TOLERANCE = 1e-4
CLASSES = {
    "billing": ["charged twice", "refund", "fee", "bill", "payment failed"],
    "cards": ["card", "pin", "atm", "lost card", "card stolen"],
    "travel": ["flight", "hotel", "trip", "baggage", "seat"],
}
FILLER = ["my", "the", "please", "help", "why is", "i need", "today", "again"]


def env_path(name):
    value = os.environ.get(name)
    if not value:
        pytest.skip(f"{name} is not set (run through ctest)")
    return Path(value)


def messages(n, seed):
    rng = random.Random(seed)
    names = sorted(CLASSES)
    rows = []
    for i in range(n):
        label = names[i % len(names)]
        words = [rng.choice(CLASSES[label]), rng.choice(CLASSES[label]), rng.choice(FILLER), rng.choice(FILLER)]
        rng.shuffle(words)
        rows.append((" ".join(words), label))
    return rows


def write_csv(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        w.writerows(rows)


def run(*args):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    assert r.returncode == 0, f"{args[:2]} exited {r.returncode}:\n{r.stdout}{r.stderr}"
    return r


@pytest.fixture(scope="module", params=["tiny-bert-mlm", "tiny-distilbert-mlm"])
def pipeline(request):
    edgeroute = env_path("EDGEROUTE_BIN")
    base = env_path("TINY_MODELS") / request.param
    if not (base / "model.safetensors").exists():
        pytest.skip(f"{base} is absent (ctest fixture train_models)")
    work = env_path("WORK") / request.param
    work.mkdir(parents=True, exist_ok=True)
    train, val, test = work / "train.csv", work / "val.csv", work / "test.csv"
    write_csv(train, messages(300, 1))
    write_csv(val, messages(60, 2))
    write_csv(test, messages(60, 3))
    texts = work / "texts.txt"
    texts.write_text("".join(t + "\n" for t, _ in messages(300, 4)), encoding="utf-8")
    adapted, classifier = work / "adapted", work / "classifier"
    common = ["--threads", "1", "--no-progress", "--force", "--batch", "16"]
    run(edgeroute, "dapt", "--model", base, "--text", texts, "--out", adapted, "--epochs", "3", "--lr", "2e-3", *common)
    run(edgeroute, "train", "--model", adapted, "--train", train, "--val", val, "--out", classifier,
        "--head-epochs", "2", "--head-lr", "1e-2", "--epochs", "6", "--lr", "2e-3", *common)
    logits = work / "logits.jsonl"
    report = run(edgeroute, "eval", "--json", "--model", classifier, "--data", test, "--logits", logits)
    return {"adapted": adapted, "classifier": classifier, "test": test, "logits": logits,
            "report": json.loads(report.stdout)}


def test_dapt_lowers_the_held_out_masked_lm_loss(pipeline):
    log = json.loads((pipeline["adapted"] / "dapt_log.json").read_text())
    assert log["held_out_loss_after"] < log["held_out_loss_before"], log


def test_train_lowers_the_loss(pipeline):
    # Whether it learns is checked by test_train_cli on a word-level vocabulary;
    # these tiny models see characters and cannot in a few steps.
    log = json.loads((pipeline["classifier"] / "training_log.json").read_text())
    full = [e for e in log["epochs"] if e["stage"] == "full"]
    assert full[-1]["train_loss"] < full[0]["train_loss"], log["epochs"]
    assert pipeline["report"]["examples"] == 60
    config = json.loads((pipeline["classifier"] / "config.json").read_text())
    assert config["edgeroute_temperature"] == pytest.approx(log["temperature"])
    assert config["id2label"] == {"0": "billing", "1": "cards", "2": "travel"}


def test_hugging_face_loads_the_output_with_the_same_logits(pipeline):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    directory = str(pipeline["classifier"])
    model = transformers.AutoModelForSequenceClassification.from_pretrained(directory).eval()
    tok = transformers.AutoTokenizer.from_pretrained(directory)
    with open(pipeline["test"], newline="", encoding="utf-8") as f:
        texts = [r["text"] for r in csv.DictReader(f)]
    ours = [json.loads(line)["logits"] for line in pipeline["logits"].read_text().splitlines()]
    assert len(ours) == len(texts)
    with torch.no_grad():
        enc = tok(texts, padding=True, truncation=True, return_tensors="pt")
        theirs = model(**enc).logits
    diff = (theirs - torch.tensor(ours)).abs().max().item()
    assert diff <= TOLERANCE, f"max abs logit difference {diff}"
