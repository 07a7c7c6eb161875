"""The CLI contract: exit codes, one-line errors, the JSON result record, atomic writes."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest
import shared_builds

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
        ["ab", "no-such-revision"],
        ["ab", "HEAD", "--blocks", "1"],
        ["ab", "HEAD", "--blocks", "4", "--workers", "3"],
        ["seeds", "--n", "2", "--json", ""],
        ["verify", "/no/such/record.json"],
        ["report", "/no/such/dir", "--out", "/tmp/r"],
        ["bench", "--backends", "tensorflow,mxnet"],
        ["frobnicate"],
        [],
    ],
    ids=lambda a: " ".join(a) or "no-args",
)
def test_bad_input_exits_2_with_one_line_and_no_traceback(
    args, isolated_keras_home, capsys, caplog
):
    """In-process through main(), as `lstm-repro` calls it (37 interpreters cost ~14 s of CPU);
    the process itself (the __main__ wrapper, what reaches stderr before main runs) is tested in
    a subprocess by the tests below and by the bad flag refused before TensorFlow is imported.
    A log record at WARNING or above would be a second stderr line in a real run (main sends
    logging to stderr), so it counts here too. Kills: a bad value that trains, crashes with a
    traceback, exits 1, or prints a usage dump or warning beside the error."""
    with caplog.at_level(logging.WARNING):
        try:
            code = main(args)
        except SystemExit as e:  # argparse: the parser's error() exits
            code = e.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("lstm-repro: error:")
    assert err.count("\n") == 1, err
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text


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
def tiny_run(tmp_path_factory):
    """`reproduce --data synthetic` at tiny sizes, in-process, once per session: the result
    contract does not depend on size (the chapter-size acceptance run is in the slow tier).

    A model is built first, so that this process has used Keras's layer names before the run
    (as any worker that ran other tests has): the unrolled model's gradient sums depend on
    those names, and `seed_everything` clears the session so that they do not. The fresh
    process of the verify test below starts clean, so it then catches a missing clear."""
    from tinyrun import TINY_RUN_FLAGS

    from lstm_repro.config import TrainConfig
    from lstm_repro.models import build_model

    shared_builds.note("test_cli:tiny-run")
    build_model("unrolled-lstm", TrainConfig(vocab_size=50, max_len=4, units=4, embedding_dim=4))
    out = tmp_path_factory.mktemp("tiny") / "run"
    args = [
        "reproduce",
        "--data",
        "synthetic",
        "--epochs",
        "2",
        "--train-samples",
        "256",
        "--test-samples",
        "64",
        *TINY_RUN_FLAGS,
        "--json",
        str(out / "r.json"),
        "--out",
        str(out),
        "--tensorboard",
        str(out / "tb"),
    ]
    code = main(args)
    return code, json.loads((out / "r.json").read_text()), out


def test_a_run_writes_the_result_contract(tiny_run):
    code, result, _ = tiny_run
    assert code == 0
    assert set(result) >= RESULT_KEYS | {"spec", "step_losses", "first_step_seconds"}
    assert set(result["history"][0]) >= {
        "train_loss",
        "train_accuracy",
        "test_loss",
        "test_accuracy",
    }
    assert set(result["dataset"]) >= {"name", "source", "sha256", "train_size", "test_size"}
    assert set(result["environment"]) >= {
        "python",
        "tensorflow",
        "keras",
        "numpy",
        "device",
        "cpu",
        "threads",
    }
    assert result["dataset"]["name"] == "synthetic"
    assert (result["dataset"]["train_size"], result["dataset"]["test_size"]) == (256, 64)
    assert result["config"]["units"] == 8 and result["spec"]["config"] == result["config"]
    assert len(result["history"]) == 2 and result["steps"] == 2 * (256 // 64)
    assert isinstance(result["test_accuracy"], float)


def test_out_writes_the_record_and_training_curves(tiny_run):
    """reproduce --out DIR: result.json (the same record) and curves.png; --tensorboard DIR:
    Keras's TensorBoard callback wrote event files for the training and validation logs."""
    _, result, out = tiny_run
    assert list((out / "tb").rglob("events.out.tfevents.*"))
    assert (
        json.loads((out / "result.json").read_text())["weights_sha256"] == result["weights_sha256"]
    )
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_verify_in_a_fresh_process_says_bit_identical(tiny_run):
    """The core promise: a record rerun on the same machine and versions is bit-identical,
    here by a fresh interpreter against the record this test process wrote after building
    another model (the fixture). The default tier's cross-process determinism check (two fresh
    processes per backend run under -m slow, tests/test_determinism.py). Kills: unseeded
    randomness, or state that lives only in one process (a cached RNG, a default graph)
    standing in for the seed."""
    _, _, out = tiny_run
    proc = run_cli("verify", str(out / "result.json"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "verdict: bit-identical" in proc.stdout
    assert "in the record" not in proc.stdout, "the same installation reported as different"


def test_verify_refuses_a_record_whose_dataset_hash_differs(tiny_run, tmp_path, capsys):
    _, result, _ = tiny_run
    edited = dict(result, dataset={**result["dataset"], "sha256": "0" * 64})
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(edited))
    assert main(["verify", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lstm-repro: error:") and err.count("\n") == 1
    assert "refusing to compare runs on different data" in err


def test_verify_lists_package_versions_unlike_the_record_before_it_reruns(
    tiny_run, tmp_path, capsys
):
    """A record whose numpy is not the one installed: verify says so, with the lock's pin,
    before anything else runs (here the data check then refuses the record). Kills: the
    record's package versions never compared, or compared only after a minutes-long rerun."""
    import numpy as np

    _, result, _ = tiny_run
    env = result["environment"]
    assert env["packages"]["numpy"] == np.__version__
    edited = dict(
        result,
        environment={**env, "packages": {**env["packages"], "numpy": "0.0.1"}},
        dataset={**result["dataset"], "sha256": "0" * 64},
    )
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(edited))
    assert main(["verify", str(path)]) == 2
    out = capsys.readouterr().out.splitlines()
    from lstm_repro.records import LOCK_DIR, lock_pins

    lock = env["lock"]
    pinned = lock_pins(LOCK_DIR.parent / lock["file"]).get("numpy") if lock else None
    pin = f"(the lock pins {pinned})" if pinned else "(not in the lock)"
    assert [line for line in out if "in the record" in line] == [
        f"verify: numpy: 0.0.1 in the record, {np.__version__} here {pin}"
    ]


def test_verify_reports_where_a_run_diverges(tiny_run):
    """compare_runs on a record whose losses were nudged: not bit-identical, numerically close
    within 1e-3, different beyond; the first divergent step is named."""
    from lstm_repro.records import compare_runs

    _, result, _ = tiny_run
    nudged = dict(
        result,
        step_losses=[
            *result["step_losses"][:3],
            result["step_losses"][3] * (1 + 1e-5),
            *result["step_losses"][4:],
        ],
        weights_sha256="x",
    )
    close = compare_runs(result, nudged)
    assert close["verdict"] == "numerically close" and close["first_divergent_step"] == 3
    far = dict(nudged, step_losses=[x * 1.1 for x in result["step_losses"]])
    assert compare_runs(result, far)["verdict"] == "different"
    assert compare_runs(result, result)["verdict"] == "bit-identical"


def test_reproduce_config_repeats_a_record_and_flags_change_it(tiny_run, monkeypatch):
    """--config RECORD.json reads the same structure verify does; flags override it."""
    from lstm_repro.cli import _run_spec, build_parser

    _, result, out = tiny_run
    args = build_parser().parse_args(["reproduce", "--config", str(out / "result.json")])
    assert _run_spec(args).to_dict() == result["spec"]
    args = build_parser().parse_args(
        [
            "reproduce",
            "--config",
            str(out / "result.json"),
            "--units",
            "12",
            "--model",
            "fused-lstm",
        ]
    )
    spec = _run_spec(args)
    assert (spec.config.units, spec.model, spec.config.max_len) == (12, "fused-lstm", 8)


@pytest.mark.slow
def test_the_acceptance_command_learns_the_synthetic_corpus(tmp_path):
    """The foundation issue's acceptance command at the chapter's sizes. Measured for this
    exact command (seed 22): 0.8955; seeds 0-9 in benchmarks/baselines/accuracy.json. The bar
    0.7 is the issue's; a broken model stays near 0.5."""
    out = tmp_path / "r.json"
    args = [
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
    assert main(args) == 0
    result = json.loads(out.read_text())
    assert result["steps"] == 2048 // 128 and result["test_accuracy"] >= 0.7


def _keras_layout_file(tmp_path, form: str):
    """A 256/128-review imdb.npz in one of the two pickle forms the reader admits: today's
    numpy.save, or Keras's original Python-2 protocol-2 pickle naming numpy.core."""
    import craft

    x_tr, y_tr = synthetic_raw(n=256, split="train", seed=4)
    x_te, y_te = synthetic_raw(n=128, split="test", seed=4)
    path = tmp_path / "imdb.npz"
    if form == "numpy.save":
        save_imdb_file(path, x_train=x_tr, y_train=y_tr, x_test=x_te, y_test=y_te)
    else:
        members = craft.imdb_members(x_tr, y_tr, x_te, y_te)
        members["x_train"] = craft.npy_object(craft.py2_pickle(x_tr), len(x_tr))
        members["x_test"] = craft.npy_object(craft.py2_pickle(x_te), len(x_te))
        craft.write(path, craft.zip_bytes(members))
    return path


@pytest.mark.parametrize("form", ["numpy.save", "python2-numpy.core"])
def test_the_file_named_on_the_command_line_is_the_data_the_record_names(
    tmp_path, form, isolated_keras_home
):
    """`reproduce --imdb-path FILE` up to the first step: the options give the RunSpec, the
    spec loads that file, and its identity (what the record's `dataset` holds) carries the
    file's SHA-256 and sizes. Kills: --imdb-path dropped between the parser and the loader
    (--data auto would then fall back to the synthetic corpus), or a hash of anything but the
    file. The trained form is below (-m slow); tests/test_imdb.py reads both forms."""
    from lstm_repro.cli import _run_spec, build_parser
    from lstm_repro.data import load_for

    path = _keras_layout_file(tmp_path, form)
    spec = _run_spec(build_parser().parse_args(["reproduce", "--imdb-path", str(path)]))
    identity = load_for(spec).identity()
    assert identity["name"] == "imdb" and identity["sha256"] == file_sha256(path)
    assert (identity["train_size"], identity["test_size"]) == (256, 128)


# Training costs ~5 s of CPU a form (tracing): both run under -m slow, where the chapter's
# configuration is also trained on the numpy.save form (export-synthetic's layout).
@pytest.mark.slow
@pytest.mark.parametrize("form", ["numpy.save", "python2-numpy.core"])
def test_a_keras_layout_file_trains_and_records_its_sha256(tmp_path, form):
    """Both pickle forms the reader admits train end to end through the CLI."""
    path = _keras_layout_file(tmp_path, form)
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
    """The foundation issue's acceptance: a file in the official layout (the synthetic corpus
    exported, 5,000 / 2,000 reviews: the full 25,000 / 25,000 is the README's main job, which CI
    runs), --imdb-path, the chapter's configuration and 4 epochs.

    Real IMDB reaches ~0.83 with this model in published runs (not measured here). This file
    reached 0.9490 after epoch 4 (seed 22, TF 2.21 CPU; 0.922 / 0.963 / 0.953 in epochs 1-3).
    The floor 0.83 asks for at least the real-IMDB level; a model that learns nothing gives 0.5.
    """
    path = tmp_path / "imdb.npz"
    sizes = ["--train-samples", "5000", "--test-samples", "2000"]
    assert main(["export-synthetic", str(path), *sizes]) == 0
    out = tmp_path / "r.json"
    assert main(["reproduce", "--imdb-path", str(path), "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["dataset"]["sha256"] == file_sha256(path)
    assert result["dataset"]["official"] is False
    assert len(result["history"]) == 4 and result["config"]["epochs"] == 4
    assert result["test_accuracy"] >= 0.83


@pytest.mark.parametrize(
    ("args", "benchmark_only", "benchmarks_collected"),
    [
        ([], False, False),
        ([], True, True),
        (["benchmarks"], False, True),
        (["benchmarks/test_throughput.py::test_step"], False, True),
        (["tests"], False, False),
    ],
)
def test_plain_pytest_leaves_benchmarks_out(args, benchmark_only, benchmarks_collected):
    """The root conftest's hook, called as pytest calls it: `pytest` runs tests/ only;
    --benchmark-only or naming benchmarks/ brings them in."""
    import importlib.util
    from pathlib import Path
    from types import SimpleNamespace

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("conftest_root", root / "conftest.py")
    conftest_root = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conftest_root)
    config = SimpleNamespace(
        getoption=lambda name, default=None: benchmark_only,
        args_source=pytest.Config.ArgsSource.ARGS if args else pytest.Config.ArgsSource.TESTPATHS,
        args=args or ["tests", "benchmarks"],
        invocation_params=SimpleNamespace(dir=root),
    )
    decision = conftest_root.pytest_ignore_collect(
        root / "benchmarks" / "test_throughput.py", config
    )
    assert (decision is None) is benchmarks_collected
    assert conftest_root.pytest_ignore_collect(root / "tests" / "test_cli.py", config) is None


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
        # A terminal's Ctrl-C meets a default SIGINT disposition; a shell's background job
        # (`cmd &`, as CI scripts run pytest) inherits SIGINT ignored, and Python then never
        # raises KeyboardInterrupt. Restore the terminal's disposition in the child.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
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


def test_a_bad_flag_and_help_come_before_any_framework_is_imported():
    """A bad flag fails, and `--help` answers, in well under a second because no framework is
    imported until every input is checked. Kills: a module-level TensorFlow import reaching
    the CLI's parse path (RunSpec once lived in train.py and pulled TensorFlow into every
    `reproduce`)."""
    code = (
        "import sys\n"
        "from lstm_repro.cli import main\n"
        "assert main(['reproduce', '--epochs', '0', '--units', '8']) == 2\n"
        "assert main(['seeds', '--n', '2', '--json', '/no/such/dir/x.json']) == 2\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit as e:\n"
        "    assert e.code == 0, e.code\n"
        "for lib in ('tensorflow', 'keras', 'jax', 'torch'):\n"
        "    assert lib not in sys.modules, f'{lib} was imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_tensorboard_without_its_package_is_one_line_before_training(monkeypatch, capsys):
    """Keras's callback needs the tensorboard package for tf.summary; without it the run died
    mid-training with TBNotInstalledError. Kills: that traceback coming back."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "tensorboard" else real(n, *a)
    )
    monkeypatch.setattr("lstm_repro.data.load_for", lambda spec: pytest.fail("data was made"))
    assert main(["reproduce", "--tensorboard", "/tmp/tb-never"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lstm-repro: error: --tensorboard needs the tensorboard package")


def test_a_missing_named_file_fails_before_any_output_directory_is_made(tmp_path):
    """`reproduce --imdb-path MISSING --out DIR` ends in one error line and exit 2 and leaves
    no DIR behind. Kills: the named file checked only when the data loads, after --out and
    --tensorboard were created (an empty directory the user did not ask for, on an error)."""
    out, board = tmp_path / "out", tmp_path / "board"
    proc = run_cli(
        "reproduce", "--imdb-path", str(tmp_path / "missing.npz"), "--out", str(out),
        "--tensorboard", str(board),
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"lstm-repro: error: --imdb-path {tmp_path / 'missing.npz'}: no such file"
    ]
    assert not out.exists() and not board.exists()


def test_cli_parses_and_prints_and_runs_no_processes_of_its_own():
    """Issue 20's house: the backends' processes (bench.compare_backends), README blocks
    (report.replace_blocks) and the gate's defaults live in the modules that own them. Kills:
    cli.py starting subprocesses again, or spelling the report's block markers itself; read
    from its own source."""
    import ast
    import inspect

    import lstm_repro.cli

    source = inspect.getsource(lstm_repro.cli)
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    assert not imported & {"subprocess", "multiprocessing"}
    assert "<!-- report:" not in source
