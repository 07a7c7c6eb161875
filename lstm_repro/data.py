"""IMDB (Keras's file format and rules) and a synthetic IMDB-shaped corpus -> padded int arrays.

Both sources go through the same preprocessing, which follows `keras.datasets.imdb.load_data`
exactly: ids are shifted by `index_from=3`, each review starts with `start_char=1`, ids at or
above `num_words` become `oov_char=2`, and reviews are pre-padded / pre-truncated to max_len
(the chapter's `pad_sequences(maxlen=80)` defaults).

Files are read without ever running code from them: object arrays (the ragged reviews) are
unpickled by an unpickler that only admits numpy's array-reconstruction globals.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import pickle
import socket
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lstm_repro.errors import ReproError

log = logging.getLogger(__name__)

START_CHAR = 1  # Keras: marks the start of each review
OOV_CHAR = 2  # Keras: replaces ids >= num_words
INDEX_FROM = 3  # Keras: raw word id r becomes r + 3 (0, 1, 2 are pad, start, OOV)
KERAS_SHUFFLE_SEED = 113  # Keras load_data's default `seed`
IMDB_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb.npz"
# The hash keras.datasets.imdb.load_data checks the official file against.
IMDB_SHA256 = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"
IMDB_ENV = "LSTM_REPRO_IMDB"
OFFLINE_ENV = "LSTM_REPRO_OFFLINE"  # set to 1 to never attempt a download
IMDB_KEYS = ("x_train", "y_train", "x_test", "y_test")
DATA_CHOICES = ("auto", "imdb", "synthetic")


@dataclass(frozen=True)
class Dataset:
    """Padded (n, max_len) int32 reviews and int32 {0,1} labels, plus where they came from."""

    name: str  # "imdb" or "synthetic"
    source: str  # file path, or a description of the generator call
    sha256: str  # of the file (imdb) or of the padded arrays (synthetic)
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def train_size(self) -> int:
        return len(self.y_train)

    @property
    def test_size(self) -> int:
        return len(self.y_test)

    def identity(self) -> dict:
        return {
            "name": self.name,
            "source": self.source,
            "sha256": self.sha256,
            "official": self.name == "imdb" and self.sha256 == IMDB_SHA256,
            "train_size": self.train_size,
            "test_size": self.test_size,
        }

    def head(self, *, train: int | None = None, test: int | None = None) -> Dataset:
        """The first `train` / `test` samples of each split (None keeps the split whole)."""
        for flag, n in (("--train-samples", train), ("--test-samples", test)):
            if n is not None and n <= 0:
                raise ReproError(f"{flag} must be a positive integer, got {n}")
        return Dataset(
            name=self.name,
            source=self.source,
            sha256=self.sha256,
            x_train=self.x_train[:train],
            y_train=self.y_train[:train],
            x_test=self.x_test[:test],
            y_test=self.y_test[:test],
        )


# --------------------------------------------------------------------------- safe file reading

_ALLOWED_GLOBALS = frozenset(
    {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
    }
)


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """Rebuilds numpy object arrays of plain lists; refuses every other global."""

    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _read_npy(raw: bytes) -> np.ndarray:
    fp = io.BytesIO(raw)
    version = np.lib.format.read_magic(fp)
    if version == (1, 0):
        _, _, dtype = np.lib.format.read_array_header_1_0(fp)
    elif version in ((2, 0), (3, 0)):
        # 3.0 differs from 2.0 only in the header's text encoding, not its layout.
        _, _, dtype = np.lib.format.read_array_header_2_0(fp)
    else:
        raise ValueError(f"unsupported .npy version {version}")
    if not dtype.hasobject:
        fp.seek(0)
        return np.lib.format.read_array(fp, allow_pickle=False)
    array = _ArrayOnlyUnpickler(fp).load()
    if not isinstance(array, np.ndarray):
        raise ValueError("object member is not an array")
    return array


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_npz_safely(path: Path) -> dict[str, np.ndarray]:
    """Read an .npz like np.load(allow_pickle=True) would, but never execute code from it."""
    try:
        with zipfile.ZipFile(path) as archive:
            return {
                member.removesuffix(".npy"): _read_npy(archive.read(member))
                for member in archive.namelist()
                if member.endswith(".npy")
            }
    except (zipfile.BadZipFile, pickle.UnpicklingError, ValueError, EOFError, TypeError) as e:
        raise ReproError(f"{path}: not a readable IMDB .npz file ({e})") from None
    except OSError as e:
        raise ReproError(f"{path}: cannot read ({e.strerror or e})") from None


def _as_sequences(values: np.ndarray, *, key: str, path: Path) -> list[np.ndarray]:
    if values.ndim == 2 and values.dtype.kind in "iu":
        rows = list(values)
    elif values.ndim == 1:
        rows = []
        for i, row in enumerate(values):
            try:
                seq = np.asarray(row)
            except ValueError:
                seq = None
            if seq is None or seq.ndim != 1 or (seq.size and seq.dtype.kind not in "iu"):
                raise ReproError(f"{path}: {key}[{i}] is not a list of integer word ids")
            rows.append(seq.astype(np.int64))
    else:
        raise ReproError(f"{path}: {key} must be a 1-D array of id lists, got shape {values.shape}")
    for i, seq in enumerate(rows):
        if seq.size and seq.min() < 0:
            raise ReproError(f"{path}: {key}[{i}] holds a negative word id ({seq.min()})")
    return rows


def _as_labels(values: np.ndarray, *, key: str, path: Path) -> np.ndarray:
    if values.ndim != 1 or values.dtype.kind not in "iub":
        raise ReproError(
            f"{path}: {key} must be a 1-D integer array, got {values.dtype} {values.shape}"
        )
    bad = np.setdiff1d(np.unique(values), [0, 1])
    if bad.size:
        raise ReproError(f"{path}: {key} holds labels outside {{0, 1}}: {bad[:5].tolist()}")
    return values.astype(np.int32)


def read_imdb_file(path: Path) -> tuple[list, np.ndarray, list, np.ndarray]:
    """Raw (unshifted) reviews and labels from a file in Keras's imdb.npz layout, validated."""
    arrays = load_npz_safely(path)
    missing = [k for k in IMDB_KEYS if k not in arrays]
    if missing:
        raise ReproError(
            f"{path}: missing arrays {missing}; an IMDB file holds {list(IMDB_KEYS)} "
            f"(found {sorted(arrays)})"
        )
    splits = []
    for split in ("train", "test"):
        xs = _as_sequences(arrays[f"x_{split}"], key=f"x_{split}", path=path)
        ys = _as_labels(arrays[f"y_{split}"], key=f"y_{split}", path=path)
        if len(xs) != len(ys):
            raise ReproError(
                f"{path}: x_{split} has {len(xs)} reviews but y_{split} {len(ys)} labels"
            )
        if not xs:
            raise ReproError(f"{path}: the {split} split is empty")
        splits += [xs, ys]
    return tuple(splits)


