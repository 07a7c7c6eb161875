"""A ledger of the shared models a test session builds (trained runs, computed outputs that
several tests read), so that a run can prove it built each one once.

A fixture that builds a shared model calls `note("module:key")`; the root conftest makes one
ledger directory per session (inherited by xdist's workers through the environment) and, at the
end of the run, fails it if any name was noted twice. Kills: tests that share a model spread
over two workers (the grouping silently ignored, as `--dist loadgroup` was on pytest 9.2), or
a fixture whose cache misses, each of which trains the model again without failing a test.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

SESSION_DIR_VAR = "LSTM_REPRO_TEST_BUILDS_DIR"
LEDGER = "builds.tsv"


def note(name: str) -> None:
    """Record that this process built the shared model `name` (a no-op outside a session)."""
    directory = os.environ.get(SESSION_DIR_VAR)
    if not directory:
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    # One short O_APPEND write per line: lines from concurrent workers do not interleave.
    with open(Path(directory) / LEDGER, "a") as f:
        f.write(f"{name}\t{worker}\t{os.getpid()}\n")


def builds(directory: str | os.PathLike) -> dict[str, list[str]]:
    """name -> the 'worker (pid)' of every build of it, in order."""
    out: dict[str, list[str]] = defaultdict(list)
    path = Path(directory) / LEDGER
    if path.exists():
        for line in path.read_text().splitlines():
            name, worker, pid = line.split("\t")
            out[name].append(f"{worker} (pid {pid})")
    return dict(out)


def built_more_than_once(directory: str | os.PathLike) -> dict[str, list[str]]:
    return {name: where for name, where in builds(directory).items() if len(where) > 1}
