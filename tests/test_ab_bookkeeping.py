"""ab.py's bookkeeping with the benchmark processes replaced by fakes: which process runs when,
what each side's samples, peaks, compile times and slowdowns are, what is skipped, what is
closed. The real processes run in tests/test_ab.py (slow tier); this runs in the default tier,
where mutation testing reaches run_ab (issue 20: run_ab was run by no default-tier test)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import ClassVar

import pytest
from checkout import ROOT, head

from lstm_repro import ab
from lstm_repro.bench import SLOWDOWN_ENV, Case, flops_per_step
from lstm_repro.errors import ReproError
from lstm_repro.gate import MIN_ROUNDS

needs_git = pytest.mark.skipif(head() is None, reason="needs git and a checkout with a HEAD")

CASES = [
    Case("chapter-fused-lstm-train", "fused-lstm", "train", 64, 128, "train-chapter"),
    Case("chapter-unrolled-lstm-core", "unrolled-lstm", "core", 64, 128, "train-chapter"),
    Case("chapter-fused-lstm-infer", "fused-lstm", "infer", 64, 128, "infer-chapter"),
]


class FakeWorker:
    """Answers like ab_worker.py. Samples encode who ran them: 1 + the worker's number, times
    the slowdown asked. The baseline refuses the core mode, as a revision from before it did."""

    made: ClassVar[list] = []
    log: ClassVar[list] = []

    def __init__(self, tree: Path, *, label: str, env: dict):
        self.number = len(FakeWorker.made)
        self.tree, self.label, self.env, self.closed = tree, label, env, False
        # The commit its tree holds (read from its nearest directory that exists: mutmut runs
        # the tests in mutants/, which a worktree of a commit does not have).
        self.head = head(next(p for p in (tree, *tree.parents) if p.is_dir()))
        self.module = f"{label}-{self.number}/lstm_repro"
        self.peak = 100.0 * (self.number + 1)
        FakeWorker.made.append(self)

    def ask(self, **command) -> dict:
        FakeWorker.log.append((self.number, command))
        if command["cmd"] == "prepare":
            if self.label == "baseline" and command["mode"] == "core":
                return {"unsupported": "no core mode here"}
            return {"compile_seconds": 1.0 + self.number}
        value = (1 + self.number) * command["slowdown"]
        return {"samples": [value] * command["rounds"]}

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def fakes(monkeypatch):
    FakeWorker.made, FakeWorker.log = [], []
    monkeypatch.setattr(ab, "_Worker", FakeWorker)
    monkeypatch.setenv(SLOWDOWN_ENV, "fused-lstm-train=3")
    return FakeWorker


@needs_git
def test_run_ab_interleaves_both_sides_and_keeps_each_sides_numbers_apart(fakes):
    """Two workers a side, 4 blocks of 2 rounds: each side gets blocks x rounds samples per
    case, from its own processes in the schedule's order (A B, B A, B A, A B over the pairs);
    the slowdown reaches only the current side, and the baseline's environment does not carry
    it; peaks and compile times are each side's mean over its workers; a mode the baseline
    lacks is skipped and listed; every worker is closed. Kills: the sides swapped, the
    slowdown on both sides or in the baseline's environment, a side's samples from the other's
    processes, a peak summed instead of averaged, the skip not recorded, and the medians,
    FLOPs and info fields taken from the wrong place."""
    base, cur, info = ab.run_ab("HEAD", cases=CASES, blocks=4, rounds=2, workers=2)
    labels = [w.label for w in fakes.made]
    assert labels == ["baseline", "current", "baseline", "current"]
    assert all(SLOWDOWN_ENV not in w.env for w in fakes.made if w.label == "baseline")
    assert fakes.made[1].env[SLOWDOWN_ENV] == "fused-lstm-train=3"
    assert fakes.made[1].tree == ab.current_tree() and fakes.made[0].tree != fakes.made[1].tree
    runs = [(n, c["slowdown"]) for n, c in fakes.log if c["cmd"] == "run"]
    # the first case: blocks visit pairs 0, 1, 0, 1 with the baseline first in blocks 0 and 3
    assert runs[:8] == [(0, 1.0), (1, 3.0), (3, 3.0), (2, 1.0), (1, 3.0), (0, 1.0), (2, 1.0),
                        (3, 3.0)]  # fmt: skip
    assert [b["name"] for b in base["benchmarks"]] == [
        "test_step[chapter-fused-lstm-train]",
        "test_step[chapter-fused-lstm-infer]",
    ]
    train_b, infer_b = base["benchmarks"]
    train_c, infer_c = cur["benchmarks"]
    assert sorted(train_b["stats"]["data"]) == [1.0] * 4 + [3.0] * 4  # workers 0 and 2
    assert sorted(train_c["stats"]["data"]) == [6.0] * 4 + [12.0] * 4  # 3x on workers 1, 3
    assert sorted(infer_c["stats"]["data"]) == [2.0] * 4 + [4.0] * 4  # no slowdown matched
    assert train_c["stats"]["median"] == 12.0 and infer_b["stats"]["median"] == 3.0
    assert (train_b["extra_info"]["slowdown"], train_c["extra_info"]["slowdown"]) == (1.0, 3.0)
    assert infer_c["extra_info"]["slowdown"] == 1.0
    assert (base["peak_gflops"], cur["peak_gflops"]) == (200.0, 300.0)
    assert train_b["extra_info"]["peak_gflops"] == 200.0
    assert (train_b["extra_info"]["compile_seconds"], train_c["extra_info"]["compile_seconds"]) \
        == (2.0, 3.0)  # fmt: skip
    assert train_b["group"] == "train-chapter" and train_b["extra_info"]["mode"] == "train"
    config = CASES[0].config()
    assert train_b["extra_info"]["flops_per_step"] == flops_per_step(
        "fused-lstm", config, mode="train"
    )
    assert (base["machine_info"]["ab_side"], cur["machine_info"]["ab_side"]) == (
        "baseline",
        "current",
    )
    assert info["skipped"] == ["chapter-unrolled-lstm-core"]
    assert (info["revision"], info["commit"]) == ("HEAD", head())
    assert (info["baseline_module"], info["current_module"]) == (
        "baseline-2/lstm_repro", "current-3/lstm_repro",
    )  # fmt: skip
    assert (info["blocks"], info["rounds_per_block"], info["workers_per_side"]) == (4, 2, 2)
    assert info["seconds"] >= 0
    assert all(w.closed for w in fakes.made)


@needs_git
def test_run_ab_closes_every_worker_and_its_worktree_when_a_worker_fails(fakes, monkeypatch):
    """A worker that dies mid-run ends ab with its error, and still every process is closed and
    the baseline worktree removed. Kills: cleanup skipped on error (orphaned processes, a
    worktree left registered in the user's repository)."""

    def broken(self, **command):
        raise ReproError("ab: the current worker exited (code 1)")

    monkeypatch.setattr(FakeWorker, "ask", broken)
    before = subprocess.run(["git", "worktree", "list"], cwd=ROOT, capture_output=True,
                            text=True).stdout  # fmt: skip
    with pytest.raises(ReproError, match="worker exited"):
        ab.run_ab("HEAD", cases=CASES[:1], blocks=2, rounds=4, workers=1)
    assert fakes.made and all(w.closed for w in fakes.made)
    after = subprocess.run(["git", "worktree", "list"], cwd=ROOT, capture_output=True,
                           text=True).stdout  # fmt: skip
    assert after == before


@pytest.mark.parametrize(
    "blocks,rounds,workers,ok",
    [
        (2, MIN_ROUNDS // 2, 1, True),  # 2 x 4 = 8 rounds: the least the gate reads
        (2, MIN_ROUNDS // 2 - 1, 1, False),  # 2 x 3 = 6
        (1, MIN_ROUNDS, 1, False),  # one block cannot alternate the order
        (4, 2, 2, True),  # 2 blocks per worker
        (3, 4, 2, False),
        (2, 4, 0, False),
    ],
)
@needs_git
def test_run_ab_refuses_too_few_blocks_rounds_or_workers(fakes, blocks, rounds, workers, ok):
    """At the edges of what the gate can read: at least 2 blocks, MIN_ROUNDS rounds a side,
    1 worker a side and 2 blocks per worker. Kills: each bound moved by one, and `or` for
    `and` in either check."""
    if ok:
        ab.run_ab("HEAD", cases=CASES[:1], blocks=blocks, rounds=rounds, workers=workers)
    else:
        with pytest.raises(ReproError, match=r"^ab needs at least"):
            ab.run_ab("HEAD", cases=CASES[:1], blocks=blocks, rounds=rounds, workers=workers)
        assert fakes.made == []


@needs_git
def test_run_ab_names_a_revision_that_does_not_exist(fakes):
    """Kills: a bad revision passed on to git worktree (a git error the user must decode)."""
    with pytest.raises(ReproError, match=r"^ab: unknown revision 'no-such-rev' in "):
        ab.run_ab("no-such-rev", cases=CASES[:1], blocks=2, rounds=4, workers=1)
    assert fakes.made == []


@needs_git
def test_run_ab_works_from_any_directory_and_leaves_no_worktree_or_scratch(
    fakes, monkeypatch, tmp_path
):
    """Run from outside the repository, as `lstm-repro ab` may be: every git command runs in
    the checkout, the baseline worktree is gone afterwards (`git worktree list` as before) and
    so is its scratch directory; every process prepares every case, the skipped one too.
    Kills (mutation testing, issue 20): a git call left to run in the caller's directory
    (8 mutants survived with pytest's cwd at the checkout's root), a cleanup that cannot find
    the worktree, and a skip that stops asking the other processes."""
    import tempfile

    worktrees = ["git", "worktree", "list"]
    before = subprocess.run(worktrees, cwd=ROOT, capture_output=True, text=True).stdout
    scratch = set(Path(tempfile.gettempdir()).glob("lstm-repro-ab-*"))
    monkeypatch.chdir(tmp_path)  # not a git repository
    base, _, info = ab.run_ab("HEAD", cases=CASES, blocks=2, rounds=4, workers=1)
    assert info["commit"] == head() and len(base["benchmarks"]) == 2
    # the time ab took: about 0.1 s with fake processes here; 60 s is far off either way, and
    # a clock read added instead of subtracted gives the machine's uptime
    assert 0 <= info["seconds"] < 60
    assert subprocess.run(worktrees, cwd=ROOT, capture_output=True, text=True).stdout == before
    assert set(Path(tempfile.gettempdir()).glob("lstm-repro-ab-*")) == scratch
    prepared = [(n, c["mode"]) for n, c in fakes.log if c["cmd"] == "prepare"]
    assert sorted(prepared) == sorted((n, c.mode) for n in (0, 1) for c in CASES)


@needs_git
def test_run_ab_checks_out_the_revision_asked_and_says_what_it_skipped(fakes, caplog):
    """The baseline's tree holds the revision named, not the checkout's HEAD; a skipped case
    is logged with each side's reason. Kills (mutation testing): `git worktree add` without
    the commit (HEAD checked out whatever was asked: equivalent only when asked for HEAD), and
    a skip that says nothing."""
    parent = head(ROOT, "HEAD~1")
    if parent is None:
        pytest.skip("the checkout has one commit: no other revision to check out")
    ab.run_ab("HEAD~1", cases=CASES, blocks=2, rounds=4, workers=1)
    assert [(w.label, w.head) for w in fakes.made] == [("baseline", parent), ("current", head())]
    skipped = "ab: chapter-unrolled-lstm-core skipped (baseline: no core mode here)"
    assert skipped in caplog.messages  # whole: a reworded or wrapped warning fails


def test_a_git_failure_is_one_line_naming_the_command_and_gits_last_words(monkeypatch, tmp_path):
    """Kills (mutation testing): the message without git's last line of stderr, and a missing
    git reported as the exception's repr instead of its reason."""
    with pytest.raises(ReproError, match=r"^git rev-parse: fatal: .*not a git repository"):
        ab._git("rev-parse", "--show-toplevel", cwd=tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))  # no git on it
    with pytest.raises(ReproError, match=r"^ab needs git: No such file or directory$"):
        ab._git("--version", cwd=tmp_path)


# A stand-in for ab_worker.py that speaks its line protocol: a hello naming the tree it was
# given and an environment variable, then per command line one reply, as `how` says.
_FAKE_WORKER = """
import json, os, sys, time
how = os.environ["FAKE_HOW"]
print(json.dumps({"ready": sys.argv[1], "peak_gflops": float(os.environ["FAKE_PEAK"])}), flush=True)
print("a worker's log line", file=sys.stderr, flush=True)
if how == "deaf":  # stops reading its commands but runs on
    os.close(0)
    time.sleep(60)
if how == "stubborn":  # reads its commands, quit included, and never exits
    for line in sys.stdin:
        pass
    time.sleep(60)
for line in sys.stdin:
    command = json.loads(line)
    if command.get("cmd") == "quit":
        open(os.environ["FAKE_QUIT"], "w").close()
        sys.exit(0)
    if how == "error":
        print(json.dumps({"error": "no such mode: core"}), flush=True)
    elif how == "exit":
        sys.exit(3)
    else:
        print(json.dumps({"echo": command}), flush=True)
"""


@pytest.fixture
def fake_worker(tmp_path, monkeypatch):
    script = tmp_path / "fake_worker.py"
    script.write_text(_FAKE_WORKER)
    monkeypatch.setattr(ab, "WORKER", script)

    def start(how: str) -> ab._Worker:
        env = {
            **os.environ,
            "FAKE_HOW": how,
            "FAKE_PEAK": "354.5",
            "FAKE_QUIT": str(tmp_path / f"quit-{how}"),
        }
        return ab._Worker(tmp_path / "tree", label="baseline", env=env)

    return start


def test_a_worker_says_hello_answers_each_command_and_quits_when_closed(
    fake_worker, tmp_path, capfd
):
    """_Worker, the parent's side of ab_worker.py's protocol, against a stand-in process.
    Kills: the tree or the environment not handed to the process, the worker's stderr (its
    TensorFlow logs) let through to the user's terminal, the hello's module or peak misread, a
    command not sent as one JSON line or its reply not read, close() not asking the worker to
    quit (or killing it instead)."""
    worker = fake_worker("echo")
    assert (worker.module, worker.peak) == (str(tmp_path / "tree"), 354.5)
    assert worker.ask(cmd="run", case="x", rounds=2) == {
        "echo": {"cmd": "run", "case": "x", "rounds": 2}
    }
    assert worker.ask(cmd="run", case="y") == {"echo": {"cmd": "run", "case": "y"}}
    worker.close()
    assert worker.proc.returncode == 0 and (tmp_path / "quit-echo").exists()
    worker.close()  # closing twice is harmless
    assert capfd.readouterr().err == ""


def test_a_worker_that_errs_or_dies_is_a_one_line_error_naming_its_side(fake_worker):
    """Kills: a worker's error reply returned as data, a dead worker read as an empty reply
    (or a hang), the side's label or the exit code missing from the message."""
    worker = fake_worker("error")
    with pytest.raises(ReproError) as err:
        worker.ask(cmd="run", mode="core")
    assert str(err.value) == "ab: baseline worker: no such mode: core"
    worker.close()
    worker = fake_worker("exit")
    with pytest.raises(ReproError) as err:
        worker.ask(cmd="run")
    assert str(err.value) == "ab: the baseline worker exited (code 3)"
    worker.close()
    assert worker.proc.returncode == 3


def test_a_worker_that_stops_listening_is_killed_on_close(fake_worker, tmp_path):
    """A worker that no longer reads its commands cannot be asked to quit (the pipe is
    broken): close() kills it rather than raising or leaving it running. Kills: the broken
    pipe escaping close(), the process left running."""
    worker = fake_worker("deaf")
    worker.close()
    assert worker.proc.returncode == -9 and not (tmp_path / "quit-deaf").exists()


def test_a_worker_that_will_not_quit_is_killed_after_its_grace(fake_worker, monkeypatch):
    """A worker that reads quit and runs on is given QUIT_GRACE_S, then killed. Kills: close()
    waiting for ever (no timeout), the grace not applied."""
    monkeypatch.setattr(ab, "QUIT_GRACE_S", 0.2)
    worker = fake_worker("stubborn")
    worker.close()
    assert worker.proc.returncode == -9
