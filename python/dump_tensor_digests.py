#!/usr/bin/env python3
"""Writes one JSON line per tensor of a safetensors file, as Hugging Face's
safetensors library reads it: {"name", "dtype", "shape", "sha256"} where
sha256 is over the tensor's raw little-endian bytes. The C++ reader's view is
compared against these lines (tests/modelio/real_model_test.cc).

Usage: dump_tensor_digests.py MODEL.safetensors OUT.jsonl
Exit status 77 (ctest "skipped") when the model file is absent.
"""
import hashlib
import json
import os
import sys


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    model, out = sys.argv[1], sys.argv[2]
    if os.path.exists(out):
        os.remove(out)  # never leave a stale fixture behind
    if not os.path.exists(model):
        print(f"skip: no model at {model}")
        return 77
    import torch
    from safetensors import safe_open

    lines = []
    with safe_open(model, framework="pt") as f:
        for name in f.keys():
            tensor_slice = f.get_slice(name)
            tensor = f.get_tensor(name).contiguous()
            raw = tensor.reshape(-1).view(torch.uint8).numpy().tobytes()
            lines.append(json.dumps({
                "name": name,
                "dtype": tensor_slice.get_dtype(),
                "shape": list(tensor_slice.get_shape()),
                "sha256": hashlib.sha256(raw).hexdigest(),
            }))
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, out)
    print(f"wrote {len(lines)} tensor digests to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
