"""The record every data source produces (Dataset) and Keras's IMDB rules that make one.

Below both `data.py` (the sources, padding and batching) and `synthetic.py` (the generated
corpora), which build on it; nothing here imports either of them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from lstm_repro.errors import ReproError
from lstm_repro.imdb import IMDB_SHA256, INDEX_FROM

START_CHAR = 1  # Keras: marks the start of each review
OOV_CHAR = 2  # Keras: replaces ids >= num_words
KERAS_SHUFFLE_SEED = 113  # Keras load_data's default `seed`


@dataclass(frozen=True)
class Dataset:
    """Padded (n, max_len) int32 reviews and int32 {0,1} labels, plus where they came from."""

    name: str  # "imdb", "imdb-early", "imdb-late", "synthetic" or "memory-task"
    source: str  # file path, or a description of the generator call
    sha256: str  # of the file (imdb) or of the padded arrays (generated)
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    tokenizer: str | None = None  # text -> ids (aclimdb.tokenizer_name()); None for imdb.npz

    @property
    def train_size(self) -> int:
        return len(self.y_train)

    @property
    def test_size(self) -> int:
        return len(self.y_test)

    def identity(self) -> dict:
        identity = {
            "name": self.name,
            "source": self.source,
            "sha256": self.sha256,
            "official": self.name == "imdb" and self.sha256 == IMDB_SHA256,
            "train_size": self.train_size,
            "test_size": self.test_size,
        }
        if self.tokenizer is not None:
            identity["tokenizer"] = self.tokenizer
        return identity

    def head(self, *, train: int | None = None, test: int | None = None) -> Dataset:
        """The first `train` / `test` samples of each split (None keeps the split whole).

        Asking for more samples than a split has is an error, not a silent clamp: a record
        that says 30,000 training reviews must have trained on 30,000.
        """
        for flag, n, have in (
            ("--train-samples", train, self.train_size),
            ("--test-samples", test, self.test_size),
        ):
            if n is not None and not 0 < n <= have:
                raise ReproError(
                    f"{flag} {n}: the {self.name} split has {have:,} reviews; ask for 1..{have}"
                )
        return Dataset(
            name=self.name,
            source=self.source,
            sha256=self.sha256,
            x_train=self.x_train[:train],
            y_train=self.y_train[:train],
            x_test=self.x_test[:test],
            y_test=self.y_test[:test],
            tokenizer=self.tokenizer,
        )


def arrays_sha256(arrays) -> str:
    """Identity of a generated dataset: SHA-256 over its padded arrays' bytes, in order."""
    digest = hashlib.sha256()
    for a in arrays:
        digest.update(np.ascontiguousarray(a).tobytes())
    return digest.hexdigest()


# --------------------------------------------------------------------------- Keras's rules


def pad_pre(sequences: list, *, max_len: int) -> np.ndarray:
    """keras.utils.pad_sequences(maxlen=max_len) defaults: pre-pad with 0, keep the last max_len."""
    out = np.zeros((len(sequences), max_len), dtype=np.int32)  # (n, max_len)
    for i, seq in enumerate(sequences):
        tail = np.asarray(seq[-max_len:], dtype=np.int32)
        if tail.size:
            out[i, max_len - tail.size :] = tail
    return out


def keras_imdb_rules(
    x_train: list,
    y_train: np.ndarray,
    x_test: list,
    y_test: np.ndarray,
    *,
    num_words: int,
    max_len: int,
    shuffle_seed: int | None = KERAS_SHUFFLE_SEED,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Apply keras.datasets.imdb.load_data(num_words=...) then pad_sequences(maxlen=max_len).

    Same order of operations as Keras: shuffle each split with RandomState(seed), prepend
    START_CHAR, add INDEX_FROM, replace ids >= num_words by OOV_CHAR, then pad/truncate "pre".
    Raw ids arrive as int32 (imdb.py clamps larger ones), so the int64 shift cannot overflow.
    """
    rng = np.random.RandomState(shuffle_seed) if shuffle_seed is not None else None
    out = []
    for xs, ys in ((x_train, y_train), (x_test, y_test)):
        order = np.arange(len(xs))
        if rng is not None:
            rng.shuffle(order)
        rows = []
        for i in order:
            ids = np.concatenate(([START_CHAR], np.asarray(xs[i], dtype=np.int64) + INDEX_FROM))
            rows.append(np.where(ids < num_words, ids, OOV_CHAR))
        out += [pad_pre(rows, max_len=max_len), np.asarray(ys, dtype=np.int32)[order]]
    return tuple(out)
