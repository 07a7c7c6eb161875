"""FLOP model, matmul peak, cuDNN detection and step timing.

Shared by benchmarks/ (pytest-benchmark) and the `bench` command; `gate.py` compares runs.
`peak_fraction` is achieved GFLOP/s over a dense fp32 matmul peak measured in the same run.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lstm_repro.config import TrainConfig
from lstm_repro.config import variant as variant_info
from lstm_repro.errors import ReproError

MODES = ("train", "infer")
# The LSTM core alone (StepRunner.core_step): the chapter's two cells forward and backward, no
# embedding, dropout, head, optimizer, loss or metrics. A benchmark mode of its own so that
# the full step over the core is measured in the same run and gated (gate.core_pairs).
CORE = "core"
CORE_VARIANTS = ("unrolled-lstm",)  # the chapter's hand-stepped cells, on every backend
# The chapter's two cells by hand, Keras's fused LSTM (cuDNN on a GPU) and GRU. fused-rnn is
# left out: the same SimpleRNN math as unrolled-rnn, and every benchmark costs CI time.
BENCH_VARIANTS = ("unrolled-lstm", "fused-lstm", "unrolled-rnn", "fused-gru")
SLOWDOWN_ENV = "LSTM_REPRO_BENCH_SLOWDOWN"  # a test aid: "PATTERN=FACTOR[,PATTERN=FACTOR]"
SMOKE_ENV = "LSTM_REPRO_BENCH_SMOKE"  # 1: tiny sizes, for running every benchmark once in CI
FULL_ENV = "LSTM_REPRO_BENCH_FULL"  # 1: add a larger (units, batch) sweep


@dataclass(frozen=True)
class Case:
    """One benchmark: a variant's train or inference step at one size. The name is what
    pytest-benchmark, `ab` and LSTM_REPRO_BENCH_SLOWDOWN patterns all see."""

    name: str
    variant: str
    mode: str
    units: int
    batch: int
    group: str  # rivals side by side: same mode and size

    def config(self) -> TrainConfig:
        """The chapter's config at this case's size (tiny sizes under LSTM_REPRO_BENCH_SMOKE)."""
        if os.environ.get(SMOKE_ENV, "") not in ("", "0"):
            return TrainConfig(units=4, batch_size=4, max_len=4, vocab_size=100, embedding_dim=4)
        return TrainConfig(units=self.units, batch_size=self.batch)


def core_supported() -> bool:
    """Whether this process's Keras backend can run the core (each of the three can), read
    without importing Keras (backend.configured_name)."""
    from lstm_repro import backend

    return backend.configured_name() in backend.BACKENDS


def benchmark_cases(
    *, full: bool | None = None, quick: bool = False, core: bool | None = None
) -> list[Case]:
    """Every variant's train and inference step at the chapter's sizes, then a (units, batch)
    sweep of the LSTM variants' training step. quick: the LSTM variants at the chapter's sizes.
    core (default: on every backend this package runs): the unrolled LSTM's core at the
    chapter's sizes, in the training group beside the full step it is the core of."""
    full = os.environ.get(FULL_ENV, "") not in ("", "0") if full is None else full
    core = core_supported() if core is None else core
    lstm = ("unrolled-lstm", "fused-lstm")
    cases = [
        Case(f"chapter-{v}-{m}", v, m, 64, 128, f"{m}-chapter")
        for v in (lstm if quick else BENCH_VARIANTS)
        for m in MODES
    ]
    if core:
        cases += [
            Case(f"chapter-{v}-{CORE}", v, CORE, 64, 128, "train-chapter") for v in CORE_VARIANTS
        ]
    if quick:
        return cases
    sweep = [(64, 32), (256, 32), (256, 128)]
    if full:
        sweep += [(128, 64), (128, 256), (512, 128), (64, 512)]
    cases += [
        Case(f"sweep-{v}-u{u}-b{b}", v, "train", u, b, f"train-u{u}-b{b}")
        for u, b in sweep
        for v in lstm
    ]
    return cases


def parse_slowdown(text: str | None) -> list[tuple[str, float]]:
    """LSTM_REPRO_BENCH_SLOWDOWN: comma-separated PATTERN=FACTOR, FACTOR >= 1."""
    rules = []
    for part in (text or "").split(","):
        if not part.strip():
            continue
        pattern, sep, factor = part.rpartition("=")
        try:
            value = float(factor)
        except ValueError:
            value = float("nan")
        if not sep or not pattern.strip() or not (math.isfinite(value) and value >= 1.0):
            raise ReproError(
                f"{SLOWDOWN_ENV}: {part!r} is not PATTERN=FACTOR with a finite FACTOR >= 1"
            )
        rules.append((pattern.strip(), value))
    return rules


