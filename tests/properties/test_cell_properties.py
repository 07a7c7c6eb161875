"""Hypothesis properties of the LSTM and SimpleRNN against the chapter's equations.

Keras computes in float32 and reference.py in float64. ATOL comes from the max
|keras - reference| over drawn examples of these strategies (T <= 12, |weights| <= 1.5,
|inputs| <= 3): 2.1e-6 for the LSTM cell (300 examples), 3.1e-6 for the fused layer (100),
3.5e-6 for SimpleRNN (300). ATOL = 2e-5 leaves a margin of over 5x. Swapping the f and i
gates, dropping the forget gate, or h = o*C instead of o*tanh(C) in reference.py fails 3-5 of
these tests (checked by hand).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lstm_repro import reference as ref

ATOL = 2e-5

finite = st.floats(min_value=-1.5, max_value=1.5, allow_nan=False, width=32)
inputs_f = st.floats(min_value=-3.0, max_value=3.0, allow_nan=False, width=32)


@st.composite
def lstm_case(draw, max_time=12):
    batch = draw(st.integers(1, 4))
    n_in = draw(st.integers(1, 5))
    units = draw(st.integers(1, 5))
    time = draw(st.integers(1, max_time))
    kernel = draw(hnp.arrays(np.float32, (n_in, 4 * units), elements=finite))
    recurrent = draw(hnp.arrays(np.float32, (units, 4 * units), elements=finite))
    bias = draw(hnp.arrays(np.float32, (4 * units,), elements=finite))
    xs = draw(hnp.arrays(np.float32, (batch, time, n_in), elements=inputs_f))
    h0 = draw(hnp.arrays(np.float32, (batch, units), elements=finite))
    C0 = draw(hnp.arrays(np.float32, (batch, units), elements=inputs_f))
    return kernel, recurrent, bias, xs, h0, C0


@st.composite
def rnn_case(draw, max_time=12):
    batch = draw(st.integers(1, 4))
    n_in = draw(st.integers(1, 5))
    units = draw(st.integers(1, 5))
    time = draw(st.integers(1, max_time))
    kernel = draw(hnp.arrays(np.float32, (n_in, units), elements=finite))
    recurrent = draw(hnp.arrays(np.float32, (units, units), elements=finite))
    bias = draw(hnp.arrays(np.float32, (units,), elements=finite))
    xs = draw(hnp.arrays(np.float32, (batch, time, n_in), elements=inputs_f))
    h0 = draw(hnp.arrays(np.float32, (batch, units), elements=finite))
    return kernel, recurrent, bias, xs, h0


def keras_lstm_cell(kernel, recurrent, bias):
    cell = keras.layers.LSTMCell(recurrent.shape[0])
    cell.build((None, kernel.shape[0]))
    cell.set_weights([kernel, recurrent, bias])
    return cell


def step_keras_cell(cell, xs, states):
    """Step a Keras cell by hand, as the chapter does; returns the state list after each t."""
    out = []
    for t in range(xs.shape[1]):
        _, states = cell(xs[:, t], states)  # xs[:, t]: (batch, inputs)
        out.append([s.numpy() for s in states])
    return out


# --------------------------------------------------------------------------- contract


# A shape contract: 15 drawn cases cover batch, units and time from 1 up (each steps the cell
# eagerly, ~0.1 s; the value tests below draw 40 and 20 more and compare every step).
@settings(max_examples=15)
@given(lstm_case())
def test_cell_states_are_batch_by_units_after_every_step(case):
    kernel, recurrent, bias, xs, h0, C0 = case
    cell = keras_lstm_cell(kernel, recurrent, bias)
    for h, C in step_keras_cell(cell, xs, [h0, C0]):
        assert h.shape == C.shape == h0.shape
    for step in ref.run_lstm(ref.lstm_params_from_keras(kernel, recurrent, bias), xs, h0, C0):
        assert step.h.shape == step.C.shape == h0.shape


@settings(max_examples=15)
@given(lstm_case(max_time=6))
def test_layer_returns_batch_time_units_and_final_states(case):
    _, recurrent, _, xs, h0, C0 = case
    layer = keras.layers.LSTM(recurrent.shape[0], return_sequences=True, return_state=True)
    seq, h, C = layer(xs, initial_state=[h0, C0])
    batch, time, _ = xs.shape
    assert tuple(seq.shape) == (batch, time, recurrent.shape[0])
    assert tuple(h.shape) == tuple(C.shape) == (batch, recurrent.shape[0])


# --------------------------------------------------------------------------- ranges and identities


@settings(max_examples=60)
@given(case=lstm_case())
def test_gates_lie_in_the_unit_interval_and_h_is_bounded_by_tanh_C(case, claim):
    """Kills: a gate computed without its sigmoid (or with tanh), and h = o*C or h without o.
    (|tanh(C)| <= 1 and |C~| <= 1 hold for any input and are not asserted.)"""
    kernel, recurrent, bias, xs, h0, C0 = case
    outside = 0
    for s in ref.run_lstm(ref.lstm_params_from_keras(kernel, recurrent, bias), xs, h0, C0):
        for gate in (s.f, s.i, s.o):
            outside += int(((gate < 0) | (gate > 1)).sum())
        assert (np.abs(s.h) <= np.abs(np.tanh(s.C)) + 1e-12).all()
    claim("C5").measured(max_gate_outside_unit_interval=outside)
    assert outside == 0


@settings(max_examples=40)
@given(lstm_case())
def test_keras_cell_memory_obeys_C_equals_f_C_plus_i_C_tilde(case):
    """C_t from the Keras cell equals f_t*C_{t-1} + i_t*C̃_t built from the same cell's weights."""
    kernel, recurrent, bias, xs, h0, C0 = case
    p = ref.lstm_params_from_keras(kernel, recurrent, bias)
    cell = keras_lstm_cell(kernel, recurrent, bias)
    h_prev, C_prev = h0.astype(np.float64), C0.astype(np.float64)
    for t, (h, C) in enumerate(step_keras_cell(cell, xs, [h0, C0])):
        gates = ref.lstm_step(p, xs[:, t].astype(np.float64), h_prev, C_prev)
        np.testing.assert_allclose(C, gates.f * C_prev + gates.i * gates.C_tilde, atol=ATOL)
        h_prev, C_prev = h.astype(np.float64), C.astype(np.float64)


