"""FLOP model, matmul peak, cuDNN detection, step timing and the regression gate.

Shared by benchmarks/ (pytest-benchmark) and the `bench` / `gate` commands. Figures that gate
are machine-normalised: `peak_fraction` (achieved GFLOP/s over a dense fp32 matmul peak measured
in the same run) and each variant's time relative to `fused-lstm` in the same group.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np

from lstm_repro.config import TrainConfig
from lstm_repro.errors import ReproError

# Multiply-adds per unit per input of one step: LSTM has 4 gate blocks, GRU 3, SimpleRNN 1.
GATE_BLOCKS = {"lstm": 4, "gru": 3, "rnn": 1}
VARIANT_CELL = {
    "unrolled-lstm": "lstm",
    "fused-lstm": "lstm",
    "unrolled-rnn": "rnn",
    "fused-gru": "gru",
}
REFERENCE_VARIANT = "fused-lstm"


def flops_per_step(variant: str, config: TrainConfig, *, mode: str) -> float:
    """Analytic FLOPs of one batch: matmuls only (2 per multiply-add), embedding lookups free.

    Forward: for each layer and time step 2*B*(inputs + units)*blocks*units, plus the head's
    2*B*units. Training counts the backward pass as twice the forward (grads w.r.t. inputs and
    weights), so 3x forward; the Adam update (~10 FLOPs per weight) is added.
    """
    blocks = GATE_BLOCKS[VARIANT_CELL[variant]]
    B, T, u = config.batch_size, config.max_len, config.units
    forward = 0.0
    inputs = config.embedding_dim
    for _ in range(config.num_layers):
        forward += T * 2.0 * B * (inputs + u) * blocks * u
        inputs = u
    forward += 2.0 * B * u
    if mode == "infer":
        return forward
    if mode != "train":
        raise ValueError(f"mode must be 'train' or 'infer', got {mode!r}")
    recurrent_weights = sum(
        blocks * u * ((config.embedding_dim if i == 0 else u) + u + 1)
        for i in range(config.num_layers)
    )
    return 3.0 * forward + 10.0 * recurrent_weights


def matmul_peak_gflops(*, n: int = 1024, repeats: int = 15) -> float:
    """Dense fp32 matmul GFLOP/s on TensorFlow's default device: median of `repeats` timed runs
    of an (n, n) @ (n, n) product after a warm-up."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    a = tf.constant(rng.normal(size=(n, n)), tf.float32)
    b = tf.constant(rng.normal(size=(n, n)), tf.float32)
    product = tf.function(lambda x, y: tf.reduce_sum(tf.matmul(x, y)))
    product(a, b).numpy()  # trace and warm up
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        product(a, b).numpy()  # .numpy() waits for the device
        seconds.append(time.perf_counter() - start)
    return 2.0 * n**3 / statistics.median(seconds) / 1e9


def graph_op_types(fn: Callable, *args) -> set[str]:
    """Every op type in the traced graph of tf.function(fn)(*args), nested functions included."""
    import tensorflow as tf

    graph_def = tf.function(fn).get_concrete_function(*args).graph.as_graph_def()
    ops = {node.op for node in graph_def.node}
    for function in graph_def.library.function:
        ops |= {node.op for node in function.node_def}
    return ops


def uses_cudnn(model, config: TrainConfig) -> bool:
    """True when the model's training forward pass traces a cuDNN RNN op (CudnnRNN*)."""
    import tensorflow as tf

    x = tf.zeros((config.batch_size, config.max_len), tf.int32)
    return any("Cudnn" in op for op in graph_op_types(lambda t: model(t, training=True), x))


