#!/usr/bin/env python3
"""Loads a file written by edgeroute's SafetensorsWriter with Hugging Face's
safetensors library and checks that it sees exactly what we wrote: the same
metadata, names, dtypes, shapes and raw bytes (sha256), plus our alignment
guarantee (data buffer and 64-byte-multiple tensors at 64-byte file offsets,
every tensor at a multiple of its element size).

Usage: check_safetensors_roundtrip.py DIR   (DIR holds all_dtypes.safetensors
and expected.json from the modelio_write_roundtrip helper)
"""
import hashlib
import json
import os
import struct
import sys

ELEMENT_SIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4,
                "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file

    directory = sys.argv[1]
    path = os.path.join(directory, "all_dtypes.safetensors")
    with open(os.path.join(directory, "expected.json"), encoding="utf-8") as f:
        expected = json.load(f)
    failures = []

    with open(path, "rb") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
    data_start = 8 + header_len
    if data_start % 64 != 0:
        failures.append(f"data buffer starts at {data_start}, not a multiple of 64")

    tensors = load_file(path)  # the full HF validation path
    with safe_open(path, framework="pt") as f:
        if (f.metadata() or {}) != expected["metadata"]:
            failures.append(f"metadata {f.metadata()} != {expected['metadata']}")
        names = set(f.keys())
        if names != {t["name"] for t in expected["tensors"]}:
            failures.append(f"tensor names differ: {sorted(names)}")
        for want in expected["tensors"]:
            name = want["name"]
            if name not in names:
                continue
            sl = f.get_slice(name)
            if sl.get_dtype() != want["dtype"]:
                failures.append(f"{name}: dtype {sl.get_dtype()} != {want['dtype']}")
            if list(sl.get_shape()) != want["shape"]:
                failures.append(f"{name}: shape {sl.get_shape()} != {want['shape']}")
            raw = tensors[name].contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
            if hashlib.sha256(raw).hexdigest() != want["sha256"]:
                failures.append(f"{name}: bytes differ")
            offset = want["file_offset"]
            size = len(raw)
            if size % 64 == 0 and offset % 64 != 0:
                failures.append(f"{name}: {size} bytes at file offset {offset}, not 64-aligned")
            if offset % ELEMENT_SIZE[want["dtype"]] != 0:
                failures.append(f"{name}: file offset {offset} not aligned to its element size")

    for failure in failures:
        print("FAIL:", failure)
    if failures:
        return 1
    print(f"ok: {len(expected['tensors'])} tensors and metadata match in Hugging Face safetensors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
