"""Run under one Keras backend (KERAS_BACKEND=tensorflow|jax|torch) in its own process:

    python tests/backend_worker.py core OUT.npz      the LSTM core's gradients
    python tests/backend_worker.py profile OUT_DIR   bench --profile's breakdown, tiny sizes

core: bench.StepRunner's core at tiny sizes with the cells' weights drawn from a fixed NumPy
seed (the same on every backend), its gradients in OUT.npz, for tests/test_bench.py to compare
across backends. profile: profile.profile_step of a tiny unrolled LSTM with dropout 0.2 and
without, each under OUT_DIR/<dropout>, the results in OUT_DIR/results.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TINY = {"units": 4, "batch_size": 3, "max_len": 5, "vocab_size": 50, "embedding_dim": 5}


def run_under(keras_backend: str, task: str, out) -> None:
    """For a test: this script's `task` under KERAS_BACKEND=keras_backend in a fresh process
    (a process imports one backend). Skips the test when that backend is not installed; a
    failed run fails it with the worker's last lines of stderr."""
    import importlib.util
    import os
    import subprocess

    import pytest

    if importlib.util.find_spec(keras_backend) is None:
        pytest.skip(f"{keras_backend} is not installed (pip install -e '.[jax,cross]')")
    proc = subprocess.run(
        [sys.executable, __file__, task, str(out)],
        env={**os.environ, "KERAS_BACKEND": keras_backend},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, (
        f"{task} on {keras_backend}: exit {proc.returncode}\n{proc.stderr[-3000:]}"
    )


def core(out: str) -> None:
    from lstm_repro.bench import CORE, StepRunner
    from lstm_repro.config import TrainConfig
    from lstm_repro.models import recurrent_cells

    runner = StepRunner("unrolled-lstm", TrainConfig(**TINY))
    rng = np.random.default_rng(1)
    for cell in recurrent_cells(runner.model):
        cell.set_weights(
            [rng.normal(0, 0.5, w.shape).astype("float32") for w in cell.get_weights()]
        )
    runner.step(CORE)()
    np.savez(out, *runner.core_gradients())


def profile(out: str) -> None:
    from lstm_repro.config import TrainConfig
    from lstm_repro.profile import profile_step

    results = {}
    for dropout in (0.2, 0.0):
        where = Path(out) / str(dropout)
        config = TrainConfig(**{**TINY, "units": 8, "batch_size": 8}, dropout=dropout)
        results[str(dropout)] = profile_step("unrolled-lstm", config, where)
    (Path(out) / "results.json").write_text(json.dumps(results))


if __name__ == "__main__":
    {"core": core, "profile": profile}[sys.argv[1]](sys.argv[2])
