"""claims.py and the pytest plugin: verdicts come from measured figures, never from the ledger."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lstm_repro.claims import BY_ID, CAVEAT, CLAIMS, FAILS, HOLDS, UNCHECKED, evaluate

TESTS = Path(__file__).resolve().parent


def _verdict(claim_id: str, **figures) -> tuple[str, str]:
    (result,) = [
        c for c in evaluate({claim_id: [{"test": "t", "figures": figures}]}) if c["id"] == claim_id
    ]
    return result["verdict"], result["reason"]


def test_every_claim_is_measured_by_some_test():
    """A claim in the ledger that no test records would only ever say 'not checked'.
    Kills: a claim added to claims.py without a test, or a test that lost its record."""
    sources = "".join(p.read_text() for p in TESTS.rglob("test_*.py"))
    recorded = set(re.findall(r'claim\("(C\d+)"\)', sources))
    assert recorded == set(BY_ID), f"claims without a recording test: {set(BY_ID) - recorded}"
    for c in CLAIMS:
        for path in c.tests:
            assert (TESTS.parent / path.split("::")[0]).exists(), (c.id, path)


def test_a_claim_with_no_measurement_is_not_checked():
    results = {c["id"]: c for c in evaluate({})}
    assert {c["verdict"] for c in results.values()} == {UNCHECKED}
    assert "no test measured it" in results["C10"]["reason"]


def test_c1_decides_from_the_slopes():
    exact = {"linear_slope_rho_0_5": math.log(0.5), "linear_slope_rho_1_5": math.log(1.5)}
    assert _verdict("C1", **exact, tanh_slope_rho_1_5=-0.166)[0] == CAVEAT
    assert _verdict("C1", **exact, tanh_slope_rho_1_5=0.2)[0] == HOLDS
    assert (
        _verdict("C1", **{**exact, "linear_slope_rho_1_5": 0.1}, tanh_slope_rho_1_5=0.2)[0] == FAILS
    )


def test_memory_claims_follow_the_measured_accuracies():
    assert _verdict("C2", rnn_early_accuracy=0.51)[0] == HOLDS
    assert _verdict("C2", rnn_early_accuracy=0.996)[0] == FAILS
    assert _verdict("C7", lstm_early_accuracy=0.99, rnn_early_accuracy=0.5)[0] == HOLDS
    verdict, reason = _verdict(
        "C7",
        lstm_early_accuracy=0.51,
        rnn_early_accuracy=0.996,
        lstm_forget_bias_3_early_accuracy=0.997,
    )
    assert verdict == FAILS and "forget-gate bias 3" in reason


def test_the_other_claims_decide_both_ways():
    assert _verdict("C3", max_norm_over_bound=1.0000001, min_cosine=0.9999999)[0] == CAVEAT
    assert _verdict("C3", max_norm_over_bound=1.01, min_cosine=1.0)[0] == FAILS
    ok4 = {
        "unclipped_first_non_finite_step": 1,
        "clipped_all_finite": 1,
        "clipped_first_loss": 8e13,
        "clipped_final_loss": 4e11,
    }
    assert _verdict("C4", **ok4)[0] == HOLDS
    assert _verdict("C4", **{**ok4, "clipped_all_finite": 0})[0] == FAILS
    assert _verdict("C5", max_abs_error=2e-6, max_gate_outside_unit_interval=0)[0] == HOLDS
    assert _verdict("C5", max_abs_error=2e-6, max_gate_outside_unit_interval=3)[0] == FAILS
    c6 = {
        "lstm_over_rnn_at_50": 2.8e4,
        "lstm_over_rnn_at_50_embedding_scale": 8e-5,
        "carousel_max_relative_error": 3e-6,
    }
    verdict, reason = _verdict("C6", **c6)
    assert verdict == CAVEAT and "reverses" in reason
    assert _verdict("C6", **{**c6, "lstm_over_rnn_at_50": 10})[0] == FAILS
    assert _verdict("C8", lstm_accuracy=0.93, rnn_accuracy=0.6)[0] == HOLDS
    assert _verdict("C8", lstm_accuracy=0.6, rnn_accuracy=0.7)[0] == FAILS
    assert _verdict("C9", gru_accuracy=0.8, gru_floor=0.7)[0] == HOLDS
    assert _verdict("C10", imdb_test_accuracy=0.83)[0] == HOLDS
    assert _verdict("C11", state_tensors_lstm=2, state_tensors_rnn=1)[0] == HOLDS
    assert _verdict("C12", fails_without_mask_reset=1, runs_with_port=1)[0] == FAILS


def test_max_and_min_figures_fold_over_records():
    records = [
        {"test": "a", "figures": {"max_abs_error": 1e-6, "min_cosine": 0.9}},
        {"test": "b", "figures": {"max_abs_error": 1e-7, "min_cosine": 0.95}},
    ]
    (c5,) = [c for c in evaluate({"C5": records}) if c["id"] == "C5"]
    assert c5["figures"]["max_abs_error"] == 1e-6 and c5["measured_by"] == ["a", "b"]


def _pytest(tmp_path, test_file: str, *options: str) -> subprocess.CompletedProcess:
    """pytest in a fresh process, rooted in tmp_path (none of this repository's conftests)."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
            str(tmp_path / test_file),
            *options,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )


