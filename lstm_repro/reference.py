"""The chapter's equations in plain NumPy (float64), written from the text, in its symbols.

Column-vector convention, as in the chapter: every gate matrix W_* has shape
(units, units + inputs) and multiplies the concatenation [h_{t-1}, x_t]. Keras stores the same
numbers transposed and side by side (kernel for x, recurrent_kernel for h, gate order i, f, c, o);
`lstm_params_from_keras` and `rnn_params_from_keras` convert.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def sigmoid(z: np.ndarray) -> np.ndarray:
    """σ(z) = 1 / (1 + e^{-z}), in the overflow-free form 0.5 * (1 + tanh(z / 2))."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


@dataclass(frozen=True)
class LSTMParams:
    W_f: np.ndarray  # (units, units + inputs), forget gate
    W_i: np.ndarray  # (units, units + inputs), input gate
    W_C: np.ndarray  # (units, units + inputs), candidate memory
    W_o: np.ndarray  # (units, units + inputs), output gate
    b_f: np.ndarray  # (units,)
    b_i: np.ndarray  # (units,)
    b_C: np.ndarray  # (units,)
    b_o: np.ndarray  # (units,)


@dataclass(frozen=True)
class LSTMStep:
    """One step's gates and states, each (batch, units)."""

    f: np.ndarray
    i: np.ndarray
    C_tilde: np.ndarray
    C: np.ndarray
    o: np.ndarray
    h: np.ndarray


def lstm_step(p: LSTMParams, x_t: np.ndarray, h_prev: np.ndarray, C_prev: np.ndarray) -> LSTMStep:
    """One LSTM step on a batch: x_t (batch, inputs), h_prev and C_prev (batch, units)."""
    hx = np.concatenate([h_prev, x_t], axis=-1)  # [h_{t-1}, x_t]: (batch, units + inputs)
    f = sigmoid(hx @ p.W_f.T + p.b_f)  # f_t = σ(W_f·[h_{t-1}, x_t] + b_f)
    i = sigmoid(hx @ p.W_i.T + p.b_i)  # i_t = σ(W_i·[h_{t-1}, x_t] + b_i)
    C_tilde = np.tanh(hx @ p.W_C.T + p.b_C)  # C̃_t = tanh(W_C·[h_{t-1}, x_t] + b_C)
    C = f * C_prev + i * C_tilde  # C_t = f_t*C_{t-1} + i_t*C̃_t
    o = sigmoid(hx @ p.W_o.T + p.b_o)  # o_t = σ(W_o·[h_{t-1}, x_t] + b_o)
    h = o * np.tanh(C)  # h_t = o_t*tanh(C_t)
    return LSTMStep(f=f, i=i, C_tilde=C_tilde, C=C, o=o, h=h)


def run_lstm(
    p: LSTMParams, xs: np.ndarray, h0: np.ndarray | None = None, C0: np.ndarray | None = None
) -> list[LSTMStep]:
    """Step over xs (batch, time, inputs) from h0, C0 (zeros if None); one LSTMStep per t."""
    batch, units = xs.shape[0], p.b_f.shape[0]
    h = np.zeros((batch, units)) if h0 is None else np.asarray(h0, dtype=np.float64)
    C = np.zeros((batch, units)) if C0 is None else np.asarray(C0, dtype=np.float64)
    steps = []
    for t in range(xs.shape[1]):
        step = lstm_step(p, np.asarray(xs[:, t], dtype=np.float64), h, C)  # x_t: (batch, inputs)
        h, C = step.h, step.C
        steps.append(step)
    return steps


def lstm_params_from_keras(
    kernel: np.ndarray, recurrent_kernel: np.ndarray, bias: np.ndarray
) -> LSTMParams:
    """Keras LSTMCell weights -> the chapter's W_f, W_i, W_C, W_o and biases.

    kernel (inputs, 4u), recurrent_kernel (u, 4u), bias (4u,), columns in Keras's gate
    order i, f, c, o. Each W_* = [recurrent block, input block]^T to act on [h_{t-1}, x_t].
    """
    kernel, recurrent_kernel, bias = (
        np.asarray(a, dtype=np.float64) for a in (kernel, recurrent_kernel, bias)
    )
    units = recurrent_kernel.shape[0]

    def gate(k: int) -> tuple[np.ndarray, np.ndarray]:
        cols = slice(k * units, (k + 1) * units)
        W = np.concatenate([recurrent_kernel[:, cols], kernel[:, cols]], axis=0).T  # (u, u+in)
        return W, bias[cols]

    (W_i, b_i), (W_f, b_f), (W_C, b_C), (W_o, b_o) = (gate(k) for k in range(4))
    return LSTMParams(W_f=W_f, W_i=W_i, W_C=W_C, W_o=W_o, b_f=b_f, b_i=b_i, b_C=b_C, b_o=b_o)


@dataclass(frozen=True)
class RNNParams:
    W_xh: np.ndarray  # (units, inputs)
    W_hh: np.ndarray  # (units, units): the w_hh whose k-th power the chapter's gradient carries
    b: np.ndarray  # (units,)


def rnn_step(p: RNNParams, x_t: np.ndarray, h_prev: np.ndarray, activation=np.tanh) -> np.ndarray:
    """h_t = tanh(W_xh·x_t + W_hh·h_{t-1} + b), batched: x_t (batch, in), h_prev (batch, u)."""
    return activation(x_t @ p.W_xh.T + h_prev @ p.W_hh.T + p.b)


def run_rnn(
    p: RNNParams, xs: np.ndarray, h0: np.ndarray | None = None, activation=np.tanh
) -> list[np.ndarray]:
    """Step over xs (batch, time, inputs); returns h_t (batch, units) for each t."""
    batch, units = xs.shape[0], p.b.shape[0]
    h = np.zeros((batch, units)) if h0 is None else np.asarray(h0, dtype=np.float64)
    hs = []
    for t in range(xs.shape[1]):
        h = rnn_step(p, np.asarray(xs[:, t], dtype=np.float64), h, activation)
        hs.append(h)
    return hs


def rnn_params_from_keras(
    kernel: np.ndarray, recurrent_kernel: np.ndarray, bias: np.ndarray
) -> RNNParams:
    """Keras SimpleRNNCell weights (row-vector convention) -> W_xh, W_hh, b."""
    return RNNParams(
        W_xh=np.asarray(kernel, dtype=np.float64).T,
        W_hh=np.asarray(recurrent_kernel, dtype=np.float64).T,
        b=np.asarray(bias, dtype=np.float64),
    )