def slowdown_for(name: str, rules: list[tuple[str, float]]) -> float:
    """The factor for benchmark `name`: the largest among the rules whose pattern it contains."""
    return max((f for pattern, f in rules if pattern in name), default=1.0)


def slowed(step: Callable[[], None], factor: float) -> Callable[[], None]:
    """`step`, then a sleep of (factor - 1) x the time it took: a `factor`x slower step."""
    if factor == 1.0:
        return step

    def run() -> None:
        start = time.perf_counter()
        step()
        time.sleep((factor - 1.0) * (time.perf_counter() - start))

    return run


def flops_per_step(variant: str, config: TrainConfig, *, mode: str) -> float:
    """Analytic FLOPs of one batch: matmuls only (2 per multiply-add), embedding lookups free.

    Forward: for each layer and time step 2*B*(inputs + units)*blocks*units, plus the head's
    2*B*units. Training counts the backward pass as twice the forward (grads w.r.t. inputs and
    weights), so 3x forward; the Adam update (~10 FLOPs per weight) is added. The core (CORE)
    is the recurrent layers' 3x forward less the first layer's gradient to its inputs (only
    the embedding needs it), with no head and no Adam.
    """
    blocks = variant_info(variant).gate_blocks  # multiply-adds per unit per input
    B, T, u = config.batch_size, config.max_len, config.units
    forward = 0.0
    inputs = config.embedding_dim
    for _ in range(config.num_layers):
        forward += T * 2.0 * B * (inputs + u) * blocks * u
        inputs = u
    if mode == CORE:  # the cells' forward, backward for weights and states; no input gradient
        return 3.0 * forward - T * 2.0 * B * config.embedding_dim * blocks * u
    forward += 2.0 * B * u
    if mode == "infer":
        return forward
    if mode != "train":
        raise ValueError(f"mode must be 'train', 'infer' or {CORE!r}, got {mode!r}")
    recurrent_weights = sum(
        blocks * u * ((config.embedding_dim if i == 0 else u) + u + 1)
        for i in range(config.num_layers)
    )
    return 3.0 * forward + 10.0 * recurrent_weights


def matmul_peak_gflops(*, n: int = 1024, repeats: int = 30) -> float:
    """Dense fp32 matmul GFLOP/s on the active backend's device (backend.matmul_peak_gflops)."""
    from lstm_repro import backend

    return backend.matmul_peak_gflops(n=n, repeats=repeats)


