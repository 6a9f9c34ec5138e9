#!/usr/bin/env bash
# The monitor's overhead, a drift scenario, and pictures of both.
#
#   bench/monitor/run.sh BIN EDGE_MODEL CLOUD_MODEL POLICY IN_DIST.csv SHIFTED.csv OUT_DIR
#
# 1. Overhead: an edge-role server with the monitor on, then with
#    `--no-monitor`, alternated PAIRS times (default 2); each run is open-loop
#    `edgeroute load` at LOW_RATE q/s (p50/p99 below saturation) and at
#    HIGH_RATE q/s (completed q/s = capacity). Reported as medians per mode
#    and the on/off ratio.
# Both inputs are shuffled first (seeded), since test files are often sorted by label.
# 2. Drift: one edge node (POLICY must carry the [calibration].reference
#    written by `edgeroute calibrate`) receives IN_DIST.csv at DRIFT_RATE q/s
#    for DRIFT_S seconds, then SHIFTED.csv for as long; the alerts raised
#    (log sink), /v1/monitor and /v1/health/report are saved. The dashboard
#    (1m window) is screenshotted in headless Chromium while the shifted traffic flows,
#    then `edgeroute report --format html` is rendered and screenshotted.
# Writes OUT_DIR/monitor.json and prints a markdown table with the command,
# machine, commit and threads.
set -euo pipefail
bin="$1"; edge_model="$2"; cloud_model="$3"; policy="$4"; in_dist="$5"; shifted="$6"; out="$7"
pairs="${PAIRS:-2}"; low="${LOW_RATE:-200}"; high="${HIGH_RATE:-1000}"; secs="${SECONDS_PER_RUN:-15}"
drift_rate="${DRIFT_RATE:-150}"; drift_s="${DRIFT_S:-12}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
python="${PYTHON:-$root/.venv/bin/python}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2> /dev/null || true; done; }
trap cleanup EXIT

. "$(dirname "${BASH_SOURCE[0]}")/../serve_lib.sh"

# Test files are often sorted by label; a seeded shuffle makes every stretch
# of the stream look like the whole file (the label mix the reference holds).
shuffle() {
  "$python" - "$1" "$2" << 'PY'
import csv, random, sys
with open(sys.argv[1], newline="") as f:
    rows = list(csv.reader(f))
head, body = rows[0], rows[1:]
random.Random(42).shuffle(body)
with open(sys.argv[2], "w", newline="") as f:
    csv.writer(f).writerows([head] + body)
PY
}
shuffle "$in_dist" "$out/in_dist.csv"; in_dist="$out/in_dist.csv"
shuffle "$shifted" "$out/shifted.csv"; shifted="$out/shifted.csv"

start cloud --role cloud --model "$cloud_model" --workers 1
cloud_url="http://127.0.0.1:$port"

# ---- 1. overhead -------------------------------------------------------------
runs="[]"
for pair in $(seq "$pairs"); do
  for mode in on off; do
    flag=()
    [ "$mode" = off ] && flag=(--no-monitor)
    start edge --role edge --model "$edge_model" --policy "$policy" --cloud "$cloud_url" --workers "$(nproc)" \
      "${flag[@]}"
    edge_pid=$last_pid
    url="http://127.0.0.1:$port"
    "$bin" load --url "$url" --input "$in_dist" --rate "$low" --duration "$secs" --connections 32 --json \
      > "$out/load-$mode-$pair-low.json"
    "$bin" load --url "$url" --input "$in_dist" --rate "$high" --duration "$secs" --connections 64 --json \
      > "$out/load-$mode-$pair-high.json"
    kill -TERM "$edge_pid"; wait "$edge_pid" || true
    runs=$(jq --arg m "$mode" --argjson p "$pair" --slurpfile lo "$out/load-$mode-$pair-low.json" \
      --slurpfile hi "$out/load-$mode-$pair-high.json" \
      '. + [{mode: $m, pair: $p, low: $lo[0], high: $hi[0]}]' <<< "$runs")
  done
