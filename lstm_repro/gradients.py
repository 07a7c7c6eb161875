"""Gradient-flow measurements behind the chapter's claims (vanishing, exploding, clipping).

Every number comes from tf.GradientTape on real Keras cells:
- `grad_norm_by_distance`: ||dL/dh_{T-k}|| for k = 0..T-1 with L = <u, h_T>, u a fixed unit
  vector, averaged over the batch. For a linear RNN with W_hh = rho*Q (Q orthogonal) this is
  exactly rho^k: the chapter's w_hh^k.
- `carousel_check`: dC_T/dC_{T-k} along the memory path equals prod f_t from the cell's own gates.
- `clipping_demo`: SGD on an exploding RNN, with and without the chapter's tf.clip_by_norm.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from lstm_repro import reference as ref
from lstm_repro.records import save_figure

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FlowSetup:
    """Sizes of the measured network; defaults are the chapter's (embedding 100, 64 units, T 80)."""

    units: int = 64  # hidden units
    input_dim: int = 100  # input width (the chapter's embedding size)
    time: int = 80  # sequence length
    batch: int = 32  # sequences averaged over
    input_scale: float = 1.0  # standard deviation of the random inputs
    seed: int = 0  # seeds weights, inputs and the projection u


def orthogonal(n: int, seed: int) -> np.ndarray:
    """A random orthogonal (n, n) matrix (QR of a Gaussian, signs fixed)."""
    q, r = np.linalg.qr(np.random.default_rng([seed, 7]).normal(size=(n, n)))
    return q * np.sign(np.diag(r))


def _inputs(setup: FlowSetup) -> tf.Tensor:
    rng = np.random.default_rng([setup.seed, 1])
    xs = rng.normal(scale=setup.input_scale, size=(setup.batch, setup.time, setup.input_dim))
    return tf.constant(xs, tf.float32)  # (batch, time, inputs)


def _projection(setup: FlowSetup) -> tf.Tensor:
    u = np.random.default_rng([setup.seed, 2]).normal(size=setup.units)
    return tf.constant(u / np.linalg.norm(u), tf.float32)  # (units,), unit norm


def make_cell(
    kind: str,
    setup: FlowSetup,
    *,
    recurrent_scale: float | None,
    activation: str = "tanh",
    forget_bias: float | None = None,
) -> keras.layers.Layer:
    """A built SimpleRNNCell ('simple_rnn') or LSTMCell ('lstm') with seeded weights.

    recurrent_scale rho sets W_hh = rho*Q (each LSTM gate block its own Q); None keeps Keras's
    initialiser. forget_bias overrides the LSTM's forget-gate bias (Keras's default is 1.0).
    """
    keras.utils.set_random_seed(setup.seed)
    if kind == "simple_rnn":
        cell = keras.layers.SimpleRNNCell(setup.units, activation=activation)
    elif kind == "lstm":
        cell = keras.layers.LSTMCell(setup.units)
    else:
        raise ValueError(f"unknown cell kind {kind!r}")
    cell.build((None, setup.input_dim))
    kernel, recurrent, bias = (w.copy() for w in cell.get_weights())
    if recurrent_scale is not None:
        blocks = recurrent.shape[1] // setup.units
        recurrent = np.concatenate(
            [recurrent_scale * orthogonal(setup.units, setup.seed + b) for b in range(blocks)],
            axis=1,
        )
    if forget_bias is not None:
        bias[setup.units : 2 * setup.units] = forget_bias  # Keras gate order i, f, c, o
    cell.set_weights([kernel, recurrent.astype(np.float32), bias])
    return cell