@settings(max_examples=15)  # each steps the cell eagerly 20-60 times (~0.15 s an example)
@given(lstm_case(max_time=12), st.integers(20, 60))
def test_memory_carousel_carries_C_unchanged_with_forget_open_and_input_shut(case, time):
    kernel, recurrent, bias, xs, h0, C0 = case
    units = recurrent.shape[0]
    bias = bias.copy()
    bias[:units] = -60.0  # input gate i_t = σ(-60+...) ~ 1e-26: nothing written
    bias[units : 2 * units] = 60.0  # forget gate f_t = σ(60+...) == 1.0 in float32
    kernel, recurrent = kernel * 0.1, recurrent * 0.1  # keep pre-activations near the bias
    cell = keras_lstm_cell(kernel, recurrent, bias)
    long_xs = np.resize(xs, (xs.shape[0], time, xs.shape[2]))
    _, C_T = step_keras_cell(cell, long_xs, [h0, C0])[-1]
    np.testing.assert_allclose(C_T, C0, rtol=1e-6, atol=1e-7)


# --------------------------------------------------------------------------- equivalence


@settings(max_examples=40)
@given(case=lstm_case())
def test_keras_lstm_cell_matches_the_chapters_equations(case, claim):
    kernel, recurrent, bias, xs, h0, C0 = case
    cell = keras_lstm_cell(kernel, recurrent, bias)
    ours = ref.run_lstm(ref.lstm_params_from_keras(kernel, recurrent, bias), xs, h0, C0)
    worst = 0.0
    for (h, C), s in zip(step_keras_cell(cell, xs, [h0, C0]), ours, strict=True):
        worst = max(worst, float(np.abs(h - s.h).max()), float(np.abs(C - s.C).max()))
    claim("C5").measured(max_abs_error=worst)
    assert worst <= ATOL


@settings(max_examples=20)
@given(case=lstm_case())
def test_fused_lstm_layer_matches_the_chapters_equations(case, claim):
    kernel, recurrent, bias, xs, h0, C0 = case
    layer = keras.layers.LSTM(recurrent.shape[0], return_sequences=True, return_state=True)
    layer.build(xs.shape)
    layer.set_weights([kernel, recurrent, bias])
    seq, h, C = (a.numpy() for a in layer(xs, initial_state=[h0, C0]))
    ours = ref.run_lstm(ref.lstm_params_from_keras(kernel, recurrent, bias), xs, h0, C0)
    expected = np.stack([s.h for s in ours], axis=1)
    claim("C5").measured(max_abs_error=float(np.abs(seq - expected).max()))
    np.testing.assert_allclose(seq, expected, atol=ATOL)
    np.testing.assert_allclose(C, ours[-1].C, atol=ATOL)
    np.testing.assert_allclose(h, ours[-1].h, atol=ATOL)


