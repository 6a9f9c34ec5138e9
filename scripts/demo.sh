#!/usr/bin/env bash
# make demo: runs what the edgeroute pipeline has so far on real text.
#
# Today that is the foundation every later stage reads (the pretrained encoder
# laid out as a Hugging Face directory, the model-file reader, the WordPiece
# tokenizer checked against Hugging Face) and the edge engine's compression
# and speed on the real encoder. Training (dapt, train) is not built yet, so
# the classifier head used for the engine stage is seeded, untrained: its
# labels mean nothing, only size and speed do. The router is issue 5.
#
# Usage: scripts/demo.sh path/to/edgeroute   (DATA=file.csv to tokenize your own)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${1:-$root/build/bin/edgeroute}"
model="$root/models/all-MiniLM-L6-v2"
py="$root/.venv/bin/python"
shared="$root/../shared/data"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

stage() { printf '\n== [%s] %s\n' "$1" "$2"; }

stage 1/5 "model: what the pretrained encoder directory holds"
"$bin" inspect "$model" > "$work/inspect.txt"
sed -n '1,12p' "$work/inspect.txt"
echo "..."
tail -n 3 "$work/inspect.txt"

stage 2/5 "tokenize: sample support messages (written for this demo)"
cat > "$work/messages.csv" <<'CSV'
text
"My card payment was declined twice, what's going on?"
"I'd like to speak to a MANAGER about the refund — this is unacceptable!!!"
"Transfer of €1.250,00 to DE89370400440532013000 still pending after 3 days"
"thx, all sorted 👍"
CSV
"$bin" tokenize --with-tokens --model "$model" --input "$work/messages.csv"

data="${DATA:-}"
if [ -z "$data" ]; then
  if [ -f "$shared/banking77/test.csv" ]; then
    data="$shared/banking77/test.csv"
  else
    data="$root/tests/text/data/adversarial.jsonl"
  fi
fi

stage 3/5 "parity: edgeroute vs Hugging Face BertTokenizerFast on $data"
"$py" "$root/python/check_tokenizer_parity.py" --edgeroute "$bin" --model "$model" --input "$data"

stage 4/5 "speed: tokenizing $data"
rows=$("$bin" tokenize --model "$model" --input "$data" | wc -l)
t0=$(date +%s.%N)
for _ in 1 2 3; do "$bin" tokenize --model "$model" --input "$data" > /dev/null; done
t1=$(date +%s.%N)
awk -v n="$rows" -v a="$t0" -v b="$t1" 'BEGIN {
  s = (b - a) / 3; printf "%d texts in %.3f s per pass (process start and model load included): %.0f texts/s\n", n, s, n / s }'
stage 5/5 "edge engine: all-MiniLM-L6-v2 + an untrained 5-label head -> INT8 .edge, then batch-1 latency"
"$py" "$root/python/make_tiny_models.py" --minilm "$model" --out "$work/models" --only minilm-cls > /dev/null 2>&1
"$bin" compress --model "$work/models/minilm-cls" --out "$work/minilm-cls.edge" 2> /dev/null | sed -n '2p'
"$bin" bench --model "$work/minilm-cls.edge" --data "$data" --limit 300 --warmup 30

printf '\nNext stages (dapt, train, calibrate, serve) arrive with issues 3 and 5.\n'
