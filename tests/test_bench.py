"""FLOP model and the regression gate, on synthetic pytest-benchmark JSON files."""

from __future__ import annotations

import copy
import json

import pytest

from lstm_repro.bench import flops_per_step, gate
from lstm_repro.cli import main
from lstm_repro.config import TrainConfig
from lstm_repro.errors import ReproError

# Largest change of any gated metric between two back-to-back `pytest benchmarks
# --benchmark-only` runs on this 2-core machine (2026-11-28): 12.8% (unrolled-lstm infer time
# relative to fused-lstm); peak fractions moved by at most 12.6%.
NOISE = 0.13


def test_flop_model_by_hand_at_the_chapters_sizes():
    c = TrainConfig()
    layer1 = 80 * 2 * 128 * (100 + 64) * 4 * 64  # T * 2 * B * (in + u) * 4u
    layer2 = 80 * 2 * 128 * (64 + 64) * 4 * 64
    head = 2 * 128 * 64
    assert flops_per_step("unrolled-lstm", c, mode="infer") == layer1 + layer2 + head
    weights = 4 * 64 * (100 + 64 + 1) + 4 * 64 * (64 + 64 + 1)
    assert (
        flops_per_step("fused-lstm", c, mode="train") == 3 * (layer1 + layer2 + head) + 10 * weights
    )
    assert flops_per_step("unrolled-rnn", c, mode="infer") < flops_per_step(
        "fused-gru", c, mode="infer"
    )


def _doc(times: dict[str, float], peak: float = 100.0) -> dict:
    rows = []
    for name, median in times.items():
        variant = name.split("[")[1].rstrip("]")
        rows.append(
            {
                "name": name,
                "group": "train-chapter",
                "stats": {"median": median, "mean": median, "min": median},
                "extra_info": {"variant": variant, "flops_per_step": 2e9, "peak_gflops": peak},
            }
        )
    return {"machine_info": {}, "benchmarks": rows}


BASE = {
    "step[unrolled-lstm]": 0.030,
    "step[fused-lstm]": 0.060,
    "step[unrolled-rnn]": 0.020,
    "step[fused-gru]": 0.070,
}


def test_a_25_percent_slowdown_of_one_variant_fails():
    slow = dict(BASE, **{"step[unrolled-lstm]": 0.030 * 1.25})
    rows, regressed = gate(_doc(BASE), _doc(slow), tolerance=0.25)
    assert regressed
    bad = {r[0] for r in rows if r[4] == "REGRESSION"}
    assert bad == {"step[unrolled-lstm] peak_fraction", "step[unrolled-lstm] time / fused-lstm"}


def test_a_slower_reference_variant_is_caught_by_its_peak_fraction():
    slow = dict(BASE, **{"step[fused-lstm]": 0.060 * 1.3})
    rows, regressed = gate(_doc(BASE), _doc(slow), tolerance=0.25)
    assert regressed
    assert any(r[0] == "step[fused-lstm] peak_fraction" and r[4] == "REGRESSION" for r in rows)


@pytest.mark.parametrize("sign", [1, -1])
@pytest.mark.parametrize("name", sorted(BASE))
def test_noise_of_the_size_seen_here_passes(name, sign):
    noisy = dict(BASE, **{name: BASE[name] * (1 + sign * NOISE)})
    _, regressed = gate(_doc(BASE), _doc(noisy), tolerance=0.25)
    assert not regressed


def test_a_whole_machine_slowdown_is_normalised_away():
    """Everything 2x slower, the matmul peak too: nothing regressed relative to the machine."""
    slow = {n: 2 * t for n, t in BASE.items()}
    _, regressed = gate(_doc(BASE), _doc(slow, peak=50.0), tolerance=0.25)
    assert not regressed


def test_no_common_benchmarks_is_unusable_input():
    with pytest.raises(ReproError, match="no common benchmarks"):
        gate(_doc(BASE), _doc({"other[fused-lstm]": 0.1}), tolerance=0.25)


def test_gate_cli_exit_codes(tmp_path, capsys):
    base, same, slow = tmp_path / "b.json", tmp_path / "s.json", tmp_path / "x.json"
    base.write_text(json.dumps(_doc(BASE)))
    same.write_text(json.dumps(_doc(BASE)))
    scaled = copy.deepcopy(_doc(BASE))
    for row in scaled["benchmarks"]:
        if "unrolled-lstm" in row["name"]:
            row["stats"] = {k: v * 1.5 for k, v in row["stats"].items()}
    slow.write_text(json.dumps(scaled))
    assert main(["gate", str(base), str(same)]) == 0
    assert main(["gate", str(base), str(slow)]) == 1
    table = capsys.readouterr().out
    assert "REGRESSION" in table and "baseline" in table and "verdict" in table
    not_bench = tmp_path / "n.json"
    not_bench.write_text(json.dumps({"hello": 1}))
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    for args in (
        [str(base), str(tmp_path / "missing.json")],
        [str(base), str(not_bench)],
        [str(base), str(broken)],
    ):
        assert main(["gate", *args]) == 2
        err = capsys.readouterr().err
        assert err.startswith("lstm-repro: error:") and err.count("\n") == 1


def test_bench_command_prints_the_table_and_writes_json_and_chart(tmp_path, capsys):
    out_json, out_dir = tmp_path / "b.json", tmp_path / "plots"
    assert main(["bench", "--quick", "--json", str(out_json), "--out", str(out_dir)]) == 0
    table = capsys.readouterr().out
    assert "ms/step" in table and "peak frac" in table and "cuDNN" in table
    result = json.loads(out_json.read_text())
    assert {(r["variant"], r["mode"]) for r in result["rows"]} == {
        (v, m) for v in ("unrolled-lstm", "fused-lstm") for m in ("train", "infer")
    }
    for row in result["rows"]:
        assert row["ms_per_step"] > 0 and row["peak_fraction"] > 0
        assert row["cudnn"] is False or result["device"].startswith("GPU")
    assert (out_dir / "bench.png").read_bytes()[:4] == b"\x89PNG"