def _unroll(cell, xs: tf.Tensor, tape: tf.GradientTape, *, cut_h: bool = False):
    """Step `cell` over xs, watching every state; returns per-step [h_t, (C_t)] lists."""
    batch = xs.shape[0]
    states = cell.get_initial_state(batch_size=batch)
    trace = []
    for t in range(xs.shape[1]):
        if cut_h:  # gates see h_{t-1} as a constant: only the C path carries gradient
            states = [tf.stop_gradient(states[0]), *states[1:]]
        _, states = cell(xs[:, t], states)  # xs[:, t]: (batch, inputs)
        for s in states:
            tape.watch(s)
        trace.append(list(states))
    return trace


def grad_norm_by_distance(cell, setup: FlowSetup) -> np.ndarray:
    """||dL/dh_{T-k}||, k = 0..T-1, L = <u, h_T>, averaged over the batch (float64)."""
    xs, u = _inputs(setup), _projection(setup)
    with tf.GradientTape() as tape:
        trace = _unroll(cell, xs, tape)
        loss = tf.reduce_sum(trace[-1][0] * u)
    hs = [states[0] for states in trace]
    grads = tape.gradient(loss, hs)
    per_step = np.array([tf.norm(g, axis=1).numpy().mean() for g in grads], dtype=np.float64)
    return per_step[::-1]  # index k = distance from the last step


def log_slope(norms: np.ndarray, *, k_max: int | None = None, floor: float = 1e-30) -> float:
    """Least-squares slope of log(norm) against k over k = 0..k_max, stopping at underflow
    or overflow. For rho^k this is log(rho)."""
    k_max = len(norms) - 1 if k_max is None else k_max
    ks = [k for k in range(k_max + 1) if floor < norms[k] < 1e30 and math.isfinite(norms[k])]
    if len(ks) < 2:
        return float("nan")
    return float(np.polyfit(ks, np.log([norms[k] for k in ks]), 1)[0])


def carousel_check(setup: FlowSetup, *, forget_bias: float | None = None) -> dict:
    """dC_T/dC_{T-k} through the memory path alone, against prod f_t from the cell's gates.

    With h_{t-1} held constant inside the gates, C_t = f_t*C_{t-1} + i_t*C̃_t has Jacobian
    diag(f_t), so d(sum C_T)/dC_{T-k} = f_T * ... * f_{T-k+1} elementwise.
    """
    cell = make_cell("lstm", setup, recurrent_scale=None, forget_bias=forget_bias)
    xs = _inputs(setup)
    with tf.GradientTape() as tape:
        trace = _unroll(cell, xs, tape, cut_h=True)
        loss = tf.reduce_sum(trace[-1][1])
    Cs = [states[1] for states in trace]
    grads = [g.numpy().astype(np.float64) for g in tape.gradient(loss, Cs)]
    p = ref.lstm_params_from_keras(*cell.get_weights())
    h_prev = np.zeros((setup.batch, setup.units))
    forget = []
    for t in range(setup.time):
        hx = np.concatenate([h_prev, xs[:, t].numpy()], axis=-1)  # [h_{t-1}, x_t]
        forget.append(ref.sigmoid(hx @ p.W_f.T + p.b_f))  # f_t = σ(W_f·[h_{t-1}, x_t] + b_f)
        h_prev = trace[t][0].numpy().astype(np.float64)
    worst, product = 0.0, np.ones((setup.batch, setup.units))
    carried = []
    for k in range(setup.time):
        t = setup.time - 1 - k  # grads[t] is dL/dC_t: the product of f over steps t+1..T
        rel = np.abs(grads[t] - product) / np.maximum(np.abs(product), 1e-30)
        worst = max(worst, float(rel.max())) if product.min() > 1e-30 else worst
        carried.append(float(np.linalg.norm(product, axis=1).mean()))
        product = product * forget[t]
    return {
        "max_relative_error": worst,
        "carousel_norm_by_distance": carried,
        "mean_forget_gate": float(np.mean(forget)),
    }


