"""Does each variant still learn, and what the runs say about the chapter's claims C2, C7-C10.

Floors (and, for a measured failure to learn, ceilings) come from the seed distributions
committed in benchmarks/baselines/accuracy.json (`lstm-repro seeds`, 10 seeds each, how and
where recorded in the file): the one-sided 99.9% prediction bound for one more seed
(gate.prediction_floor), so a healthy run fails here about once in a thousand seeds. Each
assertion prints the measured figure beside its bound.

The default tier trains the fused variants (keras.layers.LSTM / SimpleRNN / GRU: seconds to
compile); their equivalence to the chapter's hand-stepped cells is tested in test_models.py and
tests/properties. The hand-stepped variants, the forget-bias remedy and the chapter's 4-epoch
configuration run under `-m slow`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import shared_builds

from lstm_repro.config import RunSpec, TrainConfig
from lstm_repro.errors import ReproError
from lstm_repro.gate import prediction_ceiling, prediction_floor, spec_key
from lstm_repro.imdb import locate_imdb
from lstm_repro.train import run

BASELINES = Path(__file__).resolve().parents[1] / "benchmarks" / "baselines" / "accuracy.json"
SHORT = {"data": "synthetic", "train_samples": 2048, "test_samples": 1024}
MEMORY = {"data": "memory-early", "train_samples": 2048, "test_samples": 1024}


def _spec(model: str, *, epochs: int = 2, seed: int = 0, forget_bias: float = 1.0, **data):
    config = TrainConfig(epochs=epochs, seed=seed, forget_bias=forget_bias)
    return RunSpec(model=model, config=config, **(data or SHORT))


def _distribution(spec: RunSpec) -> list[float]:
    collection = json.loads(BASELINES.read_text())
    for entry in collection["distributions"]:
        if spec_key(entry["spec"]) == spec_key(spec.to_dict()):
            return [r["test_accuracy"] for r in entry["runs"]]
    pytest.fail(f"no committed distribution for {spec_key(spec.to_dict())} in {BASELINES}")


@pytest.fixture(scope="session")
def accuracy():
    """Test accuracy of a spec's run, each trained once per session."""
    cache: dict[str, float] = {}

    def get(spec: RunSpec) -> float:
        key = spec_key(spec.to_dict()) + str(spec.config.seed)
        if key not in cache:
            shared_builds.note(f"test_accuracy:{key}")
            cache[key] = run(spec)["test_accuracy"]
        return cache[key]

    return get


def _assert_at_least(measured: float, floor: float, what: str) -> None:
    assert measured >= floor, f"{what}: measured {measured:.4f}, floor {floor:.4f}"


# --------------------------------------------------------------------------- sentiment


@pytest.mark.parametrize(
    "model",
    [
        "fused-lstm",
        "fused-gru",
        pytest.param("unrolled-lstm", marks=pytest.mark.slow),
    ],
)
def test_variant_learns_the_synthetic_corpus(accuracy, claim, model):
    """Kills: a model, optimiser or data change that costs accuracy beyond seed noise."""
    spec = _spec(model)
    floor = prediction_floor(_distribution(spec))
    measured = accuracy(spec)
    if model == "fused-gru":
        claim("C9").measured(gru_accuracy=measured, gru_floor=floor)
    _assert_at_least(measured, floor, f"{model}, synthetic 2048/1024, 2 epochs, seed 0")


def test_lstm_beats_the_simple_rnn_at_the_same_budget(accuracy, claim):
    """The chapter's reason to switch cells, at seed 0 of the short configuration. The
    committed distributions show how much seed noise there is (accuracy.json)."""
    lstm = accuracy(_spec("fused-lstm"))
    rnn = accuracy(_spec("fused-rnn"))
    claim("C8").measured(lstm_accuracy=lstm, rnn_accuracy=rnn)
    assert lstm > rnn, f"LSTM {lstm:.4f} vs SimpleRNN {rnn:.4f}"


