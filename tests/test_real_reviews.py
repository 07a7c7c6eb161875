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


BASELINES = ROOT / "benchmarks" / "baselines" / "accuracy.json"


def real_entry(model: str) -> dict:
    """The committed 10-seed distribution of `model` at the chapter's configuration on this
    archive (benchmarks/baselines/accuracy.json, `lstm-repro seeds`; matched by its SHA-256)."""
    import json

    from lstm_repro.aclimdb import source_sha256

    sha = source_sha256(ARCHIVE)
    chapter = {k: v for k, v in TrainConfig().to_dict().items() if k != "seed"}
    for entry in json.loads(BASELINES.read_text())["distributions"]:
        runs = entry["runs"]
        config = {k: v for k, v in runs[0]["config"].items() if k != "seed"}
        same_data = entry.get("dataset", {}).get("sha256") == sha
        if same_data and runs[0]["model"] == model and config == chapter:
            return entry
    pytest.fail(f"no committed distribution for {model} on {ARCHIVE} in {BASELINES}")


def real_distribution(model: str) -> list[float]:
    return [r["test_accuracy"] for r in real_entry(model)["runs"]]


@pytest.mark.slow
def test_the_chapters_configuration_on_real_reviews(claim):
    """The chapter's run (two hand-stepped LSTMCell(64), 4 epochs, seed 22) on the real
    reviews: C10, with the committed seeds 0-9's mean, 95% CI and per-epoch mean curve. Its
    floor is the one-sided 99.9% prediction bound from those seeds (README, "Real reviews").
    Kills: a model, data or tokenizer change that costs accuracy beyond seed noise on the
    real data."""
    import numpy as np

    from lstm_repro.gate import prediction_floor, summarise
    from lstm_repro.train import run

    entry = real_entry("unrolled-lstm")
    seeds = summarise([r["test_accuracy"] for r in entry["runs"]])
    curve = np.mean([r["history"] for r in entry["runs"]], axis=0)
    floor = prediction_floor(real_distribution("unrolled-lstm"))
    result = run(
        RunSpec(model="unrolled-lstm", config=TrainConfig(), data="imdb", imdb_path=str(ARCHIVE))
    )
    accuracy = result["test_accuracy"]
    claim("C10").measured(
        imdb_test_accuracy=accuracy,
        imdb_seeds_mean=seeds["mean"],
        imdb_seeds_ci_low=seeds["ci95"][0],
        imdb_seeds_ci_high=seeds["ci95"][1],
        **{f"imdb_seeds_epoch_{i + 1}_mean": float(a) for i, a in enumerate(curve)},
    )
    assert result["dataset"]["tokenizer"] == "lstm-repro-words-v1"
    assert accuracy >= floor, f"measured {accuracy:.4f}, floor {floor:.4f}"


# Chance is 0.5; a late control at 0.55 or less leaves the probe nothing to decide (claims.py).
PROBE_CONTROL_FLOOR = 0.55
PROBE_EPOCHS = 2  # as the synthetic memory task (tests/test_accuracy.py)


@pytest.mark.slow
def test_the_memory_probe_on_real_reviews(claim):
    """C2 and C7 on real reviews (--data imdb-early / imdb-late): each review's last 10 tokens,
    its closing words, placed first of 80 steps (70 steps of padding before the read-out) or
    last (the control). SimpleRNN and LSTM, seed 0, the chapter's sizes, 2 epochs, and the
    LSTM with forget-gate bias 3 (the synthetic task's remedy) on the early layout; claims.py
    decides from how much of each control's gain over chance survives the 70 steps.
    Kills: a probe whose controls do not learn (a window cut from the wrong end, labels
    misaligned), so that forgetting could not be told from nothing to remember."""
    from lstm_repro.train import run

    figures = {}
    for model, name in (("fused-rnn", "rnn"), ("fused-lstm", "lstm")):
        for position in ("early", "late"):
            spec = RunSpec(
                model=model,
                config=TrainConfig(epochs=PROBE_EPOCHS, seed=0),
                data=f"imdb-{position}",
                imdb_path=str(ARCHIVE),
            )
            figures[f"real_{name}_{position}_accuracy"] = run(spec)["test_accuracy"]
    remedy = RunSpec(
        model="fused-lstm",
        config=TrainConfig(epochs=PROBE_EPOCHS, seed=0, forget_bias=3.0),
        data="imdb-early",
        imdb_path=str(ARCHIVE),
    )
    claim("C2").measured(**{k: v for k, v in figures.items() if "_rnn_" in k})
    claim("C7").measured(
        **figures, real_lstm_forget_bias_3_early_accuracy=run(remedy)["test_accuracy"]
    )
    for name in ("rnn", "lstm"):
        late = figures[f"real_{name}_late_accuracy"]
        assert late > PROBE_CONTROL_FLOOR, f"{name} late control {late:.4f}: learned nothing"
