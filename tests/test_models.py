"""Model variants: shapes, weight counts, weight transfer and the Keras 3 port's dropout fix."""

from __future__ import annotations

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from lstm_repro.config import VARIANTS, TrainConfig
from lstm_repro.errors import ReproError
from lstm_repro.models import build_model, recurrent_cells

SMALL = TrainConfig(vocab_size=50, max_len=7, embedding_dim=6, units=5, dropout=0.0)


def _tokens(config, batch, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, config.vocab_size, size=(batch, config.max_len)).astype("int32")


@pytest.mark.parametrize("name", VARIANTS)
def test_every_variant_maps_tokens_to_a_probability_per_review(name):
    """One model per variant, called at batch 1, 3 and 130 (building it is most of the cost)."""
    keras.utils.set_random_seed(0)
    model = build_model(name, SMALL)
    for batch in (1, 3, 130):
        out = model(_tokens(SMALL, batch), training=False).numpy()
        assert out.shape == (batch, 1), batch
        assert ((out > 0) & (out < 1)).all(), batch


# Parameter counts at the chapter's sizes, by hand: embedding 10000*100; an LSTM layer has
# 4*units*(inputs+units+1); SimpleRNN units*(inputs+units+1); GRU (reset_after)
# 3*units*(inputs+units+2).
CHAPTER_PARAMS = {
    "unrolled-lstm": 1_000_000 + 4 * 64 * (100 + 64 + 1) + 4 * 64 * (64 + 64 + 1) + 65,
    "fused-lstm": 1_000_000 + 4 * 64 * (100 + 64 + 1) + 4 * 64 * (64 + 64 + 1) + 65,
    "unrolled-rnn": 1_000_000 + 64 * (100 + 64 + 1) + 64 * (64 + 64 + 1) + 65,
    "fused-rnn": 1_000_000 + 64 * (100 + 64 + 1) + 64 * (64 + 64 + 1) + 65,
    "fused-gru": 1_000_000 + 3 * 64 * (100 + 64 + 2) + 3 * 64 * (64 + 64 + 2) + 65,
}


@pytest.mark.parametrize("name", VARIANTS)
def test_parameter_count_at_the_chapters_sizes(name):
    model = build_model(name, TrainConfig())
    assert model.count_params() == CHAPTER_PARAMS[name]
    assert len(recurrent_cells(model)) == 2


def test_parameter_count_formula_matches_keras_for_every_variant():
    """config.parameter_count (used by the memory check) against Keras's own count."""
    from lstm_repro.config import parameter_count, variant

    for name in VARIANTS:
        assert parameter_count(variant(name), TrainConfig()) == CHAPTER_PARAMS[name], name


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("unrolled-lstm", "fused-lstm"),
        ("fused-lstm", "unrolled-lstm"),
        ("unrolled-rnn", "fused-rnn"),
    ],
)
def test_weights_transfer_one_to_one_between_unrolled_and_fused(a, b):
    config = SMALL.replace(dropout=0.2)
    keras.utils.set_random_seed(1)
    source, target = build_model(a, config), build_model(b, config)
    assert [w.shape for w in source.get_weights()] == [w.shape for w in target.get_weights()]
    target.set_weights(source.get_weights())
    x = _tokens(config, 9, seed=3)
    # Same float32 graph up to op order; measured max |diff| 0.0 at these sizes; 1e-6 allows
    # for a different matmul blocking.
    np.testing.assert_allclose(source(x, training=False), target(x, training=False), atol=1e-6)


def test_unknown_model_is_a_user_error():
    with pytest.raises(ReproError, match="unknown model 'nope'"):
        build_model("nope", SMALL)


def test_unrolled_dropout_masks_differ_per_call_and_vanish_in_inference():
    """Training: a fresh mask per call. Inference: no dropout at all, so the output equals a
    dropout-free copy with the same weights. Kills: `training` not reaching the cells (a
    cached training mask applied at inference), or one mask reused for every call."""
    config = SMALL.replace(dropout=0.5)
    keras.utils.set_random_seed(2)
    model = build_model("unrolled-lstm", config)
    plain = build_model("unrolled-lstm", config.replace(dropout=0.0))
    plain.set_weights(model.get_weights())
    x = _tokens(config, 4)
    assert not np.allclose(model(x, training=True), model(x, training=True))
    np.testing.assert_array_equal(model(x, training=False), plain(x, training=False))