# --------------------------------------------------------------------------- memory over 70 steps
# make_memory_task (--data memory-early): label evidence only in the first 10 of 80 tokens, so
# a model must carry it 70+ steps to the last. The chapter says a plain RNN's memory fails and
# the LSTM fixes that; at Keras 3's defaults the reverse is measured (tests/test_gradients.py
# explains it: embedding-scale inputs keep the orthogonal tanh RNN near-linear, forget bias 1
# makes the LSTM forget as 0.7^k). These tests assert what the distributions say.


def test_simple_rnn_remembers_evidence_70_steps_back(accuracy, claim):
    spec = _spec("fused-rnn", **MEMORY)
    measured = accuracy(spec)
    claim("C2").measured(rnn_early_accuracy=measured)
    claim("C7").measured(rnn_early_accuracy=measured)
    _assert_at_least(measured, prediction_floor(_distribution(spec)), "SimpleRNN, early evidence")


def test_lstm_does_not_learn_evidence_70_steps_back_in_two_epochs(accuracy, claim):
    spec = _spec("fused-lstm", **MEMORY)
    measured = accuracy(spec)
    claim("C7").measured(lstm_early_accuracy=measured)
    ceiling = prediction_ceiling(_distribution(spec))
    assert measured <= ceiling, (
        f"LSTM, early evidence: measured {measured:.4f}, ceiling {ceiling:.4f}"
    )


@pytest.mark.slow
def test_a_forget_bias_of_3_lets_the_lstm_learn_the_early_evidence(accuracy, claim):
    spec = _spec("fused-lstm", forget_bias=3.0, **MEMORY)
    measured = accuracy(spec)
    claim("C7").measured(lstm_forget_bias_3_early_accuracy=measured)
    _assert_at_least(measured, prediction_floor(_distribution(spec)), "LSTM, forget bias 3")


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
def test_chapter_configuration_on_real_imdb(claim):
    """The chapter's 4-epoch run on the full real IMDB.

    NOT MEASURED HERE (no network in this project's environment). 0.78 is the typical ~0.83
    reached by this model in published runs minus a 0.05 margin; whoever first runs this on
    the real file should replace it with a floor from `lstm-repro seeds --data imdb`.
    """
    result = run(RunSpec(model="unrolled-lstm", config=TrainConfig(), data="imdb"))
    claim("C10").measured(imdb_test_accuracy=result["test_accuracy"])
    assert result["dataset"]["official"], "the file found is not the official imdb.npz"
    assert result["test_accuracy"] >= 0.78


def _seeds(entry: dict) -> list[int]:
    return [r["config"]["seed"] for r in entry["runs"]]


def _real_accuracies() -> dict[str, list[float]]:
    """The committed distributions on real reviews, per variant, in seed order."""
    out = {}
    for entry in json.loads(BASELINES.read_text())["distributions"]:
        if "dataset" in entry:
            runs = sorted(entry["runs"], key=lambda r: r["config"]["seed"])
            out[entry["spec"]["model"]] = [r["test_accuracy"] for r in runs]
    return out


