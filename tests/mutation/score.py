"""The mutation score per module, from mutmut's results (issue 20): `tox -e mutation` runs
`mutmut run` and then this. Writes a Markdown table and exits 1 when a module's score falls
below the floor committed in floors.json (measured, see there), so the score cannot silently
drop; --write-floors records the scores just measured as the new floors.

A mutant counts as caught when a test failed (killed) or the tests hung past mutmut's timeout.
"No tests" means no selected test ran the mutated function: it counts as missed. Mutants named
in equivalent.txt (one per line, a reason after it) leave the denominator, and so do mutants
mutmut has not run yet ("not checked", an interrupted run), which the table counts apart.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
LINE = re.compile(r"^\s*lstm_repro\.(\w+)\.\S+?__mutmut_\d+: (.+)$")
CAUGHT = {"killed", "timeout"}


def results() -> list[tuple[str, str, str]]:
    """(module, mutant, status) for every mutant mutmut generated."""
    text = subprocess.run(
        ["mutmut", "results", "--all", "true"], capture_output=True, text=True, check=True
    ).stdout
    out = []
    for line in text.splitlines():
        m = LINE.match(line)
        if m:
            out.append((m.group(1), line.split(":")[0].strip(), m.group(2).strip()))
    return out


def equivalents() -> set[str]:
    path = HERE / "equivalent.txt"
    names = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            names.add(line.split()[0])
    return names


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-floors", action="store_true")
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    args = parser.parse_args()
    equivalent = equivalents()
    by_module: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for module, name, status in results():
        by_module[module]["equivalent" if name in equivalent else status] += 1
    if not by_module:
        sys.exit("no mutmut results here: run `mutmut run` first")
    rows = [
        "| module | mutants | caught | survived | no test ran it | equivalent | not run | score |"
    ]
    rows.append("|---|---:|---:|---:|---:|---:|---:|---:|")
    scores = {}
    for module in sorted(by_module):
        c = by_module[module]
        counted = sum(c.values()) - c["equivalent"] - c["not checked"]
        caught = sum(c[s] for s in CAUGHT)
        scores[module] = caught / counted if counted else 1.0
        rows.append(
            f"| {module}.py | {sum(c.values())} | {caught} | {c['survived']} | "
            f"{c['no tests']} | {c['equivalent']} | {c['not checked']} | {scores[module]:.1%} |"
        )
    table = "\n".join(rows) + "\n"
    print(table)
    if args.markdown:
        args.markdown.write_text(table, encoding="utf-8")
    floors_path = HERE / "floors.json"
    if args.write_floors:
        floors = {m: round(s - 0.0005, 3) for m, s in scores.items()}  # rounded down
        floors_path.write_text(json.dumps(floors, indent=2) + "\n", encoding="utf-8")
        return 0
    floors = json.loads(floors_path.read_text(encoding="utf-8"))
    low = {m: (s, floors[m]) for m, s in scores.items() if m in floors and s < floors[m]}
    for module, (score, floor) in low.items():
        print(f"{module}.py: mutation score {score:.1%} is below its floor {floor:.1%}")
    return 1 if low else 0


if __name__ == "__main__":
    sys.exit(main())
