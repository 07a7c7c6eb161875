"""bench.py: the FLOP model, the benchmark cases, the fault injection, cuDNN detection, and the
`bench` command (at smoke sizes: tests never assert speed)."""

from __future__ import annotations

import json

import pytest

from lstm_repro import bench
from lstm_repro.bench import (
    StepRunner,
    benchmark_cases,
    flops_per_step,
    parse_slowdown,
    slowdown_for,
    slowed,
)
from lstm_repro.cli import main
from lstm_repro.config import VARIANTS, TrainConfig
from lstm_repro.errors import ReproError


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
    gru = 80 * 2 * 128 * (100 + 64) * 3 * 64 + 80 * 2 * 128 * (64 + 64) * 3 * 64 + head
    assert flops_per_step("fused-gru", c, mode="infer") == gru


def test_every_variant_has_a_train_and_an_infer_case_at_the_chapters_sizes():
    chapter = [c for c in benchmark_cases() if c.name.startswith("chapter-")]
    assert {(c.variant, c.mode) for c in chapter} == {
        (v, m) for v in bench.BENCH_VARIANTS for m in bench.MODES
    } | {("unrolled-lstm", bench.CORE)}
    assert set(bench.BENCH_VARIANTS) <= set(VARIANTS)
    assert all((c.units, c.batch) == (64, 128) for c in chapter)
    assert len({c.name for c in benchmark_cases(full=True)}) == len(benchmark_cases(full=True))


def test_the_core_counts_the_cells_three_passes_less_the_embeddings_input_gradient():
    """Kills: the core's FLOPs counted as the full step's (head and Adam included), which
    would put its peak fraction and the step's on different footings."""
    c = TrainConfig()
    layer1 = 80 * 2 * 128 * (100 + 64) * 4 * 64
    layer2 = 80 * 2 * 128 * (64 + 64) * 4 * 64
    to_embedding = 80 * 2 * 128 * 100 * 4 * 64  # the first layer's gradient to its inputs
    assert flops_per_step("unrolled-lstm", c, mode="core") == 3 * (layer1 + layer2) - to_embedding


@pytest.mark.parametrize("keras_backend", ["tensorflow", "jax", "torch"])
def test_the_core_is_a_training_group_case_on_every_backend(monkeypatch, keras_backend):
    """The gate pairs the core with the full step by group and variant (gate.core_pairs).
    Kills: the core in a group of its own (no ratio), or left out on JAX or PyTorch (it was
    TensorFlow only until 2026-12-05)."""
    monkeypatch.setenv("KERAS_BACKEND", keras_backend)
    core = [c for c in benchmark_cases(quick=True) if c.mode == bench.CORE]
    step = next(c for c in benchmark_cases(quick=True) if c.name == "chapter-unrolled-lstm-train")
    assert [(c.variant, c.group) for c in core] == [("unrolled-lstm", step.group)]
    monkeypatch.setenv("KERAS_BACKEND", "numpy")  # Keras runs it; this package does not
    assert not [c for c in benchmark_cases() if c.mode == bench.CORE]


@pytest.mark.slow
@pytest.mark.parametrize("keras_backend", ["jax", "torch"])
def test_the_core_takes_the_same_gradients_on_every_backend(tmp_path, keras_backend):
    """The core on JAX (jax.grad of the cells' stateless_call, jitted) and on PyTorch
    (autograd) against TensorFlow's, each in its own process, with the same cell weights
    (tests/backend_worker.py). Seen 2026-12-05: at most 3.0e-7 apart, on gradients up to 1.15
    (float32); rtol 1e-5 + atol 1e-6 leaves a margin of 3x and more. Kills: a backend's core
    that drops a layer, swaps the states, runs dropout, or stops before the backward pass."""
    import numpy as np
    from backend_worker import run_under

    for name in ("tensorflow", keras_backend):
        run_under(name, "core", tmp_path / f"{name}.npz")
    expected, got = np.load(tmp_path / "tensorflow.npz"), np.load(tmp_path / f"{keras_backend}.npz")
    assert list(got) == list(expected) and len(expected) == 6  # 2 cells x kernel, recurrent, bias
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-5, atol=1e-6)
        assert np.abs(expected[key]).max() > 1e-3  # a gradient that is there to compare


def test_the_core_step_runs_the_cells_and_their_weight_gradients_only():
    """The core must be the LSTM math alone, or full step / core measures nothing. Kills: an
    embedding lookup, dropout, the head, a loss or an optimizer update inside the core, and a
    core that skips the backward pass. Read from the op types the traced graph's outputs
    depend on: Keras before 3.8 draws a cell's dropout mask even with training=False and
    leaves it unused (a dead op, pruned when the graph runs), which is not in the core."""
    config = TrainConfig(max_len=3, units=4, embedding_dim=5, vocab_size=50, batch_size=2)
    runner = StepRunner("unrolled-lstm", config)
    runner.step(bench.CORE)()
    graph = runner.core_function.get_concrete_function(runner.core_input).graph
    ops = _types_reaching(graph.outputs)
    assert {"MatMul", "Sigmoid", "Tanh"} <= ops
    assert "SigmoidGrad" in ops and "TanhGrad" in ops  # the backward pass ran through the gates
    forbidden = {"ResourceGather", "GatherV2", "RandomUniform", "StatelessRandomUniformV2"}
    forbidden |= {"ResourceApplyAdam", "AssignSubVariableOp", "AssignAddVariableOp"}
    assert not ops & forbidden
    grads = runner.core_function(runner.core_input)
    cells = [w for cell in runner.model.cells for w in cell.trainable_weights]
    assert [tuple(g.shape) for g in grads] == [tuple(w.shape) for w in cells]
    with pytest.raises(ReproError, match="core benchmark"):
        StepRunner("fused-lstm", config).step(bench.CORE)