class StepRunner:
    """A compiled model and one fixed batch, with train and inference steps to time."""

    def __init__(self, variant: str, config: TrainConfig, *, seed: int = 0):
        from lstm_repro.models import build_model
        from lstm_repro.train import compile_model, seed_everything

        seed_everything(seed)
        self.variant, self.config = variant, config
        self.model = build_model(variant, config)
        compile_model(self.model, config)
        rng = np.random.default_rng(seed)
        shape = (config.batch_size, config.max_len)
        self.x = rng.integers(0, config.vocab_size, size=shape).astype("int32")  # (B, T)
        self.y = rng.integers(0, 2, size=(config.batch_size, 1)).astype("float32")

    def train_step(self) -> None:
        self.model.train_on_batch(self.x, self.y)  # returns numpy: waits for the step

    def infer_step(self) -> None:
        self.model.predict_on_batch(self.x)

    def step(self, mode: str) -> Callable[[], None]:
        return {"train": self.train_step, "infer": self.infer_step}[mode]

    def first_call_seconds(self, mode: str) -> float:
        """Trace + compile + one step: the unrolled graph's real start-up cost."""
        start = time.perf_counter()
        self.step(mode)()
        return time.perf_counter() - start


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


# --------------------------------------------------------------------------- regression gate


def _benchmarks(doc: dict, path: str) -> dict[str, dict]:
    rows = doc.get("benchmarks")
    if not isinstance(rows, list):
        raise ReproError(f"{path}: not a pytest-benchmark JSON file (no 'benchmarks' list)")
    out = {}
    for row in rows:
        try:
            info, median = row["extra_info"], float(row["stats"]["median"])
            entry = {
                "group": row.get("group") or "",
                "variant": info["variant"],
                "median": median,
                "flops": float(info["flops_per_step"]),
                "peak": float(info["peak_gflops"]),
            }
        except (KeyError, TypeError, ValueError):
            continue  # benchmarks without our extra_info (e.g. the matmul peak itself)
        if median > 0 and entry["peak"] > 0:
            out[row["name"]] = entry
    return out


def gate(baseline: dict, current: dict, *, tolerance: float, names=("baseline", "current")):
    """Compare two pytest-benchmark documents. Returns (rows, regressed).

    Each row: (metric, baseline, current, change, verdict). A metric regresses when the current
    run is slower by a factor of at least 1 + tolerance: peak_fraction falls to 1/(1+tol) of
    the baseline or below, or a variant's time relative to fused-lstm grows by 1+tol or more.
    """
    if not tolerance > 0:
        raise ReproError(f"--tolerance must be positive, got {tolerance}")
    base, cur = _benchmarks(baseline, names[0]), _benchmarks(current, names[1])
    common = sorted(set(base) & set(cur))
    if not common:
        raise ReproError(
            f"no common benchmarks between {names[0]} ({len(base)}) and {names[1]} ({len(cur)})"
        )
    limit = round(1.0 + tolerance, 9)
    rows, regressed = [], False

    def add(metric, b, c, slowdown):
        nonlocal regressed
        bad = round(slowdown, 9) >= limit
        regressed |= bad
        rows.append((metric, b, c, c / b - 1.0, "REGRESSION" if bad else "ok"))

    for name in common:
        b, c = base[name], cur[name]
        b_pf = b["flops"] / b["median"] / 1e9 / b["peak"]
        c_pf = c["flops"] / c["median"] / 1e9 / c["peak"]
        add(f"{name} peak_fraction", b_pf, c_pf, b_pf / c_pf)

    def ratios(table):
        refs = {
            e["group"]: e["median"] for e in table.values() if e["variant"] == REFERENCE_VARIANT
        }
        return {
            n: e["median"] / refs[e["group"]]
            for n, e in table.items()
            if e["group"] in refs and e["variant"] != REFERENCE_VARIANT
        }

    b_ratio, c_ratio = ratios(base), ratios(cur)
    for name in sorted(set(b_ratio) & set(c_ratio)):
        add(
            f"{name} time / {REFERENCE_VARIANT}",
            b_ratio[name],
            c_ratio[name],
            c_ratio[name] / b_ratio[name],
        )
    return rows, regressed


def format_gate(rows) -> str:
    width = max(len(r[0]) for r in rows)
    lines = [f"{'metric':<{width}}  {'baseline':>10}  {'current':>10}  {'change':>8}  verdict"]
    for metric, b, c, change, verdict in rows:
        lines.append(f"{metric:<{width}}  {b:>10.4g}  {c:>10.4g}  {change:>+8.1%}  {verdict}")
    return "\n".join(lines)
