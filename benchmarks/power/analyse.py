"""How often the speed gate raises a false alarm and how often it catches an injected slowdown.

`python benchmarks/power/analyse.py RUNS_DIR OUT.json` reads what benchmarks/power/run.sh
measured (pytest-benchmark runs base, null1-5, inj1-5 and `ab` runs PREFIX_null1-5,
PREFIX_inj1-5 with their saved documents; one row per processes-per-side and blocks setting)
and writes one JSON document (kind "gate-power") that `lstm-repro report` renders as a table.

Committed-baseline mode: every injected run is gated against the baseline and each unchanged
rerun (6 comparisons); unchanged runs are gated pairwise (15 comparisons). A/B mode: each `ab`
run gates its own interleaved baseline; the injection applies to its current side.
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from lstm_repro.gate import compare_speed


def _injections(doc: dict) -> dict[str, float]:
    return {
        b["name"]: b["extra_info"].get("slowdown", 1.0)
        for b in doc["benchmarks"]
        if "variant" in b.get("extra_info", {})
    }


def _tally(report, injected: dict[str, float], tally: dict) -> None:
    for row in report.rows:
        if row.kind != "benchmark":
            continue
        factor = injected.get(row.name, 1.0)
        key = "null" if factor == 1.0 else f"{factor:g}"
        hit = row.verdict == "REGRESSION"
        tally.setdefault(key, [0, 0])
        tally[key][0] += hit
        tally[key][1] += 1


def analyse(runs: Path) -> dict:
    load = lambda name: json.loads((runs / f"{name}.json").read_text())  # noqa: E731
    unchanged = ["base", *[f"null{i}" for i in range(1, 6) if (runs / f"null{i}.json").exists()]]
    injected = [f"inj{i}" for i in range(1, 6) if (runs / f"inj{i}.json").exists()]
    docs = {name: load(name) for name in unchanged + injected}
    baseline_mode: dict = {}
    seconds = []
    run_alarms = 0
    pairs = list(itertools.combinations(unchanged, 2))
    for a, b in pairs:
        start = time.perf_counter()
        report = compare_speed(docs[a], docs[b])
        seconds.append(time.perf_counter() - start)
        run_alarms += report.regressed
        _tally(report, {}, baseline_mode)
    for inj in injected:
        for base in unchanged:
            _tally(compare_speed(docs[base], docs[inj]), _injections(docs[inj]), baseline_mode)
    ab_modes: dict = {}  # (processes per side, blocks) -> tally, seconds, alarms
    for path in sorted(runs.glob("ab*_*.json")):
        name = path.stem
        if not (runs / name / "current.json").exists():
            continue
        base_doc = json.loads((runs / name / "baseline.json").read_text())
        cur_doc = json.loads((runs / name / "current.json").read_text())
        report = compare_speed(base_doc, cur_doc, normalise="none")
        info = json.loads(path.read_text())["ab"]
        mode = ab_modes.setdefault(
            (info.get("workers_per_side", 1), info["blocks"]),
            {"benchmarks": {}, "seconds": [], "null_runs": 0, "alarms": 0},
        )
        _tally(report, _injections(cur_doc), mode["benchmarks"])
        mode["seconds"].append(info["seconds"])
        if "_null" in name:
            mode["null_runs"] += 1
            mode["alarms"] += report.regressed
    modes = {
        "committed baseline (pytest-benchmark runs, peak-normalised)": {
            "benchmarks": baseline_mode,
            "unchanged_run_pairs": len(pairs),
            "unchanged_pairs_with_any_alarm": run_alarms,
            "gate_seconds_median": sorted(seconds)[len(seconds) // 2] if seconds else None,
        }
    }
    for (workers, blocks), mode in sorted(ab_modes.items()):
        label = (
            f"same-machine A/B (lstm-repro ab HEAD, {workers} process"
            f"{'es' if workers > 1 else ''} per side, {blocks} blocks)"
        )
        modes[label] = {
            "benchmarks": mode["benchmarks"],
            "unchanged_run_pairs": mode["null_runs"],
            "unchanged_pairs_with_any_alarm": mode["alarms"],
            "ab_seconds_median": sorted(mode["seconds"])[len(mode["seconds"]) // 2],
        }
    return {
        "kind": "gate-power",
        "tolerance": 0.10,
        "alpha": 0.05,
        "modes": modes,
        "runs": str(runs),
    }


if __name__ == "__main__":
    runs, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.write_text(json.dumps(analyse(runs), indent=2) + "\n")
    print(f"wrote {out}")