def test_c8_and_c9_on_real_reviews_from_the_committed_seeds(claim):
    """C8 (LSTM over SimpleRNN) and C9 (GRU as good as the LSTM) over the committed 10-seed
    distributions on real reviews, decided in claims.py: the hand-stepped pair is the chapter's
    code, the fused pair the same comparison through keras.layers. Training 50 runs takes
    hours, so the run decides from the committed seeds (`lstm-repro seeds`, where and how in
    each entry) and the slow tier's C10 run checks that seed 22 still falls inside them.
    Kills: comparing two variants' distributions with different seeds or configurations, or
    a pairing that compares a variant with itself."""
    from lstm_repro.gate import difference_test

    acc = _real_accuracies()
    entries = [e for e in json.loads(BASELINES.read_text())["distributions"] if "dataset" in e]
    shared = {
        (spec_key({**e["spec"], "model": None}, e["dataset"]), tuple(sorted(_seeds(e))))
        for e in entries
    }
    assert len(shared) == 1, (
        f"the real-review distributions differ in more than the model: {shared}"
    )
    figures = {}
    for name, (a, b) in {
        "real_lstm_minus_rnn": ("unrolled-lstm", "unrolled-rnn"),
        "real_fused_lstm_minus_rnn": ("fused-lstm", "fused-rnn"),
        "real_gru_minus_lstm": ("fused-gru", "fused-lstm"),
        "real_gru_minus_rnn": ("fused-gru", "fused-rnn"),
    }.items():
        assert a != b and acc[a] != acc[b], (a, b)
        figures.update({f"{name}_{k}": v for k, v in difference_test(acc[a], acc[b]).items()})
    claim("C8").measured(**{k: v for k, v in figures.items() if "lstm_minus_rnn" in k})
    claim("C9").measured(**{k: v for k, v in figures.items() if k.startswith("real_gru")})


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["jax", "torch"])
def test_the_short_configuration_reaches_the_same_floor_on_every_backend(engine, tmp_path):
    """The fused LSTM's short configuration, seed 0, trained under JAX and PyTorch, against the
    floor of its TensorFlow distribution: the backends' numerics and pipelines (a full
    permutation per epoch instead of tf.data's buffer of 1,000) must not cost accuracy."""
    import importlib.util
    import os
    import subprocess
    import sys

    if importlib.util.find_spec(engine) is None:
        pytest.skip(f"{engine} is not installed (pip install -e '.[jax]' / '.[cross]')")
    spec = _spec("fused-lstm")
    out = tmp_path / "r.json"
    args = [
        "reproduce",
        "--model",
        "fused-lstm",
        "--data",
        "synthetic",
        "--train-samples",
        "2048",
        "--test-samples",
        "1024",
        "--epochs",
        "2",
        "--seed",
        "0",
        "--json",
        str(out),
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "lstm_repro", *args],
        capture_output=True,
        text=True,
        timeout=1800,
        env={**os.environ, "KERAS_BACKEND": engine},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    measured = json.loads(out.read_text())["test_accuracy"]
    _assert_at_least(measured, prediction_floor(_distribution(spec)), f"fused-lstm on {engine}")


def test_the_committed_real_review_distributions_are_ten_seeds_with_per_epoch_curves():
    """The real-review entries of benchmarks/baselines/accuracy.json (`lstm-repro seeds --n 10`
    on the labeled archive): all five variants, each seeds 0-9 of the chapter's configuration
    with its four per-epoch test accuracies (the chapter validates every epoch), the archive's
    SHA-256, the tokenizer and the machine named. Kills: a floor derived from fewer seeds, a
    variant missing from C8/C9's comparisons, curves dropped, or an entry that cannot be told
    from the synthetic ones when the file is regenerated."""
    from lstm_repro.aclimdb import tokenizer_name

    chapter = {k: v for k, v in TrainConfig().to_dict().items() if k != "seed"}
    real = [e for e in json.loads(BASELINES.read_text())["distributions"] if "dataset" in e]
    assert sorted(e["spec"]["model"] for e in real) == sorted(
        ["fused-gru", "fused-lstm", "fused-rnn", "unrolled-lstm", "unrolled-rnn"]
    )
    for entry in real:
        runs = entry["runs"]
        assert sorted(r["config"]["seed"] for r in runs) == list(range(10))
        for r in runs:
            assert {k: v for k, v in r["config"].items() if k != "seed"} == chapter
            assert len(r["history"]) == 4 and r["history"][-1] == r["test_accuracy"]
        assert entry["spec"]["data"] in ("imdb", "auto")
        assert entry["dataset"]["tokenizer"] == tokenizer_name()
        assert entry["dataset"]["official"] is False
        assert len(entry["dataset"]["sha256"]) == 64 and entry["measured"]["where"]
