"""train.py: the chapter's optimiser as TensorFlow 2.0 ran it."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from lstm_repro import backend
from lstm_repro.config import TrainConfig
from lstm_repro.models import build_model
from lstm_repro.train import ChapterAdam, compile_model


def _adam_by_hand(w, grads, *, lr, b1=0.9, b2=0.999, eps=1e-7):
    """Adam (Kingma & Ba, Keras's epsilon placement) on dense gradients, float64."""
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        alpha = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        w = w - alpha * m / (np.sqrt(v) + eps)
    return w


@pytest.mark.skipif(backend.name() != "tensorflow", reason="only TensorFlow makes IndexedSlices")
def test_the_embeddings_gradient_reaches_adam_summed_per_word_as_in_tensorflow_2():
    """A word seen twice in a batch: its second moment is (g1 + g2)^2, not g1^2 + g2^2.
    Kills: the sparse rows handed to Keras 3's Adam as they come (it squares each occurrence:
    row 2 below would move by 0.105 instead of 0.074), i.e. ChapterAdam's conversion dropped.
    Tolerance 1e-5: float32 steps against a float64 reference differed by up to 1.2e-6 here
    (two steps of size ~0.1); the bug moves row 2 by 0.031 more."""
    import tensorflow as tf

    w0 = (np.arange(12, dtype="float64").reshape(6, 2) / 10).astype("float32")
    steps = [([0, 1], np.ones((2, 2))), ([2, 2], np.ones((2, 2)))]  # row 2 twice in step 2
    variable = keras.Variable(w0)
    adam = ChapterAdam(learning_rate=0.1)
    adam.build([variable])
    dense = []
    for rows, values in steps:
        g = tf.IndexedSlices(tf.constant(values, tf.float32), tf.constant(rows), (6, 2))
        adam.apply_gradients([(g, variable)])
        dense.append(np.asarray(tf.convert_to_tensor(g), dtype="float64"))
    expected = _adam_by_hand(w0.astype("float64"), dense, lr=0.1)
    np.testing.assert_allclose(variable.numpy(), expected, atol=1e-5)


def test_every_model_is_compiled_with_the_chapters_adam():
    """Kills: compile_model going back to keras.optimizers.Adam (the test above then tests a
    class no run uses)."""
    config = TrainConfig(max_len=3, units=4, embedding_dim=5, vocab_size=50, batch_size=2)
    model = build_model("fused-lstm", config)
    compile_model(model, config)
    assert type(model.optimizer) is ChapterAdam
    # (np.asarray: Keras 3.3's learning_rate is a variable that float() refuses)
    assert float(np.asarray(model.optimizer.learning_rate)) == pytest.approx(config.learning_rate)
