"""The one table of data sources (SOURCES), the record each produces (Dataset), and Keras's
IMDB rules that make one.

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
# The real-review memory probe (imdb-early / imdb-late): each review's last REVIEW_WINDOW tokens
# (its closing words, kept by the chapter's "pre" truncation), placed first or last among
# max_len steps, the rest padding. At max_len 80 the early evidence ends 70 steps before the
# read-out, as in the synthetic memory task (make_memory_task's window of 10).
REVIEW_WINDOW = 10


@dataclass(frozen=True)
class Source:
    """One `--data` choice: the CLI's choices and help, which sources read --imdb-path, the
    Dataset name each yields, and `reproduce`'s banner all come from this one row."""

    kind: str  # the --data value
    help: str  # its --help text
    reads_imdb: bool  # reads real reviews (--imdb-path, $LSTM_REPRO_IMDB or the search)
    dataset: str | None  # the Dataset.name it yields; None: `auto` yields another source's
    position: str | None = None  # the memory probes: where the evidence sits, early or late
    banner: str = ""  # what `reproduce` prints; "{imdb}" is the file read, described


SOURCES: tuple[Source, ...] = (
    Source("auto", "real IMDB when found, else the synthetic corpus (default)", True, None),
    Source("imdb", "real reviews: an imdb.npz, the aclImdb archive or its directory", True,
           "imdb", banner="{imdb}"),
    Source("synthetic", "the offline synthetic corpus", False, "synthetic",
           banner="SYNTHETIC corpus (not IMDB)"),
    Source("memory-early", "the 70-step memory task, label evidence first", False,
           "memory-task", "early", "the synthetic 70-step MEMORY TASK (not IMDB)"),
    Source("memory-late", "its control, the evidence last", False, "memory-task", "late",
           "the synthetic 70-step MEMORY TASK (not IMDB)"),
    Source("imdb-early", f"the same probe on real reviews: their last {REVIEW_WINDOW} tokens "
           "first of max_len, the rest padding", True, "imdb-early", "early",
           f"MEMORY PROBE on real reviews (last {REVIEW_WINDOW} tokens placed FIRST): {{imdb}}"),
    Source("imdb-late", "its control, those tokens last", True, "imdb-late", "late",
           f"MEMORY PROBE on real reviews (last {REVIEW_WINDOW} tokens placed last): {{imdb}}"),
)  # fmt: skip
SOURCE = {s.kind: s for s in SOURCES}
DATA_CHOICES = tuple(SOURCE)
IMDB_KINDS = tuple(s.kind for s in SOURCES if s.reads_imdb)  # the kinds that read --imdb-path
REAL_DATASETS = tuple(s.dataset for s in SOURCES if s.reads_imdb and s.dataset)


def banner(dataset_name: str, imdb: str) -> str:
    """`reproduce`'s line for a Dataset of this name; `imdb` describes the file read."""
    row = next(s for s in SOURCES if s.dataset == dataset_name)
    return row.banner.format(imdb=imdb)


def kind_of(dataset_name: str, source: str) -> str | None:
    """The --data kind that yields a Dataset with this name and source text (the memory
    task's source names its position), or None when no source yields it."""
    rows = [s for s in SOURCES if s.dataset == dataset_name]
    if len(rows) > 1:
        rows = [s for s in rows if f"position={s.position}" in source]
    return rows[0].kind if len(rows) == 1 else None


@dataclass(frozen=True)
class Dataset:
    """Padded (n, max_len) int32 reviews and int32 {0,1} labels, plus where they came from."""

    name: str  # a Source's `dataset`: "imdb", "imdb-early", "synthetic", "memory-task", ...
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
