"""Training and inference step throughput: the chapter's unrolled LSTMCell against Keras's fused
layers, with FLOP-based figures normalised by a matmul peak measured in the same session.

Rivals share a `group`; compile/trace time is recorded apart (extra_info.compile_seconds) and
excluded from the timed rounds. Rounds are pytest-benchmark's own calibration: at least
--benchmark-min-rounds (5) and about --benchmark-max-time (1 s) of stepping per benchmark,
because 10 fixed rounds (0.05-0.5 s) let one burst of load on this shared VM move a
benchmark's median by up to 57% between runs. Set LSTM_REPRO_BENCH_FULL=1 for a larger sweep.
"""

from __future__ import annotations

import os

import pytest

from lstm_repro.bench import StepRunner, derived_figures, matmul_peak_gflops, uses_cudnn
from lstm_repro.config import MODEL_NAMES, TrainConfig

CHAPTER = TrainConfig()
SWEEP = [(64, 32), (256, 32), (256, 128)]  # (units, batch) besides the chapter's (64, 128)
if os.environ.get("LSTM_REPRO_BENCH_FULL"):
    SWEEP += [(128, 64), (128, 256), (512, 128), (64, 512)]


def _run(benchmark, variant, config, mode, peak_gflops, device):
    runner = StepRunner(variant, config)
    compile_seconds = runner.first_call_seconds(mode)
    step = runner.step(mode)
    step()  # one more untimed step after compilation
    benchmark(step)
    info = {
        "variant": variant,
        "mode": mode,
        "units": config.units,
        "batch": config.batch_size,
        "time_steps": config.max_len,
        "compile_seconds": compile_seconds,
        "device": device,
        "cudnn": uses_cudnn(runner.model, config),
    }
    stats = getattr(benchmark, "stats", None)
    if stats is not None:  # None under --benchmark-disable: the step ran once, untimed
        info.update(
            derived_figures(
                variant=variant,
                config=config,
                mode=mode,
                median_seconds=stats.stats.median,
                peak_gflops=peak_gflops,
            )
        )
    benchmark.extra_info.update(info)
    return info


@pytest.mark.parametrize("mode", ["train", "infer"])
@pytest.mark.parametrize("variant", MODEL_NAMES)
def test_chapter_config_step(benchmark, variant, mode, peak_gflops, device):
    """One step at the chapter's sizes (batch 128, T 80, embedding 100, 64 units, 2 layers)."""
    benchmark.group = f"{mode}-chapter"
    _run(benchmark, variant, CHAPTER, mode, peak_gflops, device)


@pytest.mark.parametrize(("units", "batch"), SWEEP)
@pytest.mark.parametrize("variant", ["unrolled-lstm", "fused-lstm"])
def test_sweep_train_step(benchmark, variant, units, batch, peak_gflops, device):
    """How the unrolled/fused gap moves with width and batch."""
    benchmark.group = f"train-u{units}-b{batch}"
    _run(
        benchmark,
        variant,
        CHAPTER.replace(units=units, batch_size=batch),
        "train",
        peak_gflops,
        device,
    )


def test_matmul_peak(benchmark, peak_gflops):
    """The normaliser: a 1024^3 fp32 matmul, timed by pytest-benchmark too."""
    import numpy as np
    import tensorflow as tf

    benchmark.group = "peak"
    a = tf.constant(np.random.default_rng(0).normal(size=(1024, 1024)), tf.float32)
    product = tf.function(lambda x: tf.reduce_sum(tf.matmul(x, x)))
    product(a).numpy()
    benchmark(lambda: product(a).numpy())
    benchmark.extra_info.update({"peak_gflops": peak_gflops, "n": 1024})
    assert peak_gflops > 0 and matmul_peak_gflops(n=64, repeats=3) > 0


@pytest.mark.skipif(
    not __import__("tensorflow").config.list_physical_devices("GPU"),
    reason="cuDNN runs only on a GPU; this machine has none",
)
def test_fused_lstm_runs_cudnn_on_gpu():
    runner = StepRunner("fused-lstm", CHAPTER)
    assert uses_cudnn(runner.model, CHAPTER)


def test_unrolled_lstm_never_uses_cudnn():
    runner = StepRunner("unrolled-lstm", CHAPTER.replace(max_len=4))
    assert not uses_cudnn(runner.model, CHAPTER.replace(max_len=4))
