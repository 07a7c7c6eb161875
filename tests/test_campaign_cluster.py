"""Campaigns end to end, with real runs: on a real Dask cluster (a `dask scheduler` and two
`dask worker` processes on 127.0.0.1, tests/dask_cluster.py), on a LocalCluster (`--local`),
and on this machine alone (`--jobs`, and `seeds`, which is a one-line plan). Every run is the
tiny configuration below (about 6 s each, mostly TensorFlow's import); what is checked is the
bookkeeping and the bits, against the same specs trained in this process as `reproduce` would.

The default tier runs a campaign on the scheduler and its workers, `seeds`, and failed runs on
the local pool (about 50 s); the LocalCluster, a killed worker, an interrupted and resumed
campaign and a lost scheduler are under -m slow (about 75 s)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed", reason="needs Dask distributed: pip install -e '.[cluster]'")
from dask_cluster import DaskCluster, campaign_runs_anywhere  # (it needs psutil, Dask's)

from lstm_repro.campaign import Campaign, Task, read_plan
from lstm_repro.config import RunSpec

CLI = (sys.executable, "-m", "lstm_repro")
TINY = """
variants = ["fused-lstm", "fused-rnn"]
seeds = [0, 1]
data = "synthetic"
train_samples = 256
test_samples = 128

