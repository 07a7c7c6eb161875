"""What a campaign's engines cost, as ratios measured in one run on one machine (issue 19).

Usage: python benchmarks/campaign/measure.py OUT.json [REPEATS [fresh]]

Three measurements, each repeated REPEATS times (default 2) in alternating order, so that a
drift of the machine's speed falls on every side:

- scaling: the same 8-run campaign (below) on a LocalCluster of 1 worker and of 2 workers
  (`campaign --local 1` / `--local 2`); the ratio of their wall times.
- overhead: the same 8 runs through `seeds --n 8 --jobs 2` (the local pool, thread pools left
  at the machine's size), `campaign --jobs 2` (the local pool, pools sized to half the cores)
  and `campaign --local 2` (Dask, pools sized alike); the per-run overhead of each against
  `seeds`, and of Dask against the local pool at equal thread pools.
- fresh: the two ways to give each run a fresh interpreter on a Dask worker, one after the
  other on a LocalCluster of 1 worker: a subprocess per run (what engines.run_task does) and
  the run inside the worker, the worker then restarted by its nanny
  (`Client.restart_workers`); seconds per run, submission to the next worker ready.

Every run is fused-lstm on the synthetic corpus, 2,048 / 1,024 reviews, one epoch, the
chapter's other sizes, seeds 0-7 (seeds 0-3 for `fresh`).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from lstm_repro.records import environment, write_json  # noqa: E402

RUNS = 8
SIZES = ["--data", "synthetic", "--train-samples", "2048", "--test-samples", "1024"]
SIZES += ["--epochs", "1", "--model", "fused-lstm"]
PLAN = f"""
variants = ["fused-lstm"]
seeds = {{first = 0, n = {RUNS}}}
data = "synthetic"
train_samples = 2048
test_samples = 1024

[set]
epochs = 1
"""
CLI = [sys.executable, "-m", "lstm_repro"]


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv[2:5])} failed: {proc.stderr.strip()[-500:]}")
    return wall


def campaign(plan: Path, *engine: str) -> float:
    with tempfile.TemporaryDirectory() as out:
        return timed([*CLI, "campaign", str(plan), "--out", f"{out}/c", *engine])


def seeds() -> float:
    with tempfile.TemporaryDirectory() as out:
        return timed([*CLI, "seeds", "--n", str(RUNS), "--jobs", "2", *SIZES, "--json", f"{out}/s"])


def alternating(sides: dict, repeats: int) -> dict[str, list[float]]:
    """Each side `repeats` times, the order reversed every round."""
    times: dict[str, list[float]] = {name: [] for name in sides}
    for r in range(repeats):
        order = list(sides) if r % 2 == 0 else list(reversed(sides))
        for name in order:
            times[name].append(sides[name]())
            print(f"  {name}: {times[name][-1]:.1f} s", flush=True)
    return times


def fresh(repeats: int) -> dict:
    """Seconds per run on a 1-worker LocalCluster: a subprocess per run against the run in
    the worker followed by a nanny restart."""
    from distributed import Client, LocalCluster

    from lstm_repro.campaign import read_plan
    from lstm_repro.engines import run_task

    def in_worker(task: dict) -> dict:
        from lstm_repro import backend
        from lstm_repro.config import RunSpec

        backend.import_quietly()
        from lstm_repro.train import run

        return run(RunSpec.from_dict(task["spec"]))

    with tempfile.TemporaryDirectory() as tmp:
        plan = Path(tmp) / "plan.toml"
        plan.write_text(PLAN)
        tasks = [t.to_dict() for t in read_plan(plan).tasks()[:4]]
    out: dict[str, list[float]] = {"subprocess": [], "nanny restart": []}
    bits: dict[str, list[str]] = {"subprocess": [], "nanny restart": []}
    with (
        LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        for r in range(repeats):
            for way in ["subprocess", "nanny restart"][:: 1 if r % 2 == 0 else -1]:
                for task in tasks:
                    start = time.perf_counter()
                    if way == "subprocess":
                        record = client.submit(run_task, task, pure=False).result()["record"]
                    else:
                        record = client.submit(in_worker, task, pure=False).result()
                        client.restart_workers(list(client.nthreads()))
                    out[way].append(time.perf_counter() - start)
                    bits[way].append(record["weights_sha256"])
                    print(f"  {way}: {out[way][-1]:.1f} s", flush=True)
    return {
        "seconds": out,
        "weights_sha256": bits,
        "same_bits": bits["subprocess"] == bits["nanny restart"],
    }


def main() -> None:
    target = Path(sys.argv[1])
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    if sys.argv[3:] == ["fresh"]:  # that measurement alone
        write_json(target, {"kind": "campaign-engines", "fresh_interpreter": fresh(repeats)})
        return
    with tempfile.TemporaryDirectory() as tmp:
        plan = Path(tmp) / "plan.toml"
        plan.write_text(PLAN)
        print("scaling: the 8-run campaign on 1 and on 2 local Dask workers", flush=True)
        scaling = alternating(
            {
                "--local 1": lambda: campaign(plan, "--local", "1"),
                "--local 2": lambda: campaign(plan, "--local", "2"),
            },
            repeats,
        )
        print("overhead: the same 8 runs through seeds, the local pool and Dask", flush=True)
        overhead = alternating(
            {
                "seeds --jobs 2": seeds,
                "campaign --jobs 2": lambda: campaign(plan, "--jobs", "2"),
                "campaign --local 2": lambda: campaign(plan, "--local", "2"),
            },
            repeats,
        )
    print("fresh: a subprocess per run against a nanny restart per run", flush=True)
    fresh_interpreter = fresh(repeats)
    med = {k: statistics.median(v) for k, v in {**scaling, **overhead}.items()}
    per_run = {k: statistics.median(v) for k, v in fresh_interpreter["seconds"].items()}
    summary = {
        "two workers / one worker": med["--local 2"] / med["--local 1"],
        "seconds per run over seeds --jobs 2": {
            k: (med[k] - med["seeds --jobs 2"]) / RUNS
            for k in ("campaign --jobs 2", "campaign --local 2")
        },
        "campaign --local 2 / campaign --jobs 2": med["campaign --local 2"]
        / med["campaign --jobs 2"],
        "nanny restart / subprocess, seconds per run": per_run["nanny restart"]
        / per_run["subprocess"],
    }
    print(json.dumps(summary, indent=2))
    write_json(
        target,
        {
            "kind": "campaign-engines",
            "runs": RUNS,
            "repeats": repeats,
            "wall_seconds": {**scaling, **overhead},
            "fresh_interpreter": fresh_interpreter,
            "summary": summary,
            "environment": environment(),
        },
    )


if __name__ == "__main__":
    main()