def test_the_plugin_writes_claims_json_from_a_run(tmp_path):
    """End to end: a test records through the `claim` fixture; --claims-json holds the
    verdict decided from it, the test's outcome, and 'not checked' for the rest."""
    (tmp_path / "test_demo.py").write_text(
        "def test_states(claim):\n"
        "    claim('C11').measured(state_tensors_lstm=2, state_tensors_rnn=1)\n"
        "def test_bad_id(claim):\n"
        "    import pytest\n"
        "    with pytest.raises(ValueError, match='unknown claim'):\n"
        "        claim('C99')\n"
        "def test_not_finite(claim):\n"
        "    import pytest\n"
        "    with pytest.raises(ValueError, match='not finite'):\n"
        "        claim('C1').measured(x=float('nan'))\n"
    )
    out = tmp_path / "claims.json"
    proc = _pytest(tmp_path, "test_demo.py", "--claims-json", str(out))
    assert proc.returncode == 0, proc.stdout[-2000:]
    doc = json.loads(out.read_text())
    claims = {c["id"]: c for c in doc["claims"]}
    assert claims["C11"]["verdict"] == HOLDS
    assert claims["C11"]["measured_by"] == ["test_demo.py::test_states"]
    assert claims["C1"]["verdict"] == UNCHECKED
    assert doc["pytest"]["exit_status"] == 0 and "python" in doc["environment"]


@pytest.mark.parametrize("value", ["", "/no/such/dir/claims.json"])
def test_an_unwritable_claims_json_fails_before_the_run(tmp_path, value):
    (tmp_path / "test_x.py").write_text("def test_x():\n    pass\n")
    proc = _pytest(tmp_path, "test_x.py", "--claims-json", value)
    assert proc.returncode != 0 and "1 passed" not in proc.stdout


@pytest.mark.parametrize(
    "nodeid,expected",
    [
        ("tests/test_a.py::test_b[lstm]@lstm-short", "tests/test_a.py::test_b[lstm]"),
        ("tests/test_a.py::test_b@engines", "tests/test_a.py::test_b"),
        ("tests/test_a.py::test_b[x@y]", "tests/test_a.py::test_b[x@y]"),
        ("tests/test_a.py::test_b", "tests/test_a.py::test_b"),
    ],
)
def test_claims_list_test_ids_without_xdist_group_suffixes(nodeid, expected):
    """Kills: claims.json listing "...@group" ids under workers and plain ids in one process."""
    from lstm_repro.pytest_plugin import strip_group

    assert strip_group(nodeid) == expected
