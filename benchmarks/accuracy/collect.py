"""Fold `lstm-repro seeds` outputs into benchmarks/baselines/accuracy.json: per configuration
the spec, the summary and each seed's accuracy and weights hash (the full records stay in the
run directory), plus how and where they were measured.

Usage: python benchmarks/accuracy/collect.py RUN_DIR OUT.json [HOW]
(HOW: the command that made the runs, when it was not benchmarks/accuracy/run.sh)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from lstm_repro.records import write_json


def slim(doc: dict) -> dict:
    return {
        "spec": doc["spec"],
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


def _tokenizer(docs) -> dict:
    """The tokenizer that made the runs' data (real reviews from the aclImdb archive), if any."""
    names = {r["dataset"].get("tokenizer") for d in docs for r in d["runs"]}
    names.discard(None)
    return {"tokenizer": names.pop()} if len(names) == 1 else {}


RUN_SH = "bash benchmarks/accuracy/run.sh DIR (lstm-repro seeds --n 10 --jobs 2 ...)"


def main(run_dir: Path, out: Path, how: str = RUN_SH) -> None:
    docs = [json.loads(p.read_text()) for p in sorted(run_dir.glob("*.json"))]
    docs = [d for d in docs if isinstance(d.get("runs"), list) and "summary" in d]
    env = docs[0]["runs"][0]["environment"]
    write_json(
        out,
        {
            "measured": {
                "how": how,
                "where": f"{env['device']}, {env['cpu_flags']}",
                "versions": {k: env[k] for k in ("python", "tensorflow", "keras", "numpy")},
                **_tokenizer(docs),
            },
            "distributions": [slim(d) for d in docs],
        },
    )
    print(f"wrote {out}: {len(docs)} distributions")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), *sys.argv[3:4])
