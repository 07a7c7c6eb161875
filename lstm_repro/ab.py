"""Same-machine A/B benchmarking: a git revision against this checkout, interleaved.

`run_ab(rev)` checks `rev` out in a temporary git worktree, starts `workers` processes per side
(`ab_worker.py`, each importing its own tree's `lstm_repro`; nothing is installed), and for
every benchmark case compiles it in every process, then times blocks of rounds alternately in
the order A B B A A B ..., so that drift on the machine (other tenants, thermal state) falls on
both sides equally. With `workers` > 1, consecutive blocks go to the next pair of processes, so
that a per-process bias (one process of the same code ran a benchmark up to 1.23x slower than
another in `ab HEAD` runs) is averaged over processes. Measured (README, "What the speed gate
catches"): with one process per side an unchanged run raised a false alarm on such a bias
(1/25 comparisons); with two per side and 8 blocks, none in 50, at 1.5x the time: the default.
The result is a pair of pytest-benchmark-shaped documents that
`gate.compare_speed(normalise="none")` compares: same machine, same moments, raw times.

LSTM_REPRO_BENCH_SLOWDOWN applies to the current side only, so that `ab HEAD` with a slowdown
set measures what the gate catches.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from lstm_repro.bench import (
    SLOWDOWN_ENV,
    Case,
    benchmark_cases,
    flops_per_step,
    parse_slowdown,
    slowdown_for,
)
from lstm_repro.errors import ReproError
from lstm_repro.gate import MIN_ROUNDS

log = logging.getLogger(__name__)
WORKER = Path(__file__).with_name("ab_worker.py")


def current_tree() -> Path:
    """The directory this running lstm_repro was imported from (its parent)."""
    return Path(__file__).resolve().parents[1]


def _git(*args: str, cwd: Path) -> str:
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    except OSError as e:
        raise ReproError(f"ab needs git: {e.strerror or e}") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["failed"])[-1]
        raise ReproError(f"git {args[0]}: {last}")
    return proc.stdout.strip()


QUIT_GRACE_S = 30.0  # how long a worker asked to quit may take before it is killed


class _Worker:
    def __init__(self, tree: Path, *, label: str, env: dict):
        self.label = label
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER), str(tree)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        hello = self._read()
        self.module, self.peak = hello["ready"], hello["peak_gflops"]

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise ReproError(f"ab: the {self.label} worker exited (code {self.proc.wait()})")
        reply = json.loads(line)
        if "error" in reply:
            raise ReproError(f"ab: {self.label} worker: {reply['error']}")
        return reply

    def ask(self, **command) -> dict:
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write('{"cmd": "quit"}\n')
                self.proc.stdin.flush()
                self.proc.wait(timeout=QUIT_GRACE_S)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


def _document(rows: list[dict], peak: float, label: str) -> dict:
    return {"machine_info": {"ab_side": label}, "benchmarks": rows, "peak_gflops": peak}


def block_schedule(blocks: int, workers: int) -> list[tuple[int, bool]]:
    """(pair of processes, whether the baseline goes first) for each block: pairs in turn, and
    the order A B B A A B ... over all blocks, so each pair sees both orders."""
    return [(block % workers, block % 4 in (0, 3)) for block in range(blocks)]


def run_ab(
    rev: str,
    *,
    cases: list[Case] | None = None,
    blocks: int = 8,
    rounds: int = 4,
    workers: int = 2,
    on_case: Callable[[str], None] | None = None,
) -> tuple[dict, dict, dict]:
    """Benchmark `rev` (baseline) against this checkout (current), interleaved.

    Returns (baseline_doc, current_doc, info): two pytest-benchmark-shaped documents with raw
    per-round samples, and what was compared (revision, trees, seconds taken).
    """
    import time

    from lstm_repro.config import TrainConfig

    if blocks < 2 or blocks * rounds < MIN_ROUNDS:
        raise ReproError(
            f"ab needs at least 2 blocks and {MIN_ROUNDS} rounds per side (blocks x rounds)"
        )
    if workers < 1 or blocks < 2 * workers:
        raise ReproError(
            f"ab needs at least 1 worker per side and 2 blocks per worker ({blocks} blocks "
            f"for {workers} workers)"
        )
    cases = cases or benchmark_cases(quick=True)
    rules = parse_slowdown(os.environ.get(SLOWDOWN_ENV))
    tree = current_tree()
    top = Path(_git("rev-parse", "--show-toplevel", cwd=tree))
    try:
        commit = _git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", cwd=top)
    except ReproError:
        raise ReproError(f"ab: unknown revision {rev!r} in {top}") from None
    started = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix="lstm-repro-ab-"))
    worktree = scratch / "baseline"
    _git("worktree", "add", "--detach", "--force", str(worktree), commit, cwd=top)
    base_env = {k: v for k, v in os.environ.items() if k != SLOWDOWN_ENV}
    procs: list[_Worker] = []
    try:
        pairs = []
        for _ in range(workers):
            baseline = _Worker(worktree / tree.relative_to(top), label="baseline", env=base_env)
            procs.append(baseline)
            current = _Worker(tree, label="current", env=dict(os.environ))
            procs.append(current)
            pairs.append((baseline, current))
        peak = {
            label: sum(w.peak for w in procs if w.label == label) / workers
            for label in ("baseline", "current")
        }
        rows = {"baseline": [], "current": []}
        skipped: list[str] = []
        for case in cases:
            if on_case is not None:
                on_case(case.name)
            config = case.config()
            changed = {k: v for k, v in config.to_dict().items() if v != getattr(TrainConfig(), k)}
            spec = {"variant": case.variant, "mode": case.mode, "config": changed}
            compiles = {"baseline": 0.0, "current": 0.0}
            unsupported = []
            for w in procs:
                reply = w.ask(cmd="prepare", **spec)
                if "unsupported" in reply:
                    unsupported.append(f"{w.label}: {reply['unsupported']}")
                    continue
                compiles[w.label] += reply["compile_seconds"] / workers
            if unsupported:  # e.g. the core benchmark against a revision from before it
                log.warning("ab: %s skipped (%s)", case.name, "; ".join(sorted(set(unsupported))))
                skipped.append(case.name)
                continue
            samples = {"baseline": [], "current": []}
            factor = slowdown_for(case.name, rules)
            for index, baseline_first in block_schedule(blocks, workers):
                order = pairs[index] if baseline_first else pairs[index][::-1]
                for w in order:
                    slow = factor if w.label == "current" else 1.0
                    samples[w.label] += w.ask(cmd="run", rounds=rounds, slowdown=slow)["samples"]
            flops = flops_per_step(case.variant, config, mode=case.mode)
            for label in ("baseline", "current"):
                data = samples[label]
                rows[label].append(
                    {
                        "name": f"test_step[{case.name}]",
                        "group": case.group,
                        "stats": {"median": sorted(data)[len(data) // 2], "data": data},
                        "extra_info": {
                            "case": case.name,
                            "variant": case.variant,
                            "mode": case.mode,
                            "flops_per_step": flops,
                            "peak_gflops": peak[label],
                            "compile_seconds": compiles[label],
                            "slowdown": factor if label == "current" else 1.0,
                        },
                    }
                )
        info = {
            "revision": rev,
            "commit": commit,
            "baseline_module": baseline.module,
            "current_module": current.module,
            "blocks": blocks,
            "rounds_per_block": rounds,
            "workers_per_side": workers,
            "skipped": skipped,
            "seconds": time.perf_counter() - started,
        }
        return (
            _document(rows["baseline"], peak["baseline"], "baseline"),
            _document(rows["current"], peak["current"], "current"),
            info,
        )
    finally:
        for w in procs:
            w.close()
        subprocess.run(
            ["git", "worktree", "remove", "--force", str(worktree)], cwd=top, capture_output=True
        )
        subprocess.run(["git", "worktree", "prune"], cwd=top, capture_output=True)
        shutil.rmtree(scratch, ignore_errors=True)
