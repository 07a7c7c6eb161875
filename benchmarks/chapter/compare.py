"""`lstm-repro reproduce` against the chapter's own program (chapter_script.py), same data.

Usage: python benchmarks/chapter/compare.py ARCHIVE OUT_DIR [PAIRS]

Both train the chapter's model on the same real reviews: this writes the arrays `reproduce`
trains on (lstm_repro's loader: the archive named, vocabulary 10000, 80 tokens) to
OUT_DIR/arrays.npz for the chapter's program, then runs PAIRS pairs (default 2) in fresh
processes, one after the other, the order alternating (ours first, then the chapter's first),
so that a drift of the machine's speed falls on both. Each side's time is its own span, model
built to training (and, for the chapter, its final evaluate) done, as the chapter's `all time`
measures it; process wall times, imports and data loading included, are recorded beside them.
OUT_DIR/summary.json holds every run, the ratio ours / chapter per pair and of the medians.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from lstm_repro.errors import ReproError  # noqa: E402
from lstm_repro.records import environment, write_atomic, write_json  # noqa: E402

SCRIPT = Path(__file__).with_name("chapter_script.py")


def write_arrays(archive: str, path: Path) -> dict:
    """The padded splits `reproduce --imdb-path ARCHIVE` trains on, as plain int32 arrays."""
    import numpy as np

    from lstm_repro.config import RunSpec, TrainConfig
    from lstm_repro.data import load_for

    data = load_for(RunSpec("unrolled-lstm", TrainConfig(), "imdb", archive))  # reproduce's
    arrays = {
        "x_train": data.x_train.astype("int32"),  # (25000, 80)
        "y_train": data.y_train.astype("int32"),
        "x_test": data.x_test.astype("int32"),
        "y_test": data.y_test.astype("int32"),
    }
    write_atomic(path, lambda f: np.savez(f, **arrays))
    return data.identity()


def timed_run(argv: list[str], result: Path) -> dict:
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise ReproError(f"{' '.join(argv[:3])} ... failed ({proc.returncode}): {tail}")
    record = json.loads(result.read_text())
    return {
        "seconds": record["seconds"],
        "process_seconds": wall,
        "test_accuracy": record["test_accuracy"],
    }


def main(archive: str, out: str, pairs: str = "2") -> int:
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    arrays = out_dir / "arrays.npz"
    dataset = write_arrays(archive, arrays)
    runs = {"reproduce": [], "chapter": []}
    for i in range(int(pairs)):
        ours = [sys.executable, "-m", "lstm_repro", "reproduce", "--imdb-path", archive]
        sides = {
            "reproduce": (
                [*ours, "--json", str(out_dir / f"reproduce-{i}.json")],
                f"reproduce-{i}",
            ),
            "chapter": (
                [sys.executable, str(SCRIPT), str(arrays), str(out_dir / f"chapter-{i}.json")],
                f"chapter-{i}",
            ),
        }
        order = ("reproduce", "chapter") if i % 2 == 0 else ("chapter", "reproduce")
        for side in order:
            argv, name = sides[side]
            runs[side].append(timed_run(argv, out_dir / f"{name}.json"))
            print(f"{name}: {runs[side][-1]}", flush=True)
    median = {side: statistics.median(r["seconds"] for r in rs) for side, rs in runs.items()}
    summary = {
        "kind": "reproduce-vs-chapter",
        "dataset": dataset,
        "runs": runs,
        "ratio_per_pair": [
            a["seconds"] / b["seconds"]
            for a, b in zip(runs["reproduce"], runs["chapter"], strict=True)
        ],
        "ratio_of_medians": median["reproduce"] / median["chapter"],
        "environment": environment(),
    }
    write_json(out_dir / "summary.json", summary)
    pairs_text = ", ".join(f"{r:.3f}" for r in summary["ratio_per_pair"])
    print(f"reproduce / chapter: {summary['ratio_of_medians']:.3f} (per pair: {pairs_text})")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(*sys.argv[1:4]))
    except ReproError as e:
        sys.exit(f"compare: {e}")