@settings(max_examples=40)
@given(rnn_case())
def test_simple_rnn_cell_and_layer_match_the_chapters_equations(case):
    kernel, recurrent, bias, xs, h0 = case
    p = ref.rnn_params_from_keras(kernel, recurrent, bias)
    ours = np.stack(ref.run_rnn(p, xs, h0), axis=1)  # (batch, time, units)
    cell = keras.layers.SimpleRNNCell(recurrent.shape[0])
    cell.build((None, kernel.shape[0]))
    cell.set_weights([kernel, recurrent, bias])
    by_hand = np.stack([s[0] for s in step_keras_cell(cell, xs, [h0])], axis=1)
    np.testing.assert_allclose(by_hand, ours, atol=ATOL)
    layer = keras.layers.SimpleRNN(recurrent.shape[0], return_sequences=True)
    layer.build(xs.shape)
    layer.set_weights([kernel, recurrent, bias])
    np.testing.assert_allclose(layer(xs, initial_state=[h0]).numpy(), ours, atol=ATOL)


# --------------------------------------------------------------------------- golden and gate order


def test_gate_order_is_keras_i_f_c_o():
    """Keras's own unit_forget_bias puts 1.0 in the forget block: b_f must come out all ones."""
    cell = keras.layers.LSTMCell(3, unit_forget_bias=True)
    cell.build((None, 2))
    p = ref.lstm_params_from_keras(*cell.get_weights())
    np.testing.assert_array_equal(p.b_f, np.ones(3))
    for b in (p.b_i, p.b_C, p.b_o):
        np.testing.assert_array_equal(b, np.zeros(3))
    marked = np.arange(12, dtype=np.float32)
    p = ref.lstm_params_from_keras(np.zeros((2, 12)), np.zeros((3, 12)), marked)
    np.testing.assert_array_equal(np.concatenate([p.b_i, p.b_f, p.b_C, p.b_o]), marked)


def test_golden_single_step_with_arange_weights():
    """Hand-computable case: non-symmetric arange weights, one unit, one input, h0 = 0.

    With u = 1: kernel = [[.1, .2, .3, .4]] (i, f, c, o), recurrent = [[.5, .6, .7, .8]],
    bias = [0, 1, 0, 0], x = 1, h0 = 0, C0 = 0.5 gives
    i = σ(.1), f = σ(1.2), C̃ = tanh(.3), o = σ(.4), C = f*.5 + i*C̃, h = o*tanh(C).
    """
    kernel = np.array([[0.1, 0.2, 0.3, 0.4]], dtype=np.float32)
    recurrent = np.array([[0.5, 0.6, 0.7, 0.8]], dtype=np.float32)
    bias = np.array([0.0, 1.0, 0.0, 0.0], dtype=np.float32)
    s = ref.run_lstm(
        ref.lstm_params_from_keras(kernel, recurrent, bias),
        np.ones((1, 1, 1)),
        np.zeros((1, 1)),
        np.full((1, 1), 0.5),
    )[0]
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    C = sig(1.2) * 0.5 + sig(0.1) * np.tanh(0.3)
    np.testing.assert_allclose(s.C, [[C]], rtol=1e-7)  # float32 weights: ~1e-8 relative
    np.testing.assert_allclose(s.h, [[sig(0.4) * np.tanh(C)]], rtol=1e-7)
    cell = keras_lstm_cell(kernel, recurrent, bias)
    h, state = cell(tf.ones((1, 1)), [tf.zeros((1, 1)), tf.fill((1, 1), 0.5)])
    np.testing.assert_allclose(state[1].numpy(), [[C]], rtol=1e-6)  # float32 arithmetic
    np.testing.assert_allclose(h.numpy(), s.h, rtol=1e-6)


@pytest.mark.parametrize("name", ["lstm", "rnn"])
def test_reference_runner_is_the_step_applied_in_order(name, rng):
    xs = rng.normal(size=(2, 5, 3))
    if name == "lstm":
        p = ref.lstm_params_from_keras(
            rng.normal(size=(3, 16)), rng.normal(size=(4, 16)), rng.normal(size=16)
        )
        h = C = np.zeros((2, 4))
        for t, s in enumerate(ref.run_lstm(p, xs)):
            step = ref.lstm_step(p, xs[:, t], h, C)
            np.testing.assert_array_equal(step.h, s.h)
            h, C = step.h, step.C
    else:
        p = ref.rnn_params_from_keras(
            rng.normal(size=(3, 4)), rng.normal(size=(4, 4)), rng.normal(size=4)
        )
        h = np.zeros((2, 4))
        for t, h_t in enumerate(ref.run_rnn(p, xs)):
            h = ref.rnn_step(p, xs[:, t], h)
            np.testing.assert_array_equal(h, h_t)
