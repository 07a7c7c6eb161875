"""bench --profile (lstm_repro/profile.py): where a training step's time goes."""

from __future__ import annotations

import gzip
import json

import pytest

from lstm_repro.cli import main
from lstm_repro.config import TrainConfig
from lstm_repro.errors import ReproError
from lstm_repro.profile import (
    HOST,
    HOST_EAGER,
    INPUT,
    OTHER,
    _union_ps,
    breakdown,
    part_of,
    read_jax_profile,
    read_torch_profile,
)

# Kernel names as TensorFlow 2.21's profiler recorded them for the chapter's unrolled step
# (fit, Keras 3.15; the model's scope is its name, unrolled_rnn).
RECURRENT = "recurrent math (LSTM / RNN / GRU cells)"
CALL = "StatefulPartitionedCall"
KERNELS = {
    f"{CALL}/gradient_tape/unrolled_rnn/lstm_cell/MatMul/MatMul:_MklMatMul": RECURRENT,
    "StatefulPartitionedCall/unrolled_rnn/lstm_cell_1/Sigmoid:Sigmoid": RECURRENT,
    "StatefulPartitionedCall/unrolled_rnn/lstm_cell/stateless_dropout/SelectV2:SelectV2": (
        "dropout masks"
    ),
    f"{CALL}/unrolled_rnn/dense/Add:_MklNativeFusedMatMul": "head (Dense + sigmoid)",
    f"{CALL}/unrolled_rnn/embedding/GatherV2:GatherV2": "embedding and its gradient",
    "StatefulPartitionedCall/adam/UnsortedSegmentSum:UnsortedSegmentSum": (
        "embedding's gradient in Adam (rows summed per word)"
    ),
    "StatefulPartitionedCall/adam/Sqrt:Sqrt": "optimizer (Adam)",
    "StatefulPartitionedCall/compile_loss/binary_crossentropy/logistic_loss/Select:Select": (
        "loss and metrics"
    ),
    "StatefulPartitionedCall/AddN:AddN": OTHER,
}


@pytest.mark.parametrize("kernel", KERNELS)
def test_each_kernel_lands_in_its_part_of_the_model(kernel):
    """Kills: the model's own scope (unrolled_rnn) read as a recurrent layer, which put the
    Dense head and everything else under "recurrent math"; dropout inside the cell's scope
    counted as cell math; the embedding's gradient in Adam counted as the optimizer."""
    assert part_of(kernel, "unrolled_rnn") == KERNELS[kernel]


# HLO op_names as JAX 0.10's profile of the chapter's unrolled step carried them (Keras 3.15's
# name scopes inside JAX's transformations; jit(train_step) is Keras's compiled step).
JAX_OPS = {
    "jit(train_step)/jvp(lstm_cell)/dot_general": RECURRENT,
    "jit(train_step)/transpose(jvp(lstm_cell_1))/dot_general": RECURRENT,
    "jit(train_step)/jvp(lstm_cell_1)/jit(_bernoulli)/jit(_uniform)/while": "dropout masks",
    "jit(train_step)/transpose(jvp(embedding))/scatter-add": "embedding and its gradient",
    "jit(train_step)/chapter_adam/sqrt": "optimizer (Adam)",
    "jit(train_step)/transpose(jvp(compile_loss))/mul": "loss and metrics",
    "jit(train_step)/jvp(unrolled_rnn)/dense/dot_general": "head (Dense + sigmoid)",
    "jit(train_step)/add": OTHER,
    "": OTHER,
}


@pytest.mark.parametrize("op_name", JAX_OPS)
def test_each_jax_kernel_lands_in_its_part_of_the_model(op_name):
    """Kills: JAX's transformation wrappers (jvp, transpose) hiding the scope they wrap, the
    model's own scope read as a recurrent layer inside them, and dropout (bernoulli) counted
    as cell math."""
    assert part_of(op_name + ":hlo", "unrolled_rnn") == JAX_OPS[op_name]


