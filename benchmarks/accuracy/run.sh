#!/usr/bin/env bash
# The committed accuracy distributions (benchmarks/baselines/accuracy.json): 10 seeds of each
# configuration the tests and CI compare against, then the chapter's 4-epoch configuration.
# Usage: bash benchmarks/accuracy/run.sh OUT_DIR [--skip-chapter]   (hours on 2 cores)
set -euo pipefail
out=${1:?OUT_DIR}; mkdir -p "$out"
cd "$(dirname "$0")/../.."
export LSTM_REPRO_OFFLINE=1 PYTHONUNBUFFERED=1
seeds() {  # name, then reproduce options
  local name=$1; shift
  [ -f "$out/$name.json" ] && return 0
  python3 -m lstm_repro seeds --n 10 --jobs 2 "$@" --json "$out/$name.json" | tee "$out/$name.log"
}
short=(--data synthetic --train-samples 2048 --test-samples 1024 --epochs 2)
memory=(--data memory-early --train-samples 2048 --test-samples 1024 --epochs 2)
for m in fused-lstm fused-rnn fused-gru unrolled-lstm unrolled-rnn; do
  seeds "short-$m" --model "$m" "${short[@]}"
done
seeds memory-fused-lstm --model fused-lstm "${memory[@]}"
seeds memory-fused-rnn --model fused-rnn "${memory[@]}"
seeds memory-fused-lstm-fb3 --model fused-lstm --forget-bias 3 "${memory[@]}"
seeds acceptance-unrolled-lstm --model unrolled-lstm --data synthetic --train-samples 2048 \
  --test-samples 1024 --epochs 1
if [ "${2:-}" != "--skip-chapter" ]; then
  for m in unrolled-lstm fused-lstm unrolled-rnn fused-gru fused-rnn; do
    seeds "chapter-$m" --model "$m" --data synthetic
  done
fi
python3 benchmarks/accuracy/collect.py "$out" benchmarks/baselines/accuracy.json
