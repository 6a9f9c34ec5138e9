#!/usr/bin/env python3
"""Stratified train/validation split of a labeled CSV, for the routing
benchmarks: the validation part is what `edgeroute train --val` stops on and
`edgeroute calibrate --val` chooses thresholds on, so the test split stays
untouched. Deterministic for a seed.

usage: bench/split.py IN.csv OUT_DIR [--fraction 0.1] [--seed 42] [--label COLUMN]
"""
import argparse
import csv
import os
import random
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python"))
import hf_reference  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input")
    ap.add_argument("out_dir")
    ap.add_argument("--fraction", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--label", default=None, help="label column (default: the first of " + ", ".join(hf_reference.LABEL_COLUMNS) + ")")
    a = ap.parse_args()
    with open(a.input, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        fields = reader.fieldnames
        rows = list(reader)
    a.label = hf_reference.pick_column(fields or [], a.label, hf_reference.LABEL_COLUMNS, "label", a.input)
    by_label = defaultdict(list)
    for i, r in enumerate(rows):
        by_label[r[a.label]].append(i)
    rng = random.Random(a.seed)
    val = set()
    for label in sorted(by_label):
        idx = by_label[label]
        rng.shuffle(idx)
        val.update(idx[: max(1, round(len(idx) * a.fraction))])
    os.makedirs(a.out_dir, exist_ok=True)
    for name, keep in (("train.csv", lambda i: i not in val), ("val.csv", lambda i: i in val)):
        with open(os.path.join(a.out_dir, name), "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=fields)
            w.writeheader()
            w.writerows(r for i, r in enumerate(rows) if keep(i))
    print(f"{a.out_dir}: {len(rows) - len(val)} train, {len(val)} val")


if __name__ == "__main__":
    main()