def test_a_jax_step_lasts_while_any_of_its_kernels_runs():
    """JAX's dispatching call returns before its kernels finish (it read 0.35 ms for a 770 ms
    step at the chapter's sizes), so the step's wall is the union of its kernels' spans on
    XLA's threads. Kills: kernel times summed (two threads double it), overlaps counted
    twice, a kernel inside another's span counted, a gap between kernels counted."""
    assert _union_ps([(0, 10), (5, 15), (20, 30), (22, 25)]) == 25
    assert _union_ps([(20, 30), (0, 10)]) == 20 and _union_ps([]) == 0


def _jax_space(path, modules, kernels):
    """An XSpace as JAX's profiler writes it: `modules` [(name, program id, {instruction:
    op_name})] in the metadata plane, `kernels` [(module, program id, instruction, start ps,
    duration ps)] on a CPU plane."""
    from tensorflow.compiler.xla.service import hlo_pb2
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    meta = space.planes.add(name="/host:metadata")
    meta.stat_metadata[1].name, meta.stat_metadata[2].name = "Hlo Proto", "program_id"
    for i, (name, program, ops) in enumerate(modules, start=1):
        proto = hlo_pb2.HloProto()
        proto.hlo_module.name, proto.hlo_module.entry_computation_id = name, 7
        entry = proto.hlo_module.computations.add(id=7)
        for instruction, op_name in ops.items():
            entry.instructions.add(name=instruction).metadata.op_name = op_name
        event = meta.event_metadata[i]
        event.name = f"{name}({program})"
        event.stats.add(metadata_id=1, bytes_value=proto.SerializeToString())
        event.stats.add(metadata_id=2, int64_value=program)
    cpu = space.planes.add(name="/host:CPU")
    for k, name in enumerate(("hlo_op", "hlo_module", "program_id"), start=1):
        cpu.stat_metadata[k].name = name
    cpu.event_metadata[1].name = "kernel"
    line = cpu.lines.add(timestamp_ns=0)
    for module, program, instruction, start, duration in kernels:
        event = line.events.add(metadata_id=1, offset_ps=start, duration_ps=duration)
        event.stats.add(metadata_id=1, str_value=instruction)
        event.stats.add(metadata_id=2, str_value=module)
        event.stats.add(metadata_id=3, int64_value=program)
    path.write_bytes(space.SerializeToString())
    return path


def test_a_jax_kernel_takes_its_op_name_from_its_own_compiled_module(tmp_path):
    """A process that compiled the train step twice (bench --profile after another model, or
    the slow test's two models) carries both modules, both named jit_train_step, in each
    profile, and XLA names their fusions alike. A kernel's op_name comes from the module of its
    own program id. Kills: modules keyed by name alone (CI, 2026-12-05: the model without
    dropout showed a "dropout masks" row, taken from the other module's fusion of that name),
    the step module chosen by name, the step's wall taken over both modules' kernels."""
    fusion = "fusion.3"
    modules = [
        ("jit_train_step", 90, {fusion: "jit(train_step)/lstm_cell/dropout/bernoulli"}),
        ("jit_train_step", 100, {fusion: "jit(train_step)/lstm_cell/dot_general"}),
    ]
    ran = [
        ("jit_train_step", 100, fusion, 0, 5_000),
        ("jit_train_step", 100, fusion, 10_000, 3_000),
    ]
    profile = read_jax_profile(_jax_space(tmp_path / "vm.xplane.pb", modules, ran))
    assert profile["parts"] == {RECURRENT: 8_000}
    assert profile["step_ps"] == 8_000 and profile["module"] == "jit_train_step"
    # both programs ran: the step is the one with more kernel time, each keeps its own names
    ran = [("jit_train_step", 100, fusion, 0, 5_000), ("jit_train_step", 90, fusion, 0, 9_000)]
    profile = read_jax_profile(_jax_space(tmp_path / "both.xplane.pb", modules, ran))
    assert profile["parts"] == {"dropout masks": 9_000} and profile["step_ps"] == 9_000


class _Event:
    """What read_torch_profile reads of a torch.profiler FunctionEvent."""

    def __init__(self, name, *, parent=None, seq=-1, us=0.0):
        self.name, self.cpu_parent, self.sequence_nr, self.cpu_time_total = name, parent, seq, us