def save_imdb_file(path: Path, *, x_train, y_train, x_test, y_test) -> None:
    """Write raw reviews in Keras's imdb.npz layout (ragged object arrays), atomically."""

    def ragged(rows):
        out = np.empty(len(rows), dtype=object)
        for i, row in enumerate(rows):
            out[i] = [int(w) for w in row]
        return out

    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            np.savez(
                f,
                x_train=ragged(x_train),
                y_train=np.asarray(y_train, dtype=np.int64),
                x_test=ragged(x_test),
                y_test=np.asarray(y_test, dtype=np.int64),
            )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


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


# --------------------------------------------------------------------------- IMDB


def keras_cache_path() -> Path:
    base = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(base) / "datasets" / "imdb.npz"


def _online(host: str = "storage.googleapis.com", timeout: float = 2.0) -> bool:
    if os.environ.get(OFFLINE_ENV, "") not in ("", "0"):
        return False
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
    except OSError:
        return False
    return True


def locate_imdb(explicit: str | os.PathLike | None = None, *, allow_download: bool = True) -> Path:
    """Find the IMDB file: explicit path, then $LSTM_REPRO_IMDB, Keras's cache, a download.

    An explicit path (flag or environment variable) that does not exist is an error in itself:
    the user asked for that file. Raises ReproError with a paragraph on how to fix it otherwise.
    """
    for origin, value in (("--imdb-path", explicit), (IMDB_ENV, os.environ.get(IMDB_ENV))):
        if value:
            path = Path(value).expanduser()
            if not path.is_file():
                raise ReproError(f"{origin} {value}: no such file")
            return path
    cache = keras_cache_path()
    if cache.is_file():
        return cache
    if allow_download and _online():
        import keras

        log.warning("downloading IMDB from %s into %s", IMDB_URL, cache.parent)
        try:
            return Path(keras.utils.get_file("imdb.npz", origin=IMDB_URL, file_hash=IMDB_SHA256))
        except Exception as e:  # any download failure ends in the same advice below
            log.warning("IMDB download failed: %s", e)
    raise ReproError(
        "the IMDB file was not found. Looked for: --imdb-path (not given), "
        f"${IMDB_ENV} (not set), Keras's cache {cache} (absent), and a download from "
        f"{IMDB_URL} (offline or failed). Fix: on a machine with internet run "
        '`python -c "import keras; keras.datasets.imdb.load_data()"`, copy '
        f"~/.keras/datasets/imdb.npz here and pass --imdb-path FILE (or set ${IMDB_ENV}); "
        "or use --data synthetic."
    )


