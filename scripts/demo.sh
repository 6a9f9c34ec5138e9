#!/usr/bin/env bash
# make demo: the whole edgeroute pipeline, end to end, on this machine.
#
#   corpus -> dapt -> train -> compress -> calibrate -> cloud-role server +
#   edge-role server -> a query stream -> summary table -> stop the servers
#
# Data: a support-message corpus that `edgeroute corpus` generates (seeded;
# intents, sentiments, typos, multi-sentence complaints, PII), or your own
# labeled CSV with DATA=path/to/file.csv (columns text,label; it is split
# 70/15/15 by `edgeroute corpus --split`).
#
# Usage: scripts/demo.sh path/to/build/bin   (DATA=file.csv, WORK=dir to keep the outputs)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bindir="${1:-$root/build/bin}"
bin="$bindir/edgeroute"
base="$root/models/all-MiniLM-L6-v2"
threads="$(nproc)"
if [ -n "${WORK:-}" ]; then
  work="$WORK"
  mkdir -p "$work"
else
  work="$(mktemp -d)"
fi
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2> /dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2> /dev/null || true; done
  [ -n "${WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

t_start=$(date +%s)
stage() { printf '\n== [%s] %s  (%ds)\n' "$1" "$2" "$(($(date +%s) - t_start))"; }
json() { jq -r "$1" "$2"; }

stage 1/9 "data"
if [ -n "${DATA:-}" ]; then
  "$bin" corpus --split "$DATA" --out "$work/data" --force
else
  "$bin" corpus --out "$work/data" --per-intent 120 --seed 42 --force
fi
data="$work/data"

stage 2/9 "dapt: masked-LM adaptation of all-MiniLM-L6-v2 on the unlabeled texts"
"$bin" dapt --model "$base" --text "$data/unlabeled.txt" --epochs 1 --max-len 64 --bf16 --threads "$threads" \
  --out "$work/dapt" --force --no-progress

stage 3/9 "train: head warm-up, then full fine-tune with early stopping; temperature on val"
"$bin" train --model "$work/dapt" --train "$data/train.csv" --val "$data/val.csv" --test "$data/test.csv" \
  --head-epochs 5 --head-lr 3e-3 --epochs 3 --lr 1e-4 --max-len 64 --bf16 --freeze-embeddings \
  --threads "$threads" --out "$work/classifier" --force --no-progress

stage 4/9 "compress: INT8/4-bit .edge, checked against FP32 on val (<= 0.3 points)"
"$bin" compress --model "$work/classifier" --out "$work/model.edge" --check "$data/val.csv" --int4 \
  --trim-vocab latin --force
"$bin" eval --model "$work/classifier" --data "$data/test.csv" --json > "$work/eval_fp32.json"
"$bin" eval --model "$work/model.edge" --data "$data/test.csv" --json > "$work/eval_int8.json"
"$bin" bench --model "$work/model.edge" --data "$data/test.csv" --threads "$threads" --output json \
  > "$work/bench.json"

stage 5/9 "calibrate: thresholds for the INT8 model, system accuracy >= cloud-only"
"$bin" calibrate --model "$work/model.edge" --cloud "$work/classifier" --val "$data/val.csv" \
  --target-accuracy cloud --out "$work/policy.toml" --force

stage 6/9 "servers: cloud role (FP32 classifier) and edge role (INT8 + policy + SQLite audit)"
"$bin" serve --role cloud --model "$work/classifier" --listen 127.0.0.1:0 --port-file "$work/cloud.port" \
  > "$work/cloud.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do [ -s "$work/cloud.port" ] && break; sleep 0.1; done
cloud_url="http://127.0.0.1:$(cat "$work/cloud.port")"
"$bin" serve --role edge --model "$work/model.edge" --policy "$work/policy.toml" --cloud "$cloud_url" \
  --audit "sqlite:$work/audit.db" --listen 127.0.0.1:0 --port-file "$work/edge.port" > "$work/edge.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do [ -s "$work/edge.port" ] && break; sleep 0.1; done
edge_url="http://127.0.0.1:$(cat "$work/edge.port")"
cat "$work/cloud.log" "$work/edge.log"

stage 7/9 "query stream: $data/stream.csv through the edge server (open loop, 100 q/s for 10 s)"
"$bin" load --url "$edge_url" --input "$data/stream.csv" --rate 100 --duration 10 --connections 8 --json \
  > "$work/load.json"
curl -fsS "$edge_url/v1/stats" > "$work/stats.json"
printf 'sent %s, 2xx %s, p50 %.2f ms, p99 %.2f ms\n' "$(json .completed "$work/load.json")" \
  "$(json .status.\"2xx\" "$work/load.json")" "$(json .latency_ms.p50 "$work/load.json")" \
  "$(json .latency_ms.p99 "$work/load.json")"

stage 8/9 "labeled test split through the same router (offline, same cloud)"
"$bin" route --model "$work/model.edge" --policy "$work/policy.toml" --cloud "$cloud_url" \
  --input "$data/test.csv" --quiet --summary-json "$work/route_test.json"

stage 9/9 "audit: verify the hash chain, stop the servers"
"$bin" audit verify --audit "sqlite:$work/audit.db"
for p in "${pids[@]}"; do kill -TERM "$p"; done
for p in "${pids[@]}"; do wait "$p"; done
pids=()

fp32_bytes=$(stat -c %s "$work/classifier/model.safetensors")
edge_bytes=$(stat -c %s "$work/model.edge")
fp32_acc=$(json .accuracy "$work/eval_fp32.json")
int8_acc=$(json .accuracy "$work/eval_int8.json")
printf '\n== edgeroute demo summary (%s, %d s)\n' "$(git -C "$root" rev-parse --short HEAD 2> /dev/null || echo unknown)" \
  "$(($(date +%s) - t_start))"
awk -v fb="$fp32_bytes" -v eb="$edge_bytes" -v fa="$fp32_acc" -v ia="$int8_acc" \
  -v p50="$(json .latency_ms.p50 "$work/bench.json")" -v p95="$(json .latency_ms.p95 "$work/bench.json")" \
  -v lp50="$(json .latency_ms.p50 "$work/load.json")" -v lp99="$(json .latency_ms.p99 "$work/load.json")" \
  -v edge="$(json .edge_utilization "$work/stats.json")" -v sav="$(json .savings "$work/stats.json")" \
  -v cpq="$(json .cost_per_query_usd "$work/stats.json")" -v deg="$(json .degraded "$work/stats.json")" \
  -v sys="$(json .system_accuracy "$work/route_test.json")" -v tedge="$(json .edge_utilization "$work/route_test.json")" \
  -v tsav="$(json .savings "$work/route_test.json")" 'BEGIN {
  printf "| %-44s | %-36s |\n", "measure", "value"
  printf "|%s|%s|\n", "----------------------------------------------", "--------------------------------------"
  printf "| %-44s | %-36s |\n", "model size FP32 -> edge (int8/4-bit)", sprintf("%.1f MB -> %.1f MB (%.1f%% smaller)", fb/1e6, eb/1e6, 100*(1-eb/fb))
  printf "| %-44s | %-36s |\n", "test accuracy FP32 / edge", sprintf("%.2f%% / %.2f%%", 100*fa, 100*ia)
  printf "| %-44s | %-36s |\n", "accuracy retention after quantization", sprintf("%.2f%%", 100*ia/fa)
  printf "| %-44s | %-36s |\n", "edge latency, 1 thread, batch 1 (p50 / p95)", sprintf("%.2f / %.2f ms", p50, p95)
  printf "| %-44s | %-36s |\n", "HTTP answer latency, stream (p50 / p99)", sprintf("%.2f / %.2f ms", lp50, lp99)
  printf "| %-44s | %-36s |\n", "stream: edge share", sprintf("%.1f%%", 100*edge)
  printf "| %-44s | %-36s |\n", "stream: cost per query, savings", sprintf("$%.5f, %.1f%%", cpq, 100*sav)
  printf "| %-44s | %-36s |\n", "stream: degraded answers", deg
  printf "| %-44s | %-36s |\n", "test split: edge share, system accuracy", sprintf("%.1f%%, %.2f%%", 100*tedge, 100*sys)
  printf "| %-44s | %-36s |\n", "test split: savings vs cloud-only", sprintf("%.1f%%", 100*tsav)
}'
printf '\nreasons on the stream: %s\n' "$(jq -c '.reasons | with_entries(select(.value > 0))' "$work/stats.json")"
[ -z "${WORK:-}" ] || printf 'outputs kept in %s\n' "$work"
