"""Unrolled (the chapter's hand-stepped cells) and fused (keras.layers.LSTM) models given the same
weights, dropout off: same outputs and same gradients, for drawn sizes and weights.

Tolerance: max |diff| over 60 drawn examples was 0.0 for outputs and gradients alike (on CPU
the fused layer runs the same cell ops inside a while loop: bit-identical). TOL = 1e-6 allows
for another matmul blocking on other CPUs or on a GPU.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from lstm_repro.config import TrainConfig
from lstm_repro.models import build_model

TOL = 1e-6


@st.composite
def model_case(draw):
    config = TrainConfig(
        vocab_size=draw(st.integers(4, 40)),
        max_len=draw(st.integers(1, 10)),
        embedding_dim=draw(st.integers(1, 6)),
        units=draw(st.integers(1, 6)),
        num_layers=draw(st.integers(1, 2)),
        dropout=0.0,
    )
    batch = draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2**16))
    return config, batch, seed


def _pair(config, seed, unrolled="unrolled-lstm", fused="fused-lstm"):
    keras.utils.set_random_seed(seed)
    a = build_model(unrolled, config)
    b = build_model(fused, config)
    rng = np.random.default_rng(seed)
    # Non-symmetric random weights, larger than the initialisers give, so the gates matter.
    weights = [rng.normal(scale=0.8, size=w.shape).astype(np.float32) for w in a.get_weights()]
    a.set_weights(weights)
    b.set_weights(weights)
    return a, b, rng


def _outputs_and_grads(model, x):
    with tf.GradientTape() as tape:
        y = model(x, training=False)
        loss = tf.reduce_sum(y * tf.range(1, y.shape[0] + 1, dtype=y.dtype)[:, None])
    grads = tape.gradient(loss, model.trainable_weights)
    return y.numpy(), [tf.convert_to_tensor(g).numpy() for g in grads]


@settings(max_examples=10)  # each example builds and traces two models; `-m slow` has 40
@given(model_case())
def test_unrolled_and_fused_lstm_agree_on_outputs_and_gradients(case):
    config, batch, seed = case
    a, b, rng = _pair(config, seed)
    x = tf.constant(rng.integers(0, config.vocab_size, size=(batch, config.max_len)), tf.int32)
    ya, ga = _outputs_and_grads(a, x)
    yb, gb = _outputs_and_grads(b, x)
    np.testing.assert_allclose(ya, yb, atol=TOL)
    assert len(ga) == len(gb)
    for g1, g2 in zip(ga, gb, strict=True):
        np.testing.assert_allclose(g1, g2, atol=TOL)


@pytest.mark.slow
@settings(max_examples=40)
@given(model_case())
def test_unrolled_and_fused_lstm_agree_on_more_drawn_models(case):
    test_unrolled_and_fused_lstm_agree_on_outputs_and_gradients.hypothesis.inner_test(case)
