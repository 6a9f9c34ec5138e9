#!/usr/bin/env python3
"""Compare `edgeroute tokenize` with Hugging Face's BertTokenizerFast on a file.

Runs both on the same input and model directory and compares the token ids
row by row. Prints one summary line; on any difference prints the first few
differing rows and exits 1. Exits 77 (ctest's skip code) with a message when
the input or model is absent, e.g. on a machine without ../shared/data.
"""
import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hf_reference  # noqa: E402

SKIP = 77


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--edgeroute", required=True, help="path to the edgeroute binary")
    ap.add_argument("--model", required=True, type=Path)
    ap.add_argument("--input", required=True, type=Path, nargs="+")
    ap.add_argument("--column")
    ap.add_argument("--max-len", type=int, default=0)
    ap.add_argument("--invalid-utf8", default="strict", choices=["strict", "replace"])
    args = ap.parse_args()

    if not (args.model / "vocab.txt").exists():
        print(f"SKIP: model directory {args.model} is absent (run scripts/setup.sh)")
        return SKIP
    missing = [str(p) for p in args.input if not p.exists()]
    if missing:
        print(f"SKIP: {', '.join(missing)} absent (real data lives in ../shared/data)")
        return SKIP

    tok = hf_reference.load_tokenizer(args.model)
    max_len = args.max_len or min(tok.model_max_length, 512)
    total = 0
    bad = 0
    for path in args.input:
        texts = hf_reference.read_texts(path, "auto", args.column, args.invalid_utf8)
        expected = tok(texts, truncation=True, max_length=max_len)["input_ids"]
        cmd = [args.edgeroute, "tokenize", "--model", str(args.model), "--input", str(path),
               "--max-len", str(max_len), "--invalid-utf8", args.invalid_utf8]
        if args.column:
            cmd += ["--column", args.column]
        res = subprocess.run(cmd, capture_output=True, check=False)
        if res.returncode != 0:
            print(f"edgeroute tokenize failed ({res.returncode}): {res.stderr.decode(errors='replace')}")
            return 1
        got = [json.loads(line)["ids"] for line in res.stdout.decode().splitlines()]
        if len(got) != len(expected):
            print(f"{path}: edgeroute printed {len(got)} rows, Hugging Face has {len(expected)}")
            return 1
        for i, (g, e) in enumerate(zip(got, expected)):
            if g != e:
                bad += 1
                if bad <= 5:
                    print(f"{path} row {i}: {texts[i]!r}\n  edgeroute: {g}\n  hf:        {e}")
        total += len(expected)
        print(f"{path}: {len(expected)} texts")
    print(f"tokenizer parity: {total - bad}/{total} texts identical to Hugging Face "
          f"({args.model.name}, max_len {max_len})")
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
