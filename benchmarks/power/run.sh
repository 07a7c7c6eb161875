#!/usr/bin/env bash
# Gate power campaign (issue 9). Run from the repo root, on a quiet machine (about 45 min on 2 cores).
# Usage: bash benchmarks/power/run.sh OUT_DIR [--ab-only PREFIX [AB_OPTION ...]]
#   then python3 benchmarks/power/analyse.py OUT_DIR docs/run/gate_power.json
# --ab-only PREFIX: only the 10 `ab HEAD` runs, named PREFIX_*, beside earlier runs in OUT_DIR,
# with `ab`'s defaults or the AB_OPTIONs given (e.g. --workers 2 --blocks 8); analyse.py gives
# each processes-per-side and blocks setting its own row.
set -uo pipefail
out=${1:?OUT_DIR}; mkdir -p "$out"
prefix=ab; ab_only=0
ab_options=()
if [ "${2:-}" = "--ab-only" ]; then ab_only=1; prefix=${3:?PREFIX}; ab_options=("${@:4}"); fi
export LSTM_REPRO_OFFLINE=1 PYTHONUNBUFFERED=1
cases=(chapter-unrolled-lstm-train chapter-unrolled-lstm-infer chapter-fused-lstm-train chapter-fused-lstm-infer chapter-unrolled-rnn-train chapter-unrolled-rnn-infer chapter-fused-gru-train chapter-fused-gru-infer)
bench() {  # $1 name, $2 slowdown spec
  local start=$(date +%s)
  LSTM_REPRO_BENCH_SLOWDOWN="$2" python3 -m pytest benchmarks -k "chapter" --benchmark-only -q -p no:cacheprovider \
     --benchmark-json "$out/$1.json" > "$out/$1.log" 2>&1
  echo "$1 rc=$? $(( $(date +%s) - start )) s slowdown='$2'" | tee -a "$out/index.txt"
}
if [ $ab_only = 0 ]; then
  bench base ""
  for i in 1 2 3 4 5; do
    bench null$i ""
    a=${cases[$(( (3*i-3) % 8 ))]}; b=${cases[$(( (3*i-2) % 8 ))]}; c=${cases[$(( (3*i-1) % 8 ))]}
    bench inj$i "$a=1.1,$b=1.25,$c=1.5"
  done
fi
quick=(chapter-unrolled-lstm-train chapter-unrolled-lstm-infer chapter-fused-lstm-train chapter-fused-lstm-infer)
ab() {  # $1 name, $2 slowdown spec
  local start=$(date +%s)
  LSTM_REPRO_BENCH_SLOWDOWN="$2" python3 -m lstm_repro ab HEAD "${ab_options[@]}" --json "$out/$1.json" \
    --save-docs "$out/$1" > "$out/$1.log" 2>&1
  echo "$1 rc=$? $(( $(date +%s) - start )) s slowdown='$2'" | tee -a "$out/index.txt"
}
for i in 1 2 3 4 5; do
  ab "${prefix}_null$i" ""
  a=${quick[$(( (i-1) % 4 ))]}; b=${quick[$(( i % 4 ))]}; c=${quick[$(( (i+1) % 4 ))]}
  ab "${prefix}_inj$i" "$a=1.1,$b=1.25,$c=1.5"
done
echo done >> "$out/index.txt"
