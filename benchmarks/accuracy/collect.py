"""Fold `lstm-repro seeds` outputs into benchmarks/baselines/accuracy.json: per configuration
the spec, the data it trained on, the summary, each seed's accuracy, per-epoch curve and
weights hash (the full records stay in the run directory), and how and where it was measured.

Distributions already in OUT.json stay unless a run in RUN_DIR has the same key (gate.spec_key
with the data's identity): collections measured on different machines are folded one by one,
and each entry says where it was measured.

Usage: python benchmarks/accuracy/collect.py RUN_DIR OUT.json [HOW]
(HOW: the command that made the runs, when it was not benchmarks/accuracy/run.sh)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from lstm_repro.gate import runs_dataset, spec_key
from lstm_repro.records import write_json


def _dataset(doc: dict) -> dict | None:
    """The runs' data without its local path (the key and the sha name it)."""
    found = runs_dataset(doc)
    return None if found is None else {k: v for k, v in found.items() if k != "source"}


def slim(doc: dict, how: str) -> dict:
    env = doc["runs"][0]["environment"]
    entry = {
        "spec": doc["spec"],
        "measured": {
            "how": how,
            "where": f"{env['device']}, {env['cpu_flags']}",
            "versions": {k: env[k] for k in ("python", "tensorflow", "keras", "numpy")},
            # records.NUMERICS_VERSION of the runs (1: from before the field, Keras 3's Adam)
            "numerics": sorted({r.get("numerics", 1) for r in doc["runs"]}),
        },
        "summary": doc["summary"],
        "runs": [
            {
                "model": r["model"],
                "config": r["config"],
                "test_accuracy": r["test_accuracy"],
                "history": [h["test_accuracy"] for h in r["history"]],
                "weights_sha256": r["weights_sha256"],
                "seconds": r["seconds"],
            }
            for r in doc["runs"]
        ],
    }
    dataset = _dataset(doc)
    if dataset is not None:
        entry["dataset"] = dataset
    return entry


RUN_SH = "bash benchmarks/accuracy/run.sh DIR (lstm-repro seeds --n 10 --jobs 2 ...)"


def _key(entry: dict) -> str:
    return spec_key(entry["spec"], runs_dataset(entry))


def main(run_dir: Path, out: Path, how: str = RUN_SH) -> None:
    docs = [json.loads(p.read_text()) for p in sorted(run_dir.glob("*.json"))]
    new = [slim(d, how) for d in docs if isinstance(d.get("runs"), list) and "summary" in d]
    old = json.loads(out.read_text())["distributions"] if out.exists() else []
    replaced = {_key(e) for e in new}
    kept = [e for e in old if _key(e) not in replaced]
    write_json(out, {"distributions": kept + new})
    print(f"wrote {out}: {len(new)} distributions added or replaced, {len(kept)} kept")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), *sys.argv[3:4])
