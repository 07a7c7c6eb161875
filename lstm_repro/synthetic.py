"""A seeded IMDB-shaped sentiment corpus and the 70-step memory task, for offline runs.

Both produce raw word ranks like imdb.npz and go through the same Keras rules as IMDB
(`data.keras_imdb_rules`), so every model sees the same kind of input whichever source it is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lstm_repro.corpus import OOV_CHAR, Dataset, arrays_sha256, keras_imdb_rules
from lstm_repro.errors import ReproError
from lstm_repro.imdb import INDEX_FROM

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
# Largest split generated: 8x IMDB's 25,000 (~400 MB of raw ids at IMDB's review lengths).
MAX_SPLIT = 200_000


@dataclass(frozen=True)
class SyntheticSpec:
    """How strong the label evidence is in the synthetic corpus."""

    # Chosen so the chapter's LSTM passes 0.7 test accuracy after one epoch on 2,048 reviews
    # (16 steps): signal 0.08 gave 0.66 (seed 22); 0.15 gave 0.90 and 0.84 (seeds 22 and 7).
    signal: float = 0.15  # fraction of tokens that are sentiment words
    agreement: float = 0.8  # fraction of those whose polarity matches the label


def _check_size(n: int, what: str) -> None:
    if not 0 < n <= MAX_SPLIT:
        raise ReproError(f"the synthetic {what} needs a size in 1..{MAX_SPLIT:,}, got {n:,}")


def _zipf_cdf() -> np.ndarray:
    ranks = np.arange(1, _CORPUS_WORDS + 1, dtype=np.float64)
    # Zipf-Mandelbrot with exponent 1.2: the 100 commonest words make ~57% of tokens and words
    # past rank 9996 (OOV at vocab 10000) ~7%. Chosen by hand, not fitted to the real file.
    weights = 1.0 / (ranks + 2.7) ** 1.2
    return np.cumsum(weights) / weights.sum()


def sentiment_lexicon(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The positive and negative word ranks (raw, unshifted) the corpus of `seed` uses."""
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
    _check_size(n, f"{split} split")
    cdf = _zipf_cdf()
    positive, negative = sentiment_lexicon(seed)
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
    return Dataset("synthetic", source, arrays_sha256(arrays), *arrays)


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
    _check_size(n_train, "memory-task train split")
    _check_size(n_test, "memory-task test split")
    cdf = _zipf_cdf()
    positive, negative = sentiment_lexicon(seed)
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
    return Dataset("memory-task", source, arrays_sha256(arrays), *arrays)