class StepRunner:
    """A compiled model and one fixed batch, with train and inference steps to time."""

    def __init__(
        self, variant: str, config: TrainConfig, *, seed: int = 0, deterministic: bool = True
    ):
        """deterministic=False keeps the seeds but times the backend's fast kernels
        (backend.allow_nondeterminism); execution_mode() says which mode was in force."""
        from lstm_repro import backend
        from lstm_repro.models import build_model
        from lstm_repro.train import check_memory, compile_model, seed_everything

        check_memory(config, variant)
        seed_everything(seed)
        if not deterministic:
            backend.allow_nondeterminism()
        self.variant, self.config = variant, config
        self._core: Callable[[], None] | None = None
        self.model = build_model(variant, config)
        compile_model(self.model, config)
        rng = np.random.default_rng(seed)
        shape = (config.batch_size, config.max_len)
        self.x = rng.integers(0, config.vocab_size, size=shape).astype("int32")  # (B, T)
        self.y = rng.integers(0, 2, size=(config.batch_size, 1)).astype("float32")

    def cudnn_used(self) -> bool:
        """Whether this model's training step runs a cuDNN RNN kernel, read from what the
        backend executes (backend.cudnn_used), never assumed."""
        from lstm_repro import backend

        return backend.cudnn_used(self.model, self.x, self.y)

    def execution_mode(self) -> dict:
        """The mode this step is timed in: the backend's deterministic kernels on or off and
        whether Keras compiled the step with XLA (it turns XLA off on CPU and under TF's op
        determinism). Read from the backend and the compiled model, never assumed."""
        from lstm_repro import backend

        return {
            "deterministic": backend.determinism_enabled(),
            "jit_compile": bool(getattr(self.model, "jit_compile", False)),
        }

    def train_step(self) -> None:
        self.model.train_on_batch(self.x, self.y)  # returns numpy: waits for the step

    def infer_step(self) -> None:
        self.model.predict_on_batch(self.x)

    def core_step(self) -> Callable[[], None]:
        """One step of this model's recurrent core alone, compiled on first use: its own cells
        stepped by hand over max_len steps of one fixed batch of embedding-width inputs, in
        the model's order (time outer, layers inner), forward and backward, the gradient taken
        for every cell weight (a tf.function on TensorFlow, jax.jit of jax.grad over the
        cells' stateless_call on JAX, eager autograd on PyTorch, as each backend runs the full
        step). No embedding, so no gradient back to the inputs, which only the embedding needs
        (13 of 48 ms at the chapter's sizes on a 2-core AMD EPYC VM, 2026-12-03); no dropout
        (training=False), head, optimizer, loss or metrics: what the step would cost if it
        were only the chapter's LSTM math. `core_gradients()` returns the gradients (NumPy),
        so that the three backends' cores can be checked against each other."""
        import keras

        from lstm_repro import backend
        from lstm_repro.models import recurrent_cells

        if self._core is not None:
            return self._core
        if self.variant not in CORE_VARIANTS or not core_supported():
            raise ReproError(
                f"the core benchmark runs {', '.join(CORE_VARIANTS)} on "
                f"{', '.join(backend.BACKENDS)} only (asked: {self.variant} with "
                f"KERAS_BACKEND={backend.configured_name()})"
            )
        B, T, E = self.config.batch_size, self.config.max_len, self.config.embedding_dim
        cells = recurrent_cells(self.model)
        x = np.random.default_rng(0).normal(0, 0.05, (B, T, E)).astype("float32")  # (B, T, E)
        make = {"tensorflow": _tf_core, "jax": _jax_core, "torch": _torch_core}[backend.name()]
        gradients = make(cells, x, batch=B)

        def step() -> None:
            grads = gradients()
            float(keras.ops.sum(grads[-1]))  # wait for the step, as train_on_batch's does

        self._core = step
        self.core_gradients = lambda: [keras.ops.convert_to_numpy(g) for g in gradients()]
        # TensorFlow's traced function and its input, for tests to read the graph
        self.core_function = getattr(gradients, "function", None)
        self.core_input = getattr(gradients, "input", None)
        return step

    def step(self, mode: str) -> Callable[[], None]:
        if mode == CORE:
            return self.core_step()
        return {"train": self.train_step, "infer": self.infer_step}[mode]

    def first_call_seconds(self, mode: str) -> float:
        """Trace + compile + one step: the unrolled graph's real start-up cost."""
        start = time.perf_counter()
        self.step(mode)()
        return time.perf_counter() - start


def _tf_core(cells, x: np.ndarray, *, batch: int) -> Callable[[], list]:
    """The core on TensorFlow: forward and backward in one tf.function."""
    import tensorflow as tf

    weights = [w.value for cell in cells for w in cell.trainable_weights]
    inputs = tf.constant(x)

    @tf.function
    def forward_backward(x):
        with tf.GradientTape() as tape:
            states = [cell.get_initial_state(batch_size=batch) for cell in cells]
            # One unstack, as models.UnrolledRNN does (slicing x[:, t] instead would cost
            # T^2 in the backward pass).
            for x_t in tf.unstack(x, axis=1):  # T x (B, E)
                h = x_t
                for i, cell in enumerate(cells):
                    h, states[i] = cell(h, states[i], training=False)  # h: (B, units)
            value = tf.reduce_sum(h)
        return tape.gradient(value, weights)

    def gradients():
        return forward_backward(inputs)

    gradients.function, gradients.input = forward_backward, inputs  # for tests to trace
    return gradients


def _jax_core(cells, x: np.ndarray, *, batch: int) -> Callable[[], list]:
    """The core on JAX: jax.grad of the cells' stateless_call, under jax.jit (as Keras's
    JAX trainer compiles its train step)."""
    import jax

    trainable = [[v.value for v in cell.trainable_variables] for cell in cells]
    frozen = [[v.value for v in cell.non_trainable_variables] for cell in cells]
    inputs = jax.numpy.asarray(x)

    def value(trainable, x):
        states = [cell.get_initial_state(batch_size=batch) for cell in cells]
        for t in range(x.shape[1]):
            h = x[:, t]  # (B, E)
            for i, cell in enumerate(cells):
                (h, states[i]), _ = cell.stateless_call(
                    trainable[i], frozen[i], h, states[i], training=False
                )  # h: (B, units)
        return jax.numpy.sum(h)

    forward_backward = jax.jit(jax.grad(value))
    return lambda: jax.tree_util.tree_leaves(forward_backward(trainable, inputs))


