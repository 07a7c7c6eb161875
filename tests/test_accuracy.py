"""Does each variant still learn? Thresholds from a measured distribution over seeds 0-4.

Setup for every number here: synthetic corpus, 2,048 train / 1,024 test reviews, the chapter's
config otherwise (batch 128, Adam 1e-3, dropout 0.2), 2 epochs = 32 steps. Measured on
TF 2.21.0 / Keras 3.15.1, CPU, seeds 0-4 (test accuracy after epoch 1 -> epoch 2):

  unrolled-lstm  e1 0.733-0.889  e2 0.948 0.934 0.848 0.938 0.938 (min 0.848, max 0.948)
  fused-lstm     e1 0.734-0.948  e2 0.911 0.898 0.931 0.950 0.924 (min 0.898, max 0.950)
  unrolled-rnn   e1 0.520-0.578  e2 0.610 0.503 0.847 0.655 0.526 (min 0.503, mean 0.628)
  fused-gru      e1 0.566-0.693  e2 0.843 0.794 0.815 0.753 0.786 (min 0.753, max 0.843)

The SimpleRNN does not reliably
learn in 32 steps (seeds 1 and 4 stay at chance), so its check is on the mean over seeds.
"""

from __future__ import annotations

import statistics

import pytest

from lstm_repro.config import VARIANTS, TrainConfig
from lstm_repro.data import load_dataset
from lstm_repro.errors import ReproError
from lstm_repro.imdb import locate_imdb
from lstm_repro.synthetic import make_memory_task, make_synthetic
from lstm_repro.train import train

# Per-variant floor after 2 epochs: the min over seeds 0-4 minus a margin of ~0.05.
FLOOR = {"unrolled-lstm": 0.80, "fused-lstm": 0.85, "fused-gru": 0.70}
# SimpleRNN: mean over seeds 0-4 was 0.628; a model that learns nothing gives 0.5.
RNN_MEAN_FLOOR = 0.55
SEEDS = range(5)


@pytest.fixture(scope="session")
def results():
    cache = {}

    def run(model: str, seed: int) -> dict:
        if (model, seed) not in cache:
            config = TrainConfig(epochs=2, seed=seed)
            data = make_synthetic(
                n_train=2048,
                n_test=1024,
                seed=seed,
                num_words=config.vocab_size,
                max_len=config.max_len,
            )
            cache[model, seed] = train(config, data=data, model_name=model)
        return cache[model, seed]

    return run


@pytest.mark.parametrize("model", sorted(FLOOR))
def test_variant_learns_the_synthetic_corpus_in_two_epochs(results, model):
    assert results(model, 0)["test_accuracy"] >= FLOOR[model]


def test_lstm_beats_the_simple_rnn_at_the_same_budget_seed_0(results):
    # Seed 0: 0.948 against 0.610. At seed 2 the gap was only 0.848 vs 0.847 (see slow test).
    assert (
        results("unrolled-lstm", 0)["test_accuracy"] > results("unrolled-rnn", 0)["test_accuracy"]
    )


@pytest.mark.slow
@pytest.mark.parametrize("model", sorted(FLOOR))
def test_variant_floor_holds_for_every_seed(results, model):
    accs = [results(model, s)["test_accuracy"] for s in SEEDS]
    assert min(accs) >= FLOOR[model], accs


@pytest.mark.slow
def test_simple_rnn_learns_on_average_but_less_than_the_lstm(results):
    rnn = [results("unrolled-rnn", s)["test_accuracy"] for s in SEEDS]
    lstm = [results("unrolled-lstm", s)["test_accuracy"] for s in SEEDS]
    assert statistics.mean(rnn) >= RNN_MEAN_FLOOR, rnn
    # The chapter's claim, measured: LSTM mean 0.921 vs RNN 0.628 over seeds 0-4.
    assert statistics.mean(lstm) > statistics.mean(rnn) + 0.1, (lstm, rnn)


# --------------------------------------------------------------------------- real IMDB


def _imdb_available() -> bool:
    """The loader's own lookup ($LSTM_REPRO_IMDB, then Keras's cache), without downloading."""
    try:
        locate_imdb(None, allow_download=False)
    except ReproError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.imdb
