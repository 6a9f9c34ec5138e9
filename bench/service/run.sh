#!/usr/bin/env bash
# Service benchmark and cloud-outage scenario on loopback.
#
#   bench/service/run.sh BIN EDGE_MODEL CLOUD_MODEL POLICY QUERIES OUT_DIR [RATES...]
#
# 1. Throughput: an edge-role server (EDGE_MODEL + POLICY, cloud = a cloud-role
#    server on CLOUD_MODEL, SQLite audit) under open-loop load at each rate
#    (default 500 1000 1500 2000 q/s, 20 s each, `edgeroute load`); after each
#    run the audit row count is compared with the 2xx count.
# 2. Outage: at 300 q/s for 20 s the cloud server is killed (SIGKILL) after
#    5 s; reports answered share, degraded answers and the breaker's
#    transitions from /metrics.
# Writes OUT_DIR/service.json and prints a markdown table with the command,
# machine, commit and threads. EDGE_SERVE_ARGS adds options to the edge
# server of the throughput runs (e.g. "--audit-max-wait-us 0");
# THROUGHPUT_CLOUD=none runs them without a cloud (every answer on the edge
# path: the cloud server shares this machine's cores otherwise);
# CONNECTIONS sets the load generator's connections (default 64). Each run also
# records the edge server's CPU per answer (utime + stime from /proc over the
# load window), its voluntary context switches per answer, and its audit
# commits per answer (edgeroute_audit_commits_total). The commit named is the
# one of the tree BIN was built in.
set -euo pipefail
args="$*"
bin="$1"; edge_model="$2"; cloud_model="$3"; policy="$4"; queries="$5"; out="$6"; shift 6
rates=("$@")
read -r -a edge_extra <<< "${EDGE_SERVE_ARGS:-}"
connections="${CONNECTIONS:-64}"
[ ${#rates[@]} -gt 0 ] || rates=(500 1000 1500 2000)
mkdir -p "$out"
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2> /dev/null || true; done; }
trap cleanup EXIT

. "$(dirname "${BASH_SOURCE[0]}")/../serve_lib.sh"

# The edge server's CPU (utime + stime, in clock ticks) and voluntary context
# switches (summed over its threads), read around each load run.
clk_tck=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
switches() { cat /proc/"$1"/task/*/status 2> /dev/null | awk '$1 == "voluntary_ctxt_switches:" {s += $2} END {print s + 0}'; }

start cloud --role cloud --model "$cloud_model" --workers 1
cloud_pid=$last_pid
cloud_url="http://127.0.0.1:$port"

throughput_cloud=(--cloud "$cloud_url")
[ "${THROUGHPUT_CLOUD:-}" = none ] && throughput_cloud=()
results="[]"
for rate in "${rates[@]}"; do
  rm -f "$out/audit-$rate.db"*
  start edge --role edge --model "$edge_model" --policy "$policy" "${throughput_cloud[@]}" \
    --audit "sqlite:$out/audit-$rate.db" --workers "$(nproc)" "${edge_extra[@]}"
  edge_pid=$last_pid
  cpu0=$(cpu_ticks "$edge_pid"); csw0=$(switches "$edge_pid")
  "$bin" load --url "http://127.0.0.1:$port" --input "$queries" --rate "$rate" --duration 20 \
    --connections "$connections" --json > "$out/load-$rate.json"
  cpu1=$(cpu_ticks "$edge_pid"); csw1=$(switches "$edge_pid")
  curl -fsS "http://127.0.0.1:$port/v1/stats" > "$out/stats-$rate.json"
  commits=$(curl -fsS "http://127.0.0.1:$port/metrics" | awk '$1 == "edgeroute_audit_commits_total" {print $2 + 0}')
  kill -TERM "$edge_pid"; wait "$edge_pid" || true
  rows=$("$bin" audit count --audit "sqlite:$out/audit-$rate.db" | grep -o '[0-9]*' | head -1)
  results=$(jq --argjson r "$rate" --argjson rows "$rows" --slurpfile l "$out/load-$rate.json" \
    --slurpfile s "$out/stats-$rate.json" --argjson cpu "$(( cpu1 - cpu0 ))" --argjson hz "$clk_tck" \
    --argjson csw "$(( csw1 - csw0 ))" --argjson commits "${commits:-0}" \
    '. + [{rate: $r, load: $l[0], audit_rows: $rows, edge_share: $s[0].edge_utilization,
           edge_cpu_ms_per_answer: (if $l[0].status."2xx" > 0 then $cpu * 1000 / $hz / $l[0].status."2xx" else null end),
           edge_switches_per_answer: (if $l[0].status."2xx" > 0 then $csw / $l[0].status."2xx" else null end),
           audit_commits_per_answer: (if $l[0].status."2xx" > 0 then $commits / $l[0].status."2xx" else null end)}]' \
    <<< "$results")
done

# Outage: kill -9 the cloud 5 s into a 20 s run.
start edge --role edge --model "$edge_model" --policy "$policy" --cloud "$cloud_url" --workers "$(nproc)" \
  --breaker-failures 5 --breaker-wait-ms 2000
edge_pid=$last_pid
edge_url="http://127.0.0.1:$port"
( sleep 5; kill -9 "$cloud_pid" ) &
"$bin" load --url "$edge_url" --input "$queries" --rate 300 --duration 20 --connections 32 --json > "$out/outage-load.json"
curl -fsS "$edge_url/v1/stats" > "$out/outage-stats.json"
curl -fsS "$edge_url/metrics" | grep -E '^edgeroute_cloud_(breaker|calls)|^edgeroute_degraded|^edgeroute_answers_total' \
  > "$out/outage-metrics.txt"
kill -TERM "$edge_pid"; wait "$edge_pid" || true

commit=$(git -C "$(dirname "$(readlink -f "$bin")")" rev-parse --short HEAD 2> /dev/null || echo unknown)
machine=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
jq -n --argjson runs "$results" --slurpfile ol "$out/outage-load.json" --slurpfile os "$out/outage-stats.json" \
  --arg commit "$commit" --arg machine "$machine" --arg threads "$(nproc)" \
  '{commit: $commit, machine: $machine, threads: $threads, runs: $runs, outage: {load: $ol[0], stats: $os[0]}}' \
  > "$out/service.json"

env_shown="${EDGE_SERVE_ARGS:+EDGE_SERVE_ARGS=\"$EDGE_SERVE_ARGS\" }${THROUGHPUT_CLOUD:+THROUGHPUT_CLOUD=$THROUGHPUT_CLOUD }${CONNECTIONS:+CONNECTIONS=$CONNECTIONS }"
printf '\ncommand: %sbench/service/run.sh %s\nmachine: %s, %s threads, commit %s\n\n' \
  "$env_shown" "$args" "$machine" "$(nproc)" "$commit"
printf '| offered q/s | achieved q/s | 2xx | non-2xx | p50 ms | p99 ms | audit rows | edge share | edge CPU ms/answer | switches/answer | audit commits/answer |\n|---|---|---|---|---|---|---|---|---|---|---|\n'
jq -r '.runs[] | "| \(.rate) | \(.load.throughput | floor) | \(.load.status."2xx") | \(.load.completed - .load.status."2xx") | \(.load.latency_ms.p50 * 100 | round / 100) | \(.load.latency_ms.p99 * 100 | round / 100) | \(.audit_rows) | \(.edge_share * 1000 | round / 10)% | \((.edge_cpu_ms_per_answer // 0) * 1000 | round / 1000) | \((.edge_switches_per_answer // 0) * 100 | round / 100) | \((.audit_commits_per_answer // 0) * 1000 | round / 1000) |"' "$out/service.json"
printf '\noutage (cloud killed at 5 s of 20 s, 300 q/s): '
jq -r '"sent \(.outage.load.sent), 2xx \(.outage.load.status."2xx"), degraded \(.outage.stats.degraded), cloud answers \(.outage.stats.cloud_queries)"' "$out/service.json"
cat "$out/outage-metrics.txt"
