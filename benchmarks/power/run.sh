#!/usr/bin/env bash
# Gate power campaign (issue 9). Run from the repo root, on a quiet machine.
set -uo pipefail
out=/work/campaign/runs; mkdir -p "$out"
export LSTM_REPRO_OFFLINE=1 PYTHONUNBUFFERED=1
cases=(chapter-unrolled-lstm-train chapter-unrolled-lstm-infer chapter-fused-lstm-train chapter-fused-lstm-infer chapter-unrolled-rnn-train chapter-unrolled-rnn-infer chapter-fused-gru-train chapter-fused-gru-infer)
bench() {  # $1 name, $2 slowdown spec
  local start=$(date +%s)
  LSTM_REPRO_BENCH_SLOWDOWN="$2" python3 -m pytest benchmarks -k "chapter" --benchmark-only -q -p no:cacheprovider \
     --benchmark-json "$out/$1.json" > "$out/$1.log" 2>&1
  echo "$1 rc=$? $(( $(date +%s) - start )) s slowdown='$2'" | tee -a "$out/index.txt"
}
bench base ""
for i in 1 2 3 4 5; do
  bench null$i ""
  a=${cases[$(( (3*i-3) % 8 ))]}; b=${cases[$(( (3*i-2) % 8 ))]}; c=${cases[$(( (3*i-1) % 8 ))]}
  bench inj$i "$a=1.1,$b=1.25,$c=1.5"
done
quick=(chapter-unrolled-lstm-train chapter-unrolled-lstm-infer chapter-fused-lstm-train chapter-fused-lstm-infer)
for i in 1 2 3 4 5; do
  start=$(date +%s)
  python3 -m lstm_repro ab HEAD --json "$out/ab_null$i.json" --save-docs "$out/ab_null$i" > "$out/ab_null$i.log" 2>&1
  echo "ab_null$i rc=$? $(( $(date +%s) - start )) s" | tee -a "$out/index.txt"
  a=${quick[$(( (i-1) % 4 ))]}; b=${quick[$(( i % 4 ))]}; c=${quick[$(( (i+1) % 4 ))]}
  spec="$a=1.1,$b=1.25,$c=1.5"
  start=$(date +%s)
  LSTM_REPRO_BENCH_SLOWDOWN="$spec" python3 -m lstm_repro ab HEAD --json "$out/ab_inj$i.json" --save-docs "$out/ab_inj$i" > "$out/ab_inj$i.log" 2>&1
  echo "ab_inj$i rc=$? $(( $(date +%s) - start )) s slowdown='$spec'" | tee -a "$out/index.txt"
done
echo done >> "$out/index.txt"
