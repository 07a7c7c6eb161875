"""FLOP model, matmul peak, cuDNN detection, step timing and the regression gate.

Shared by benchmarks/ (pytest-benchmark) and the `bench` / `gate` commands. Figures that gate
are machine-normalised: `peak_fraction` (achieved GFLOP/s over a dense fp32 matmul peak measured
in the same run) and each variant's time relative to `fused-lstm` in the same group.
"""

from __future__ import annotations

import math
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


def matmul_peak_gflops(*, n: int = 1024, repeats: int = 30) -> float:
    """Dense fp32 matmul GFLOP/s on TensorFlow's default device: the best of `repeats` timed
    (n, n) @ (n, n) products after a warm-up.

    Best, not median: a peak is what the device can do, and the fastest run is the one least
    disturbed by other work. A median peak taken while the machine was busy once came out ~40%
    low and inflated every peak_fraction of that run by 60-110%.
    """
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
    return 2.0 * n**3 / min(seconds) / 1e9


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


def compare_variants(
    variants, config: TrainConfig, *, rounds: int, on_row: Callable[[dict], None] | None = None
) -> dict:
    """The `bench` command's comparison: train and inference steps of each variant, timed for
    `rounds` steps after compilation and one untimed step, with the derived figures."""
    from lstm_repro.records import device_name, environment

    peak = matmul_peak_gflops()
    rows = []
    for variant in variants:
        runner = StepRunner(variant, config)
        for mode in ("train", "infer"):
            compile_seconds = runner.first_call_seconds(mode)
            step = runner.step(mode)
            step()
            seconds = []
            for _ in range(rounds):
                start = time.perf_counter()
                step()
                seconds.append(time.perf_counter() - start)
            row = {
                "variant": variant,
                "mode": mode,
                "compile_seconds": compile_seconds,
                "cudnn": uses_cudnn(runner.model, config),
                **derived_figures(
                    variant=variant,
                    config=config,
                    mode=mode,
                    median_seconds=statistics.median(seconds),
                    peak_gflops=peak,
                ),
            }
            rows.append(row)
            if on_row is not None:
                on_row(row)
    return {
        "device": device_name(),
        "peak_gflops": peak,
        "rounds": rounds,
        "rows": rows,
        "environment": environment(),
    }


def plot_comparison(result: dict, out_dir) -> str:
    """bench.png: median ms per step of each variant and mode. Needs matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lstm_repro.records import save_figure_atomic

    fig, ax = plt.subplots(figsize=(8, 4))
    labels = [f"{r['variant']}\n{r['mode']}" for r in result["rows"]]
    ax.bar(labels, [r["ms_per_step"] for r in result["rows"]], color="tab:blue")
    ax.set_ylabel("ms per step (median)")
    ax.set_title(f"Step time, chapter config (batch 128, T 80) on {result['device']}")
    ax.tick_params(axis="x", labelsize=7)
    fig.tight_layout()
    path = save_figure_atomic(fig, out_dir, "bench.png")
    plt.close(fig)
    return path


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


def _geomean(values) -> float:
    values = list(values)
    return math.exp(sum(math.log(v) for v in values) / len(values))


def gate(baseline: dict, current: dict, *, tolerance: float, names=("baseline", "current")):
    """Compare two pytest-benchmark documents. Returns (rows, regressed).

    Each row: (metric, baseline, current, change, verdict). What gates is per variant, over all
    of its benchmarks the two files share (geometric mean): its slowdown in peak_fraction, and
    its time relative to fused-lstm in the same groups. A variant regresses when that slowdown
    factor is at least 1 + tolerance. Single benchmarks are listed too, marked "slower" past
    the tolerance but not gating: on this shared 2-core VM single benchmarks moved by up to
    25% between back-to-back runs (57% with 10 fixed rounds), whole variants by up to 14%.
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

    def peak_fraction(e):
        return e["flops"] / e["median"] / 1e9 / e["peak"]

    def row(metric, b, c, slowdown, gating):
        nonlocal regressed
        bad = round(slowdown, 9) >= limit
        regressed |= bad and gating
        verdict = ("REGRESSION" if gating else "slower") if bad else "ok"
        rows.append((metric, b, c, c / b - 1.0, verdict))

    for name in common:
        b, c = peak_fraction(base[name]), peak_fraction(cur[name])
        row(f"{name} peak_fraction", b, c, b / c, gating=False)

    by_variant: dict[str, list[str]] = {}
    for name in common:
        by_variant.setdefault(base[name]["variant"], []).append(name)
    for variant, members in sorted(by_variant.items()):
        b = _geomean(peak_fraction(base[n]) for n in members)
        c = _geomean(peak_fraction(cur[n]) for n in members)
        row(f"{variant}: peak_fraction (geomean of {len(members)})", b, c, b / c, gating=True)

    def reference_times(table):
        return {
            e["group"]: e["median"] for e in table.values() if e["variant"] == REFERENCE_VARIANT
        }

    b_ref, c_ref = reference_times(base), reference_times(cur)
    for variant, members in sorted(by_variant.items()):
        if variant == REFERENCE_VARIANT:
            continue
        paired = [n for n in members if base[n]["group"] in b_ref and cur[n]["group"] in c_ref]
        if not paired:
            continue
        b = _geomean(base[n]["median"] / b_ref[base[n]["group"]] for n in paired)
        c = _geomean(cur[n]["median"] / c_ref[cur[n]["group"]] for n in paired)
        metric = f"{variant}: time / {REFERENCE_VARIANT} (geomean of {len(paired)})"
        row(metric, b, c, c / b, gating=True)
    return rows, regressed


def format_gate(rows) -> str:
    width = max(len(r[0]) for r in rows)
    lines = [f"{'metric':<{width}}  {'baseline':>10}  {'current':>10}  {'change':>8}  verdict"]
    for metric, b, c, change, verdict in rows:
        lines.append(f"{metric:<{width}}  {b:>10.4g}  {c:>10.4g}  {change:>+8.1%}  {verdict}")
    return "\n".join(lines)
