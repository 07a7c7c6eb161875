"""Datasets: Keras's IMDB preprocessing rules, the choice of source, padding and batching.

Every source goes through the same preprocessing, which follows `keras.datasets.imdb.load_data`
exactly: ids are shifted by `index_from=3`, each review starts with `start_char=1`, ids at or
above `num_words` become `oov_char=2`, and reviews are pre-padded / pre-truncated to max_len
(the chapter's `pad_sequences(maxlen=80)` defaults). Files are read by `imdb.py`; the synthetic
corpus comes from `synthetic.py`.
"""

from __future__ import annotations

import logging

import numpy as np

from lstm_repro.corpus import (  # noqa: F401 (re-exported: where callers have found them)
    DATA_CHOICES,
    IMDB_KINDS,
    KERAS_SHUFFLE_SEED,
    OOV_CHAR,
    REVIEW_WINDOW,
    SOURCE,
    START_CHAR,
    Dataset,
    arrays_sha256,
    keras_imdb_rules,
    pad_pre,
)
from lstm_repro.errors import ReproError
from lstm_repro.imdb import (
    find_unnamed_imdb,
    named_imdb_path,
    read_imdb_file,
)
from lstm_repro.synthetic import make_memory_task, make_synthetic

log = logging.getLogger(__name__)


def load_imdb(path, *, num_words: int, max_len: int) -> Dataset:
    """An imdb.npz file, or the Large Movie Review Dataset's archive or extracted directory
    (recognised by content: aclimdb.kind_of), converted once by the versioned tokenizer and
    cached; then Keras's rules either way. The dataset's sha256 is the file's (the archive's),
    so `verify` asks for the same file the record was made from."""
    from pathlib import Path

    from lstm_repro import aclimdb

    path = Path(path)
    if aclimdb.kind_of(path) == "npz":
        raw = read_imdb_file(path)  # one read: parsed and hashed
        sha, tokenizer = raw.sha256, None
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
    """One of corpus.SOURCES: `imdb`, `synthetic`, `memory-early` / `memory-late` (the
    70-step memory task), `imdb-early` / `imdb-late` (the same probe on real reviews:
    place_window), or `auto`.

    `auto` trains on IMDB when it can be had and on the synthetic corpus only when the user
    named no file: a file named by --imdb-path or $LSTM_REPRO_IMDB is used or is an error.
    """
    if kind not in SOURCE:
        raise ReproError(f"unknown data source {kind!r}; choose one of {', '.join(DATA_CHOICES)}")
    row = SOURCE[kind]
    for flag, n in (("--train-samples", train_samples), ("--test-samples", test_samples)):
        if n is not None and n <= 0:
            raise ReproError(f"{flag} must be a positive integer, got {n}")
    if not row.reads_imdb and imdb_path is not None:
        raise ReproError(f"--imdb-path was given with --data {kind}; drop one of them")
    if row.dataset == "memory-task":
        return make_memory_task(
            n_train=train_samples or synthetic_size,
            n_test=test_samples or synthetic_size,
            seed=seed,
            num_words=num_words,
            max_len=max_len,
            position=row.position,
        )
    if row.dataset == "synthetic":
        return make_synthetic(
            n_train=train_samples or synthetic_size,
            n_test=test_samples or synthetic_size,
            seed=seed,
            num_words=num_words,
            max_len=max_len,
        )
    if row.position is not None and max_len <= REVIEW_WINDOW:  # the probe on real reviews
        raise ReproError(f"--data {kind} needs max_len above {REVIEW_WINDOW}, got {max_len}")
    path = resolve_imdb(kind, imdb_path)  # the one place the path is resolved
    if path is None:
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
    if row.position is not None:
        dataset = load_imdb(path, num_words=num_words, max_len=REVIEW_WINDOW)
        return place_window(dataset, max_len=max_len, position=row.position).head(
            train=train_samples, test=test_samples
        )
    dataset = load_imdb(path, num_words=num_words, max_len=max_len)
    return dataset.head(train=train_samples, test=test_samples)


def resolve_imdb(kind: str, imdb_path: str | None):
    """The file a real-review kind reads (a Path), found once: the file named (--imdb-path,
    then $LSTM_REPRO_IMDB), which must exist; else Keras's cache or a download. None only for
    `auto` with nothing named and nothing found (the synthetic corpus is used, with a warning);
    every other kind without a file is an error."""
    named = named_imdb_path(imdb_path)
    if named is not None:
        return named[1]
    try:
        return find_unnamed_imdb()
    except ReproError:
        if kind == "auto":
            return None
        raise


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
