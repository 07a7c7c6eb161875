"""records.py: the one atomic writer (JSON, PNG, npz), strict JSON, early writability checks."""

from __future__ import annotations

import json
import math
import stat

import numpy as np
import pytest

from lstm_repro.errors import ReproError
from lstm_repro.records import (
    NON_FINITE_KEY,
    check_writable,
    output_dir,
    read_json,
    weights_sha256,
    write_atomic,
    write_json,
)


def test_outputs_are_0644_whatever_mkstemp_made(tmp_path):
    """mkstemp creates 0600 files; results are meant to be shared like any other output.
    Kills: dropping the chmod (the temp file's mode would survive the rename)."""
    path = write_json(tmp_path / "r.json", {"a": 1})
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_json_is_strict_and_says_which_nulls_were_not_finite(tmp_path):
    """JSON has no NaN or Infinity: they become null and their paths are listed. Kills:
    allow_nan=True output that jq, browsers and most JSON parsers reject."""
    payload = {"loss": [1.0, float("nan"), float("inf")], "ok": 2.5, "deep": {"x": -math.inf}}
    path = write_json(tmp_path / "r.json", payload)
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    doc = json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c} in output"))
    assert doc["loss"] == [1.0, None, None] and doc["ok"] == 2.5
    assert doc[NON_FINITE_KEY] == ["$.loss[1]", "$.loss[2]", "$.deep.x"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def explode(f):
        f.write(b"partial")
        raise OSError(28, "No space left on device")

    with pytest.raises(ReproError, match="No space left"):
        write_atomic(target, explode)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


def test_every_writer_goes_through_write_atomic(monkeypatch, tmp_path):
    """One writer for JSON, PNG and npz. Kills: a second, non-atomic copy creeping back."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lstm_repro import records
    from lstm_repro.imdb import save_imdb_file

    calls = []
    real = records.write_atomic
    monkeypatch.setattr(records, "write_atomic", lambda p, w: calls.append(p) or real(p, w))
    records.write_json(tmp_path / "a.json", {})
    fig = plt.figure()
    records.save_figure(fig, tmp_path / "a.png")
    plt.close(fig)
    save_imdb_file(tmp_path / "a.npz", x_train=[[1]], y_train=[0], x_test=[[1]], y_test=[1])
    assert [p.name for p in calls] == ["a.json", "a.png", "a.npz"]
    assert (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_output_path_is_refused_not_taken_as_the_current_directory(value):
    with pytest.raises(ReproError, match="empty"):
        check_writable(value, flag="--json")
    with pytest.raises(ReproError, match="empty"):
        output_dir(value)


def test_a_directory_is_not_a_file_target(tmp_path):
    with pytest.raises(ReproError, match="is a directory"):
        check_writable(tmp_path, flag="--json")


def test_read_json_refuses_non_objects_and_deep_nesting(tmp_path):
    for text, message in (
        ("[1]", "top level"),
        ("[" * 50_000 + "]" * 50_000, "nested"),
        ("{", "line 1"),
    ):
        path = tmp_path / "x.json"
        path.write_text(text)
        with pytest.raises(ReproError, match=message):
            read_json(path)


def test_weights_fingerprint_sees_dtype_shape_and_bytes():
    a = np.arange(6, dtype=np.float32)
    base = weights_sha256([a])
    assert weights_sha256([a.copy()]) == base
    assert weights_sha256([a.reshape(2, 3)]) != base
    assert weights_sha256([a.astype(np.float64)]) != base
    b = a.copy()
    b[3] = np.nextafter(b[3], np.float32(10))  # one ulp
    assert weights_sha256([b]) != base