def load_imdb(path: Path, *, num_words: int, max_len: int) -> Dataset:
    x_train, y_train, x_test, y_test = read_imdb_file(path)
    arrays = keras_imdb_rules(
        x_train, y_train, x_test, y_test, num_words=num_words, max_len=max_len
    )
    return Dataset("imdb", str(path), file_sha256(path), *arrays)


# --------------------------------------------------------------------------- synthetic corpus

# Shape of the real corpus as published for the official file's train split (not measured
# here, where the file cannot be downloaded): 88,584 distinct words, review lengths with
# median ~174 and mean ~239 tokens, min 11 and max 2,494. lognormal(log 174, 0.79) gives
# that median and mean.
_CORPUS_WORDS = 88584
_LEN_MEDIAN, _LEN_SIGMA, _LEN_MIN, _LEN_MAX = 174.0, 0.79, 11, 2494
# Sentiment evidence: 40 positive and 40 negative word ranks among ranks 50-2049 (common
# enough to be in any vocab >= 2053, rare enough not to be stop words).
_SENTIMENT_WORDS = 40
_SENTIMENT_RANKS = (50, 2050)


@dataclass(frozen=True)
class SyntheticSpec:
    """How strong the label evidence is in the synthetic corpus."""

    # Chosen so the chapter's LSTM passes 0.7 test accuracy after one epoch on 2,048 reviews
    # (16 steps): signal 0.08 gave 0.66 (seed 22); 0.15 gave 0.90 and 0.84 (seeds 22 and 7).
    signal: float = 0.15  # fraction of tokens that are sentiment words
    agreement: float = 0.8  # fraction of those whose polarity matches the label


def _arrays_sha256(arrays) -> str:
    """Identity of a generated dataset: SHA-256 over its padded arrays' bytes, in order."""
    digest = hashlib.sha256()
    for a in arrays:
        digest.update(np.ascontiguousarray(a).tobytes())
    return digest.hexdigest()


def _zipf_cdf() -> np.ndarray:
    ranks = np.arange(1, _CORPUS_WORDS + 1, dtype=np.float64)
    # Zipf-Mandelbrot with exponent 1.2: the 100 commonest words make ~57% of tokens and words
    # past rank 9996 (OOV at vocab 10000) ~7%. Chosen by hand, not fitted to the real file.
    weights = 1.0 / (ranks + 2.7) ** 1.2
    return np.cumsum(weights) / weights.sum()