def clipping_demo(
    *,
    clipnorm: float | None,
    rho: float = 1.5,
    time: int = 40,
    units: int = 32,
    steps: int = 30,
    learning_rate: float = 0.01,
    seed: int = 0,
) -> dict:
    """SGD on a linear RNN with W_hh = rho*Q regressing the mean of its inputs' first feature.

    clipnorm=None trains as is; otherwise each gradient tensor passes through
    tf.clip_by_norm(g, clipnorm), the chapter's fix. Returns per-step loss and gradient norm
    (before clipping); non-finite values are kept as NaN/inf in the lists.
    """
    setup = FlowSetup(units=units, input_dim=8, time=time, batch=64, seed=seed)
    cell = make_cell("simple_rnn", setup, recurrent_scale=rho, activation="linear")
    head = keras.layers.Dense(1)
    head.build((None, units))
    xs = _inputs(setup)
    target = tf.reduce_mean(xs[:, :, :1], axis=1)  # (batch, 1)
    variables = [*cell.trainable_weights, *head.trainable_weights]
    losses, norms = [], []
    for _ in range(steps):
        with tf.GradientTape() as tape:
            h = cell.get_initial_state(batch_size=setup.batch)
            for t in range(time):
                _, h = cell(xs[:, t], h)
            loss = tf.reduce_mean((head(h[0]) - target) ** 2)
        grads = tape.gradient(loss, variables)
        losses.append(float(loss))
        norms.append(float(tf.linalg.global_norm(grads)))
        if clipnorm is not None:
            grads = [tf.clip_by_norm(g, clipnorm) for g in grads]
        for v, g in zip(variables, grads, strict=True):
            v.assign_sub(learning_rate * g)
    finite = [math.isfinite(x) for x in losses]
    first_bad = finite.index(False) if False in finite else None
    return {
        "clipnorm": clipnorm,
        "rho": rho,
        "time": time,
        "learning_rate": learning_rate,
        "loss": losses,
        "grad_norm": norms,
        "first_non_finite_step": first_bad,
        "all_finite": first_bad is None,
        "final_loss": losses[-1],
        "max_grad_norm": max((n for n in norms if math.isfinite(n)), default=float("nan")),
    }


RHOS = (0.5, 0.9, 1.0, 1.1, 1.5)
FORGET_BIASES = (1.0, 3.0, 5.0)
# The chapter's cells see embeddings, which Keras initialises uniform(-0.05, 0.05): std 0.029.
EMBEDDING_SCALE = 0.03


def study(setup: FlowSetup = FlowSetup(), *, clipnorm: float = 1.0) -> dict:
    """Everything the `gradients` command reports, as one JSON-ready dict."""
    series, slopes = [], {}

    def add(model, scale, activation, norms, **extra):
        extra = {"input_scale": setup.input_scale, **extra}
        label = f"{model}/{activation}/rho={scale}" + "".join(f"/{k}={v}" for k, v in extra.items())
        slope = log_slope(norms)
        slopes[label] = slope
        series.append(
            {
                "model": model,
                "recurrent_scale": scale,
                "activation": activation,
                "grad_norm_by_distance": [float(x) for x in norms],
                "log_slope": slope,
                **extra,
            }
        )
        log.info("%s: slope %.4f, norm at k=50 %.3g", label, slope, norms[min(50, len(norms) - 1)])

    for activation in ("linear", "tanh"):
        for rho in RHOS:
            cell = make_cell("simple_rnn", setup, recurrent_scale=rho, activation=activation)
            add("simple_rnn", rho, activation, grad_norm_by_distance(cell, setup))
    cell = make_cell("simple_rnn", setup, recurrent_scale=None)
    add("simple_rnn", None, "tanh", grad_norm_by_distance(cell, setup))
    for fb in FORGET_BIASES:
        cell = make_cell("lstm", setup, recurrent_scale=None, forget_bias=fb)
        add("lstm", None, "tanh", grad_norm_by_distance(cell, setup), forget_bias=fb)
    small = dataclasses.replace(setup, input_scale=EMBEDDING_SCALE)
    cell = make_cell("simple_rnn", small, recurrent_scale=None)
    series_rnn = grad_norm_by_distance(cell, small)
    cell = make_cell("lstm", small, recurrent_scale=None, forget_bias=1.0)
    series_lstm = grad_norm_by_distance(cell, small)
    add("simple_rnn", None, "tanh", series_rnn, input_scale=EMBEDDING_SCALE)
    add("lstm", None, "tanh", series_lstm, input_scale=EMBEDDING_SCALE, forget_bias=1.0)
    carousel = {str(fb): carousel_check(setup, forget_bias=fb) for fb in FORGET_BIASES}
    clipping = {
        "unclipped": clipping_demo(clipnorm=None, seed=setup.seed),
        "clipped": clipping_demo(clipnorm=clipnorm, seed=setup.seed),
    }
    return {
        "setup": setup.__dict__,
        "series": series,
        "slopes": slopes,
        "carousel": carousel,
        "clipping": clipping,
    }


