"""Datasets: Keras's IMDB preprocessing rules, the choice of source, padding and batching.

Every source goes through the same preprocessing, which follows `keras.datasets.imdb.load_data`
exactly: ids are shifted by `index_from=3`, each review starts with `start_char=1`, ids at or
above `num_words` become `oov_char=2`, and reviews are pre-padded / pre-truncated to max_len
(the chapter's `pad_sequences(maxlen=80)` defaults). Files are read by `imdb.py`; the synthetic
corpus comes from `synthetic.py`.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

import numpy as np

from lstm_repro.errors import ReproError
from lstm_repro.imdb import (
    IMDB_SHA256,
    INDEX_FROM,
    file_sha256,
    locate_imdb,
    named_imdb_path,
    read_imdb_file,
)

log = logging.getLogger(__name__)

START_CHAR = 1  # Keras: marks the start of each review
OOV_CHAR = 2  # Keras: replaces ids >= num_words
KERAS_SHUFFLE_SEED = 113  # Keras load_data's default `seed`
DATA_CHOICES = (
    "auto",
    "imdb",
    "synthetic",
    "memory-early",
    "memory-late",
    "imdb-early",
    "imdb-late",
)
IMDB_KINDS = ("auto", "imdb", "imdb-early", "imdb-late")  # the kinds that read --imdb-path
# The real-review memory probe (imdb-early / imdb-late): each review's last REVIEW_WINDOW tokens
# (its closing words, kept by the chapter's "pre" truncation), placed first or last among
# max_len steps, the rest padding. At max_len 80 the early evidence ends 70 steps before the
# read-out, as in the synthetic memory task (make_memory_task's window of 10).
REVIEW_WINDOW = 10


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


# --------------------------------------------------------------------------- sources


def load_imdb(path, *, num_words: int, max_len: int) -> Dataset:
    """An imdb.npz file, or the Large Movie Review Dataset's archive or extracted directory
    (recognised by content: aclimdb.kind_of), converted once by the versioned tokenizer and
    cached; then Keras's rules either way. The dataset's sha256 is the file's (the archive's),
    so `verify` asks for the same file the record was made from."""
    from pathlib import Path

    from lstm_repro import aclimdb

    path = Path(path)
    if aclimdb.kind_of(path) == "npz":
        raw, sha, tokenizer = read_imdb_file(path), file_sha256(path), None
    else:
        sha = aclimdb.source_sha256(path)
        raw = aclimdb.load_converted(path, sha)
        tokenizer = aclimdb.tokenizer_name()
    arrays = keras_imdb_rules(
        raw.x_train, raw.y_train, raw.x_test, raw.y_test, num_words=num_words, max_len=max_len
    )
    return Dataset("imdb", str(path), sha, *arrays, tokenizer=tokenizer)


def load_dataset(
    kind: str,
    *,
    num_words: int,
    max_len: int,
    seed: int,
    imdb_path: str | None = None,
    train_samples: int | None = None,
    test_samples: int | None = None,
    synthetic_size: int = 25000,
) -> Dataset:
    """`imdb`, `synthetic`, `memory-early` / `memory-late` (the 70-step memory task),
    `imdb-early` / `imdb-late` (the same probe on real reviews: place_window), or `auto`.

    `auto` trains on IMDB when it can be had and on the synthetic corpus only when the user
    named no file: a file named by --imdb-path or $LSTM_REPRO_IMDB is used or is an error.
    """
    from lstm_repro.synthetic import make_memory_task, make_synthetic  # they build on this module

    if kind not in DATA_CHOICES:
        raise ReproError(f"unknown data source {kind!r}; choose one of {', '.join(DATA_CHOICES)}")
    for flag, n in (("--train-samples", train_samples), ("--test-samples", test_samples)):
        if n is not None and n <= 0:
            raise ReproError(f"{flag} must be a positive integer, got {n}")
    if kind not in IMDB_KINDS and imdb_path is not None:
        raise ReproError(f"--imdb-path was given with --data {kind}; drop one of them")
    if kind.startswith("memory-"):
        return make_memory_task(
            n_train=train_samples or synthetic_size,
            n_test=test_samples or synthetic_size,
            seed=seed,
            num_words=num_words,
            max_len=max_len,
            position=kind.removeprefix("memory-"),
        )
    if kind == "synthetic":
        return make_synthetic(
            n_train=train_samples or synthetic_size,
            n_test=test_samples or synthetic_size,
            seed=seed,
            num_words=num_words,
            max_len=max_len,
        )
    if kind in ("imdb-early", "imdb-late"):
        if max_len <= REVIEW_WINDOW:
            raise ReproError(f"--data {kind} needs max_len above {REVIEW_WINDOW}, got {max_len}")
        dataset = load_imdb(locate_imdb(imdb_path), num_words=num_words, max_len=REVIEW_WINDOW)
        return place_window(dataset, max_len=max_len, position=kind.removeprefix("imdb-")).head(
            train=train_samples, test=test_samples
        )
    if kind == "auto" and named_imdb_path(imdb_path) is None:
        try:
            path = locate_imdb(None)
        except ReproError:
            log.warning("IMDB not available here: using the SYNTHETIC corpus (--data synthetic)")
            return load_dataset(
                "synthetic",
                num_words=num_words,
                max_len=max_len,
                seed=seed,
                train_samples=train_samples,
                test_samples=test_samples,
                synthetic_size=synthetic_size,
            )
    else:
        path = locate_imdb(imdb_path)
    dataset = load_imdb(path, num_words=num_words, max_len=max_len)
    return dataset.head(train=train_samples, test=test_samples)


def place_window(dataset: Dataset, *, max_len: int, position: str) -> Dataset:
    """The memory probe on real reviews: `dataset`'s padded rows (the window) put at the first
    ("early") or last ("late", the chapter's layout) steps of max_len, the other steps padding
    (0). Same tokens, same labels, same order either way: only their distance to the last step,
    where the classifier reads the state, changes."""
    if position not in ("early", "late"):
        raise ReproError(f"position must be 'early' or 'late', got {position!r}")
    window = dataset.x_train.shape[1]
    span = slice(0, window) if position == "early" else slice(max_len - window, max_len)
    placed = []
    for x in (dataset.x_train, dataset.x_test):
        out = np.zeros((len(x), max_len), dtype=np.int32)  # (n, max_len)
        out[:, span] = x
        placed.append(out)
    return Dataset(
        name=f"imdb-{position}",
        source=dataset.source,
        sha256=dataset.sha256,
        x_train=placed[0],
        y_train=dataset.y_train,
        x_test=placed[1],
        y_test=dataset.y_test,
        tokenizer=dataset.tokenizer,
    )


# --------------------------------------------------------------------------- batching


def make_pipelines(dataset: Dataset, *, batch_size: int, seed: int, shuffle_buffer: int):
    """Batched pipelines: the train split reshuffled each epoch from `seed`, dropping its last
    partial batch (as the chapter does); the test split in order and whole.

    On TensorFlow: tf.data with the chapter's shuffle(buffer) (the chapter's engine). On JAX and
    PyTorch, where TensorFlow may not be installed: a keras.utils.PyDataset that permutes the
    whole split each epoch (a full shuffle, so the sample order differs from tf.data's).
    """
    import keras

    if keras.backend.backend() != "tensorflow":
        return (
            batches(dataset.x_train, dataset.y_train, batch_size, shuffle_seed=seed),
            batches(dataset.x_test, dataset.y_test, batch_size),
        )
    import tensorflow as tf

    train = (
        tf.data.Dataset.from_tensor_slices((dataset.x_train, dataset.y_train))
        .shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size, drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
    )
    test = (
        tf.data.Dataset.from_tensor_slices((dataset.x_test, dataset.y_test))
        .batch(batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
    return train, test


def load_for(spec) -> Dataset:
    """The dataset a RunSpec names (config.RunSpec: data kind, file, sample counts, seed)."""
    return load_dataset(
        spec.data,
        num_words=spec.config.vocab_size,
        max_len=spec.config.max_len,
        seed=spec.config.seed,
        imdb_path=spec.imdb_path,
        train_samples=spec.train_samples,
        test_samples=spec.test_samples,
    )


def batches(x: np.ndarray, y: np.ndarray, batch_size: int, *, shuffle_seed: int | None = None):
    """A keras.utils.PyDataset of (x, y) batches for any backend. With a shuffle seed the
    samples are permuted afresh each epoch (from the seed and the epoch number) and the last
    partial batch is dropped; without one, batches follow the data's order and keep every
    sample. Defined here, inside a function, so that importing this module needs no Keras."""
    import keras

    class Batches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.epoch = 0
            self.order = self._order()

        def _order(self) -> np.ndarray:
            if shuffle_seed is None:
                return np.arange(len(y))
            return np.random.default_rng([shuffle_seed, self.epoch]).permutation(len(y))

        def __len__(self) -> int:
            full, rest = divmod(len(y), batch_size)
            return full + (1 if rest and shuffle_seed is None else 0)

        def __getitem__(self, i: int):
            idx = self.order[i * batch_size : (i + 1) * batch_size]
            return x[idx], y[idx]

        def on_epoch_end(self) -> None:
            self.epoch += 1
            self.order = self._order()

    return Batches()