done
overhead=$(jq '
  def median: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
              else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def mode($m): map(select(.mode == $m)) | {
      throughput: (map(.high.throughput) | median),
      low_p50_ms: (map(.low.latency_ms.p50) | median),
      low_p99_ms: (map(.low.latency_ms.p99) | median)};
  {on: mode("on"), off: mode("off")}
  | .throughput_ratio = (.on.throughput / .off.throughput)
  | .p99_ratio = (.on.low_p99_ms / .off.low_p99_ms)' <<< "$runs")

# ---- 2. drift ----------------------------------------------------------------
rm -f "$out/drift-audit.db"*
start edge --role edge --model "$edge_model" --policy "$policy" --cloud "$cloud_url" --workers "$(nproc)" \
  --audit "sqlite:$out/drift-audit.db"
edge_pid=$last_pid
url="http://127.0.0.1:$port"
"$bin" load --url "$url" --input "$in_dist" --rate "$drift_rate" --duration "$drift_s" --connections 16 --json \
  > "$out/drift-load-in.json"
sleep 2
curl -fsS "$url/v1/monitor?window=1h" > "$out/monitor-in-dist.json"
"$bin" load --url "$url" --input "$shifted" --rate "$drift_rate" --duration "$drift_s" --connections 16 --json \
  > "$out/drift-load-shifted.json" &
load_pid=$!
sleep $(( drift_s / 2 ))
"$python" "$root/tests/monitor/browser_check.py" --url "$url/dashboard#window=1m" --screenshot "$out/dashboard.png" \
  --min-points 10 --min-renders 2 --timeout 60 > "$out/dashboard-check.json" || true
wait "$load_pid"
sleep 2
curl -fsS "$url/v1/monitor?window=1h" > "$out/monitor-shifted.json"
curl -fsS "$url/v1/health/report?window=1h" > "$out/health-shifted.json"
kill -TERM "$edge_pid"; wait "$edge_pid" || true
grep '"status"' "$out/edge.log" > "$out/alert-events.jsonl" || true
"$bin" report --audit "sqlite:$out/drift-audit.db" --policy "$policy" --format text > "$out/report.txt"
"$bin" report --audit "sqlite:$out/drift-audit.db" --policy "$policy" --format html --out "$out/report.html"
"$python" "$root/tests/monitor/browser_check.py" --url "file://$out/report.html" --screenshot "$out/report.png" \
  --min-points 10 --timeout 60 > "$out/report-check.json" || true

drift=$(jq -n --slurpfile a "$out/monitor-in-dist.json" --slurpfile b "$out/monitor-shifted.json" \
  --slurpfile h "$out/health-shifted.json" '
  def d($m): $m.summary.drift;
  {in_dist: {drift: d($a[0]), requests: $a[0].summary.requests},
   shifted: {drift: d($b[0]), requests: $b[0].summary.requests},
   alerts_firing: [$b[0].alerts.firing[].name],
   health: {score: $h[0].score, status: $h[0].status, recommendations: [$h[0].recommendations[].text]}}')

commit=$(git -C "$root" rev-parse --short HEAD)
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
jq -n --argjson o "$overhead" --argjson runs "$runs" --argjson d "$drift" --arg c "$commit" --arg cpu "$cpu" \
  --arg cmd "$0 $*" --argjson n "$(nproc)" \
  '{command: $cmd, commit: $c, machine: $cpu, cpus: $n, overhead: $o, runs: $runs, drift: $d}' > "$out/monitor.json"

echo "Command: \`$0 $*\`  "
echo "Machine: $cpu, $(nproc) CPUs; commit $commit; edge server --workers $(nproc); load on the same machine  "
echo
echo "| monitor | completed q/s at $high offered | p50 ms at $low q/s | p99 ms at $low q/s |"
echo "| --- | --- | --- | --- |"
jq -r '"| on | \(.on.throughput | floor) | \(.on.low_p50_ms) | \(.on.low_p99_ms) |",
       "| off | \(.off.throughput | floor) | \(.off.low_p50_ms) | \(.off.low_p99_ms) |",
       "| on / off | \(.throughput_ratio * 1000 | round / 1000) | | \(.p99_ratio * 1000 | round / 1000) |"' <<< "$overhead"
echo
jq -r '"Drift: PSI confidence \(.in_dist.drift.psi_confidence) -> \(.shifted.drift.psi_confidence), labels \(.in_dist.drift.psi_labels) -> \(.shifted.drift.psi_labels), OOD rate \(.in_dist.drift.ood_rate) -> \(.shifted.drift.ood_rate); firing: \(.alerts_firing | join(", ")); health \(.health.score) (\(.health.status))"' <<< "$drift"
