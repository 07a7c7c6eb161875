"""data.py: Keras's preprocessing rules by hand and the batching pipelines."""

from __future__ import annotations

import numpy as np

from lstm_repro.data import keras_imdb_rules, make_pipelines
from lstm_repro.synthetic import make_synthetic


def test_keras_rules_by_hand():
    x, y = [[1, 2, 3], [7]], np.array([1, 0])
    x_tr, y_tr, _, _ = keras_imdb_rules(x, y, x, y, num_words=8, max_len=3, shuffle_seed=None)
    # review 0: [1, 1+3, 2+3, 3+3] = [1, 4, 5, 6] -> truncated pre to the last 3
    # review 1: [1, 7+3=10 -> OOV 2] -> pre-padded
    np.testing.assert_array_equal(x_tr, [[4, 5, 6], [0, 1, 2]])
    np.testing.assert_array_equal(y_tr, [1, 0])


def test_keras_shuffle_seed_113_orders_reviews_and_labels_together():
    """Keras shuffles each split with RandomState(113); labels must follow their reviews."""
    x = [[i] for i in range(10)]
    y = np.arange(10) % 2
    x_tr, y_tr, _, _ = keras_imdb_rules(x, y, x[:1], y[:1], num_words=100, max_len=2)
    order = np.arange(10)
    np.random.RandomState(113).shuffle(order)
    np.testing.assert_array_equal(x_tr[:, 1], order + 3)
    np.testing.assert_array_equal(y_tr, order % 2)


def test_pipelines_shuffle_by_seed_and_keep_every_test_sample():
    ds = make_synthetic(n_train=300, n_test=70, seed=2, num_words=10000, max_len=16)

    def first_epoch(seed):
        train, _ = make_pipelines(ds, batch_size=32, seed=seed, shuffle_buffer=1000)
        return np.concatenate([x.numpy() for x, _ in train])

    assert len(first_epoch(1)) == 9 * 32  # drop_remainder on train
    np.testing.assert_array_equal(first_epoch(1), first_epoch(1))
    assert not np.array_equal(first_epoch(1), first_epoch(2))
    _, test = make_pipelines(ds, batch_size=32, seed=1, shuffle_buffer=1000)
    np.testing.assert_array_equal(np.concatenate([y.numpy() for _, y in test]), ds.y_test)
