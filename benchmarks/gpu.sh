#!/usr/bin/env bash
# Run the unrolled-vs-fused comparison on a GPU machine (cuDNN path) within ~8 minutes and
# write its JSON. Usage: bash benchmarks/gpu.sh [OUT_DIR]   (default: ./gpu-out)
#
# Needs TensorFlow with CUDA on that machine (pip install "tensorflow[and-cuda]>=2.16"). The
# device tool's H200 image in this project ships PyTorch/JAX but no TensorFlow, and the
# TensorFlow + CUDA wheels (~2.5 GB) exceed what can be carried there (64 MiB), so this script
# is for a GPU machine where TensorFlow is installed.
set -euo pipefail
out=${1:-gpu-out}
mkdir -p "$out"
cd "$(dirname "$0")/.."
python3 - <<'PY'
import sys
import tensorflow as tf
gpus = tf.config.list_physical_devices("GPU")
if not gpus:
    sys.exit("gpu.sh: TensorFlow sees no GPU; nothing to measure")
print("GPU:", tf.config.experimental.get_device_details(gpus[0]).get("device_name"))
PY
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" LSTM_REPRO_OFFLINE=1
# 1. cuDNN must actually run for the fused LSTM (the test skips only without a GPU).
timeout 120 python3 -m pytest benchmarks/test_throughput.py -q -p no:cacheprovider \
    -k "cudnn" 2>&1 | tee "$out/cudnn_check.log"
# 2. The chapter-size comparison and the sweep, timed; JSON for `lstm-repro gate`.
timeout 360 python3 -m pytest benchmarks --benchmark-only -q -p no:cacheprovider \
    --benchmark-json "$out/gpu_bench.json" 2>&1 | tee "$out/bench.log"
# 3. The speedup the README reports: unrolled over fused, per mode, from the same run.
python3 - "$out/gpu_bench.json" <<'PY'
import json, sys
rows = {r["name"]: r for r in json.load(open(sys.argv[1]))["benchmarks"]}
for mode in ("train", "infer"):
    u = rows[f"test_chapter_config_step[unrolled-lstm-{mode}]"]
    f = rows[f"test_chapter_config_step[fused-lstm-{mode}]"]
    print(f"{mode}: unrolled {u['stats']['median']*1e3:.2f} ms, fused {f['stats']['median']*1e3:.2f} ms "
          f"(cudnn={f['extra_info']['cudnn']}), speedup {u['stats']['median']/f['stats']['median']:.1f}x")
PY