[set]
epochs = 1
max_len = 8
units = 8
embedding_dim = 8
vocab_size = 500
batch_size = 64
"""
RUN_SECONDS = 300  # a whole tiny campaign; each took 12-25 s here (2 cores)


@pytest.fixture(scope="module")
def plan_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("plan") / "plan.toml"
    path.write_text(TINY)
    return path


@pytest.fixture(scope="module")
def local_bits(plan_file) -> dict[str, tuple]:
    """Each task's weights hash and step losses, trained in this process by train.run (what
    `lstm-repro reproduce` runs) with no campaign, engine or worker in between."""
    from lstm_repro import backend

    backend.import_quietly()
    from lstm_repro.train import run

    return {
        t.key: (r["weights_sha256"], r["step_losses"], r["test_accuracy"])
        for t in read_plan(plan_file).tasks()
        for r in [run(t.spec)]
    }


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    started = DaskCluster(tmp_path_factory.mktemp("cluster"), workers=2)
    yield started
    started.stop()


def _campaign(plan: Path, out: Path, *engine: str, **popen) -> subprocess.Popen:
    return subprocess.Popen(
        [*CLI, "campaign", str(plan), "--out", str(out), *engine],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def _finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=RUN_SECONDS)
    return proc.returncode, out, err


def _records(out: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in (out / "runs").glob("*.json")}


def _assert_bits(out: Path, local_bits: dict) -> None:
    records = _records(out)
    assert sorted(records) == sorted(local_bits)
    for key, r in records.items():
        assert (r["weights_sha256"], r["step_losses"], r["test_accuracy"]) == local_bits[key]


def _wait_for(condition, what: str, seconds: float = RUN_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} after {seconds} s")
        time.sleep(0.1)


def _no_runs_left(seconds: float = 10) -> None:
    """No run outlives its campaign (runs look for a cancel once a second)."""
    deadline = time.monotonic() + seconds
    while campaign_runs_anywhere() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert campaign_runs_anywhere() == []


def test_a_campaign_on_a_scheduler_and_two_workers_matches_local_runs_bit_for_bit(
    cluster, plan_file, local_bits, tmp_path
):
    """The issue's first check: 2 variants x 2 seeds on a separately started scheduler and
    two workers, each record bit-identical (weights hash, every step's loss, accuracy) to the
    same spec trained here; one line per run, the summary table, the thread pools sized to
    the two workers sharing this machine's cores. Kills: a worker that runs another spec or
    backend than the task's, lost or duplicated records, and pools left at the machine's
    size under two concurrent runs."""
    out = tmp_path / "campaign"
    code, stdout, err = _finish(_campaign(plan_file, out, "--scheduler", cluster.address))
    assert code == 0, err
    _assert_bits(out, local_bits)
    lines = stdout.splitlines()
    assert lines[0] == f"campaign {out}: 4 runs, 0 recorded, 4 to run"
    assert lines[1] == f"running on the Dask scheduler at {cluster.address}"
    assert sorted(line[:5] for line in lines[2:6]) == ["[1/4]", "[2/4]", "[3/4]", "[4/4]"]
    assert all("test accuracy" in line for line in lines[2:6])
    assert lines[-1] == f"4 runs done, 0 failed, of 4; records in {out / 'runs'}"
    share = str(max(1, len(os.sched_getaffinity(0)) // 2))
    for r in _records(out).values():
        assert r["environment"]["threads"]["TF_NUM_INTRAOP_THREADS"] == share
        assert r["campaign"]["status"] == "done" and r["campaign"]["host"]
    summary = json.loads((out / "summary.json").read_text())
    assert [len(d["runs"]) for d in summary["distributions"]] == [2, 2]
    assert err == ""
    _no_runs_left()


@pytest.mark.slow  # .ci/run also runs a campaign on --local 2 (its accuracy gate's)
def test_a_campaign_on_a_local_cluster_gives_the_same_records(plan_file, local_bits, tmp_path):
    """`--local 2`: a LocalCluster started and stopped by the campaign. Kills: an engine that
    leaves its cluster's processes behind, trains other bits than a plain run, or lets
    distributed's warnings through (its dashboard on a fixed port warned when another
    cluster held 8787)."""
    out = tmp_path / "campaign"
    code, stdout, err = _finish(_campaign(plan_file, out, "--local", "2"))
    assert code == 0, err
    assert err == ""  # no log line or warning of distributed's (a dashboard's port, say)
    assert "running on a local Dask cluster of 2 worker(s)" in stdout
    _assert_bits(out, local_bits)
    _no_runs_left()


def test_seeds_is_a_one_line_plan_with_the_output_it_always_had(tmp_path, plan_file, local_bits):
    """`seeds` on the campaign's machinery: the same lines, JSON and bits as before (each run
    is `reproduce --seed S`). Kills: a seeds run that trains another spec, loses its order,
    or changes its output format (scripts and the committed baselines read it)."""
    flags = ["--model", "fused-rnn", "--data", "synthetic", "--epochs", "1"]
    flags += ["--train-samples", "256", "--test-samples", "128"]
    for field in ("max_len=8", "units=8", "embedding_dim=8", "vocab_size=500", "batch_size=64"):
        flags += ["--set", field]
    out = tmp_path / "seeds.json"
    result = subprocess.run(
        [*CLI, "seeds", "--n", "2", "--jobs", "2", *flags, "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=RUN_SECONDS,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "training fused-rnn for seeds 0..1, 2 at a time"
    assert sorted(line.split(":")[0] for line in lines[1:3]) == ["seed 0", "seed 1"]
    doc = json.loads(out.read_text())
    assert sorted(doc) == ["runs", "seeds", "spec", "summary"]
    assert doc["seeds"] == [0, 1] and [r["config"]["seed"] for r in doc["runs"]] == [0, 1]
    for r in doc["runs"]:
        bits = local_bits[Task(RunSpec.from_dict(r["spec"])).key]  # the plan's fused-rnn run
        assert (r["weights_sha256"], r["step_losses"], r["test_accuracy"]) == bits
        assert "campaign" not in r
        assert r["environment"]["threads"]["TF_NUM_INTRAOP_THREADS"] == os.environ.get(
            "TF_NUM_INTRAOP_THREADS"
        )  # left as the caller had them: `seeds` does not size the pools
    assert doc["summary"]["n"] == 2


def test_failed_runs_are_recorded_counted_and_run_again_only_when_asked(tmp_path, plan_file):
    """A run on a corrupt file fails in its own process; the campaign goes on, records it as
    failed with its one-line error, counts it and exits 1; a resume leaves it alone unless
    --retry-failed. Kills: one failed run stopping the campaign, a failure recorded as done
    (or not recorded: every resume would rerun it), failures not counted in the exit code."""
    corrupt = tmp_path / "imdb.npz"
    corrupt.write_bytes(b"PK\x03\x04 this is not a zip")
    plan = tmp_path / "plan.toml"
    plan.write_text(
        TINY.replace(
            'data = "synthetic"', f'data = ["synthetic", "imdb"]\nimdb_path = "{corrupt}"'
        ).replace('["fused-lstm", "fused-rnn"]', '["fused-rnn"]')
    )
    out = tmp_path / "campaign"
    code, stdout, err = _finish(_campaign(plan, out, "--jobs", "2"))
    assert code == 1, err
    assert stdout.count(": FAILED (") == 2 and stdout.count("test accuracy") == 2
    assert "2 runs done, 2 failed, of 4" in stdout
    failed = [r for r in _records(out).values() if r["campaign"]["status"] == "failed"]
    assert len(failed) == 2
    assert all("imdb.npz" in r["campaign"]["error"] for r in failed)
    assert all("\n" not in r["campaign"]["error"] for r in failed)
    code, stdout, _ = _finish(_campaign(plan, out, "--jobs", "2"))
    head = f"campaign {out}: 4 runs, 4 recorded (2 failed)"
    assert code == 1 and stdout.startswith(f"{head}, 0 to run\n")
    code, stdout, _ = _finish(_campaign(plan, out, "--jobs", "2", "--retry-failed"))
    assert code == 1 and stdout.startswith(f"{head}, 2 to run\n")
    assert stdout.count(": FAILED (") == 2


# --------------------------------------------------------------------------- faults (slow)


@pytest.mark.slow
def test_a_worker_killed_mid_run_costs_nothing(cluster, plan_file, local_bits, tmp_path):
    """SIGKILL the worker process running the first run: the scheduler runs the task again
    (on the other worker, or the one its nanny restarts), the campaign completes, every record
    is there once and bit-identical to a local run, and the killed worker's run does not
    train on as an orphan. Kills: a lost task, a run recorded twice, a record made of a
    half-trained run, orphans."""
    out = tmp_path / "campaign"
    proc = _campaign(plan_file, out, "--scheduler", cluster.address)
    _wait_for(lambda: cluster.runs(), "run on the cluster")
    victim = cluster.runs()[0].parent()
    victim.send_signal(signal.SIGKILL)
    code, stdout, err = _finish(proc)
    assert code == 0, err
    assert stdout.count("test accuracy") == 4 and "[5/" not in stdout
    _assert_bits(out, local_bits)
    _no_runs_left()


@pytest.mark.slow
def test_an_interrupted_campaign_resumes_running_only_what_is_missing(
    cluster, plan_file, local_bits, tmp_path
):
    """Ctrl-C (SIGINT) after the first record: exit 130, the running runs stopped on the
    workers (the campaign's cancel Event), the record kept; the same command then runs only
    the missing runs and leaves the kept records as they were. Kills: runs that train on
    after a Ctrl-C, records lost or rewritten on resume, a resume that runs everything."""
    out = tmp_path / "campaign"
    proc = _campaign(plan_file, out, "--scheduler", cluster.address)
    _wait_for(lambda: _records(out), "first record")
    proc.send_signal(signal.SIGINT)
    code, _, err = _finish(proc)
    assert code == 130 and err.strip().splitlines()[-1] == "lstm-repro: interrupted"
    _no_runs_left()
    kept = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in (out / "runs").iterdir()}
    assert 1 <= len(kept) < 4
    code, stdout, err = _finish(_campaign(plan_file, out, "--scheduler", cluster.address))
    assert code == 0, err
    assert stdout.splitlines()[0] == (
        f"campaign {out}: 4 runs, {len(kept)} recorded, {4 - len(kept)} to run"
    )
    assert stdout.count("test accuracy") == 4 - len(kept)
    for name, (content, mtime) in kept.items():
        path = out / "runs" / name
        assert (path.read_bytes(), path.stat().st_mtime_ns) == (content, mtime)
    _assert_bits(out, local_bits)


@pytest.mark.slow
def test_a_scheduler_lost_mid_campaign_is_one_error_line_and_the_records_stay(tmp_path, plan_file):
    """The scheduler SIGKILLed after the first record: one `lstm-repro: error:` line, exit 2,
    promptly (not after distributed's 30 s reconnect window), the finished records readable
    and counted on resume. Kills: a hang, a traceback, a stop that waits on the dead
    scheduler, records lost with the scheduler."""
    (tmp_path / "cluster").mkdir()
    own = DaskCluster(tmp_path / "cluster")
    try:
        out = tmp_path / "campaign"
        proc = _campaign(plan_file, out, "--scheduler", own.address)
        _wait_for(lambda: _records(out), "first record")
        own.kill_scheduler()
        lost = time.monotonic()
        code, _, err = _finish(proc)
        assert time.monotonic() - lost < 20  # measured 0.3-2 s; 30 s is the reconnect window
        assert code == 2
        assert err.count("\n") == 1 and err.startswith("lstm-repro: error: ")
        assert "rerun the same command to resume" in err
        kept = Campaign.read(out).finished()
        assert kept and all(f.status == "done" for f in kept.values())
    finally:
        own.stop()
    _no_runs_left(seconds=30)
