#!/usr/bin/env python3
"""Peer benchmark: edgeroute against ONNX Runtime and PyTorch, side by side in one run.

One invocation measures every peer on the same queries with the same thread count, so the
ratios hold on a noisy machine even where the absolute figures do not. Peers:

  ort-int8-dynamic   checkpoint -> ONNX (FP32, dynamic batch/sequence axes) -> ONNX Runtime
                     quantize_dynamic (QInt8 weights), inputs at their own length
  ort-int8-pad256    the same INT8 model, every input padded to 256 tokens (the seed article)
  ort-fp32-dynamic   the FP32 ONNX export, dynamic shapes
  torch-fp32         transformers AutoModelForSequenceClassification, eval + no_grad
  edgeroute-int8/-fp32  `edgeroute bench --output json` (and `edgeroute classify --json` for
                     label agreement), run as a subprocess

For each peer: per-query latency at batch 1, text in -> label out with tokenization included
(HF fast tokenizer for the Python peers), after warm-up, p50/p95/p99/mean over all reps; the
model-call-only latency from the same pass; batched throughput (default batch 32, padded to the
longest text in each batch, dataset order) as mean +- sd over reps; label agreement and
probability difference against torch-fp32 on the same queries.

Writes <out-dir>/peers-<stamp>.json (every figure, command line, machine, commit, versions,
load average) and <out-dir>/peers-<stamp>.md (one row per peer, with "edgeroute int8 is X x
faster" at p50, p95 and throughput). It never asserts a timing. See bench/README.md.
"""

from __future__ import annotations

import argparse
import csv
import datetime as _dt
import hashlib
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_EDGEROUTE = REPO / "build" / "bin" / "edgeroute"
PAD_LENGTH = 256
# Exit codes: 0 success, 2 bad input or missing dependency (a message, no traceback),
# 1 an unexpected failure (traceback kept, because it is a bug).
EXIT_USAGE = 2


class BenchError(Exception):
    """An expected problem (missing file, missing package, bad argument): message, exit 2."""


def log(msg: str) -> None:
    print(f"[peers] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Inputs


def load_queries(path: Path, column: str, limit: int | None) -> list[str]:
    if not path.is_file():
        raise BenchError(f"data file not found: {path}")
    with path.open(newline="", encoding="utf-8") as f:
        sample = f.read(4096)
        f.seek(0)
        delimiter = "\t" if path.suffix == ".tsv" or ("\t" in sample and "," not in sample) else ","
        reader = csv.DictReader(f, delimiter=delimiter)
        if reader.fieldnames is None:
            raise BenchError(f"{path}: empty file, no header row")
        if column not in reader.fieldnames:
            raise BenchError(
                f"{path}: no column '{column}' (columns: {', '.join(reader.fieldnames)}); "
                "pick one with --column"
            )
        texts = [row[column] for row in reader if row.get(column)]
    if limit is not None:
        texts = texts[:limit]
    if not texts:
        raise BenchError(f"{path}: no non-empty rows in column '{column}'")
    return texts


def check_model_dir(path: Path) -> dict:
    if not path.is_dir():
        raise BenchError(f"model directory not found: {path}")
    cfg = path / "config.json"
    if not cfg.is_file():
        raise BenchError(f"{path}: no config.json (expected a Hugging Face classifier directory)")
    weights = sorted(path.glob("*.safetensors")) + sorted(path.glob("pytorch_model*.bin"))
    if not weights:
        raise BenchError(f"{path}: no model.safetensors or pytorch_model.bin")
    if not ((path / "tokenizer.json").is_file() or (path / "vocab.txt").is_file()):
        raise BenchError(f"{path}: no tokenizer.json or vocab.txt")
    try:
        config = json.loads(cfg.read_text())
    except json.JSONDecodeError as e:
        raise BenchError(f"{cfg}: not valid JSON ({e})") from None
    return {"config": config, "weights": weights}


def sha256_files(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        with p.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def import_deps():
    missing = []
    mods = {}
    for name in ("numpy", "torch", "transformers", "onnx", "onnxruntime"):
        try:
            mods[name] = __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise BenchError(
            f"missing Python packages: {', '.join(missing)}; install them with "
            f"`{REPO}/.venv/bin/pip install -r {REPO}/python/requirements.txt` "
            "(or scripts/setup.sh) and run this script with that venv's python"
        )
    return mods


# --------------------------------------------------------------------------------------------
# Machine and provenance


def machine_info() -> dict:
    model = platform.processor() or "unknown"
    flags = ""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            key, _, val = line.partition(":")
            if key.strip() == "Model name":
                model = val.strip()
            if key.strip() == "Flags":
                flags = val
    except (OSError, subprocess.SubprocessError):
        pass
    isa_flags = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8") if f" {f}" in f" {flags}"]
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "cpu": model,
        "logical_cpus": os.cpu_count(),
        "usable_cpus": usable,
        "cpu_flags": isa_flags,
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def git_info() -> dict:
    def git(*args):
        try:
            r = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, timeout=10)
            return r.stdout.strip() if r.returncode == 0 else None
        except (OSError, subprocess.SubprocessError):
            return None

    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(status) if status is not None else None}