def _torch_core(cells, x: np.ndarray, *, batch: int) -> Callable[[], list]:
    """The core on PyTorch: the cells called eagerly, torch.autograd.grad for their weights
    (as Keras's torch trainer runs its train step)."""
    import torch

    weights = [w.value for cell in cells for w in cell.trainable_weights]
    inputs = torch.as_tensor(x, device=weights[0].device)

    def forward_backward():
        states = [cell.get_initial_state(batch_size=batch) for cell in cells]
        for x_t in torch.unbind(inputs, dim=1):  # T x (B, E)
            h = x_t
            for i, cell in enumerate(cells):
                h, states[i] = cell(h, states[i], training=False)  # h: (B, units)
        return list(torch.autograd.grad(torch.sum(h), weights))  # no graph kept: nothing to detach

    return forward_backward


def derived_figures(
    *, variant: str, config: TrainConfig, mode: str, median_seconds: float, peak_gflops: float
) -> dict:
    flops = flops_per_step(variant, config, mode=mode)
    gflops = flops / median_seconds / 1e9
    return {
        "flops_per_step": flops,
        "gflops": gflops,
        "peak_gflops": peak_gflops,
        "peak_fraction": gflops / peak_gflops,
        "samples_per_second": config.batch_size / median_seconds,
        "timesteps_per_second": config.batch_size * config.max_len / median_seconds,
        "ms_per_step": median_seconds * 1e3,
    }


def time_case(
    case: Case, *, rounds: int, deterministic: bool = True
) -> tuple[StepRunner, TrainConfig, float, list[float]]:
    """Build and compile `case`'s step, run it once more untimed, then time `rounds` steps:
    (runner, config, compile seconds, per-step seconds)."""
    config = case.config()
    runner = StepRunner(case.variant, config, deterministic=deterministic)
    compile_seconds = runner.first_call_seconds(case.mode)
    step = runner.step(case.mode)
    step()
    return runner, config, compile_seconds, timed(step, rounds)


def timed(step: Callable[[], None], rounds: int) -> list[float]:
    """Wall seconds of each of `rounds` calls of `step` (which waits for its own result)."""
    seconds = []
    for _ in range(rounds):
        start = time.perf_counter()
        step()
        seconds.append(time.perf_counter() - start)
    return seconds


def compare_variants(
    cases: list[Case], *, rounds: int, on_row: Callable[[dict], None] | None = None
) -> dict:
    """The `bench` command's comparison: each case's step timed for `rounds` steps after
    compilation and one untimed step, with the derived figures."""
    from lstm_repro.backend import name as backend_name
    from lstm_repro.records import device_name, environment

    peak = matmul_peak_gflops()
    rows = []
    for case in cases:
        runner, config, compile_seconds, seconds = time_case(case, rounds=rounds)
        row = {
            "variant": case.variant,
            "mode": case.mode,
            "backend": backend_name(),
            "compile_seconds": compile_seconds,
            "cudnn": runner.cudnn_used(),
            **runner.execution_mode(),
            **derived_figures(
                variant=case.variant,
                config=config,
                mode=case.mode,
                median_seconds=statistics.median(seconds),
                peak_gflops=peak,
            ),
        }
        rows.append(row)
        if on_row is not None:
            on_row(row)
    return {
        "device": device_name(),
        "backend": backend_name(),
        "peak_gflops": peak,
        "rounds": rounds,
        "rows": rows,
        "environment": environment(),
    }


def compare_backends(
    backends: list[str], *, quick: bool, on_backend: Callable[[str], None] | None = None
) -> dict:
    """`bench --backends`: compare_variants under each Keras backend, each in its own process
    (`python -m lstm_repro bench` with KERAS_BACKEND set: a backend cannot change inside one),
    the rows merged into one result with each backend's matmul peak."""
    import importlib.util
    import json
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    from lstm_repro.backend import BACKENDS

    for b in backends:
        if b not in BACKENDS:
            raise ReproError(
                f"--backends: unknown backend {b!r}; choose from {', '.join(BACKENDS)}"
            )
        if importlib.util.find_spec(b) is None:
            extra = {"tensorflow": "", "jax": "[jax]", "torch": "[cross]"}[b]
            raise ReproError(f"--backends: {b} is not installed (pip install -e '.{extra}')")
    merged = None
    with tempfile.TemporaryDirectory() as tmp:
        for b in backends:
            if on_backend is not None:
                on_backend(b)
            path = Path(tmp) / f"{b}.json"
            argv = [sys.executable, "-m", "lstm_repro", "bench", "--json", str(path)]
            proc = subprocess.run(
                argv + (["--quick"] if quick else []), env={**os.environ, "KERAS_BACKEND": b}
            )
            if proc.returncode != 0:
                raise ReproError(f"bench under {b} failed (exit {proc.returncode})")
            result = json.loads(path.read_text())
            if merged is None:
                merged = {**result, "rows": [], "peak_gflops_by_backend": {}}
            merged["rows"] += result["rows"]
            merged["peak_gflops_by_backend"][b] = result["peak_gflops"]
    return merged
