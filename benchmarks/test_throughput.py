"""Training and inference step throughput: the chapter's unrolled LSTMCell against Keras's fused
layers, with FLOP-based figures normalised by a matmul peak measured in the same session.

The cases are `lstm_repro.bench.benchmark_cases()` (the same table `lstm-repro ab` times):
every variant's train and inference step at the chapter's sizes, then a (units, batch) sweep of
the LSTM variants' training step (LSTM_REPRO_BENCH_FULL=1 widens it). Rivals share a `group`;
compile/trace time is recorded apart (extra_info.compile_seconds) and excluded from the timed
rounds. Rounds: pytest-benchmark's calibration (about --benchmark-max-time of stepping), at
least 15, because the gate's rank test on raw rounds needs them (5 vs 5 rounds cannot reach
significance after Holm). LSTM_REPRO_BENCH_SLOWDOWN="PATTERN=FACTOR" slows matching cases, to
measure what the gate catches; the factor is recorded in extra_info.slowdown.
"""

from __future__ import annotations

import os

import pytest

from lstm_repro import backend
from lstm_repro.bench import (
    SLOWDOWN_ENV,
    StepRunner,
    benchmark_cases,
    derived_figures,
    parse_slowdown,
    slowdown_for,
    slowed,
)
from lstm_repro.config import TrainConfig

CASES = benchmark_cases()
SLOWDOWN = parse_slowdown(os.environ.get(SLOWDOWN_ENV))


@pytest.mark.benchmark(min_rounds=15)
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_step(benchmark, case, peak_gflops, device):
    """One train or inference step of `case` (a fixed batch of random token ids)."""
    config = case.config()
    runner = StepRunner(case.variant, config)
    compile_seconds = runner.first_call_seconds(case.mode)
    step = runner.step(case.mode)
    step()  # one more untimed step after compilation
    factor = slowdown_for(case.name, SLOWDOWN)
    benchmark.group = f"{case.group}@{backend.name()}"
    benchmark(slowed(step, factor))
    info = {
        "case": case.name,
        "variant": case.variant,
        "mode": case.mode,
        "units": config.units,
        "batch": config.batch_size,
        "time_steps": config.max_len,
        "compile_seconds": compile_seconds,
        "device": device,
        "backend": backend.name(),
        "backend_version": backend.version(),
        "cudnn": runner.cudnn_used(),
        **runner.execution_mode(),
        "slowdown": factor,
    }
    stats = getattr(benchmark, "stats", None)
    if stats is not None:  # None under --benchmark-disable: the step ran once, untimed
        info.update(
            derived_figures(
                variant=case.variant,
                config=config,
                mode=case.mode,
                median_seconds=stats.stats.median,
                peak_gflops=peak_gflops,
            )
        )
    benchmark.extra_info.update(info)


def test_matmul_peak(benchmark, peak_gflops):
    """The normaliser: a 1024^3 fp32 matmul on the active backend, timed by pytest-benchmark
    too (its best round is the session's peak)."""
    benchmark.group = f"peak@{backend.name()}"
    benchmark.pedantic(lambda: backend.matmul_peak_gflops(repeats=1), rounds=10)
    benchmark.extra_info.update({"peak_gflops": peak_gflops, "n": 1024, "backend": backend.name()})
    assert peak_gflops > 1.0  # a real device does GFLOP/s; 0 or NaN means the timing broke


@pytest.mark.skipif(
    backend.gpu_name() is None, reason="cuDNN runs only on a GPU; this machine has none"
)
def test_fused_lstm_runs_cudnn_on_gpu():
    assert StepRunner("fused-lstm", TrainConfig()).cudnn_used()