@pytest.mark.skipif(
    not _imdb_available(),
    reason="real IMDB not found: set LSTM_REPRO_IMDB=/path/to/imdb.npz or put it in "
    "~/.keras/datasets/imdb.npz (python -c 'import keras; keras.datasets.imdb.load_data()')",
)
@pytest.mark.parametrize("model", ["unrolled-lstm"])
def test_chapter_configuration_on_real_imdb(model):
    """The chapter's 4-epoch run on the full real IMDB.

    NOT MEASURED HERE (no network in this project's environment). 0.78 is the typical ~0.83
    reached by this model in published runs minus a 0.05 margin; whoever first runs this on
    the real file should replace it with a measured min over seeds.
    """
    config = TrainConfig()
    data = load_dataset("imdb", num_words=config.vocab_size, max_len=config.max_len, seed=22)
    result = train(config, data=data, model_name=model)
    assert result["dataset"]["official"], "the file found is not the official imdb.npz"
    assert result["test_accuracy"] >= 0.78


def test_every_variant_has_a_check():
    assert set(FLOOR) | {"unrolled-rnn"} == set(VARIANTS)


# --------------------------------------------------------------------------- memory over 70 steps
# make_memory_task: label evidence only in the first ("early") or last ("late") 10 of 80 tokens;
# 2,048 / 1,024 reviews, chapter config, 3 epochs. Measured test accuracy per epoch (seeds 0-2):
#   early  unrolled-lstm  0.497 0.512 0.502 | 0.508 0.510 0.990 | 0.478 0.441 0.495
#   early  unrolled-rnn   0.990 0.996 0.994 | 0.994 0.997 0.998 | 0.990 0.997 0.997
#   late   unrolled-lstm  0.988 0.995 0.999 | 0.976 0.998 0.997 | 0.993 0.998 0.999
#   late   unrolled-rnn   0.968 0.996 0.997 | 0.977 0.995 0.997 | 0.979 0.995 0.997
# The chapter says a plain RNN's memory forgets early context and the LSTM fixes that. At
# Keras 3's default initialisation the reverse was measured: see tests/test_gradients.py
# (embedding-scale inputs keep the orthogonal tanh RNN near-linear; forget bias 1 makes the
# LSTM forget as 0.7^k). These tests assert what was measured, so a change is noticed.


def _memory_run(
    model: str, position: str, seed: int, epochs: int = 2, forget_bias: float = 1.0
) -> float:
    config = TrainConfig(epochs=epochs, seed=seed, forget_bias=forget_bias)
    data = make_memory_task(
        n_train=2048,
        n_test=1024,
        seed=seed,
        num_words=config.vocab_size,
        max_len=config.max_len,
        position=position,
    )
    return train(config, data=data, model_name=model)["test_accuracy"]


def test_simple_rnn_remembers_evidence_70_steps_back_seed_0():
    assert _memory_run("unrolled-rnn", "early", 0) >= 0.95  # measured 0.996 after 2 epochs


def test_lstm_does_not_learn_evidence_70_steps_back_in_two_epochs_seed_0():
    assert _memory_run("unrolled-lstm", "early", 0) < 0.6  # measured 0.512 after 2 epochs


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_memory_task_reversal_holds_for_other_seeds(seed):
    # Epoch 2, seeds 1 and 2: LSTM early 0.510 / 0.441, RNN early 0.997 / 0.997.
    assert _memory_run("unrolled-rnn", "early", seed) >= 0.95
    assert _memory_run("unrolled-lstm", "early", seed) < 0.6


@pytest.mark.slow
@pytest.mark.parametrize("model", ["unrolled-lstm", "unrolled-rnn"])
def test_memory_task_control_late_evidence_is_learned_by_both(model):
    # Control: the same evidence in the last 10 tokens. Epoch 2, seed 0: 0.995 and 0.996.
    assert _memory_run(model, "late", 0) >= 0.95


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_forget_bias_of_3_lets_the_lstm_learn_the_early_evidence(seed):
    # The remedy, measured: forget bias 3 (mean f ~0.94) gives 0.997 / 0.979 / 0.997 after
    # 2 epochs for seeds 0-2 (0.512 / 0.510 / 0.441 with Keras's 1.0). Floor 0.93.
    assert _memory_run("unrolled-lstm", "early", seed, forget_bias=3.0) >= 0.93
