"""The CLI contract: exit codes, one-line errors, the JSON result record, atomic writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from lstm_repro.cli import main
from lstm_repro.data import file_sha256, save_imdb_file, synthetic_raw
from lstm_repro.errors import ReproError
from lstm_repro.records import write_json_atomic

RESULT_KEYS = {
    "test_accuracy",
    "history",
    "weights_sha256",
    "dataset",
    "model",
    "config",
    "environment",
    "seconds",
    "step_seconds",
}


def run_cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "lstm_repro", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize(
    "args",
    [
        ["reproduce", "--epochs", "-1"],
        ["reproduce", "--epochs", "0"],
        ["reproduce", "--model", "nope"],
        ["reproduce", "--units", "0"],
        ["reproduce", "--batch-size", "abc"],
        ["reproduce", "--clipnorm", "-1"],
        ["reproduce", "--data", "mnist"],
        ["reproduce", "--imdb-path", "/no/such/file"],
        ["reproduce", "--data", "synthetic", "--imdb-path", "/no/such/file"],
        ["reproduce", "--json", "/no/such/dir/r.json"],
        ["reproduce", "--json", "/tmp"],
        ["reproduce", "--train-samples", "-3"],
        ["frobnicate"],
        [],
    ],
    ids=lambda a: " ".join(a) or "no-args",
)
def test_bad_input_exits_2_with_one_line_and_no_traceback(args, isolated_keras_home):
    proc = run_cli(*args)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("lstm-repro: error:")
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "Traceback" not in proc.stderr


def test_labels_outside_0_1_exit_2(tmp_path):
    path = tmp_path / "imdb.npz"
    save_imdb_file(path, x_train=[[1, 2]], y_train=[3], x_test=[[1]], y_test=[0])
    proc = run_cli("reproduce", "--imdb-path", str(path))
    assert proc.returncode == 2
    assert "labels outside {0, 1}" in proc.stderr and proc.stderr.count("\n") == 1


def test_imdb_missing_prints_one_paragraph(isolated_keras_home):
    proc = run_cli("reproduce", "--data", "imdb")
    assert proc.returncode == 2
    assert "Looked for" in proc.stderr and "--data synthetic" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.fixture(scope="session")
def acceptance_run(tmp_path_factory):
    """The foundation issue's acceptance command, run in-process once per session."""
    out = tmp_path_factory.mktemp("accept") / "r.json"
    code = main(
        [
            "reproduce",
            "--data",
            "synthetic",
            "--epochs",
            "1",
            "--train-samples",
            "2048",
            "--test-samples",
            "1024",
            "--json",
            str(out),
        ]
    )
    return code, json.loads(out.read_text())


def test_acceptance_run_writes_the_result_contract(acceptance_run):
    code, result = acceptance_run
    assert code == 0
    assert set(result) >= RESULT_KEYS
    assert set(result["history"][0]) >= {
        "train_loss",
        "train_accuracy",
        "test_loss",
        "test_accuracy",
    }
    assert set(result["dataset"]) >= {"name", "source", "sha256", "train_size", "test_size"}
    assert set(result["environment"]) >= {"python", "tensorflow", "keras", "numpy", "device"}
    assert result["dataset"]["name"] == "synthetic"
    assert (result["dataset"]["train_size"], result["dataset"]["test_size"]) == (2048, 1024)
    assert result["model"] == "unrolled-lstm" and result["config"]["units"] == 64
    assert len(result["history"]) == 1 and result["steps"] == 2048 // 128
    assert isinstance(result["test_accuracy"], float)


def test_acceptance_run_learns_the_synthetic_corpus(acceptance_run):
    _, result = acceptance_run
    # The bar. Measured for this exact command (seed 22): 0.8955; the same 1-epoch run
    # with seeds 0-4 gave 0.733-0.889 (tests/test_accuracy.py). A broken model stays near 0.5.
    assert result["test_accuracy"] >= 0.7


def test_a_keras_layout_file_trains_and_records_its_sha256(tmp_path):
    x_tr, y_tr = synthetic_raw(n=256, split="train", seed=4)
    x_te, y_te = synthetic_raw(n=128, split="test", seed=4)
    path = tmp_path / "imdb.npz"
    save_imdb_file(path, x_train=x_tr, y_train=y_tr, x_test=x_te, y_test=y_te)
    out = tmp_path / "r.json"
    code = main(
        [
            "reproduce",
            "--imdb-path",
            str(path),
            "--epochs",
            "1",
            "--units",
            "8",
            "--model",
            "fused-lstm",
            "--json",
            str(out),
        ]
    )
    result = json.loads(out.read_text())
    assert code == 0
    assert result["dataset"]["name"] == "imdb"
    assert result["dataset"]["sha256"] == file_sha256(path)
    assert result["dataset"]["train_size"] == 256


def test_export_synthetic_never_overwrites_without_force(tmp_path):
    target = tmp_path / "x.npz"
    target.write_text("mine")
    assert (
        main(["export-synthetic", str(target), "--train-samples", "4", "--test-samples", "2"]) == 2
    )
    assert target.read_text() == "mine"
    assert (
        main(
            [
                "export-synthetic",
                str(target),
                "--train-samples",
                "4",
                "--test-samples",
                "2",
                "--force",
            ]
        )
        == 0
    )
    assert target.stat().st_size > 4


def test_json_is_written_atomically_and_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "r.json"
    write_json_atomic(target, {"a": 1})
    assert json.loads(target.read_text()) == {"a": 1}

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(ReproError, match="No space left"):
        write_json_atomic(target, {"a": 2})
    assert json.loads(target.read_text()) == {"a": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]  # no temp file left


@pytest.mark.slow
def test_a_keras_layout_file_trains_the_chapters_configuration(tmp_path):
    """The foundation issue's acceptance: a file in the official layout (here the synthetic
    corpus exported at IMDB's 25,000/25,000 size), --imdb-path, the chapter's 4 epochs.

    Real IMDB reaches ~0.83 with this model in published runs (not measured here). This file
    reached 0.9622 after epoch 4 (seed 22, TF 2.21 CPU; 0.968-0.971 in epochs 1-3). The floor
    0.83 asks for at least the real-IMDB level; a model that learns nothing gives 0.5.
    """
    path = tmp_path / "imdb.npz"
    assert main(["export-synthetic", str(path)]) == 0
    out = tmp_path / "r.json"
    assert main(["reproduce", "--imdb-path", str(path), "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["dataset"]["sha256"] == file_sha256(path)
    assert result["dataset"]["official"] is False
    assert len(result["history"]) == 4 and result["config"]["epochs"] == 4
    assert result["test_accuracy"] >= 0.83


@pytest.mark.parametrize(
    ("args", "benchmarks_collected", "tests_collected"),
    [([], False, True), (["--benchmark-only"], True, True), (["benchmarks"], True, False)],
)
def test_plain_pytest_leaves_benchmarks_out(args, benchmarks_collected, tests_collected):
    """The root conftest: `pytest` runs tests/ only; --benchmark-only or a path brings them in.
    (With --benchmark-only, tests/ items are collected and then skipped by pytest-benchmark.)"""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=root,
    )
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert ("benchmarks/test_throughput.py" in proc.stdout) is benchmarks_collected
    assert ("tests/test_config.py" in proc.stdout) is tests_collected


def test_out_that_is_a_file_is_a_user_error(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("mine")
    assert main(["gradients", "--out", str(target)]) == 2
    assert "not a directory" in capsys.readouterr().err
    assert target.read_text() == "mine"