def package_versions() -> dict:
    from importlib import metadata

    out = {}
    for name in ("torch", "transformers", "tokenizers", "onnx", "onnxruntime", "numpy", "safetensors"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


# --------------------------------------------------------------------------------------------
# Statistics


def percentile(sorted_vals: list[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default), q in [0, 100]."""
    if not sorted_vals:
        return float("nan")
    k = (len(sorted_vals) - 1) * q / 100.0
    lo = int(k)
    hi = min(lo + 1, len(sorted_vals) - 1)
    return sorted_vals[lo] + (sorted_vals[hi] - sorted_vals[lo]) * (k - lo)


def latency_summary(samples_s: list[float]) -> dict:
    ms = sorted(s * 1e3 for s in samples_s)
    return {
        "p50": round(percentile(ms, 50), 4),
        "p95": round(percentile(ms, 95), 4),
        "p99": round(percentile(ms, 99), 4),
        "mean": round(statistics.fmean(ms), 4),
        "samples": len(ms),
    }


def throughput_summary(qps: list[float]) -> dict:
    return {
        "mean": round(statistics.fmean(qps), 2),
        "sd": round(statistics.stdev(qps), 2) if len(qps) > 1 else None,
        "reps": [round(x, 2) for x in qps],
    }


# --------------------------------------------------------------------------------------------
# ONNX export and quantization


def export_onnx(mods, model_dir: Path, work: Path, weights_sha: str, per_channel: bool) -> dict:
    """FP32 export with torch.onnx.export (TorchScript exporter) and quantize_dynamic.

    optimum's exporter (optimum-onnx 0.1.0, the latest) requires transformers < 4.58 and fails
    to import with transformers 5.x, so the export is done here; see bench/README.md.
    Files are cached under work/ keyed by the checkpoint hash and the recipe.
    """
    torch = mods["torch"]
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    work.mkdir(parents=True, exist_ok=True)
    key = weights_sha[:16]
    fp32 = work / f"model-{key}-fp32.onnx"
    int8 = work / f"model-{key}-int8-{'perchannel' if per_channel else 'pertensor'}.onnx"
    if not fp32.is_file():
        log(f"exporting FP32 ONNX -> {fp32}")
        model = AutoModelForSequenceClassification.from_pretrained(str(model_dir)).eval()
        tok = AutoTokenizer.from_pretrained(str(model_dir))
        enc = tok(["a short text", "a somewhat longer text for the export trace"], padding=True, return_tensors="pt")
        names = ["input_ids", "attention_mask", "token_type_ids"]
        axes = {n: {0: "batch", 1: "sequence"} for n in names}
        axes["logits"] = {0: "batch"}
        tmp = fp32.with_suffix(".tmp.onnx")
        import warnings

        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model,
                tuple(enc[n] for n in names),
                str(tmp),
                input_names=names,
                output_names=["logits"],
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,
            )
        tmp.replace(fp32)
    if not int8.is_file():
        log(f"quantize_dynamic QInt8 ({'per-channel' if per_channel else 'per-tensor'}) -> {int8}")
        tmp = int8.with_suffix(".tmp.onnx")
        quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8, per_channel=per_channel)
        tmp.replace(int8)
    return {
        "exporter": f"torch.onnx.export (TorchScript, opset 17, dynamo=False), torch {torch.__version__}",
        "quantization": {
            "tool": "onnxruntime.quantization.quantize_dynamic",
            "weight_type": "QInt8",
            "per_channel": per_channel,
            "reduce_range": False,
            "activations": "UInt8, dynamic per tensor (ORT default)",
        },
        "fp32_onnx": str(fp32),
        "int8_onnx": str(int8),
        "fp32_onnx_bytes": fp32.stat().st_size,
        "int8_onnx_bytes": int8.stat().st_size,
    }


# --------------------------------------------------------------------------------------------
# Python peers: each is a tokenizer + a callable(model inputs) -> logits (numpy)


class Peer:
    def __init__(self, name, precision, shapes, tokenize, call):
        self.name = name
        self.precision = precision
        self.shapes = shapes
        self.tokenize = tokenize  # list[str] -> dict of int64 arrays
        self.call = call  # dict -> logits np.ndarray [batch, labels]


def make_ort_session(ort, path: str, threads: int):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    return ort.InferenceSession(path, sess_options=so, providers=["CPUExecutionProvider"])


def build_python_peers(mods, model_dir: Path, onnx_files: dict, threads: int, wanted: set[str]) -> list[Peer]:
    np = mods["numpy"]
    torch = mods["torch"]
    ort = mods["onnxruntime"]
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    if not tok.is_fast:
        raise BenchError(f"{model_dir}: no fast tokenizer could be built (got {type(tok).__name__})")
    max_len = min(int(getattr(tok, "model_max_length", 512) or 512), 512)

    def tok_dynamic(texts):
        return dict(tok(texts, padding=True, truncation=True, max_length=max_len, return_tensors="np"))

    def tok_pad256(texts):
        return dict(tok(texts, padding="max_length", truncation=True, max_length=PAD_LENGTH, return_tensors="np"))

    peers = []

    def ort_call(sess):
        names = {i.name for i in sess.get_inputs()}

        def call(enc):
            feed = {k: v.astype(np.int64, copy=False) for k, v in enc.items() if k in names}
            return sess.run(["logits"], feed)[0]

        return call

    if {"ort-int8-dynamic", "ort-int8-pad256"} & wanted:
        s8 = make_ort_session(ort, onnx_files["int8_onnx"], threads)
        if "ort-int8-dynamic" in wanted:
            peers.append(Peer("ort-int8-dynamic", "int8", "dynamic", tok_dynamic, ort_call(s8)))
        if "ort-int8-pad256" in wanted:
            peers.append(Peer("ort-int8-pad256", "int8", f"padded to {PAD_LENGTH}", tok_pad256, ort_call(s8)))
    if "ort-fp32-dynamic" in wanted:
        s32 = make_ort_session(ort, onnx_files["fp32_onnx"], threads)
        peers.append(Peer("ort-fp32-dynamic", "fp32", "dynamic", tok_dynamic, ort_call(s32)))
    # torch-fp32 is the agreement reference, so it is always built.
    model = AutoModelForSequenceClassification.from_pretrained(str(model_dir)).eval()

    def torch_call(enc):
        with torch.inference_mode():
            out = model(**{k: torch.from_numpy(v) for k, v in enc.items()})
        return out.logits.numpy()

    peers.append(Peer("torch-fp32", "fp32", "dynamic", tok_dynamic, torch_call))
    return peers


def run_python_peer(np, peer: Peer, texts: list[str], warmup: int, reps: int, batch: int) -> dict:
    """Latency at batch 1 (end to end and model call only) then batched throughput."""
    argmax = np.argmax
    for i in range(warmup):
        t = texts[i % len(texts)]
        argmax(peer.call(peer.tokenize([t])), axis=-1)
    e2e, model_only, cpu, tokens = [], [], [], []
    probs = None
    for rep in range(reps):
        rep_probs = []
        for t in texts:
            c0 = time.thread_time()
            t0 = time.perf_counter()
            enc = peer.tokenize([t])
            t1 = time.perf_counter()
            logits = peer.call(enc)
            t2 = time.perf_counter()
            int(argmax(logits[0]))
            t3 = time.perf_counter()
            cpu.append(time.thread_time() - c0)
            e2e.append(t3 - t0)
            model_only.append(t2 - t1)
            if rep == 0:
                tokens.append(int(enc["attention_mask"][0].sum()))
                z = logits[0].astype(np.float64)
                z = np.exp(z - z.max())
                rep_probs.append(z / z.sum())
        if rep == 0:
            probs = np.stack(rep_probs)
    qps = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for i in range(0, len(texts), batch):
            enc = peer.tokenize(texts[i : i + batch])
            argmax(peer.call(enc), axis=-1)
        qps.append(len(texts) / (time.perf_counter() - t0))
    return {
        "name": peer.name,
        "tool": "onnxruntime" if peer.name.startswith("ort") else "pytorch",
        "precision": peer.precision,
        "shapes": peer.shapes,
        "latency_ms": latency_summary(e2e),
        "model_call_latency_ms": latency_summary(model_only),
        # CPU time of the calling thread per query, end to end: the work itself, far less
        # sensitive than wall time to other processes on a shared machine. Complete only at --threads 1 (ORT and torch run
        # on the caller's thread then); with more threads it leaves out the helpers.
        "cpu_ms_per_query": latency_summary(cpu),
        "mean_tokens": round(statistics.fmean(tokens), 2),
        "max_tokens": max(tokens),
        "batch": batch,
        "throughput_qps": throughput_summary(qps),
        "_probs": probs,
    }


def check_export(np, ort, peers: list[Peer], onnx_files: dict, texts: list[str], threads: int) -> dict:
    """Max |logit| difference ONNX FP32 vs PyTorch on one padded batch of up to 16 queries.

    The TorchScript exporter traces shape-dependent Python branches as constants; a padded
    batch of mixed lengths shows whether the dynamic axes still give the right answer.
    """
    torch_peer = next(p for p in peers if p.name == "torch-fp32")
    sess = make_ort_session(ort, onnx_files["fp32_onnx"], threads)
    enc = torch_peer.tokenize(texts[:16])
    names = {i.name for i in sess.get_inputs()}
    got = sess.run(["logits"], {k: v for k, v in enc.items() if k in names})[0]
    want = torch_peer.call(enc)
    return {
        "batch": int(enc["input_ids"].shape[0]),
        "padded_length": int(enc["input_ids"].shape[1]),
        "max_abs_logit_diff": float(np.abs(got - want).max()),
    }


# --------------------------------------------------------------------------------------------
# edgeroute


def edgeroute_probe(binary: Path) -> str | None:
    """None when `edgeroute bench` is usable, else the reason it is not."""
    if not binary.exists():
        return f"binary not found: {binary} (build it with `make` or pass --edgeroute PATH)"
    if not os.access(binary, os.X_OK):
        return f"not executable: {binary}"
    try:
        r = subprocess.run([str(binary), "bench", "--help"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as e:
        return f"{binary} bench --help failed: {e}"
    if r.returncode != 0 or "--output" not in r.stdout + r.stderr:
        first = (r.stderr or r.stdout).strip().splitlines()
        return f"`{binary.name} bench` is not available in this build ({first[0] if first else 'exit ' + str(r.returncode)})"
    return None


def parse_json_object(text: str) -> dict | None:
    """The JSON object in text: all of it, or from the first line that opens one (log lines
    before it are tolerated); pretty-printed or on one line."""
    try:
        obj = json.loads(text)
        return obj if isinstance(obj, dict) else None
    except json.JSONDecodeError:
        pass
    lines = text.splitlines()
    for i, ln in enumerate(lines):
        if ln.lstrip().startswith("{"):
            try:
                obj, _ = json.JSONDecoder().raw_decode("\n".join(lines[i:]).lstrip())
                if isinstance(obj, dict):
                    return obj
            except json.JSONDecodeError:
                continue
    return None


def run_edgeroute_bench(binary: Path, args, precision: str, data_file: Path, n: int) -> dict:
    cmd = [
        str(binary), "bench", "--model", str(edgeroute_model(args, precision)), "--data", str(data_file),
        "--column", "text", "--precision", precision, "--threads", str(args.threads), "--batch", str(args.batch),
        "--reps", str(args.reps), "--warmup", str(args.warmup), "--limit", str(n), "--output", "json",
    ]  # fmt: skip
    log("running " + shlex.join(cmd))
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=args.edgeroute_timeout)
    except subprocess.TimeoutExpired:
        raise BenchError(f"edgeroute bench ({precision}) ran past --edgeroute-timeout {args.edgeroute_timeout}s") from None
    except OSError as e:
        raise BenchError(f"edgeroute bench ({precision}) could not start: {e}") from None
    if r.returncode != 0:
        raise BenchError(f"edgeroute bench ({precision}) exited {r.returncode}: {r.stderr.strip()[-800:]}")
    res = parse_json_object(r.stdout)
    if res is None:
        raise BenchError(f"edgeroute bench ({precision}) printed no JSON object: {r.stdout[-400:]!r}")
    lat = res.get("latency_ms", {})
    return {
        "name": f"edgeroute-{precision}",
        "tool": "edgeroute",
        "precision": res.get("precision", precision),
        "shapes": "dynamic",
        "latency_ms": {k: lat.get(k) for k in ("p50", "p95", "p99", "mean")},
        "model_call_latency_ms": None,
        "mean_tokens": res.get("mean_tokens"),
        "batch": res.get("batch"),
        "throughput_qps": {"mean": res.get("throughput_qps"), "sd": res.get("throughput_qps_sd"), "reps": None},
        "gmacs_per_s": res.get("gmacs_per_s"),
        "roof_gmacs_per_s": res.get("roof_gmacs_per_s"),
        "isa": res.get("isa"),
        "queries": res.get("queries"),
        "command": shlex.join(cmd),
        "raw": res,
    }


def edgeroute_model(args, precision: str) -> Path:
    """--edgeroute-model (an .edge file runs as stored) for int8; the FP32 row always runs --model."""
    return args.edgeroute_model if args.edgeroute_model and precision == "int8" else args.model


def run_edgeroute_classify(np, binary: Path, args, precision: str, data_file: Path, labels: list[str]):
    """Uncalibrated probabilities from `edgeroute classify --json`, in label-id order, or None with a reason.

    classify prints calibrated probabilities softmax(z / T); the peers print softmax(z). With T from
    the checkpoint's config.json (edgeroute_temperature, 1 when absent), softmax(z) = p^T / sum(p^T),
    so the comparison is like for like."""
    cmd = [str(binary), "classify", "--model", str(edgeroute_model(args, precision)), "--input", str(data_file),
           "--column", "text", "--precision", precision, "--json"]  # fmt: skip
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=args.edgeroute_timeout)
    except (OSError, subprocess.SubprocessError) as e:
        return None, f"classify failed: {e}"
    if r.returncode != 0:
        return None, f"classify exited {r.returncode}: {r.stderr.strip()[-300:]}"
    rows = []
    try:
        for line in r.stdout.splitlines():
            if line.strip():
                p = json.loads(line)["probabilities"]
                rows.append([p[lab] for lab in labels])
    except (json.JSONDecodeError, KeyError) as e:
        return None, f"classify output not understood: {e}"
    probs = np.array(rows, dtype=np.float64)
    try:
        t = float(json.loads((Path(args.model) / "config.json").read_text()).get("edgeroute_temperature", 1.0))
    except (OSError, ValueError) as e:
        return None, f"cannot read the temperature from {args.model}/config.json: {e}"
    if t != 1.0:
        raw = np.power(np.maximum(probs, 1e-300), t)
        probs = raw / raw.sum(axis=1, keepdims=True)
    return probs, None


# --------------------------------------------------------------------------------------------
# Report


def fmt(x, nd=2):
    return "—" if x is None else f"{x:.{nd}f}"


def ratio(num, den):
    if num is None or den is None or den == 0:
        return None
    return num / den


def agree_cell(p: dict) -> str:
    agree = p.get("agreement_vs_torch_fp32")
    if agree is None:
        return "—"
    dp = p.get("max_abs_prob_diff_vs_torch_fp32")
    return f"{100 * agree:.1f}%" + ("" if dp is None else f" (max Δp {dp:.4f})")


def markdown(result: dict) -> str:
    peers = result["peers"]
    ref = next((p for p in peers if p["name"] == "edgeroute-int8"), None)
    m = result["machine"]
    lines = [
        f"Command: `{result['command']}`  ",
        f"Machine: {m['cpu']}, {m['usable_cpus']} usable CPUs ({', '.join(m['cpu_flags'])}); "
        f"load average at start {result['loadavg_start']}, at end {result['loadavg_end']}  ",
        f"Commit: {result['git']['commit']}{' (dirty tree)' if result['git']['dirty'] else ''}; "
        f"date {result['date']}; edgeroute ISA: {result.get('isa') or 'n/a'}  ",
        f"Queries: {result['queries']} from `{result['data']}` (column `{result['column']}`), "
        f"threads {result['threads']}, warm-up {result['warmup']}, reps {result['reps']}, "
        f"throughput batch {result['batch']}  ",
        f"Versions: " + ", ".join(f"{k} {v}" for k, v in result["versions"].items() if v) + "  ",
        f"ONNX sizes: FP32 {result['onnx']['fp32_onnx_bytes'] / 1e6:.1f} MB, INT8 "
        f"{result['onnx']['int8_onnx_bytes'] / 1e6:.1f} MB "
        f"(quantize_dynamic QInt8, {'per-channel' if result['onnx']['quantization']['per_channel'] else 'per-tensor'})",
        "",
        "| peer | shapes | mean tokens | p50 ms | p95 ms | p99 ms | mean ms | model-call p50 / p95 ms | CPU ms/query p50 "
        f"| batch-{result['batch']} q/s (mean ± sd) | label agreement vs torch-fp32 | edgeroute int8 faster: p50 / p95 / q/s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in peers:
        lat = p["latency_ms"]
        mc = p.get("model_call_latency_ms")
        cpu = p.get("cpu_ms_per_query")
        tp = p["throughput_qps"]
        agree = p.get("agreement_vs_torch_fp32")
        if ref is None:
            ratios = "n/a (edgeroute not run)"
        elif p is ref:
            ratios = "1×"
        else:
            r = [ratio(lat["p50"], ref["latency_ms"]["p50"]), ratio(lat["p95"], ref["latency_ms"]["p95"]),
                 ratio(ref["throughput_qps"]["mean"], tp["mean"])]  # fmt: skip
            ratios = " / ".join("—" if x is None else f"{x:.1f}×" for x in r)
        tps = fmt(tp["mean"], 1) + (f" ± {tp['sd']:.1f}" if tp.get("sd") is not None else "")
        lines.append(
            f"| {p['name']} | {p['shapes']} | {fmt(p.get('mean_tokens'), 1)} | {fmt(lat['p50'], 3)} | "
            f"{fmt(lat['p95'], 3)} | {fmt(lat['p99'], 3)} | {fmt(lat['mean'], 3)} | "
            f"{(fmt(mc['p50'], 3) + ' / ' + fmt(mc['p95'], 3)) if mc else '—'} | "
            f"{fmt(cpu['p50'], 3) if cpu else '—'} | {tps} | "
            f"{agree_cell(p)} | {ratios} |"
        )
    notes = result.get("notes") or []
    if notes:
        lines.append("")
        lines += [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------


PYTHON_PEERS = ["ort-int8-dynamic", "ort-int8-pad256", "ort-fp32-dynamic", "torch-fp32"]


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="bench/peers.py",
        description="Benchmark edgeroute against ONNX Runtime INT8/FP32 and PyTorch FP32 on the same "
        "queries with the same thread count, in one run; writes JSON and a markdown table.",
        epilog="Exit codes: 0 success; 2 bad input, missing file or missing package (message, no "
        "traceback); 1 unexpected failure. Timings are never asserted.",
    )
    ap.add_argument("--model", type=Path, required=True, help="Hugging Face classifier directory")
    ap.add_argument("--data", type=Path, required=True, help="CSV/TSV file of queries")
    ap.add_argument("--column", default="text", help="text column of --data (default: text)")
    ap.add_argument("--threads", type=int, default=1, help="threads for every peer (default: 1)")
    ap.add_argument("--limit", type=int, default=None, help="use the first N queries (default: all)")
    ap.add_argument("--reps", type=int, default=3, help="passes over the queries per peer (default: 3)")
    ap.add_argument("--warmup", type=int, default=50, help="warm-up queries per peer (default: 50)")
    ap.add_argument("--batch", type=int, default=32, help="batch size for throughput (default: 32)")
    ap.add_argument("--edgeroute", type=Path, default=DEFAULT_EDGEROUTE, help=f"edgeroute binary (default: {DEFAULT_EDGEROUTE.relative_to(REPO)})")
    ap.add_argument("--edgeroute-model", type=Path, default=None, help="model for edgeroute (a .edge file or DIR; default: --model)")
    ap.add_argument("--edgeroute-timeout", type=int, default=1800, help="seconds per edgeroute call (default: 1800)")
    ap.add_argument("--skip-edgeroute", action="store_true", help="measure the Python peers only")
    ap.add_argument("--peers", default=",".join(PYTHON_PEERS), help=f"Python peers to run, comma-separated (default: all: {','.join(PYTHON_PEERS)}); torch-fp32 always runs as the agreement reference")
    ap.add_argument("--per-tensor", action="store_true", help="quantize_dynamic per-tensor instead of per-channel")
    ap.add_argument("--out-dir", type=Path, default=REPO / "out" / "bench-peers", help="where JSON + markdown go (default: out/bench-peers, git-ignored)")
    ap.add_argument("--work-dir", type=Path, default=None, help="ONNX cache (default: <out-dir>/onnx)")
    args = ap.parse_args(argv)
    for name in ("threads", "reps", "batch"):
        if getattr(args, name) < 1:
            ap.error(f"--{name} must be >= 1")
    if args.warmup < 0 or (args.limit is not None and args.limit < 1):
        ap.error("--warmup must be >= 0 and --limit >= 1")
    wanted = {p.strip() for p in args.peers.split(",") if p.strip()}
    unknown = wanted - set(PYTHON_PEERS)
    if unknown:
        ap.error(f"unknown peer(s): {', '.join(sorted(unknown))}; choose from {', '.join(PYTHON_PEERS)}")
    args.wanted = wanted | {"torch-fp32"}
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except BenchError as e:
        print(f"bench/peers.py: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("bench/peers.py: interrupted", file=sys.stderr)
        return 130


def run(args) -> int:
    started = time.time()
    load_start = loadavg()
    model_info = check_model_dir(args.model)
    texts = load_queries(args.data, args.column, args.limit)
    id2label = model_info["config"].get("id2label") or {}
    labels = [id2label[str(i)] for i in range(len(id2label))] if id2label else []
    edge_reason = None if not args.skip_edgeroute else "skipped (--skip-edgeroute)"
    if edge_reason is None:
        edge_reason = edgeroute_probe(args.edgeroute)
        if edge_reason:
            log(f"edgeroute rows skipped: {edge_reason}")
    mods = import_deps()
    np, torch = mods["numpy"], mods["torch"]
    import transformers

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    args.out_dir.mkdir(parents=True, exist_ok=True)
    weights_sha = sha256_files(model_info["weights"])
    onnx_files = export_onnx(mods, args.model, args.work_dir or args.out_dir / "onnx", weights_sha, not args.per_tensor)
    log(f"{len(texts)} queries, threads {args.threads}, load average {load_start}")

    notes = []
    peers_out = []
    isa = None
    with tempfile.TemporaryDirectory(prefix="edgeroute-peers-") as tmp:
        # edgeroute reads the very same queries, written out as a one-column CSV.
        qfile = Path(tmp) / "queries.csv"
        with qfile.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["text"])
            w.writerows([t] for t in texts)
        edge_probs = {}
        if edge_reason is None:
            for precision in ("int8", "fp32"):
                la = loadavg()
                try:
                    res = run_edgeroute_bench(args.edgeroute, args, precision, qfile, len(texts))
                except BenchError as e:
                    # The Python peers are still worth measuring; the table says what is missing.
                    log(f"edgeroute-{precision} row skipped: {e}")
                    notes.append(f"edgeroute-{precision} row missing: {e}")
                    continue
                res["loadavg_before"] = la
                isa = isa or res.get("isa")
                edge_sha = res["raw"].get("model_sha256")
                if edge_sha and edge_sha != weights_sha and args.edgeroute_model is None:
                    notes.append(f"{res['name']}: model_sha256 {edge_sha[:12]}… differs from the checkpoint's {weights_sha[:12]}…")
                probs, why = run_edgeroute_classify(np, args.edgeroute, args, precision, qfile, labels)
                if probs is not None and len(probs) == len(texts):
                    edge_probs[res["name"]] = probs
                elif why or probs is not None:
                    notes.append(f"{res['name']}: no label agreement ({why or f'{len(probs)} rows for {len(texts)} queries'})")
                peers_out.append(res)
            if args.threads > 1:
                notes.append(
                    f"`edgeroute bench` runs its batch-1 latency on one thread and only its throughput on "
                    f"--threads {args.threads}; the Python peers' latency uses {args.threads} threads"
                )
        else:
            notes.append(f"edgeroute rows missing: {edge_reason}")

        peers = build_python_peers(mods, args.model, onnx_files, args.threads, args.wanted)
        onnx_files["export_check"] = check_export(np, mods["onnxruntime"], peers, onnx_files, texts, args.threads)
        if onnx_files["export_check"]["max_abs_logit_diff"] > 1e-3:
            notes.append(f"ONNX FP32 export differs from PyTorch by {onnx_files['export_check']['max_abs_logit_diff']:.2e} in logits")
        py_probs = {}
        for peer in peers:
            log(f"running {peer.name}")
            la = loadavg()
            res = run_python_peer(np, peer, texts, args.warmup, args.reps, args.batch)
            res["loadavg_before"] = la
            py_probs[peer.name] = res.pop("_probs")
            peers_out.append(res)

    # Agreement and probability difference against torch-fp32 (batch 1, first rep).
    ref = py_probs["torch-fp32"]
    ref_labels = ref.argmax(axis=1)
    for res in peers_out:
        probs = py_probs.get(res["name"], edge_probs.get(res["name"]))
        if probs is None:
            res["agreement_vs_torch_fp32"] = None
            continue
        res["agreement_vs_torch_fp32"] = round(float((probs.argmax(axis=1) == ref_labels).mean()), 5)
        res["max_abs_prob_diff_vs_torch_fp32"] = float(np.abs(probs - ref).max())
        top2 = np.sort(ref, axis=1)[:, -2:]
        res["ref_median_top2_margin"] = float(np.median(top2[:, 1] - top2[:, 0]))

    order = ["edgeroute-int8", "edgeroute-fp32"] + PYTHON_PEERS
    peers_out.sort(key=lambda r: order.index(r["name"]) if r["name"] in order else 99)
    if labels and ref.shape[0]:
        margin = float(np.median(np.sort(ref, axis=1)[:, -1] - np.sort(ref, axis=1)[:, -2]))
        if margin < 0.02:
            notes.append(
                f"the reference's median top-1/top-2 probability margin is {margin:.4f}: a seeded, untrained "
                "head makes near-ties, so label agreement understates INT8 fidelity; see max_abs_prob_diff in the JSON"
            )
    notes.append(
        "CPU ms/query: CPU time of the benchmarking thread per batch-1 query (tokenization included); "
        "other processes on a shared machine inflate it far less than wall time, though not to zero "
        "(shared caches, VM steal); complete at --threads 1 only; `edgeroute bench` does not report it"
    )
    notes.append(
        "latency: batch 1, text in -> label out, tokenization included (HF fast tokenizer for the Python "
        "peers); model-call columns time the session/model call only; throughput: batches in dataset order, "
        "padded to the longest text in the batch (the pad256 peer pads every batch to 256)"
    )

    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    result = {
        "tool": "bench/peers.py",
        "command": shlex.join([Path(sys.executable).name, *sys.argv]) if sys.argv else None,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "git": git_info(),
        "machine": machine_info(),
        "loadavg_start": load_start,
        "loadavg_end": loadavg(),
        "wall_s": round(time.time() - started, 1),
        "isa": isa,
        "threads": args.threads,
        "queries": len(texts),
        "data": str(args.data),
        "column": args.column,
        "warmup": args.warmup,
        "reps": args.reps,
        "batch": args.batch,
        "model": str(args.model),
        "model_sha256": weights_sha,
        "checkpoint_bytes": sum(p.stat().st_size for p in model_info["weights"]),
        "onnx": onnx_files,
        "versions": package_versions(),
        "edgeroute": {"binary": str(args.edgeroute), "skipped_reason": edge_reason},
        "peers": peers_out,
        "notes": notes,
    }
    jpath = args.out_dir / f"peers-{stamp}.json"
    mpath = args.out_dir / f"peers-{stamp}.md"
    jpath.write_text(json.dumps(result, indent=2) + "\n")
    md = markdown(result)
    mpath.write_text(md)
    print(md)
    log(f"wrote {jpath} and {mpath}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
