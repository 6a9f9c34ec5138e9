#!/usr/bin/env python3
"""Interleaved A/B of two edgeroute binaries with `edgeroute bench`.

On a shared machine the speed drifts by tens of percent within minutes, so two runs made one
after the other compare the machine as much as the code. This runs A and B alternately (A B A B
..., the order flipped every other round so neither always runs second) with the same bench
arguments, and reports every round and the medians of p50/p95/mean latency and throughput, with
the B/A ratio of the medians.

    bench/ab.py BIN_A BIN_B [--rounds 6] [--out FILE.json] -- BENCH_ARGS...

BENCH_ARGS go to `edgeroute bench` unchanged (for example `--model m.edge --data test.csv
--threads 2 --batch 32 --reps 1`); `--output json` is added. Exit 2 for a bad argument or a
failed run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from datetime import datetime, timezone

METRICS = (("p50", "latency_ms", "p50"), ("p95", "latency_ms", "p95"), ("mean", "latency_ms", "mean"))


def run_bench(binary: str, args: list[str]) -> dict:
    cmd = [binary, "bench", *args, "--output", "json"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    return json.loads(proc.stdout)


def figures(result: dict) -> dict:
    out = {name: float(result[a][b]) for name, a, b in METRICS}
    out["qps"] = float(result["throughput_qps"])
    return out


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> int:
    argv = sys.argv[1:]
    bench_args: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, bench_args = argv[:cut], argv[cut + 1 :]
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("bin_a", help="edgeroute binary A (the baseline)")
    p.add_argument("bin_b", help="edgeroute binary B")
    p.add_argument("--rounds", type=int, default=6, help="rounds of A and B (default: 6)")
    p.add_argument("--out", help="write every round and the medians as JSON here")
    o = p.parse_args(argv)
    if o.rounds < 1:
        p.error("--rounds must be at least 1")
    if not bench_args:
        p.error("give the bench arguments after --, e.g. -- --model m.edge --data test.csv")
    for b in (o.bin_a, o.bin_b):
        if not (os.path.isfile(b) and os.access(b, os.X_OK)):
            p.error(f"not an executable: {b}")

    rounds: list[dict] = []
    try:
        for r in range(o.rounds):
            order = ("a", "b") if r % 2 == 0 else ("b", "a")
            row: dict = {"round": r + 1, "order": "".join(order)}
            for side in order:
                res = run_bench(o.bin_a if side == "a" else o.bin_b, bench_args)
                row[side] = figures(res)
                row[side + "_commit"] = res.get("commit", "unknown")
            rounds.append(row)
            print(
                f"round {r + 1} ({row['order']}): "
                + "  ".join(
                    f"{s.upper()} p50 {row[s]['p50']:.3f} p95 {row[s]['p95']:.3f} q/s {row[s]['qps']:.0f}" for s in "ab"
                ),
                flush=True,
            )
    except (RuntimeError, json.JSONDecodeError, KeyError) as e:
        print(f"ab.py: {e}", file=sys.stderr)
        return 2

    med = {s: {k: statistics.median(row[s][k] for row in rounds) for k in ("p50", "p95", "mean", "qps")} for s in "ab"}
    print()
    print(f"Command: `bench/ab.py {o.bin_a} {o.bin_b} --rounds {o.rounds} -- {' '.join(bench_args)}`  ")
    print(
        f"Machine: {cpu_model()}, {os.cpu_count()} CPUs; commits A {rounds[0]['a_commit']}, B {rounds[0]['b_commit']}; "
        f"load average at end {', '.join(f'{v:.2f}' for v in os.getloadavg())}; {datetime.now(timezone.utc):%Y-%m-%dT%H:%MZ}"
    )
    print()
    print("| median of rounds | p50 ms | p95 ms | mean ms | q/s |")
    print("|---|---|---|---|---|")
    for s in "ab":
        m = med[s]
        print(f"| {s.upper()} | {m['p50']:.3f} | {m['p95']:.3f} | {m['mean']:.3f} | {m['qps']:.0f} |")
    ratio = {k: med["b"][k] / med["a"][k] for k in med["a"]}
    print(
        f"| B/A | {ratio['p50']:.3f} | {ratio['p95']:.3f} | {ratio['mean']:.3f} | {ratio['qps']:.3f} |"
    )
    if o.out:
        with open(o.out, "w", encoding="utf-8") as f:
            json.dump({"bench_args": bench_args, "rounds": rounds, "median": med, "ratio_b_over_a": ratio}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
