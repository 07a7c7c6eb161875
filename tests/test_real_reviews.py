"""The real-data tier: the Large Movie Review Dataset's labeled archive, wherever it is found
($LSTM_REPRO_TEST_ARCHIVE, else ../shared/data/aclImdb_v1_labeled.tar.gz beside the project,
where .ci/run has it). Marked `imdb`; skipped, saying how to get the archive, where absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lstm_repro.config import RunSpec, TrainConfig

ROOT = Path(__file__).resolve().parents[1]
ARCHIVE_ENV = "LSTM_REPRO_TEST_ARCHIVE"
SHARED_ARCHIVE = ROOT.parent / "shared" / "data" / "aclImdb_v1_labeled.tar.gz"


def real_archive() -> Path | None:
    named = os.environ.get(ARCHIVE_ENV, "").strip()
    if named:
        return Path(named)
    return SHARED_ARCHIVE if SHARED_ARCHIVE.is_file() else None


ARCHIVE = real_archive()
pytestmark = [
    pytest.mark.imdb,
    pytest.mark.skipif(
        ARCHIVE is None,
        reason=f"the aclImdb archive was not found: set {ARCHIVE_ENV}=/path/to/aclImdb_v1.tar.gz "
        "(https://ai.stanford.edu/~amaas/data/sentiment/, 84 MB) or an extracted aclImdb/, "
        f"or put the labeled copy at {SHARED_ARCHIVE}",
    ),
]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """The archive converted once for this module (`prepare-imdb`), in a private cache."""
    from lstm_repro.cli import main

    out = tmp_path_factory.mktemp("real") / "imdb.npz"
    assert main(["prepare-imdb", str(ARCHIVE), "--out", str(out)]) == 0
    return out


def test_the_real_archive_converts_to_the_50000_labeled_reviews(prepared):
    """25,000 / 25,000 reviews, 12,500 of each label per split, rank 1 the commonest word, and
    about as many word ids as Keras's imdb.npz holds (11.8 M there; 11,546,629 measured here
    with tokenizer v1, 2026-12-02). Kills: a split or label read from the wrong folder,
    unlabeled reviews mixed in, a tokenizer change that moves the token count (the range is
    +-2% of what was measured), ids from 0."""
    import numpy as np

    from lstm_repro.imdb import read_imdb_file

    raw = read_imdb_file(prepared)
    assert (len(raw.x_train), len(raw.x_test)) == (25000, 25000)
    for labels in (raw.y_train, raw.y_test):
        assert np.bincount(labels).tolist() == [12500, 12500]
    tokens = sum(len(r) for r in raw.x_train) + sum(len(r) for r in raw.x_test)
    assert 11_315_000 < tokens < 11_778_000, tokens
    ids = np.concatenate(raw.x_train)
    assert int(ids.min()) == 1 and np.bincount(ids).argmax() == 1


def test_keras_load_data_reads_the_converted_real_reviews_like_our_reader(prepared, monkeypatch):
    """keras.datasets.imdb.load_data on the prepared file and our loader agree on every
    padded review at the chapter's vocabulary and length. Kills: a converted file that only
    our reader understands."""
    import keras
    import numpy as np
    from keras.src.datasets import imdb as keras_imdb

    from lstm_repro.data import load_imdb

    monkeypatch.setattr(keras_imdb, "get_file", lambda **_: str(prepared))
    (kx, ky), (kxt, kyt) = keras.datasets.imdb.load_data(num_words=10000)
    ours = load_imdb(prepared, num_words=10000, max_len=80)
    np.testing.assert_array_equal(ours.x_train, keras.utils.pad_sequences(kx, maxlen=80))
    np.testing.assert_array_equal(ours.x_test, keras.utils.pad_sequences(kxt, maxlen=80))
    np.testing.assert_array_equal(ours.y_train, ky)
    np.testing.assert_array_equal(ours.y_test, kyt)


REAL_BASELINES = ROOT / "benchmarks" / "baselines" / "accuracy-real.json"


def real_distribution(model: str) -> list[float]:
    """The committed 10-seed distribution of `model` at the chapter's configuration on the
    labeled archive (benchmarks/baselines/accuracy-real.json, `lstm-repro seeds`)."""
    import json

    chapter = {k: v for k, v in TrainConfig().to_dict().items() if k != "seed"}
    for entry in json.loads(REAL_BASELINES.read_text())["distributions"]:
        runs = entry["runs"]
        config = {k: v for k, v in runs[0]["config"].items() if k != "seed"}
        if runs[0]["model"] == model and config == chapter:
            return [r["test_accuracy"] for r in runs]
    pytest.fail(f"no committed real-review distribution for {model} in {REAL_BASELINES}")


@pytest.mark.slow
def test_the_chapters_configuration_on_real_reviews(claim):
    """The chapter's run (two hand-stepped LSTMCell(64), 4 epochs, seed 22) on the real
    reviews: C10. Its floor is the one-sided 99.9% prediction bound from the committed seeds
    0-9 of the same configuration (README, "Real reviews"). Kills: a model, data or tokenizer
    change that costs accuracy beyond seed noise on the real data."""
    from lstm_repro.gate import prediction_floor
    from lstm_repro.train import run

    floor = prediction_floor(real_distribution("unrolled-lstm"))
    result = run(
        RunSpec(model="unrolled-lstm", config=TrainConfig(), data="imdb", imdb_path=str(ARCHIVE))
    )
    accuracy = result["test_accuracy"]
    claim("C10").measured(imdb_test_accuracy=accuracy)
    assert result["dataset"]["tokenizer"] == "lstm-repro-words-v1"
    assert accuracy >= floor, f"measured {accuracy:.4f}, floor {floor:.4f}"
