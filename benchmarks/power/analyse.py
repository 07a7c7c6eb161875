"""How often the speed gate raises a false alarm and how often it catches an injected slowdown.

`python benchmarks/power/analyse.py RUNS_DIR OUT.json` reads what benchmarks/power/run.sh
measured (pytest-benchmark runs base, null1-5, inj1-5 and `ab` runs ab_null1-5, ab_inj1-5 with
their saved documents) and writes one JSON document (kind "gate-power") that
`lstm-repro report` renders as a table.

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
    ab_mode: dict = {}
    ab_seconds, ab_run_alarms, ab_null_runs = [], 0, 0
    for name in sorted(p.stem for p in runs.glob("ab_*.json")):
        saved = runs / name
        base_doc = json.loads((saved / "baseline.json").read_text())
        cur_doc = json.loads((saved / "current.json").read_text())
        report = compare_speed(base_doc, cur_doc, normalise="none")
        _tally(report, _injections(cur_doc), ab_mode)
        summary = json.loads((runs / f"{name}.json").read_text())
        ab_seconds.append(summary["ab"]["seconds"])
        if name.startswith("ab_null"):
            ab_null_runs += 1
            ab_run_alarms += report.regressed
    return {
        "kind": "gate-power",
        "tolerance": 0.10,
        "alpha": 0.05,
        "modes": {
            "committed baseline (pytest-benchmark runs, peak-normalised)": {
                "benchmarks": baseline_mode,
                "unchanged_run_pairs": len(pairs),
                "unchanged_pairs_with_any_alarm": run_alarms,
                "gate_seconds_median": sorted(seconds)[len(seconds) // 2] if seconds else None,
            },
            "same-machine A/B (lstm-repro ab HEAD, interleaved)": {
                "benchmarks": ab_mode,
                "unchanged_run_pairs": ab_null_runs,
                "unchanged_pairs_with_any_alarm": ab_run_alarms,
                "ab_seconds_median": sorted(ab_seconds)[len(ab_seconds) // 2]
                if ab_seconds
                else None,
            },
        },
        "runs": str(runs),
    }


if __name__ == "__main__":
    runs, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.write_text(json.dumps(analyse(runs), indent=2) + "\n")
    print(f"wrote {out}")
