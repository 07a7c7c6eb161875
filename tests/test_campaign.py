"""Campaigns without a cluster: the plan, the task keys, the directory and its checks, the
execution loop with fake engines and fake runs, the run's own process, and the CLI's one-line
errors. The real runs on a real Dask cluster are in tests/test_campaign_cluster.py."""

from __future__ import annotations

import concurrent.futures as cf
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

from lstm_repro import campaign, campaign_worker, engines
from lstm_repro.campaign import Campaign, Plan, Task, plan_from_dict, read_plan, task_key
from lstm_repro.cli import main
from lstm_repro.config import RunSpec, TrainConfig
from lstm_repro.errors import ReproError

GRID = {
    "variants": ["fused-lstm", "fused-rnn"],
    "seeds": [3, 1],
    "data": ["synthetic", "memory-late"],
    "set": {"dropout": [0.1, 0.3], "epochs": 1},
    "train_samples": 64,
}


def _plan(**changes) -> Plan:
    return plan_from_dict({**GRID, **changes})


# --------------------------------------------------------------------------- the plan


def test_a_plan_reads_back_from_its_own_dict_as_the_same_plan():
    """plan.json holds plan.to_dict() and a resume compares it with the plan given.
    Kills: a dict that drops or renames a key (every resume would be refused as another plan,
    or two plans would pass as one)."""
    plan = _plan(imdb_path="x.npz", test_samples=32, backends=["jax", "tensorflow"])
    assert plan_from_dict(plan.to_dict()) == plan
    assert plan_from_dict(json.loads(json.dumps(plan.to_dict(), sort_keys=True))) == plan


def test_the_grid_is_every_combination_variant_major_and_seed_minor():
    """2 variants x 2 data x 2 dropouts x 2 seeds = 16 runs, seeds innermost, in the plan's
    seed order. Kills: an axis dropped from the product, seeds sorted or outermost (a cut-short
    campaign would hold one seed of everything instead of whole distributions)."""
    tasks = _plan().tasks()
    assert len(tasks) == 16 == _plan().size()
    assert [t.spec.config.seed for t in tasks[:4]] == [3, 1, 3, 1]
    assert [t.spec.config.dropout for t in tasks[:4]] == [0.1, 0.1, 0.3, 0.3]
    assert {t.spec.model for t in tasks[:8]} == {"fused-lstm"}
    assert len({t.key for t in tasks}) == 16
    assert all(t.spec.config.epochs == 1 and t.spec.train_samples == 64 for t in tasks)
    assert {(t.spec.data, t.backend) for t in tasks} == {
        ("synthetic", "tensorflow"),
        ("memory-late", "tensorflow"),
    }


def test_an_integer_for_a_float_field_is_the_run_that_set_makes():
    """`learning_rate = 1` in TOML is an int; `--set learning_rate=1` makes 1.0. Kills: two
    keys (and two runs) for one configuration, and a spec that differs from reproduce's."""
    one = _plan(set={"learning_rate": 1}).tasks()[0]
    also = _plan(set={"learning_rate": 1.0}).tasks()[0]
    assert one.key == also.key
    assert one.spec.config.learning_rate == 1.0
    assert isinstance(one.spec.config.learning_rate, float)


def test_the_order_of_the_set_table_does_not_change_the_plan():
    """plan.json is written with sorted keys. Kills: a plan whose override order follows the
    file, which reads back from plan.json as another plan (every resume refused)."""
    a = _plan(set={"units": 8, "dropout": 0.1})
    b = _plan(set={"dropout": 0.1, "units": 8})
    assert a == b
    assert [t.key for t in a.tasks()] == [t.key for t in b.tasks()]


def test_a_task_key_is_the_hash_the_records_were_named_by():
    """Golden value: the key of the chapter's configuration at seed 22 (sha256 of the task's
    canonical JSON, computed when this test was written). Kills: any change to what is hashed
    or how, which would orphan every record of every campaign directory made before."""
    task = Task(RunSpec(model="unrolled-lstm", config=TrainConfig(), data="synthetic"))
    assert task.key == "cc14266a3f19bc3a"
    assert task_key(task.to_dict()) == task.key


