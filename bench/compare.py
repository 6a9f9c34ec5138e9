#!/usr/bin/env python3
"""Compare two benchmark result files and print ratios, peer by peer.

Accepts the JSON written by bench/peers.py (a "peers" list) and the single object printed by
`edgeroute bench --output json` (one row, named edgeroute-<precision>), in any combination.
Rows are matched by peer name. For latency the ratio is NEW/OLD (below 1 = NEW is faster);
for throughput it is NEW/OLD (above 1 = NEW is faster). Differences in context (commit,
machine, threads, queries, batch) are listed first, because a ratio across them compares
more than the code.

    bench/compare.py OLD.json NEW.json [--output md|text]

Exit codes: 0 compared; 2 unreadable or unrecognised file, or no peer in common.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

LATENCY_KEYS = ("p50", "p95", "p99", "mean")


class CompareError(Exception):
    pass


def load(path: Path) -> dict:
    """Normalise a result file to {"context": {...}, "rows": {name: {...}}}."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise CompareError(f"file not found: {path}") from None
    except (OSError, json.JSONDecodeError) as e:
        raise CompareError(f"{path}: not a JSON file ({e})") from None
    if not isinstance(data, dict):
        raise CompareError(f"{path}: expected a JSON object")
    if isinstance(data.get("peers"), list):
        rows = {}
        for p in data["peers"]:
            tp = p.get("throughput_qps")
            rows[p["name"]] = {
                "latency_ms": p.get("latency_ms") or {},
                "model_call_latency_ms": p.get("model_call_latency_ms") or {},
                "throughput_qps": tp.get("mean") if isinstance(tp, dict) else tp,
            }
        ctx = {
            "commit": (data.get("git") or {}).get("commit"),
            "machine": (data.get("machine") or {}).get("cpu"),
            "threads": data.get("threads"),
            "queries": data.get("queries"),
            "batch": data.get("batch"),
            "isa": data.get("isa"),
            "date": data.get("date"),
            "loadavg_start": data.get("loadavg_start"),
        }
        return {"context": ctx, "rows": rows}
    if data.get("tool") == "edgeroute" and "latency_ms" in data:
        name = f"edgeroute-{data.get('precision', 'unknown')}"
        ctx = {k: data.get(k) for k in ("commit", "threads", "queries", "batch", "isa", "model_sha256")}
        return {
            "context": ctx,
            "rows": {name: {"latency_ms": data["latency_ms"], "model_call_latency_ms": {}, "throughput_qps": data.get("throughput_qps")}},
        }
    raise CompareError(f"{path}: neither a bench/peers.py result nor `edgeroute bench --output json` output")


def ratio(new, old):
    if not isinstance(new, (int, float)) or not isinstance(old, (int, float)) or old == 0:
        return None
    return new / old


def compare(old: dict, new: dict) -> tuple[list[str], list[list[str]]]:
    diffs = []
    for k in sorted(set(old["context"]) | set(new["context"])):
        a, b = old["context"].get(k), new["context"].get(k)
        if a != b and k not in ("date",):
            diffs.append(f"{k}: {a} -> {b}")
    common = [n for n in old["rows"] if n in new["rows"]]
    if not common:
        raise CompareError(
            f"no peer in common (old: {', '.join(old['rows'])}; new: {', '.join(new['rows'])})"
        )
    table = []
    for name in common:
        o, n = old["rows"][name], new["rows"][name]
        row = [name]
        for k in LATENCY_KEYS:
            a, b = o["latency_ms"].get(k), n["latency_ms"].get(k)
            r = ratio(b, a)
            row.append("—" if r is None else f"{a:.3f} → {b:.3f} ({r:.2f}×)")
        a, b = o["throughput_qps"], n["throughput_qps"]
        r = ratio(b, a)
        row.append("—" if r is None else f"{a:.1f} → {b:.1f} ({r:.2f}×)")
        table.append(row)
    return diffs, table


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="bench/compare.py",
        description="Compare two benchmark result JSON files (bench/peers.py or `edgeroute bench "
        "--output json`) and print NEW/OLD ratios per peer.",
    )
    ap.add_argument("old", type=Path)
    ap.add_argument("new", type=Path)
    ap.add_argument("--output", choices=("md", "text"), default="md")
    args = ap.parse_args(argv)
    try:
        old, new = load(args.old), load(args.new)
        diffs, table = compare(old, new)
    except CompareError as e:
        print(f"bench/compare.py: error: {e}", file=sys.stderr)
        return 2
    header = ["peer"] + [f"{k} ms" for k in LATENCY_KEYS] + ["throughput q/s"]
    print(f"OLD {args.old}\nNEW {args.new}")
    print("latency ratio NEW/OLD < 1 and throughput ratio > 1 mean NEW is faster")
    if diffs:
        print("context differs: " + "; ".join(diffs))
    print()
    if args.output == "md":
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for row in table:
            print("| " + " | ".join(row) + " |")
    else:
        widths = [max(len(r[i]) for r in [header] + table) for i in range(len(header))]
        for row in [header] + table:
            print("  ".join(c.ljust(w) for c, w in zip(row, widths)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
