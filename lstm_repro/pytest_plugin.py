"""pytest plugin (registered through the `pytest11` entry point): the `claim` fixture and
`--claims-json FILE`.

A test records what it measured for a chapter claim:

    def test_linear_rnn_slope(claim):
        claim("C1").measured(linear_slope_rho_0_5=slope)

At the end of the session `--claims-json FILE` writes every claim's verdict
(`lstm_repro.claims.evaluate`), the figures behind it, the tests that measured it and their
outcomes, and the environment. Works under pytest-xdist: workers send their records to the
controller, which writes the file.
"""

from __future__ import annotations

import math
import re

import pytest

from lstm_repro.claims import BY_ID, evaluate

_LEDGER = pytest.StashKey["_Ledger"]()


def pytest_addoption(parser):
    group = parser.getgroup("lstm-repro")
    group.addoption(
        "--claims-json",
        metavar="FILE",
        default=None,
        help="write the chapter claims' verdicts, from what this run measured, to FILE",
    )


class _Ledger:
    """What this session measured per claim and how each test ended; it is also the plugin
    object whose hooks collect both."""

    def __init__(self, config):
        self.config = config
        self.measurements: dict[str, list[dict]] = {}
        self.outcomes: dict[str, str] = {}

    def pytest_runtest_logreport(self, report):
        if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
            self.outcomes[strip_group(report.nodeid)] = report.outcome

    def pytest_testnodedown(self, node, error):
        """xdist controller: fold a finished worker's records into this ledger."""
        sent = getattr(node, "workeroutput", {}).get("lstm_repro_ledger")
        for claim_id, entries in (sent or {}).get("measurements", {}).items():
            self.measurements.setdefault(claim_id, []).extend(entries)
        self.outcomes.update((sent or {}).get("outcomes", {}))

    def pytest_sessionfinish(self, session, exitstatus):
        config = self.config
        if hasattr(config, "workeroutput"):  # xdist worker: hand the records to the controller
            config.workeroutput["lstm_repro_ledger"] = {
                "measurements": self.measurements,
                "outcomes": self.outcomes,
            }
            return
        path = config.getoption("claims_json", default=None)
        if path is None:
            return
        from lstm_repro.records import environment, write_json

        claims = evaluate(self.measurements)
        for c in claims:
            c["test_outcomes"] = {
                nodeid: outcome
                for nodeid, outcome in sorted(self.outcomes.items())
                if any(nodeid.startswith(prefix) for prefix in c["tests"])
            }
        write_json(
            path,
            {
                "kind": "lstm-repro claims",
                "claims": claims,
                "pytest": {"args": list(config.args), "exit_status": int(exitstatus)},
                "environment": environment(),
            },
        )


def pytest_configure(config):
    ledger = _Ledger(config)
    config.stash[_LEDGER] = ledger
    config.pluginmanager.register(ledger, "lstm_repro_ledger")
    path = config.getoption("claims_json", default=None)
    if path is not None and not hasattr(config, "workerinput"):
        from lstm_repro.errors import ReproError
        from lstm_repro.records import check_writable

        try:
            check_writable(path, flag="--claims-json")  # fail now, not after the run
        except ReproError as e:
            raise pytest.UsageError(str(e)) from None


class _Recorder:
    def __init__(self, ledger: _Ledger, claim_id: str, test: str):
        self.ledger, self.claim_id, self.test = ledger, claim_id, test

    def measured(self, **figures) -> None:
        clean = {}
        for key, value in figures.items():
            value = float(value)  # numpy scalars, bools and ints become plain floats
            if not math.isfinite(value):
                raise ValueError(f"claim {self.claim_id}: {key} = {value} is not finite")
            clean[key] = value
        entries = self.ledger.measurements.setdefault(self.claim_id, [])
        entries.append({"test": self.test, "figures": clean})


def strip_group(nodeid: str) -> str:
    """The node id without the "@group" suffix pytest-xdist's loadgroup mode appends, so that
    a claim lists the same test ids however the suite was distributed."""
    return re.sub(r"@[\w.-]+$", "", nodeid)


@pytest.fixture
def claim(request):
    """claim("C1").measured(name=value, ...): record a figure behind one of the chapter's
    claims (lstm_repro.claims.CLAIMS)."""
    ledger = request.config.stash[_LEDGER]

    def get(claim_id: str) -> _Recorder:
        if claim_id not in BY_ID:
            raise ValueError(f"unknown claim {claim_id!r}; known: {sorted(BY_ID)}")
        return _Recorder(ledger, claim_id, strip_group(request.node.nodeid))

    return get