def test_a_seeds_plan_runs_exactly_the_spec_at_each_seed():
    """`seeds` is a one-line plan. Kills: a config field that the plan does not carry over
    (the seeds would train another configuration than the one asked for)."""
    config = TrainConfig(units=7, dropout=0.0, clipnorm=1.5, forget_bias=3.0, seed=0)
    spec = RunSpec(
        model="fused-gru",
        config=config,
        data="imdb-late",
        imdb_path="/x/aclImdb.tar.gz",
        train_samples=99,
        test_samples=98,
    )
    tasks = Plan.of_seeds(spec, [5, 2], "jax").tasks()
    assert [t.spec for t in tasks] == [
        RunSpec(**{**spec.__dict__, "config": config.replace(seed=s)}) for s in (5, 2)
    ]
    assert {t.backend for t in tasks} == {"jax"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"colour": "red"}, r"unknown keys \['colour'\]"),
        ({"seeds": None}, "needs variants and seeds"),
        ({"variants": ["lstm"]}, r"unknown variants \['lstm'\]"),
        ({"variants": []}, "non-empty list of names"),
        ({"variants": ["fused-lstm", "fused-lstm"]}, "names one twice"),
        ({"data": ["imdb", "reviews"]}, r"unknown data \['reviews'\]"),
        ({"backends": ["tensorflow", "mxnet"]}, r"unknown backends \['mxnet'\]"),
        ({"seeds": [1, 1]}, "lists a seed twice"),
        ({"seeds": [-1]}, "seed -1 is not an integer"),
        ({"seeds": [2**32]}, "is not an integer in 0..4294967295"),
        ({"seeds": [True]}, "seed True is not an integer"),
        ({"seeds": "0-9"}, "seeds must be a list"),
        ({"seeds": {"n": 0}}, "1 <= n <= 10000"),
        ({"seeds": {"first": 1}}, r"\{first = F, n = N\}"),
        ({"seeds": {"n": 3, "last": 9}}, r"\{first = F, n = N\}"),
        ({"set": {"colour": 1}}, r"\[set\] has unknown fields \['colour'\]"),
        ({"set": {"seed": 1}}, r"\[set\] has unknown fields \['seed'\]"),
        ({"set": {"units": []}}, "units is an empty list"),
        ({"set": {"units": [8, 8]}}, "units lists a value twice"),
        ({"set": {"units": 0}}, "units must be a positive integer"),
        ({"set": {"dropout": [0.1, 1.5]}}, r"dropout must lie in \[0, 1\)"),
        ({"set": "units=8"}, "must be a table"),
        ({"train_samples": 0}, "train_samples must be a positive integer"),
        ({"imdb_path": ""}, "imdb_path must be a file name"),
        ({"seeds": {"n": 10000}}, "the grid has 80,000 runs, more than 10,000"),
    ],
)
def test_a_bad_plan_is_refused_naming_the_key_and_why(changes, message):
    """Every way a plan can be wrong is one ReproError (the CLI's exit 2). Kills: a check
    dropped, which would start a campaign that fails in every run, or a grid of 160,000."""
    doc = {k: v for k, v in {**GRID, **changes}.items() if v is not None}
    with pytest.raises(ReproError, match=message):
        plan_from_dict(doc, where="p.toml")


