"""ab.py: `run_ab` itself, end to end (a worktree of HEAD against this checkout)."""

from __future__ import annotations

import statistics

import pytest
from checkout import head

from lstm_repro.ab import run_ab
from lstm_repro.bench import SLOWDOWN_ENV, SMOKE_ENV, benchmark_cases


@pytest.mark.slow  # ~25 s: two workers import TensorFlow and compile a smoke-size step each
@pytest.mark.skipif(head() is None, reason="needs git and a checkout with a HEAD commit")
def test_run_ab_times_both_sides_and_slows_only_the_current_one(monkeypatch):
    """A 3x slowdown injected through LSTM_REPRO_BENCH_SLOWDOWN lands on the current side
    only: its rounds are about 3x the baseline's, and each side's rows say which factor they
    carry. Kills: the sides swapped (the baseline slowed), the slowdown applied to both (ratio
    1), one side's samples reported for both, and a baseline that is not the revision asked.
    The bound 2.0: the injected sleep makes the ratio 3 by construction, less the noise of a
    ~1 ms step (seen 2.9-3.0 here)."""
    monkeypatch.setenv(SMOKE_ENV, "1")
    monkeypatch.setenv(SLOWDOWN_ENV, "chapter-fused-lstm-infer=3")
    case = next(c for c in benchmark_cases(quick=True) if c.name == "chapter-fused-lstm-infer")
    base, current, info = run_ab("HEAD", cases=[case], blocks=2, rounds=4, workers=1)
    (b,), (c,) = base["benchmarks"], current["benchmarks"]
    assert len(b["stats"]["data"]) == len(c["stats"]["data"]) == 8
    ratio = statistics.median(c["stats"]["data"]) / statistics.median(b["stats"]["data"])
    assert ratio > 2.0
    assert (b["extra_info"]["slowdown"], c["extra_info"]["slowdown"]) == (1.0, 3.0)
    assert info["commit"] == head() and info["skipped"] == []
    assert info["baseline_module"] != info["current_module"]