def test_torch_ops_take_their_scope_and_backward_ops_their_forward_ops_part():
    """Forward ops under the Keras scopes that _torch_scopes names, their backward functions
    matched by sequence number, ops nested in ops counted once. Kills: a backward function
    counted as "other" (half the step), a nested aten op counted twice, the model's scope
    (unrolled_rnn) making the head recurrent math, dropout's bernoulli left in the cell."""
    model = _Event("keras/unrolled_rnn")
    cell = _Event("keras/lstm_cell", parent=model)
    dense = _Event("keras/dense", parent=model)
    adam = _Event("keras/adam")
    matmul = _Event("aten::mm", parent=cell, seq=7, us=30.0)
    events = [
        model,
        cell,
        dense,
        adam,
        matmul,
        _Event("aten::mkldnn_mm", parent=matmul, us=29.0),  # inside aten::mm: not again
        _Event("aten::bernoulli_", parent=cell, seq=8, us=2.0),
        _Event("aten::addmm", parent=dense, seq=9, us=3.0),
        _Event("aten::sqrt", parent=adam, us=4.0),
        _Event("autograd::engine::evaluate_function: MmBackward0", seq=7, us=50.0),
        _Event("autograd::engine::evaluate_function: AddmmBackward0", seq=9, us=5.0),
        _Event("autograd::engine::evaluate_function: torch::autograd::AccumulateGrad", us=1.0),
    ]
    profile = read_torch_profile(events, steps=2, model_scope="unrolled_rnn")
    us = 10**6  # picoseconds per microsecond
    assert profile["parts"] == {
        RECURRENT: 80 * us,
        "dropout masks": 2 * us,
        "head (Dense + sigmoid)": 8 * us,
        "optimizer (Adam)": 4 * us,
        OTHER: 1 * us,
    }
    assert profile["step_ps"] == 95 * us and profile["steps"] == 2
    rows = {r["part"] for r in breakdown(profile, step_seconds=1e-4, profiled_steps=2)}
    assert INPUT not in rows  # the batch is fetched outside the step on PyTorch and JAX


def test_the_rows_sum_to_the_step_and_split_only_the_step_functions_time():
    """10 steps profiled: step function 40 ms each (4 of them waiting for input), 50 ms a step
    in all; kernels 3:1 between two parts. Kills: input counted outside the step function as
    well as inside it, host time taken from kernel sums, shares of the wrong total."""
    ms = 10**9  # picoseconds per millisecond
    profile = {
        "parts": {RECURRENT: 60 * ms, "optimizer (Adam)": 20 * ms},
        "step_ps": 400 * ms,
        "steps": 10,
        "input_ps": 40 * ms,
    }
    rows = {r["part"]: r for r in breakdown(profile, step_seconds=0.050, profiled_steps=10)}
    assert rows[RECURRENT]["ms"] == pytest.approx(27.0)  # (40 - 4) * 3/4
    assert rows["optimizer (Adam)"]["ms"] == pytest.approx(9.0)
    assert rows[INPUT]["ms"] == pytest.approx(4.0)
    assert rows[HOST]["ms"] == pytest.approx(10.0)
    assert rows[RECURRENT]["kernel_ms"] == pytest.approx(6.0)
    assert sum(r["ms"] for r in rows.values()) == pytest.approx(50.0)
    assert sum(r["share"] for r in rows.values()) == pytest.approx(1.0)
    with pytest.raises(ReproError, match="no step function"):
        breakdown({**profile, "steps": 0}, step_seconds=0.05, profiled_steps=10)


@pytest.fixture(scope="module")
def tiny_profiles(tmp_path_factory):
    """The profile of a tiny unrolled LSTM with dropout 0.2 and without (a few seconds)."""
    import shared_builds

    from lstm_repro.profile import profile_step

    shared_builds.note("test_profile:tiny")
    tiny = {"units": 8, "batch_size": 8, "max_len": 6, "vocab_size": 50, "embedding_dim": 4}
    out = {}
    for dropout in (0.2, 0.0):
        where = tmp_path_factory.mktemp(f"profile-{dropout}")
        out[dropout] = profile_step("unrolled-lstm", TrainConfig(**tiny, dropout=dropout), where)
    return out


