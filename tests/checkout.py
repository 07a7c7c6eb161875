"""The checkout the tests run in: its HEAD commit, for the tests that make a worktree of it
(`ab`, tests/test_ab.py and tests/test_ab_bookkeeping.py)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def head(tree: Path = ROOT, rev: str = "HEAD") -> str | None:
    """The commit `rev` names in `tree` (HEAD of the checkout by default), or None without git
    or without such a commit (then those tests skip)."""
    if shutil.which("git") is None:
        return None
    argv = ["git", "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"]
    proc = subprocess.run(argv, cwd=tree, capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else None
