#!/usr/bin/env python3
"""Fine-tune a classifier with Hugging Face's Trainer: the Python baseline that
`edgeroute train` is compared against (accuracy and wall time, same data and
hyperparameters, same machine). The product never runs this.

The validation split is carved from the training file (stratified, fixed
seed) exactly as `edgeroute train` does when --val is omitted; the test file
is only scored at the end. Writes the checkpoint (a Hugging Face directory)
and a JSON report with accuracy, macro-F1 and wall time.

Usage: python/hf_finetune_baseline.py --model models/all-MiniLM-L6-v2 \\
         --train ../shared/data/banking77/train.csv --test ../shared/data/banking77/test.csv \\
         --out out/baseline-banking77 [--epochs 6 --lr 1e-4 --batch 32 --max-len 128 --threads 2]
         [--bf16] [--freeze-embeddings]

--bf16 is the Trainer's CPU bfloat16 autocast and --freeze-embeddings keeps the
word embeddings fixed, as `edgeroute train --bf16 --freeze-embeddings` does.
"""
import argparse
import json
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hf_reference  # noqa: E402


def read_labeled(path: Path, text_col, label_col):
    import csv
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        cols = reader.fieldnames or []
        tcol = hf_reference.pick_column(cols, text_col)
        lcol = hf_reference.pick_column(cols, label_col, hf_reference.LABEL_COLUMNS, "label", path)
        rows = [(r[tcol], r[lcol]) for r in reader]
    return rows


def stratified_split(rows, fraction, seed):
    by_label = defaultdict(list)
    for i, (_, y) in enumerate(rows):
        by_label[y].append(i)
    rng = random.Random(seed)
    val = set()
    for idx in by_label.values():
        rng.shuffle(idx)
        val.update(idx[: max(1, round(len(idx) * fraction))])
    return [r for i, r in enumerate(rows) if i not in val], [r for i, r in enumerate(rows) if i in val]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, type=Path)
    ap.add_argument("--train", required=True, type=Path)
    ap.add_argument("--test", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--text-col")
    ap.add_argument("--label-col")
    ap.add_argument("--epochs", type=float, default=6)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--bf16", action="store_true")
    ap.add_argument("--freeze-embeddings", action="store_true")
    ap.add_argument("--val-fraction", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import numpy as np
    import torch
    from transformers import (AutoModelForSequenceClassification, DataCollatorWithPadding, Trainer,
                              TrainingArguments)

    torch.set_num_threads(args.threads)
    rows = read_labeled(args.train, args.text_col, args.label_col)
    test = read_labeled(args.test, args.text_col, args.label_col)
    train, val = stratified_split(rows, args.val_fraction, args.seed)
    labels = sorted({y for _, y in rows})
    label2id = {l: i for i, l in enumerate(labels)}
    tok = hf_reference.load_tokenizer(args.model)

    class Data(torch.utils.data.Dataset):
        def __init__(self, items):
            enc = tok([t for t, _ in items], truncation=True, max_length=args.max_len)
            self.items = [{"input_ids": enc["input_ids"][i], "attention_mask": enc["attention_mask"][i],
                           "labels": label2id[y]} for i, (_, y) in enumerate(items)]

        def __len__(self):
            return len(self.items)

        def __getitem__(self, i):
            return self.items[i]

    model = AutoModelForSequenceClassification.from_pretrained(
        str(args.model), num_labels=len(labels), id2label=dict(enumerate(labels)), label2id=label2id)

    if args.freeze_embeddings:
        model.base_model.embeddings.word_embeddings.weight.requires_grad_(False)

    def metrics(pred):
        p = pred.predictions.argmax(-1)
        return {"accuracy": float((p == pred.label_ids).mean())}

    targs = TrainingArguments(
        output_dir=str(args.out / "trainer"), per_device_train_batch_size=args.batch,
        per_device_eval_batch_size=128, learning_rate=args.lr, num_train_epochs=args.epochs,
        warmup_steps=int(0.1 * args.epochs * -(-len(train) // args.batch)), lr_scheduler_type="linear", weight_decay=0.01, eval_strategy="epoch",
        save_strategy="epoch", load_best_model_at_end=True, metric_for_best_model="accuracy",
        save_total_limit=1, logging_steps=50, seed=args.seed, report_to=[], dataloader_num_workers=0,
        use_cpu=True, bf16=args.bf16)
    trainer = Trainer(model=model, args=targs, train_dataset=Data(train), eval_dataset=Data(val),
                      data_collator=DataCollatorWithPadding(tok), compute_metrics=metrics)
    t0 = time.time()
    trainer.train()
    wall = time.time() - t0
    pred = trainer.predict(Data(test))
    y = pred.label_ids
    p = pred.predictions.argmax(-1)
    f1s = []
    for c in range(len(labels)):
        tp = int(((p == c) & (y == c)).sum())
        fp = int(((p == c) & (y != c)).sum())
        fn = int(((p != c) & (y == c)).sum())
        f1s.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    trainer.save_model(str(args.out / "model"))
    tok.save_pretrained(str(args.out / "model"))
    report = {"tool": "hf-trainer", "model": str(args.model), "train": str(args.train), "test": str(args.test),
              "train_rows": len(train), "val_rows": len(val), "test_rows": len(test), "labels": len(labels),
              "epochs": args.epochs, "lr": args.lr, "batch": args.batch, "max_len": args.max_len,
              "threads": args.threads, "seed": args.seed, "bf16": args.bf16,
              "freeze_embeddings": args.freeze_embeddings, "train_wall_s": wall,
              "test_accuracy": float((p == y).mean()), "test_macro_f1": float(np.mean(f1s)),
              "torch": torch.__version__}
    (args.out / "report.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
