"""The CLI contract: exit codes, one-line errors, the JSON result record, atomic writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from lstm_repro.cli import main
from lstm_repro.errors import ReproError
from lstm_repro.imdb import file_sha256, save_imdb_file
from lstm_repro.records import write_json
from lstm_repro.synthetic import synthetic_raw

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
        ["reproduce", "--seed", "4294967296"],
        ["reproduce", "--seed", "-1"],
        ["reproduce", "--units", "100000"],
        ["reproduce", "--batch-size", "100000000"],
        ["reproduce", "--imdb-path", ""],
        ["reproduce", "--json", ""],
        ["reproduce", "--forget-bias", "nan"],
        ["reproduce", "--clipnorm", "inf"],
        ["reproduce", "--data", "synthetic", "--train-samples", "10000000000"],
        ["export-synthetic", "/no/such/dir/x.npz"],
        ["export-synthetic", "/tmp", "--force"],
        ["export-synthetic", ""],
        ["gradients", "--out", ""],
        ["gradients", "--out", "/tmp/x", "--time", "100000"],
        ["gate", "/no/such.json", "/no/such.json"],
        ["gate", "a.json", "b.json", "--tolerance", "nan"],
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
    write_json(target, {"a": 1})
    assert json.loads(target.read_text()) == {"a": 1}

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(ReproError, match="No space left"):
        write_json(target, {"a": 2})
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


# --------------------------------------------------------------------------- the contract, closed


def test_export_into_an_unwritable_directory_is_one_line(unwritable_dir, capsys):
    assert main(["export-synthetic", str(unwritable_dir / "x.npz")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lstm-repro: error:") and err.count("\n") == 1 and "not writable" in err


def test_an_unwritable_output_fails_before_any_work(unwritable_dir, monkeypatch, capsys):
    """--json and --out are checked before data, training or the study: a read-only target
    must not throw away a whole run. Kills: checking writability only when writing."""

    def must_not_run(*args, **kwargs):
        raise AssertionError("the long work started before the output was checked")

    monkeypatch.setattr("lstm_repro.data.load_dataset", must_not_run)
    monkeypatch.setattr("lstm_repro.gradients.study", must_not_run)
    for argv in (
        ["reproduce", "--json", str(unwritable_dir / "r.json")],
        ["gradients", "--out", str(unwritable_dir)],
        ["gradients", "--out", str(unwritable_dir / "new")],
        ["bench", "--json", str(unwritable_dir / "b.json")],
    ):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("lstm-repro: error:") and err.count("\n") == 1, err


def test_ctrl_c_during_start_up_is_one_line_and_exit_130(tmp_path):
    """Ctrl-C while TensorFlow is being imported (after the data line is printed): no
    KeyboardInterrupt traceback. Exit 130 (128 + SIGINT) rather than 2, so scripts can tell an
    interrupt from bad input. Kills: a KeyboardInterrupt escaping main()."""
    import signal

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lstm_repro",
            "reproduce",
            "--data",
            "synthetic",
            "--train-samples",
            "256",
            "--test-samples",
            "128",
            "--epochs",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "LSTM_REPRO_OFFLINE": "1"},
    )
    first = proc.stdout.readline()  # printed after the data is made, before TensorFlow loads
    assert first.startswith("data: "), first
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert err == "lstm-repro: interrupted\n", err


def _gate_doc(median=0.01, flops=2e9, peak=100.0, name="step[a]", data=None):
    data = [0.01 + 1e-4 * i for i in range(10)] if data is None else data
    return {
        "benchmarks": [
            {
                "name": name,
                "group": "g",
                "stats": {"median": median, "min": median, "data": data},
                "extra_info": {
                    "variant": "unrolled-lstm",
                    "flops_per_step": flops,
                    "peak_gflops": peak,
                },
            }
        ]
    }


HOSTILE_GATE_DOCUMENTS = {
    "deeply-nested": "[" * 100_000 + "]" * 100_000,
    "huge-integer": '{"benchmarks": [{"name": "x", "stats": {"median": ' + "9" * 5000 + "}}]}",
    "huge-float": json.dumps(_gate_doc()).replace("0.01", "1e999"),
    "median-zero": json.dumps(_gate_doc(median=0)),
    "median-negative": json.dumps(_gate_doc(median=-0.5)),
    "median-nan": json.dumps(_gate_doc(median=float("nan"))),
    "median-infinite": json.dumps(_gate_doc(median=float("inf"))),
    "flops-zero": json.dumps(_gate_doc(flops=0)),
    "flops-nan": json.dumps(_gate_doc(flops=float("nan"))),
    "flops-text": json.dumps(_gate_doc(flops="lots")),
    "peak-negative": json.dumps(_gate_doc(peak=-1)),
    "row-without-name": json.dumps({"benchmarks": [{"stats": {"median": 1}}]}),
    "name-is-a-list": json.dumps(_gate_doc(name=["a", "b"])),
    "row-is-a-string": json.dumps({"benchmarks": ["row"]}),
    "sample-nan": json.dumps(_gate_doc(data=[0.01] * 9 + [float("nan")])),
    "sample-negative": json.dumps(_gate_doc(data=[0.01] * 9 + [-0.01])),
    "samples-as-text": json.dumps(_gate_doc(data="0.01 0.02")),
    "too-few-samples": json.dumps(_gate_doc(data=[0.01, 0.02])),
    "not-utf8": b"\xff\xfe{}".decode("latin-1"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_GATE_DOCUMENTS))
@pytest.mark.parametrize("side", ["baseline", "current"])
def test_gate_refuses_a_hostile_document_in_one_line(tmp_path, capsys, case, side):
    """Kills: a RecursionError/ValueError/OverflowError traceback, and a NaN or zero figure
    that turns a slowdown into 'ok' (NaN compares False with every threshold)."""
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_gate_doc()))
    bad = tmp_path / "bad.json"
    bad.write_bytes(HOSTILE_GATE_DOCUMENTS[case].encode("latin-1"))
    argv = ["gate", str(bad), str(good)] if side == "baseline" else ["gate", str(good), str(bad)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("lstm-repro: error:") and err.count("\n") == 1, err
    assert str(bad) in err


def test_a_bad_flag_is_refused_before_tensorflow_is_imported():
    """A bad flag fails in well under a second because nothing heavy is imported until every
    input is checked. Kills: a module-level TensorFlow import reaching the CLI's parse path
    (RunSpec once lived in train.py and pulled TensorFlow into every `reproduce`)."""
    code = (
        "import sys\n"
        "from lstm_repro.cli import main\n"
        "assert main(['reproduce', '--epochs', '0', '--units', '8']) == 2\n"
        "assert main(['seeds', '--n', '2', '--json', '/no/such/dir/x.json']) == 2\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