def test_a_real_profile_breaks_the_step_down_and_writes_both_traces(tiny_profiles):
    """End to end on TensorFlow's own profile: the rows sum to the step, the cells' math is
    there, dropout only where the model has it, the TensorBoard profile and a Perfetto trace
    on disk, and the core ratio measured in the same run. Kills: a profile that finds no
    kernels (a renamed event), dropout credited to a model without it."""
    from pathlib import Path

    with_dropout, without = tiny_profiles[0.2], tiny_profiles[0.0]
    for result in (with_dropout, without):
        rows = {r["part"]: r for r in result["rows"]}
        assert sum(r["ms"] for r in rows.values()) == pytest.approx(result["step_ms"])
        assert rows[RECURRENT]["ms"] > 0 and rows["optimizer (Adam)"]["ms"] > 0
        assert Path(result["profile"]).stat().st_size > 0
        with gzip.open(result["trace"], "rt") as f:
            events = json.load(f)["traceEvents"]
        assert any(e["name"].endswith(":_MklMatMul") or "MatMul" in e["name"] for e in events)
        assert all(e["ph"] == "X" and e["dur"] >= 0 for e in events)
        assert result["full_over_core"] > 0 and result["core_ms"] > 0
        assert result["steps_profiled"] >= 5
    assert "dropout masks" in {r["part"] for r in with_dropout["rows"]}
    assert "dropout masks" not in {r["part"] for r in without["rows"]}


@pytest.mark.slow
@pytest.mark.parametrize("keras_backend", ["jax", "torch"])
def test_jax_and_torch_profiles_break_the_step_down_with_their_own_profilers(
    tmp_path, keras_backend
):
    """End to end on JAX's profiler (XSpace + the HLO it carries) and PyTorch's
    (torch.profiler, scopes from _torch_scopes), a tiny model with dropout 0.2 and without,
    in its own process (tests/backend_worker.py; about 15 s each). Kills: a profile that
    finds no kernels (a renamed event or stat), the step function not found (JAX), dropout
    credited to a model without it, no trace written, the core missing on that backend."""
    from pathlib import Path

    from backend_worker import run_under

    run_under(keras_backend, "profile", tmp_path)
    results = json.loads((tmp_path / "results.json").read_text())
    host = HOST_EAGER if keras_backend == "torch" else HOST
    for result in results.values():
        rows = {r["part"]: r for r in result["rows"]}
        assert result["backend"] == keras_backend
        assert sum(r["ms"] for r in rows.values()) == pytest.approx(result["step_ms"])
        assert rows[RECURRENT]["ms"] > 0 and rows["optimizer (Adam)"]["ms"] > 0
        assert rows["embedding and its gradient"]["kernel_ms"] > 0
        assert host in rows and INPUT not in rows
        # the cells' math is the largest part of the kernels (seen: 0.45-0.8 of kernel time)
        kernels = {p: r["kernel_ms"] for p, r in rows.items() if r["kernel_ms"] is not None}
        assert max(kernels, key=kernels.get) == RECURRENT
        assert Path(result["profile"]).stat().st_size > 0
        with gzip.open(result["trace"], "rt") as f:
            trace = json.load(f)
        events = trace["traceEvents"] if isinstance(trace, dict) else trace
        assert len(events) > 100
        assert result["full_over_core"] > 0 and result["core_ms"] > 0
    assert "dropout masks" in {r["part"] for r in results["0.2"]["rows"]}
    assert "dropout masks" not in {r["part"] for r in results["0.0"]["rows"]}


def test_profile_refuses_what_it_cannot_do_in_one_line(capsys, tmp_path):
    assert main(["bench", "--profile"]) == 2
    assert "--profile needs --out DIR" in capsys.readouterr().err
    assert main(["bench", "--profile", "--quick", "--out", str(tmp_path / "p")]) == 2
    assert "neither --backends nor --quick" in capsys.readouterr().err
    assert main(["bench", "--profile", "--model", "nope", "--out", str(tmp_path / "q")]) == 2
    assert "nope" in capsys.readouterr().err
