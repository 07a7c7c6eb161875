"""The chapter's IMDB LSTM program, ported to Keras 3 as little as it runs: the yardstick that
`lstm-repro reproduce`'s wall time is compared with (benchmarks/chapter/compare.py).

Usage: python chapter_script.py ARRAYS.npz RESULT.json

What the chapter's program does, kept: seeds 22 set with tf.random.set_seed and np.random.seed
only (no op determinism); both splits through tf.data with shuffle(1000) and
batch(128, drop_remainder=True), no prefetch; a keras.Model whose zero states are built once
for batch 128 and whose two LSTMCell(64, dropout=0.2) are stepped over the 80 words with
tf.unstack, the training flag passed to the first cell only; Dense(1) and a sigmoid; Adam(1e-3),
binary cross-entropy, 'accuracy'; fit for 4 epochs with validation every epoch, then one more
evaluate; the wall time from building the model to the end of evaluate.

What had to change (README, porting notes):
- keras.datasets.imdb.load_data cannot download here, and pad_sequences moved to keras.utils:
  the padded arrays come from ARRAYS.npz, which compare.py writes from the arrays
  `lstm-repro reproduce` trains on (same reviews, tokenizer, vocabulary and padding), read
  with allow_pickle=False;
- Embedding's input_length is gone in Keras 3;
- each cell's cached dropout mask is reset on every call (InaccessibleTensorError otherwise);
- the training flag is passed to the cell by keyword: Keras 3 refuses a positional bool
  ("Only input tensors may be passed as positional arguments").
"""

from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf
from keras import layers

TOTAL_WORDS, BATCH, EMBEDDING, UNITS, EPOCHS = 10000, 128, 100, 64, 4


class Phases(keras.callbacks.Callback):
    """Not the chapter's: each epoch's training and validation seconds (and a final
    evaluate's), for the comparison's breakdown; removals.py times its runs with it too.
    Epoch-level hooks only, so Keras's per-batch dispatch is untouched."""

    def __init__(self):
        super().__init__()
        self.marks, self.rows = {}, []

    def on_epoch_begin(self, epoch, logs=None):
        self.marks["epoch"] = time.perf_counter()

    def on_test_begin(self, logs=None):
        self.marks["test"] = time.perf_counter()

    def on_test_end(self, logs=None):
        now = time.perf_counter()
        if "epoch" in self.marks:  # inside fit: one epoch's validation
            train = self.marks.pop("epoch")
            self.rows.append(
                {"train_s": self.marks["test"] - train, "validation_s": now - self.marks["test"]}
            )
        else:  # the final evaluate
            self.rows.append({"evaluate_s": now - self.marks["test"]})


class ChapterRnn(keras.Model):
    """The chapter's MyRnn with Keras 3's two changes."""

    def __init__(self, units: int):
        super().__init__()
        self.state0 = [tf.zeros([BATCH, units]), tf.zeros([BATCH, units])]  # (batch, units) x 2
        self.state1 = [tf.zeros([BATCH, units]), tf.zeros([BATCH, units])]
        self.embedding = layers.Embedding(TOTAL_WORDS, EMBEDDING)
        self.cell0 = layers.LSTMCell(units, dropout=0.2)
        self.cell1 = layers.LSTMCell(units, dropout=0.2)
        self.out = layers.Dense(1)

    def call(self, inputs, training=None):
        x = self.embedding(inputs)  # (batch, 80, embed)
        self.cell0.reset_dropout_mask()
        self.cell1.reset_dropout_mask()
        state0, state1 = self.state0, self.state1
        for word in tf.unstack(x, axis=1):  # 80 x (batch, embed)
            out0, state0 = self.cell0(word, state0, training=training)
            out1, state1 = self.cell1(out0, state1)
        return tf.sigmoid(self.out(out1))  # (batch, 1)


def main(arrays: str, result: str) -> None:
    tf.random.set_seed(22)
    np.random.seed(22)
    with np.load(arrays, allow_pickle=False) as f:
        x_train, y_train, x_test, y_test = (
            f[k] for k in ("x_train", "y_train", "x_test", "y_test")
        )
    db_train = tf.data.Dataset.from_tensor_slices((x_train, y_train))
    db_train = db_train.shuffle(1000).batch(BATCH, drop_remainder=True)
    db_test = tf.data.Dataset.from_tensor_slices((x_test, y_test))
    db_test = db_test.shuffle(1000).batch(BATCH, drop_remainder=True)
    start = time.time()
    model = ChapterRnn(UNITS)
    model.compile(
        optimizer=keras.optimizers.Adam(0.001),
        loss=keras.losses.BinaryCrossentropy(),
        metrics=["accuracy"],
    )
    phases = Phases()
    history = model.fit(
        db_train, epochs=EPOCHS, validation_data=db_test, verbose=0, callbacks=[phases]
    ).history
    loss, accuracy = model.evaluate(db_test, verbose=0, callbacks=[phases])
    seconds = time.time() - start
    print("all time:", seconds)
    with open(result, "w") as f:
        json.dump(
            {
                "seconds": seconds,
                "test_accuracy": accuracy,
                "test_loss": loss,
                "val_accuracy": history["val_accuracy"],
                "phases": phases.rows,
            },
            f,
        )


if __name__ == "__main__":
    main(*sys.argv[1:3])