def plot_study(result: dict, out_dir) -> list[str]:
    """Write gradient_flow.png and clipping.png; returns their paths. Needs matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    fig, ax = plt.subplots(figsize=(9, 5.5))
    styles = {"linear": ":", "tanh": "-"}
    for s in result["series"]:
        norms = np.asarray(s["grad_norm_by_distance"])
        ks = np.arange(len(norms))
        keep = norms > 0
        small = s["input_scale"] != 1.0
        suffix = f", inputs σ={s['input_scale']:g}" if small else ""
        if s["model"] == "lstm":
            label = f"LSTM, forget bias {s['forget_bias']:g}{suffix}"
            style, width = ("--" if small else "-"), 2.5
        else:
            rho = "Keras init" if s["recurrent_scale"] is None else f"ρ={s['recurrent_scale']:g}"
            label = f"RNN {s['activation']}, {rho}{suffix}"
            style, width = ("--" if small else styles[s["activation"]]), 1.2 + small
        ax.semilogy(ks[keep], norms[keep], style, lw=width, label=label)
    ax.set_xlabel("distance k (steps back from the last step T)")
    ax.set_ylabel("mean ||∂L/∂h_{T-k}||  (L = <u, h_T>)")
    ax.set_title(
        "Gradient reaching step T-k: RNN with W_hh = ρ·Q against LSTM (64 units, T = 80)",
        fontsize=10,
    )
    ax.set_ylim(1e-20, 1e16)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7, ncol=2, loc="lower left")
    fig.tight_layout()
    paths.append(str(save_figure(fig, Path(out_dir) / "gradient_flow.png")))
    plt.close(fig)

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for name, run in result["clipping"].items():
        label = name if run["clipnorm"] is None else f"{name} (clip_by_norm {run['clipnorm']:g})"
        loss = np.asarray(run["loss"], dtype=float)
        norm = np.asarray(run["grad_norm"], dtype=float)
        steps = np.arange(len(loss))
        # The unclipped run may have one finite point: draw it large, above the clipped curve.
        style = {"marker": "x", "ms": 10, "zorder": 3} if run["clipnorm"] is None else {"ms": 3}
        for ax, values in ((ax1, loss), (ax2, norm)):
            keep = np.isfinite(values)
            ax.semilogy(
                steps[keep],
                values[keep],
                "o-" if "marker" not in style else "-",
                label=label,
                **style,
            )
        if run["first_non_finite_step"] is not None:
            ax1.axvline(
                run["first_non_finite_step"],
                color="r",
                ls="--",
                lw=1,
                label=f"{name}: loss non-finite from step {run['first_non_finite_step']}",
            )
    ax1.set(xlabel="SGD step", ylabel="training loss (MSE)", title="Loss, linear RNN ρ = 1.5")
    ax2.set(
        xlabel="SGD step", ylabel="global gradient norm (before clipping)", title="Gradient norm"
    )
    for ax in (ax1, ax2):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    paths.append(str(save_figure(fig, Path(out_dir) / "clipping.png")))
    plt.close(fig)
    return paths