def test_unrolled_cell_survives_two_traced_graphs(claim):
    """The port's reset_dropout_mask(): without it the second graph reuses the first's mask
    tensor and raises InaccessibleTensorError."""
    config = SMALL.replace(dropout=0.2)
    model = build_model("unrolled-lstm", config)
    x = tf.constant(_tokens(config, 4))
    first = tf.function(lambda t: model(t, training=True))
    second = tf.function(lambda t: model(t, training=True))
    assert first(x).shape == second(x).shape == (4, 1)
    claim("C12").measured(runs_with_port=1)


# Keras began caching a hand-called cell's dropout mask in 3.8. Measured 2026-12-02 on
# TensorFlow 2.21 with each Keras installed alone: 3.3.3, 3.5.0, 3.6.0 and 3.7.0 run the
# chapter's pattern; 3.8.0, 3.11.3 and 3.15.1 raise ("... is out of scope and cannot be used
# here"). tox -e oldest (Keras 3.3.0) runs it too.
MASK_CACHED_SINCE = (3, 8)


def test_without_the_mask_reset_the_chapters_code_fails_on_keras_3_8_and_later(claim):
    """Negative control for the port: a cell whose mask is not reset breaks across graphs on
    the Keras releases that cache it, and runs on the older ones; C12 records which happened.
    Kills: a port note (reset_dropout_mask) claimed necessary where it is not, or a Keras
    whose caching came back or went away unnoticed."""
    cell = keras.layers.LSTMCell(3, dropout=0.5)
    x = tf.ones((2, 4))
    state = [tf.zeros((2, 3)), tf.zeros((2, 3))]
    cell(x, state, training=False)  # build eagerly, so each tf.function traces once

    @tf.function
    def step_a(inp):
        return cell(inp, state, training=True)[0]

    @tf.function
    def step_b(inp):
        return cell(inp, state, training=True)[0]

    step_a(x)
    try:
        step_b(x)
        raised = None
    except Exception as e:  # TypeError on TF 2.21, InaccessibleTensorError on older TF
        raised = e
    claim("C12").measured(fails_without_mask_reset=raised is not None)
    caches = tuple(int(p) for p in keras.__version__.split(".")[:2]) >= MASK_CACHED_SINCE
    if caches:
        assert raised is not None, f"Keras {keras.__version__} no longer caches the mask"
        assert re.search(
            r"(?i)inaccessible|out of scope|different graph|not an element", str(raised)
        ), raised
    else:
        assert raised is None, f"Keras {keras.__version__} caches the mask: {raised}"


def test_an_lstm_layer_carries_two_states_and_a_simple_rnn_one(claim):
    """The chapter's only change from chapter 7: SimpleRNNCell -> LSTMCell, and each layer's
    state becomes [h, C]. Kills: a model builder that feeds the LSTM one state."""
    lstm = layers_state_count(keras.layers.LSTMCell(3))
    rnn = layers_state_count(keras.layers.SimpleRNNCell(3))
    claim("C11").measured(state_tensors_lstm=lstm, state_tensors_rnn=rnn)
    assert (lstm, rnn) == (2, 1)
    for name in ("unrolled-lstm", "unrolled-rnn"):
        cells = recurrent_cells(build_model(name, SMALL))
        assert {layers_state_count(c) for c in cells} == {2 if "lstm" in name else 1}


def layers_state_count(cell) -> int:
    return len(cell.get_initial_state(batch_size=2))


@pytest.mark.parametrize("name", ["unrolled-lstm", "fused-lstm"])
def test_forget_bias_sets_the_f_block_of_every_lstm_cell(name):
    config = SMALL.replace(forget_bias=3.0)
    for cell in recurrent_cells(build_model(name, config)):
        bias = cell.get_weights()[2]
        np.testing.assert_array_equal(bias[config.units : 2 * config.units], 3.0)
        np.testing.assert_array_equal(bias[: config.units], 0.0)  # i, c, o untouched (zeros)
        np.testing.assert_array_equal(bias[2 * config.units :], 0.0)


def test_forget_bias_is_refused_for_non_lstm_variants():
    with pytest.raises(ReproError, match="LSTM variants only"):
        build_model("fused-gru", SMALL.replace(forget_bias=2.0))