def test_a_grid_of_exactly_the_most_runs_is_a_plan_and_one_more_is_not():
    """MAX_TASKS at its edge. Kills: `>=` for `>` (a campaign of exactly 10,000 refused) and a
    bound that is not checked before the grid is built."""
    one = {"variants": ["fused-lstm"], "seeds": {"n": campaign.MAX_TASKS}}
    assert plan_from_dict(one).size() == campaign.MAX_TASKS
    over = {**one, "seeds": {"first": 0, "n": campaign.MAX_TASKS // 2 + 1}}
    with pytest.raises(ReproError, match="the grid has 10,002 runs"):
        plan_from_dict({**over, "data": ["synthetic", "memory-early"]})


def test_a_plan_file_is_read_bounded_and_only_as_toml(tmp_path):
    """Kills: reading an unbounded file, a traceback on a non-UTF-8 or non-TOML file."""
    good = tmp_path / "good.toml"
    good.write_text('variants = "fused-lstm"\nseeds = {first = 4, n = 2}\n[set]\nunits = 8\n')
    plan = read_plan(good)
    assert plan.variants == ("fused-lstm",) and plan.seeds == (4, 5)
    assert plan.overrides == (("units", (8,)),) and plan.data == ("synthetic",)
    cases = {
        "missing.toml": (None, "no such file"),
        "big.toml": (b"#" * (campaign.MAX_PLAN_BYTES + 1), "larger than 1,048,576 bytes"),
        "latin1.toml": (b"variants = '\xe9'", "not a TOML plan"),
        "broken.toml": (b"variants = [", "not a TOML plan"),
    }
    for name, (content, message) in cases.items():
        if content is not None:
            (tmp_path / name).write_bytes(content)
        with pytest.raises(ReproError, match=message):
            read_plan(tmp_path / name)


def test_real_review_kinds_are_pinned_to_the_file_found_here(
    tmp_path, isolated_keras_home, monkeypatch
):
    """Kills: a plan that lets each worker search for its own file (two machines could train
    on different data), `auto` left unresolved, and a named missing file passed on."""
    assert campaign.resolve_data(_plan(data=["auto"])).data == ("synthetic",)
    archive = tmp_path / "reviews.npz"
    archive.write_bytes(b"x")
    monkeypatch.chdir(tmp_path)
    plan = campaign.resolve_data(_plan(data=["auto", "imdb-late"], imdb_path="reviews.npz"))
    assert plan.data == ("imdb", "imdb-late")
    assert plan.imdb_path == str(archive.resolve())
    mixed = campaign.resolve_data(_plan(data=["synthetic", "imdb"], imdb_path="reviews.npz"))
    assert {(t.spec.data, t.spec.imdb_path) for t in mixed.tasks()} == {
        ("synthetic", None),  # load_for refuses a file given with synthetic data
        ("imdb", str(archive.resolve())),
    }
    with pytest.raises(ReproError, match=r"gone\.npz"):
        campaign.resolve_data(_plan(data=["imdb"], imdb_path=str(tmp_path / "gone.npz")))


# --------------------------------------------------------------------------- the directory


def _done(task: Task, accuracy: float = 0.75) -> dict:
    record = {"spec": task.spec.to_dict(), "config": task.spec.config.to_dict()}
    record.update(model=task.spec.model, test_accuracy=accuracy)
    return {"status": "done", "record": record, "wall_seconds": 1.0, "host": "h"}


def test_a_campaign_directory_is_started_once_and_resumed_only_with_its_plan(tmp_path):
    """Kills: a plan changed under an existing directory mixed in silently, and a campaign
    started in a directory holding other files."""
    out = tmp_path / "c"
    run = Campaign.start(_plan(), out)
    held = json.loads((out / "plan.json").read_text())
    assert held["kind"] == campaign.PLAN_KIND
    assert held["tasks"] == [t.key for t in run.tasks]
    assert (out / "runs").is_dir()
    assert Campaign.start(_plan(), out).tasks == run.tasks
    with pytest.raises(ReproError, match=r"another plan \(it differs in seeds\)"):
        Campaign.start(_plan(seeds=[3, 1, 4]), out)
    with pytest.raises(ReproError, match="differs in data, set"):
        Campaign.start(_plan(data=["synthetic"], set={"epochs": 2}), out)
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(ReproError, match="not empty and holds no campaign"):
        Campaign.start(_plan(), other)
    assert (other / "notes.txt").read_text() == "mine"


def test_only_the_runs_without_a_record_are_to_do_and_failed_ones_on_request(tmp_path):
    """Kills: a resume that reruns finished runs (duplicates), or never reruns failed ones."""
    run = Campaign.start(_plan(), tmp_path / "c")
    first, second = run.tasks[:2]
    run.write(first, _done(first))
    run.write(second, {"status": "failed", "error": "boom", "wall_seconds": 2.0})
    found = run.finished()
    assert run.todo(found) == run.tasks[2:]
    assert run.todo(found, retry_failed=True) == run.tasks[1:]
    assert found[first.key].status == "done" and found[second.key].status == "failed"
    assert found[second.key].doc["campaign"]["error"] == "boom"
    assert found[second.key].doc["spec"] == second.spec.to_dict()


@pytest.mark.parametrize(
    "spoil",
    ["renamed", "other plan", "spec edited", "not a record", "not json", "unknown status"],
)
def test_a_file_in_runs_that_is_not_this_campaigns_record_is_named_not_mixed_in(tmp_path, spoil):
    """Each file in runs/ is checked: its name is the hash of the task it holds, the task is
    the plan's, a done record's spec is its task's. Kills: a copied, renamed or hand-edited
    record counted into a distribution."""
    run = Campaign.start(_plan(), tmp_path / "c")
    task = run.tasks[0]
    run.write(task, _done(task))
    path = run.record_path(task.key)
    doc = json.loads(path.read_text())
    if spoil == "renamed":
        path.rename(run.record_path(run.tasks[1].key))
    elif spoil == "other plan":
        alien = _plan(seeds=[7]).tasks()[0]
        doc["campaign"]["task"] = alien.to_dict()
        path.unlink()
        run.record_path(alien.key).write_text(json.dumps(doc))
    elif spoil == "spec edited":
        doc["spec"]["config"]["units"] = 1
        path.write_text(json.dumps(doc))
    elif spoil == "not a record":
        path.write_text(json.dumps({"test_accuracy": 0.9}))
    elif spoil == "not json":
        path.write_text("{")
    else:
        doc["campaign"]["status"] = "running"
        path.write_text(json.dumps(doc))
    with pytest.raises(ReproError, match=r"1 file\(s\) are not this campaign's"):
        run.finished()


def test_a_write_cut_short_leaves_no_record(tmp_path):
    """The atomic writer's temporary file, left by a SIGKILL, is never read as a record.
    Kills: a resume that refuses (or counts) the half-written file."""
    run = Campaign.start(_plan(), tmp_path / "c")
    (run.runs / f".{run.tasks[0].key}.json.abc.tmp").write_text("{")
    assert run.finished() == {}


def test_distributions_group_by_everything_but_the_seed_and_a_gate_needs_them_complete(
    tmp_path,
):
    """Kills: a distribution mixing configurations, a failed run counted as done, and a gate
    handed a campaign that is not finished (its distributions would be biased)."""
    run = Campaign.start(_plan(set={"epochs": 1}, data=["synthetic"]), tmp_path / "c")
    for i, task in enumerate(run.tasks):
        if task.spec.model == "fused-rnn" and task.spec.config.seed == 1:
            run.write(task, {"status": "failed", "error": "NaN at step 3"})
        else:
            run.write(task, _done(task, 0.7 + i / 100))
    dists = run.distributions()
    assert [(d["spec"]["model"], len(d["runs"]), d["failed"], d["planned"]) for d in dists] == [
        ("fused-lstm", 2, 0, 2),
        ("fused-rnn", 1, 1, 2),
    ]
    assert dists[0]["seeds"] == [3, 1]
    assert dists[0]["summary"]["mean"] == pytest.approx(0.705)
    with pytest.raises(ReproError, match=r"fused-rnn.*1 of 2 runs done \(1 failed: NaN at step 3"):
        run.collection(complete=True)
    assert [d["spec"]["model"] for d in run.collection()["distributions"]] == [
        "fused-lstm",
        "fused-rnn",
    ]
    with pytest.raises(ReproError, match="no finished runs yet"):
        Campaign.start(_plan(), tmp_path / "empty").collection()


def test_a_backend_other_than_tensorflow_is_named_in_its_distributions_spec(tmp_path):
    """gate.spec_key keys distributions by their spec. Kills: a JAX distribution gated
    against a TensorFlow baseline as if it were the same run."""
    run = Campaign.start(_plan(backends=["tensorflow", "jax"], data=["synthetic"]), tmp_path)
    for task in run.tasks:
        run.write(task, _done(task))
    backends = [d["spec"].get("backend") for d in run.distributions()]
    assert backends == [None, None, "jax", "jax"] * 2  # variant, backend, dropout


# --------------------------------------------------------------------------- the loop


class FakeEngine:
    """Futures made by hand: each task's outcome (or exception) chosen by the test."""

    def __init__(self, results: dict):
        self.results, self.stopped, self.futures = results, 0, []
        self.name = "the fake engine"

    def submit(self, task: dict) -> cf.Future:
        future = cf.Future()
        result = self.results[task["spec"]["config"]["seed"]]
        if isinstance(result, BaseException):
            future.set_exception(result)
        elif result == "cancelled":
            future.cancel()
            future.set_running_or_notify_cancel()
        elif result != "pending":
            future.set_result(result)
        self.futures.append(future)
        return future

    def stop(self) -> None:
        self.stopped += 1

    def check(self) -> None:
        pass


def _seed_tasks(*seeds):
    spec = RunSpec(model="fused-lstm", config=TrainConfig())
    return Plan.of_seeds(spec, list(seeds), "tensorflow").tasks()


def test_every_outcome_reaches_the_caller_and_an_exception_is_a_failed_run():
    """Kills: a KilledWorker (or any error of the engine) that stops the campaign instead of
    being recorded, and an outcome lost or handed twice."""
    seen = []
    engine = FakeEngine({1: {"status": "done"}, 2: RuntimeError("KilledWorker:\n  x")})
    engines.execute(_seed_tasks(1, 2), engine, on_outcome=lambda t, o: seen.append((t, o)))
    outcomes = {t.spec.config.seed: o for t, o in seen}
    assert len(seen) == 2
    assert outcomes[1] == {"status": "done"}
    assert outcomes[2] == {"status": "failed", "error": "RuntimeError: KilledWorker: x"}
    assert engine.stopped == 0


def test_an_error_in_the_callers_hands_stops_every_run_and_cancels_the_rest():
    """What Ctrl-C and a failed record write do. Kills: runs left training after the campaign
    ended, futures left pending."""
    engine = FakeEngine({1: {"status": "done"}, 2: "pending"})

    def fail(task, outcome):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        engines.execute(_seed_tasks(1, 2), engine, on_outcome=fail)
    assert engine.stopped == 1
    assert engine.futures[1].cancelled()


def test_runs_cancelled_by_the_engine_are_a_lost_scheduler_not_failures():
    """distributed cancels every future when the client loses its scheduler. Kills: those
    runs recorded as failed (a resume would then skip them)."""
    seen = []
    engine = FakeEngine({1: "cancelled", 2: "pending"})
    with pytest.raises(ReproError, match=r"cancelled the runs .*rerun the same command"):
        engines.execute(_seed_tasks(1, 2), engine, on_outcome=lambda t, o: seen.append(o))
    assert seen == [] and engine.stopped == 1


def test_a_cancelled_outcome_leaves_no_record(tmp_path):
    """A run stopped by the campaign's Ctrl-C comes back "cancelled". Kills: a record written
    for it (the resume would skip a run that never finished)."""
    run = Campaign.start(_plan(), tmp_path / "c")
    told = []
    engine = FakeEngine({3: {"status": "cancelled"}, 1: _done(run.tasks[1])})
    run.run(run.tasks[:2], engine, on_record=lambda t, o: told.append(t))
    assert list(run.finished()) == [run.tasks[1].key] and told == [run.tasks[1]]


# --------------------------------------------------------------------------- one run's process


def _fake_worker(monkeypatch, tmp_path, body: str) -> None:
    script = tmp_path / "fake_worker.py"
    script.write_text(textwrap.dedent(body))
    monkeypatch.setattr(engines, "WORKER_COMMAND", (sys.executable, str(script)))


TASK = {"spec": {"model": "fused-lstm"}, "backend": "jax"}
CLI = (sys.executable, "-m", "lstm_repro")


def test_a_run_gets_its_task_its_backend_and_its_share_of_the_cores(monkeypatch, tmp_path):
    """Kills: the task not reaching the run, the plan's backend ignored, and every run on a
    shared machine taking all the cores (2 runs on 2 cores would each use 2 threads)."""
    _fake_worker(
        monkeypatch,
        tmp_path,
        """
        import json, os, sys
        task = json.loads(sys.stdin.readline())
        keys = ("KERAS_BACKEND", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS",
                "OMP_NUM_THREADS")
        print(json.dumps({"status": "done", "record": {"task": task,
              "env": {k: os.environ.get(k) for k in keys}}}))
        """,
    )
    outcome = engines.run_task(TASK, threads=3)
    assert outcome["status"] == "done" and outcome["wall_seconds"] > 0
    assert outcome["record"]["task"] == {"spec": TASK["spec"]}
    assert outcome["record"]["env"] == {
        "KERAS_BACKEND": "jax",
        "TF_NUM_INTRAOP_THREADS": "3",
        "TF_NUM_INTEROP_THREADS": "3",
        "OMP_NUM_THREADS": "3",
    }
    monkeypatch.setattr(engines, "cores", lambda: 8)
    assert [engines.threads_for(n) for n in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]


def test_a_run_whose_process_dies_is_failed_with_its_last_words(monkeypatch, tmp_path):
    """Kills: a crashed run (an exit code, a signal such as the OOM killer's) reported as
    done, or failed without saying why."""
    _fake_worker(
        monkeypatch,
        tmp_path,
        """
        import os, signal, sys
        sys.stdin.readline()
        print("a warning", file=sys.stderr)
        print("MemoryError: out of memory", file=sys.stderr)
        sys.stderr.flush()
        if os.environ["KERAS_BACKEND"] == "torch":
            os.kill(os.getpid(), signal.SIGKILL)
        sys.exit(3)
        """,
    )
    outcome = engines.run_task({**TASK, "backend": "tensorflow"})
    assert outcome["status"] == "failed"
    last = "MemoryError: out of memory"
    assert outcome["error"] == f"the run's process ended with exit code 3: {last}"
    killed = engines.run_task({**TASK, "backend": "torch"})
    assert killed["error"] == f"the run's process ended with signal 9: {last}"


def test_a_cancelled_run_is_stopped_and_its_process_is_gone(monkeypatch, tmp_path):
    """What a Dask worker does when the campaign's cancel Event is set, and what Ctrl-C does
    to a local run. Kills: a run left training after its campaign was stopped."""
    _fake_worker(monkeypatch, tmp_path, "import time\ntime.sleep(600)\n")
    started = time.monotonic()
    outcome = engines._run_child(TASK, dict(os.environ), lambda: time.monotonic() > started + 1)
    assert outcome == {"status": "cancelled"}
    assert not engines._LIVE
    with engines.local_engine(1) as engine:
        future = engine.submit(TASK)
        while not engines._LIVE:
            time.sleep(0.05)
        (proc,) = engines._LIVE
        engine.stop()
        assert future.result(timeout=30)["error"].startswith("the run's process ended with signal")
    assert proc.poll() is not None


def test_a_local_run_is_in_a_session_of_its_own(monkeypatch, tmp_path):
    """A Ctrl-C in the terminal goes to the terminal's process group. Kills: runs in the
    campaign's group, which would each see the Ctrl-C, fail, and be recorded as failed
    instead of being left to the resume."""
    _fake_worker(
        monkeypatch,
        tmp_path,
        """
        import json, os
        print(json.dumps({"status": "done", "record": {"sid": os.getsid(0), "pid": os.getpid()}}))
        """,
    )
    record = engines.run_task(TASK)["record"]
    assert record["sid"] == record["pid"] != os.getsid(0)


# --------------------------------------------------------------------------- the run itself


def test_the_first_non_finite_loss_is_found():
    """Kills: a NaN run recorded as done (its accuracy counted into a distribution)."""
    nan = float("nan")
    assert campaign_worker.non_finite_step({"step_losses": [1.0, 0.5], "test_loss": 0.4}) is None
    assert campaign_worker.non_finite_step({"step_losses": [1.0, nan], "test_loss": 0.4}) == 2
    assert campaign_worker.non_finite_step({"step_losses": [float("inf")], "test_loss": 1}) == 1
    assert campaign_worker.non_finite_step({"step_losses": [1.0], "test_loss": nan}) == 0


def test_a_nan_run_fails_with_its_record_and_bad_data_fails_in_one_line(monkeypatch, tmp_path):
    """Kills: a NaN run passed as done, its record thrown away (it is what explains it), and
    a run on a corrupt file ending in a traceback instead of one line."""
    import types

    from lstm_repro import backend

    record = {"step_losses": [0.7, float("nan")], "test_loss": float("nan"), "test_accuracy": 0.5}
    fake = types.ModuleType("lstm_repro.train")
    fake.run = lambda spec, data: record
    monkeypatch.setitem(sys.modules, "lstm_repro.train", fake)
    monkeypatch.setattr(backend, "import_quietly", lambda: None)
    spec = RunSpec(model="fused-lstm", config=TrainConfig(), data="synthetic", train_samples=8)
    spec = {**spec.to_dict(), "test_samples": 8}
    outcome = campaign_worker.outcome_of({"spec": spec})
    assert outcome == {
        "status": "failed",
        "error": "the loss became NaN or infinite at training step 2",
        "record": record,
    }
    corrupt = tmp_path / "imdb.npz"
    corrupt.write_bytes(b"PK\x03\x04 not a zip")
    bad = {**spec, "data": "imdb", "imdb_path": str(corrupt)}
    outcome = campaign_worker.outcome_of({"spec": bad})
    assert outcome["status"] == "failed" and "imdb.npz" in outcome["error"]
    assert "\n" not in outcome["error"]
    assert campaign_worker.outcome_of({"spec": {"model": "x"}})["status"] == "failed"


def test_a_run_whose_parent_is_killed_stops_instead_of_training_on(tmp_path):
    """A Dask worker SIGKILLed mid-run leaves its run orphaned. Kills: the watcher that ends
    such a run (it would train to the end for nobody, holding a core), and one that learns its
    parent's pid by asking after the parent may already be gone (it then watches init)."""
    code = textwrap.dedent(
        """
        import os, subprocess, sys, time
        child = subprocess.Popen([*sys.argv[2:], str(os.getpid())], stdin=int(sys.argv[1]))
        print(child.pid, flush=True)
        time.sleep(600)
        """
    )
    # The run's stdin is a pipe whose write end this test holds: the run waits for its task
    # with no end-of-file in sight, so only its watcher can end it (as in a run mid-training).
    read, write = os.pipe()
    parent = subprocess.Popen(
        [sys.executable, "-c", code, str(read), *engines.WORKER_COMMAND],
        stdout=subprocess.PIPE,
        text=True,
        pass_fds=(read,),
    )
    os.close(read)
    child = int(parent.stdout.readline())
    parent.kill()  # at once: before the run has read its task, perhaps before it has started
    parent.wait()
    deadline = time.monotonic() + 20  # it looks once a second; 20 s is a wide margin
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.2)
    os.close(write)
    if _alive(child):
        os.kill(child, 9)
        pytest.fail("the orphaned run was still alive 20 s after its parent was killed")


def _alive(pid: int) -> bool:
    """Running (an exited orphan may stay a zombie where PID 1 does not reap, as here)."""
    try:
        import psutil  # (distributed's dependency: the test lock has it)
    except ImportError:  # no zombie check: a signal 0 says alive or gone
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


# --------------------------------------------------------------------------- the command line


def _write_plan(tmp_path, text: str):
    path = tmp_path / "plan.toml"
    path.write_text(textwrap.dedent(text))
    return path


def test_a_bad_plan_or_engine_is_one_error_line_and_exit_2(tmp_path, capsys, monkeypatch):
    """Kills: a traceback instead of one line, a directory made before the plan is known to
    be good, and --local without Dask installed failing with an ImportError."""
    bad = _write_plan(tmp_path, 'variants = ["fused-lstm"]\nseeds = [0]\n[set]\nunits = -1\n')
    out = tmp_path / "out"
    assert main(["campaign", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lstm-repro: error: ") and err.count("\n") == 1
    assert "units must be a positive integer" in err and not out.exists()
    assert main(["campaign", str(tmp_path / "none.toml"), "--out", str(out)]) == 2
    assert "none.toml: no such file" in capsys.readouterr().err
    big = _write_plan(tmp_path, 'variants = ["fused-lstm"]\nseeds = [0]\n[set]\nunits = 100000\n')
    assert main(["campaign", str(big), "--out", str(out)]) == 2
    assert "needs at least" in capsys.readouterr().err and not out.exists()
    good = _write_plan(tmp_path, 'variants = ["fused-lstm"]\nseeds = [0]\n')
    with monkeypatch.context() as without_dask:
        without_dask.setitem(sys.modules, "distributed", None)
        assert main(["campaign", str(good), "--out", str(out), "--local", "2"]) == 2
        assert "pip install 'lstm-repro[cluster]'" in capsys.readouterr().err
    bad_flags = (["--local", "0"], ["--local", "2", "--jobs", "2"], ["--scheduler"])
    bad_flags += (["--scheduler", "host"], ["--scheduler", "tcp://h:port"], ["--scheduler", ""])
    for flags in bad_flags:
        with pytest.raises(SystemExit) as exit_:
            main(["campaign", str(good), "--out", str(out), *flags])
        assert exit_.value.code == 2
    assert "expected [tcp://]HOST:PORT, got ''" in capsys.readouterr().err


NEEDS_DASK = pytest.mark.skipif(
    importlib.util.find_spec("distributed") is None,
    reason="needs Dask distributed: pip install -e '.[cluster]'",
)


@NEEDS_DASK
def test_an_unreachable_scheduler_is_one_error_line_and_exit_2(tmp_path, capsys):
    """Kills: a hang, or a traceback, when the scheduler named is not there. Dask's own
    connect timeout is set to 2 s for the test (30 s by default)."""
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    plan = _write_plan(tmp_path, 'variants = ["fused-lstm"]\nseeds = [0]\n')
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"}
    result = subprocess.run(
        [*CLI, "campaign", str(plan), "--out", str(tmp_path / "o"), "--scheduler", address],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"lstm-repro: error: cannot reach {address}")
    assert result.stderr.count("\n") == 1, result.stderr
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["plan.json", "runs"]
    tls = ["campaign", str(plan), "--out", str(tmp_path / "t"), "--scheduler", "tls://127.0.0.1:1"]
    assert main(tls) == 2  # distributed raises a TypeError (no TLS context): one line still
    assert capsys.readouterr().err.startswith("lstm-repro: error: cannot reach tls://")


# --------------------------------------------------------------------------- reading a campaign


def _finished_campaign(out, accuracies: dict[str, list[float]], **plan) -> Campaign:
    """A campaign directory whose runs are done with the given accuracies, per variant."""
    run = Campaign.start(_plan(data=["synthetic"], set={"epochs": 1}, **plan), out)
    for task in run.tasks:
        run.write(task, _done(task, accuracies[task.spec.model].pop(0)))
    return run


def test_gate_accuracy_gates_every_distribution_of_a_campaign_holm_adjusted(tmp_path):
    """Kills: a campaign gated on its first distribution only, p-values left unadjusted over
    the family (more false alarms than alpha), and a regression in one variant hidden by the
    others."""
    from scipy import stats

    from lstm_repro.gate import compare_accuracy, compare_accuracy_family, holm

    base = [0.80, 0.81, 0.82, 0.83, 0.84]
    # A drop whose one-sided Welch p lies in (0.025, 0.05): significant alone, not once Holm
    # doubles it for a family of two (found by scanning drops of 0.0005).
    drop = next(
        d / 2000
        for d in range(1, 200)
        if 0.025
        < stats.ttest_ind([a - d / 2000 for a in base], base, alternative="less").pvalue
        < 0.05
    )
    plan = {"seeds": [0, 1, 2, 3, 4]}
    baseline = _finished_campaign(
        tmp_path / "b", {"fused-lstm": list(base), "fused-rnn": list(base)}, **plan
    ).collection(complete=True)
    edge = [a - drop for a in base]
    current = _finished_campaign(
        tmp_path / "c", {"fused-lstm": list(base), "fused-rnn": list(edge)}, **plan
    ).collection(complete=True)
    alone = compare_accuracy(baseline, current["distributions"][1], min_effect=0)
    assert alone.regressed and alone.p_value < 0.05
    family = compare_accuracy_family(baseline, current, min_effect=0)
    raw = [r.raw_p_value for r in family.reports]
    assert [r.p_value for r in family.reports] == holm(raw)
    assert raw[1] == alone.p_value
    assert not family.regressed and family.reports[1].verdict == "ok"
    worse = _finished_campaign(
        tmp_path / "w", {"fused-lstm": list(base), "fused-rnn": [a - 0.03 for a in base]}, **plan
    ).collection(complete=True)
    family = compare_accuracy_family(baseline, worse)
    assert family.regressed
    assert [r.verdict for r in family.reports] == ["ok", "REGRESSION"]
    assert family.reports[1].spec["model"] == "fused-rnn"


def test_gate_accuracy_and_report_read_campaign_directories(tmp_path, capsys):
    """`gate-accuracy BASE_DIR CUR_DIR` and `report DIR`. Kills: a campaign directory refused
    (or read as loose result files: one report row per run), a gate run on a campaign that is
    not finished, and a regression that does not exit 1."""
    base = [0.80, 0.81, 0.82, 0.83, 0.84]
    plan = {"seeds": [0, 1, 2, 3, 4]}
    a = _finished_campaign(
        tmp_path / "a", {"fused-lstm": list(base), "fused-rnn": list(base)}, **plan
    )
    low = {"fused-lstm": list(base), "fused-rnn": [x - 0.05 for x in base]}
    b = _finished_campaign(tmp_path / "b", low, **plan)
    assert main(["gate-accuracy", str(a.out), str(a.out)]) == 0
    assert "ok: 0 of 2 distributions regressed" in capsys.readouterr().out
    assert main(["gate-accuracy", str(a.out), str(b.out), "--json", str(tmp_path / "g.json")]) == 1
    out = capsys.readouterr().out
    assert "REGRESSION: 1 of 2 distributions regressed" in out
    assert json.loads((tmp_path / "g.json").read_text())["regressed"] is True
    b.record_path(b.tasks[0].key).unlink()
    assert main(["gate-accuracy", str(a.out), str(b.out)]) == 2
    assert "has 4 of 5 runs done (0 failed); finish the campaign" in capsys.readouterr().err
    assert main(["report", str(tmp_path), "--out", str(tmp_path / "r")]) == 0
    md = (tmp_path / "r" / "report.md").read_text()
    assert "report of 2 seeds" in capsys.readouterr().out  # two campaigns, no loose results
    assert md.count("| fused-lstm |") == 2 and md.count("| fused-rnn |") == 2


def test_the_committed_plans_and_the_readmes_example_are_plans():
    """Kills: a plan in benchmarks/campaign/plans/ or the README's example that the reader
    refuses (a user's first campaign would fail on the documented file)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    plans = {p.name: read_plan(p) for p in sorted((root / "benchmarks/campaign/plans").glob("*"))}
    assert plans["real-reviews.toml"].size() == 50  # 5 variants x 10 seeds
    assert plans["real-reviews.toml"].data == ("imdb",)
    assert plans["short-synthetic.toml"].size() == 10
    readme = (root / "README.md").read_text()
    (example,) = re.findall(r"```toml\n(.*?)```", readme, flags=re.S)
    import tomllib

    plan = plan_from_dict(tomllib.loads(example))
    assert plan.size() == 2 * 5 * 2 and plan.overrides == (
        ("dropout", (0.1, 0.2)),
        ("epochs", (2,)),
    )
