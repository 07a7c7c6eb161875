"""benchmarks/chapter/chapter_script.py, the yardstick `reproduce` is timed against: it must
keep running on the Keras installed, or the README's ratio cannot be measured again."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "chapter" / "chapter_script.py"


@pytest.mark.slow  # ~20 s: a TensorFlow start and the 80-step graph compiled twice
def test_the_chapters_program_runs_on_this_keras_and_reports_its_time(tmp_path):
    """256 reviews of 80 random ids (two batches of 128 per split): the program trains its 4
    epochs, evaluates, and writes its wall time, accuracy and per-epoch phases. Kills: a Keras
    upgrade that breaks the port (the positional training flag and the dropout-mask cache each
    did), and a result file missing what compare.py reads."""
    rng = np.random.default_rng(0)
    arrays = tmp_path / "arrays.npz"
    x = rng.integers(0, 10000, size=(256, 80)).astype("int32")  # (reviews, 80)
    y = rng.integers(0, 2, size=256).astype("int32")
    np.savez(arrays, x_train=x, y_train=y, x_test=x, y_test=y)
    result = tmp_path / "result.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), str(arrays), str(result)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    record = json.loads(result.read_text())
    assert record["seconds"] > 0 and 0 <= record["test_accuracy"] <= 1
    assert len(record["val_accuracy"]) == 4
    assert [sorted(p) for p in record["phases"]] == [["train_s", "validation_s"]] * 4 + [
        ["evaluate_s"]
    ]
