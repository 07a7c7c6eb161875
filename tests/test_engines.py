"""One model, three engines, two independent implementations.

The chapter's network (Embedding -> 2 x LSTM(4) -> Dense(1) -> sigmoid, 6 time steps) with one
set of random weights runs under Keras 3's TensorFlow, JAX and PyTorch backends, each in its own
process (tests/engine_worker.py; a backend cannot change inside a process, and this test
process is the TensorFlow one), as the unrolled
LSTMCell loop and as keras.layers.LSTM; outputs and weight gradients must agree. Then against
code nobody on this project wrote: torch.nn.LSTM and the ONNX LSTM operator under onnxruntime,
with the weights mapped by lstm_repro.interop. Swapping two gates in either mapping must fail.

The default tier compares within TensorFlow and against ONNX Runtime (in this process); the
JAX and PyTorch processes, and torch.nn.LSTM computed in the latter, run under `-m slow`.
A backend or extra that is not installed skips its tests, saying how to install it.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import shared_builds

from lstm_repro.config import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
INSTALL = {
    "jax": "pip install -e '.[jax]'",
    "torch": "pip install -e '.[cross]' (torch)",
    "onnx": "pip install -e '.[cross]' (onnx, onnxruntime)",
}
# Max |difference| over the outputs and every weight gradient, measured over 5 weight seeds
# on this machine (float32 everywhere): TF unrolled vs fused 0; JAX 8.9e-8; torch 7.5e-8;
# torch.nn.LSTM 6.0e-8; ONNX Runtime 6.0e-8 (outputs). 1e-5 leaves 100x. A swap of two gates in
# a mapping moved them by at least 0.012 (torch) and 0.0119 (ONNX): 1000x TOL.
TOL = 1e-5


def _installed(*modules: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in modules)


def _needs(engine: str):
    modules = {"jax": ("jax",), "torch": ("torch",), "onnx": ("onnx", "onnxruntime")}[engine]
    return pytest.mark.skipif(
        not _installed(*modules), reason=f"{engine} is not installed: {INSTALL[engine]}"
    )


CONFIG = TrainConfig(vocab_size=50, max_len=6, embedding_dim=5, units=4, dropout=0.0)

# Tests here share module fixtures: --dist loadfile keeps them on one worker.


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """Random weights (scale 0.8: the gates saturate and every gate matters), tokens and the
    coefficients of the scalar sum(coeff * p) whose gradients are compared."""
    from lstm_repro.models import build_model

    rng = np.random.default_rng(2026)
    shapes = [w.shape for w in build_model("fused-lstm", CONFIG).get_weights()]
    weights = [rng.normal(scale=0.8, size=s).astype(np.float32) for s in shapes]
    tokens = rng.integers(0, CONFIG.vocab_size, size=(3, CONFIG.max_len))
    coeff = rng.normal(size=(3, 1)).astype(np.float32)
    path = tmp_path_factory.mktemp("engines") / "in.npz"
    np.savez(
        path,
        tokens=tokens,
        coeff=coeff,
        vocab=CONFIG.vocab_size,
        **{f"w{i}": w for i, w in enumerate(weights)},
    )
    return path, weights, tokens, coeff


@pytest.fixture(scope="module")
def tf_outputs(case, tmp_path_factory):
    """The TensorFlow file, computed in this process (the test process runs Keras on
    TensorFlow)."""
    import engine_worker

    from lstm_repro import backend

    assert backend.name() == "tensorflow"
    path, *_ = case
    shared_builds.note("test_engines:tensorflow-outputs")
    out = tmp_path_factory.mktemp("tensorflow") / "out.npz"
    engine_worker.main(str(path), str(out))
    with np.load(out) as data:
        return dict(data)


@pytest.fixture(scope="module")
def outputs(case, tf_outputs, tmp_path_factory):
    """Every installed backend's file: JAX and PyTorch concurrently in fresh processes.

    Measured here: the JAX process costs ~17 s of CPU (Keras runs op by op under JAX, and
    each new op shape is an XLA compilation: ~140 of them) and the PyTorch one ~9 s (its Keras
    import pulls in JAX too), about a tenth of the default tier's CPU on 2 cores: the tests
    that need them run under `-m slow` (in CI's slow-tier step)."""
    path, *_ = case
    shared_builds.note("test_engines:jax-torch-outputs")
    procs = {}
    for engine in ("jax", "torch"):
        if not _installed(engine):
            continue
        out = tmp_path_factory.mktemp(engine) / "out.npz"
        procs[engine] = (
            subprocess.Popen(
                [sys.executable, str(ROOT / "tests" / "engine_worker.py"), str(path), str(out)],
                env={**os.environ, "KERAS_BACKEND": engine, "TF_CPP_MIN_LOG_LEVEL": "3"},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            ),
            out,
        )
    results = {"tensorflow": tf_outputs}
    for engine, (proc, out) in procs.items():
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, f"{engine} worker failed:\n{err[-3000:]}"
        with np.load(out) as data:
            results[engine] = dict(data)
    return results


def _values(result: dict, key: str) -> list[np.ndarray]:
    n = len([k for k in result if k.startswith(f"{key}_g")])
    return [result[f"{key}_p"], *(result[f"{key}_g{i}"] for i in range(n))]


def _max_difference(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    assert [x.shape for x in a] == [y.shape for y in b]
    return max(float(np.abs(x - y).max()) for x, y in zip(a, b, strict=True))


def test_unrolled_and_fused_agree_within_tensorflow(tf_outputs):
    assert _max_difference(_values(tf_outputs, "unrolled"), _values(tf_outputs, "fused")) <= TOL


@pytest.mark.slow  # fresh JAX and PyTorch processes (the `outputs` fixture)
@pytest.mark.parametrize(
    "engine",
    [pytest.param("jax", marks=_needs("jax")), pytest.param("torch", marks=_needs("torch"))],
)
@pytest.mark.parametrize("variant", ["unrolled", "fused"])
def test_every_backend_computes_the_same_outputs_and_gradients(outputs, engine, variant):
    """Kills: a backend-specific path in models.py (dropout, state handling, reset of the
    dropout mask) that changes the function the model computes."""
    assert outputs[engine]["backend"] == engine
    ours = _values(outputs[engine], variant)
    reference = _values(outputs["tensorflow"], variant)
    assert _max_difference(ours, reference) <= TOL


@pytest.mark.slow  # computed in the PyTorch process
@_needs("torch")
def test_torch_nn_lstm_with_the_keras_weights_agrees(outputs):
    """An LSTM this project did not write: torch.nn.LSTM (i, f, g, o; one bias in b_ih)."""
    torch_nn = _values(outputs["torch"], "torchnn")
    assert _max_difference(torch_nn, _values(outputs["tensorflow"], "unrolled")) <= TOL


@_needs("onnx")
def test_onnx_lstm_operator_with_the_keras_weights_agrees(case, tf_outputs):
    """The ONNX LSTM node (gates reordered i, o, f, c) run by onnxruntime: forward only."""
    from lstm_repro.interop import onnx_lstm_model, run_onnx

    _, weights, tokens, _ = case
    p = run_onnx(onnx_lstm_model(weights), tokens)
    assert float(np.abs(p - tf_outputs["unrolled_p"]).max()) <= TOL


@_needs("onnx")
def test_a_gate_swap_in_the_onnx_mapping_is_caught(case, tf_outputs):
    """Negative control: the ONNX comparison above can fail. Mapping Keras's gates to the
    order i, f, o, c (o and f swapped) must move the output by far more than TOL."""
    from lstm_repro.interop import onnx_lstm_model, run_onnx

    _, weights, tokens, _ = case
    p = run_onnx(onnx_lstm_model(weights, order="ifoc"), tokens)
    assert float(np.abs(p - tf_outputs["unrolled_p"]).max()) > 100 * TOL


@pytest.mark.slow  # computed in the PyTorch process
@_needs("torch")
def test_a_gate_swap_in_the_torch_mapping_is_caught(outputs):
    """Negative control: the torch.nn.LSTM comparison can fail. With i and f swapped in the
    mapping, outputs or gradients must move by far more than TOL."""
    swapped = _values(outputs["torch"], "torchswapped")
    assert _max_difference(swapped, _values(outputs["tensorflow"], "unrolled")) > 100 * TOL
