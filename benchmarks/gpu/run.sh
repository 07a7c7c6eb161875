#!/usr/bin/env bash
# The chapter's comparison on a GPU machine with PyTorch and JAX but no TensorFlow, through
# Keras 3's torch and jax backends. Also runs end to end on a CPU (CI does, with --smoke).
#
#   bash benchmarks/gpu/run.sh OUT_DIR [--smoke]
#
# On the lent H200: carry the keras, namex and optree wheels in .whl/ (see README, "GPU"); they
# are installed into /tmp/site here. Writes OUT_DIR/<backend>.json (pytest-benchmark shaped,
# gate-able) and OUT_DIR/summary.md.
set -euo pipefail
out=${1:?OUT_DIR}; shift
mkdir -p "$out"
cd "$(dirname "$0")/../.."
if compgen -G ".whl/*.whl" > /dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl
  export PYTHONPATH="/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
else
  export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
export LSTM_REPRO_OFFLINE=1 PYTHONUNBUFFERED=1
# Each backend twice: its deterministic mode (JAX reads XLA's flag at start-up, so it is set
# for that process only) and its fast kernels (--fast). The mode is recorded per benchmark.
deterministic_xla="${XLA_FLAGS:-} --xla_gpu_deterministic_ops=true"
status=0
for backend in torch jax; do
  if ! python3 -c "import $backend" 2>/dev/null; then
    echo "$backend is not installed here: skipped" | tee -a "$out/summary.md"
    continue
  fi
  XLA_FLAGS="$deterministic_xla" CUBLAS_WORKSPACE_CONFIG=:4096:8 KERAS_BACKEND=$backend \
    python3 benchmarks/gpu/gpu_bench.py "$out/$backend.json" "$@" \
    2>&1 | tee "$out/$backend.log" || status=1
  KERAS_BACKEND=$backend python3 benchmarks/gpu/gpu_bench.py "$out/$backend-fast.json" "$@" --fast \
    2>&1 | tee "$out/$backend-fast.log" || status=1
done
python3 benchmarks/gpu/gpu_bench.py --summary "$out" | tee -a "$out/summary.md"
exit $status
