"""Gradient-flow measurements behind the chapter's claims (vanishing, exploding, clipping).

Backend-neutral (keras.ops; gradients from lstm_repro.backend): the same study runs on Keras's
TensorFlow, JAX and PyTorch backends.
- `grad_norm_by_distance`: ||dL/dh_{T-k}|| for k = 0..T-1 with L = <u, h_T>, u a fixed unit
  vector, averaged over the batch. Taken as the gradient with respect to a zero perturbation
  added to h_t after each step, which is exactly dL/dh_t. For a linear RNN with W_hh = rho*Q
  (Q orthogonal) this is rho^k: the chapter's w_hh^k.
- `carousel_check`: dC_T/dC_{T-k} along the memory path equals prod f_t from the cell's gates.
- `clipping_demo`: SGD on an exploding linear RNN, with and without clipping each gradient
  tensor: tf.clip_by_norm itself on the TensorFlow backend (the chapter's function), the same
  formula in keras.ops elsewhere.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass

import keras
import numpy as np
from keras import ops

from lstm_repro import backend
from lstm_repro import reference as ref

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


def _inputs(setup: FlowSetup) -> np.ndarray:
    rng = np.random.default_rng([setup.seed, 1])
    xs = rng.normal(scale=setup.input_scale, size=(setup.batch, setup.time, setup.input_dim))
    return xs.astype(np.float32)  # (batch, time, inputs)


def _projection(setup: FlowSetup) -> np.ndarray:
    u = np.random.default_rng([setup.seed, 2]).normal(size=setup.units)
    return (u / np.linalg.norm(u)).astype(np.float32)  # (units,), unit norm


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


def _unroll(cell, xs, perturbations, *, state: int = 0, cut_h: bool = False):
    """Step `cell` over xs (batch, time, inputs), adding perturbations[t] to state `state`
    (0: h, 1: C) after step t; returns the final states. cut_h: the gates see h_{t-1} as a
    constant, so only the C path carries gradient."""
    states = cell.get_initial_state(batch_size=xs.shape[0])
    for t, eps in enumerate(perturbations):
        if cut_h:
            states = [ops.stop_gradient(states[0]), *states[1:]]
        _, states = cell(xs[:, t], states)  # xs[:, t]: (batch, inputs)
        states = list(states)
        states[state] = states[state] + eps
    return states


def grad_norm_by_distance(cell, setup: FlowSetup) -> np.ndarray:
    """||dL/dh_{T-k}||, k = 0..T-1, L = <u, h_T>, averaged over the batch (float64)."""
    xs, u = ops.convert_to_tensor(_inputs(setup)), ops.convert_to_tensor(_projection(setup))

    def loss(*eps):
        return ops.sum(_unroll(cell, xs, eps)[0] * u)

    zeros = [np.zeros((setup.batch, setup.units), np.float32)] * setup.time
    _, grads = backend.value_and_grad(loss, zeros)
    per_step = np.array([np.linalg.norm(g, axis=1).mean() for g in grads])  # norm over units
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
    xs_np = _inputs(setup)
    xs = ops.convert_to_tensor(xs_np)

    def loss(*eps):
        return ops.sum(_unroll(cell, xs, eps, state=1, cut_h=True)[1])

    zeros = [np.zeros((setup.batch, setup.units), np.float32)] * setup.time
    _, grads = backend.value_and_grad(loss, zeros)  # grads[t] = dL/dC_t
    p = ref.lstm_params_from_keras(*cell.get_weights())
    h_prev = np.zeros((setup.batch, setup.units))
    states = cell.get_initial_state(batch_size=setup.batch)
    forget = []
    for t in range(setup.time):
        hx = np.concatenate([h_prev, xs_np[:, t]], axis=-1)  # [h_{t-1}, x_t]
        forget.append(ref.sigmoid(hx @ p.W_f.T + p.b_f))  # f_t = σ(W_f·[h_{t-1}, x_t] + b_f)
        _, states = cell(xs[:, t], states)
        h_prev = ops.convert_to_numpy(states[0]).astype(np.float64)
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


def clip_by_norm(x, clip_norm: float):
    """The chapter's fix: tf.clip_by_norm on TensorFlow; elsewhere its formula,
    x * n / max(||x||, n), in keras.ops."""
    if backend.name() == "tensorflow":
        import tensorflow as tf

        return tf.clip_by_norm(x, clip_norm)
    x = ops.convert_to_tensor(x)
    return x * clip_norm / ops.maximum(ops.sqrt(ops.sum(x * x)), clip_norm)


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

    clipnorm=None trains as is; otherwise each gradient tensor passes through clip_by_norm(g,
    clipnorm), the chapter's fix. Returns per-step loss and gradient norm (before clipping);
    non-finite values are kept as NaN/inf in the lists.
    """
    setup = FlowSetup(units=units, input_dim=8, time=time, batch=64, seed=seed)
    cell = make_cell("simple_rnn", setup, recurrent_scale=rho, activation="linear")
    keras.utils.set_random_seed(seed)
    head_w = keras.initializers.GlorotUniform(seed=seed)((units, 1))
    params = [
        *(w.astype(np.float32) for w in cell.get_weights()),
        ops.convert_to_numpy(head_w).astype(np.float32),
        np.zeros(1, np.float32),
    ]
    xs_np = _inputs(setup)
    xs = ops.convert_to_tensor(xs_np)
    target = ops.convert_to_tensor(xs_np[:, :, :1].mean(axis=1))  # (batch, 1)

    def loss(w_xh, w_hh, b, hw, hb):  # the SimpleRNNCell with linear activation, by hand
        h = ops.zeros((setup.batch, units))
        for t in range(time):
            h = ops.matmul(xs[:, t], w_xh) + ops.matmul(h, w_hh) + b  # (batch, units)
        return ops.mean((ops.matmul(h, hw) + hb - target) ** 2)

    step = backend.gradient_function(loss, compile=True)  # one trace of the T-step unroll
    losses, norms, clipped_norms = [], [], []
    for _ in range(steps):
        value, grads = step(params)
        losses.append(value)
        with np.errstate(over="ignore", invalid="ignore"):  # the unclipped run diverges
            norms.append(math.sqrt(sum(float(np.sum(g * g)) for g in grads)))
            if clipnorm is not None:
                grads = [
                    ops.convert_to_numpy(clip_by_norm(g.astype(np.float32), clipnorm))
                    for g in grads
                ]
            clipped_norms.append(max(float(np.linalg.norm(g)) for g in grads))
            params = [
                (p - learning_rate * np.asarray(g)).astype(np.float32)
                for p, g in zip(params, grads, strict=True)
            ]
    finite = [math.isfinite(x) for x in losses]
    first_bad = finite.index(False) if False in finite else None
    return {
        "clipnorm": clipnorm,
        "rho": rho,
        "time": time,
        "learning_rate": learning_rate,
        "clip_function": "tf.clip_by_norm" if backend.name() == "tensorflow" else "keras.ops",
        "loss": losses,
        "grad_norm": norms,
        "largest_tensor_norm_applied": clipped_norms,  # after clipping, when clipping
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
        "backend": backend.name(),
        "setup": setup.__dict__,
        "series": series,
        "slopes": slopes,
        "carousel": carousel,
        "clipping": clipping,
    }