def _types_reaching(outputs) -> set[str]:
    """The op types that `outputs` depend on, through data and control inputs."""
    seen, stack = {}, [t.op for t in outputs]
    while stack:
        op = stack.pop()
        if op.name not in seen:
            seen[op.name] = op.type
            stack += [t.op for t in op.inputs] + list(op.control_inputs)
    return set(seen.values())


def test_slowdown_rules_parse_and_match_by_substring():
    rules = parse_slowdown("chapter-unrolled-lstm-train=1.5, fused=1.1")
    assert slowdown_for("test_step[chapter-unrolled-lstm-train]", rules) == 1.5
    assert slowdown_for("test_step[chapter-fused-lstm-infer]", rules) == 1.1
    assert slowdown_for("test_step[chapter-unrolled-lstm-infer]", rules) == 1.0
    assert parse_slowdown("") == [] and parse_slowdown(None) == []


@pytest.mark.parametrize("text", ["x", "x=", "=2", "x=0.5", "x=nan", "x=inf", "x=fast"])
def test_bad_slowdown_rules_are_a_user_error(text):
    with pytest.raises(ReproError, match="LSTM_REPRO_BENCH_SLOWDOWN"):
        parse_slowdown(text)


def test_a_slowed_step_sleeps_factor_minus_one_times_its_own_duration(monkeypatch):
    """The injection is (F-1) x the step's own time, so F is a ratio whatever the machine.
    Clock and sleep are faked: no wall-clock assertion."""
    clock = iter([10.0, 10.2])
    sleeps = []
    monkeypatch.setattr(bench.time, "perf_counter", lambda: next(clock))
    monkeypatch.setattr(bench.time, "sleep", sleeps.append)
    calls = []
    slowed(lambda: calls.append(1), 1.5)()
    assert calls == [1] and sleeps == [pytest.approx(0.1)]
    step = calls.append
    assert slowed(step, 1.0) is step


def test_the_unrolled_lstm_never_uses_cudnn():
    """cuDNN is read from the traced graph (no CudnnRNN op), not assumed."""
    config = TrainConfig(max_len=4, units=4, embedding_dim=4, vocab_size=50, batch_size=4)
    assert not StepRunner("unrolled-lstm", config).cudnn_used()


def test_benchmarks_record_that_they_run_with_deterministic_kernels_and_no_xla():
    """StepRunner seeds everything, so the timed steps run with the backend's deterministic
    kernels; Keras then compiles without XLA here. The mode is read back from the backend and
    the compiled model and recorded beside every figure, and the report prints it. Kills:
    StepRunner no longer seeding (figures silently measured in another mode), a mode field
    that is hard-coded rather than read, and a report that drops the mode column."""
    from lstm_repro.report import execution_mode

    config = TrainConfig(max_len=4, units=4, embedding_dim=4, vocab_size=50, batch_size=4)
    mode = StepRunner("fused-lstm", config).execution_mode()
    assert mode == {"deterministic": True, "jit_compile": False}
    assert execution_mode(mode) == "deterministic, XLA off"
    assert execution_mode({"deterministic": False, "jit_compile": True}) == (
        "nondeterministic, XLA on"
    )
    assert execution_mode({}) == "not recorded"  # files from before the mode was recorded


def test_the_fast_mode_is_timed_with_determinism_off_and_recorded_so():
    """The GPU script times each backend twice; its --fast pass builds StepRunner with
    deterministic=False. Kills: a fast pass that still runs the deterministic kernels, or one
    recorded as deterministic. An inference step: tracing a training step as well cost ~3 s
    more here and checks nothing more (the mode is process-wide state, read back below)."""
    from lstm_repro import backend

    config = TrainConfig(max_len=4, units=4, embedding_dim=4, vocab_size=50, batch_size=4)
    try:
        runner = StepRunner("fused-lstm", config, deterministic=False)
        runner.infer_step()  # runs with op determinism off
        assert runner.execution_mode() == {"deterministic": False, "jit_compile": False}
    finally:
        backend.seed_everything(0)  # op determinism is process-wide: back on for later tests
    assert backend.determinism_enabled()


@pytest.mark.slow  # 13 s at smoke sizes (a TF import and four compiles); CI also runs bench
def test_bench_command_prints_the_table_and_writes_json_and_chart(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LSTM_REPRO_BENCH_SMOKE", "1")
    out_json, out_dir = tmp_path / "b.json", tmp_path / "plots"
    assert main(["bench", "--quick", "--json", str(out_json), "--out", str(out_dir)]) == 0
    table = capsys.readouterr().out
    assert "ms/step" in table and "peak frac" in table and "cuDNN" in table
    assert "deterministic, XLA off" in table
    result = json.loads(out_json.read_text())
    assert {(r["variant"], r["mode"]) for r in result["rows"]} == {
        (v, m) for v in ("unrolled-lstm", "fused-lstm") for m in ("train", "infer")
    } | {("unrolled-lstm", "core")}
    assert "full step / LSTM core (unrolled-lstm, tensorflow): " in table
    for row in result["rows"]:
        assert row["cudnn"] is False or result["device"].startswith("GPU")
    assert (out_dir / "bench.png").read_bytes()[:4] == b"\x89PNG"