def _sentiment_lexicon(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng([seed, 0xC0DE])
    ranks = rng.choice(np.arange(*_SENTIMENT_RANKS), size=2 * _SENTIMENT_WORDS, replace=False)
    return ranks[:_SENTIMENT_WORDS], ranks[_SENTIMENT_WORDS:]


def synthetic_raw(
    *, n: int, split: str, seed: int, spec: SyntheticSpec = SyntheticSpec()
) -> tuple[list[np.ndarray], np.ndarray]:
    """Raw reviews (word ranks >= 1, no start char, as in imdb.npz) and balanced labels.

    Review i of a split depends only on (seed, split, i): asking for more reviews extends the
    split without changing the ones before, so `--train-samples N` is the first N of any larger run.
    """
    if n <= 0:
        raise ReproError(f"the synthetic {split} split needs a positive size, got {n}")
    cdf = _zipf_cdf()
    positive, negative = _sentiment_lexicon(seed)
    split_id = {"train": 1, "test": 2}[split]
    reviews, labels = [], np.empty(n, dtype=np.int32)
    for i in range(n):
        rng = np.random.default_rng([seed, split_id, i])
        label = i % 2  # alternating: every prefix is balanced
        length = int(np.clip(rng.lognormal(np.log(_LEN_MEDIAN), _LEN_SIGMA), _LEN_MIN, _LEN_MAX))
        words = np.searchsorted(cdf, rng.random(length)) + 1
        is_evidence = rng.random(length) < spec.signal
        agrees = rng.random(length) < spec.agreement
        polarity_pos = np.where(agrees, label == 1, label == 0)
        lexicon_pick = rng.integers(_SENTIMENT_WORDS, size=length)
        evidence = np.where(polarity_pos, positive[lexicon_pick], negative[lexicon_pick])
        reviews.append(np.where(is_evidence, evidence, words).astype(np.int64))
        labels[i] = label
    return reviews, labels


def make_synthetic(
    *,
    n_train: int,
    n_test: int,
    seed: int,
    num_words: int,
    max_len: int,
    spec: SyntheticSpec = SyntheticSpec(),
) -> Dataset:
    """A seeded IMDB-shaped sentiment corpus, processed by the same Keras rules as IMDB."""
    x_train, y_train = synthetic_raw(n=n_train, split="train", seed=seed, spec=spec)
    x_test, y_test = synthetic_raw(n=n_test, split="test", seed=seed, spec=spec)
    arrays = keras_imdb_rules(
        x_train, y_train, x_test, y_test, num_words=num_words, max_len=max_len, shuffle_seed=None
    )
    source = f"make_synthetic(seed={seed}, signal={spec.signal}, agreement={spec.agreement})"
    return Dataset("synthetic", source, _arrays_sha256(arrays), *arrays)


def make_memory_task(
    *,
    n_train: int,
    n_test: int,
    seed: int,
    num_words: int,
    max_len: int,
    position: str,
    window: int = 10,
    signal: float = 0.5,
) -> Dataset:
    """Padded reviews whose only label evidence sits in the first or last `window` tokens.

    Background words are Zipf-distributed as in the synthetic corpus; inside the window each
    token is, with probability `signal`, a sentiment word agreeing with the label. With
    position="early" a model must carry that evidence across max_len - window steps to the
    last step, which the chapter says a plain RNN's memory fails to do; "late" is the control.
    """
    if position not in ("early", "late"):
        raise ReproError(f"position must be 'early' or 'late', got {position!r}")
    if not 0 < window <= max_len:
        raise ReproError(f"window must lie in 1..max_len, got {window}")
    cdf = _zipf_cdf()
    positive, negative = _sentiment_lexicon(seed)
    arrays = []
    for split_id, n in ((3, n_train), (4, n_test)):
        rng = np.random.default_rng([seed, split_id])
        labels = (np.arange(n) % 2).astype(np.int32)  # (n,), balanced
        words = np.searchsorted(cdf, rng.random((n, max_len))) + 1 + INDEX_FROM  # (n, max_len)
        words = np.where(words < num_words, words, OOV_CHAR)
        span = slice(0, window) if position == "early" else slice(max_len - window, max_len)
        pick = rng.integers(_SENTIMENT_WORDS, size=(n, window))
        evidence = np.where(labels[:, None] == 1, positive[pick], negative[pick]) + INDEX_FROM
        inside = words[:, span]
        words[:, span] = np.where(rng.random((n, window)) < signal, evidence, inside)
        arrays += [words.astype(np.int32), labels]
    source = f"make_memory_task(seed={seed}, position={position}, window={window}, signal={signal})"
    return Dataset("memory-task", source, _arrays_sha256(arrays), *arrays)


# --------------------------------------------------------------------------- entry point


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
    """`imdb`, `synthetic`, or `auto` (IMDB when it can be had, else synthetic, said loudly)."""
    if kind not in DATA_CHOICES:
        raise ReproError(f"unknown data source {kind!r}; choose one of {', '.join(DATA_CHOICES)}")
    for flag, n in (("--train-samples", train_samples), ("--test-samples", test_samples)):
        if n is not None and n <= 0:
            raise ReproError(f"{flag} must be a positive integer, got {n}")
    if kind == "auto" and imdb_path is None:
        try:
            path = locate_imdb(None)
        except ReproError:
            log.warning("IMDB not available here: using the SYNTHETIC corpus (--data synthetic)")
            kind = "synthetic"
        else:
            kind = "imdb"
    if kind == "synthetic":
        if imdb_path is not None:
            raise ReproError("--imdb-path was given with --data synthetic; drop one of them")
        return make_synthetic(
            n_train=train_samples or synthetic_size,
            n_test=test_samples or synthetic_size,
            seed=seed,
            num_words=num_words,
            max_len=max_len,
        )
    if kind == "imdb" or imdb_path:
        path = locate_imdb(imdb_path)
    dataset = load_imdb(path, num_words=num_words, max_len=max_len)
    return dataset.head(train=train_samples, test=test_samples)


def make_pipelines(dataset: Dataset, *, batch_size: int, seed: int, shuffle_buffer: int):
    """Batched tf.data pipelines: the train split reshuffled each epoch from `seed`.

    The train split drops its last partial batch (as the chapter does); the test split keeps
    every sample, so test accuracy is over the whole split.
    """
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
