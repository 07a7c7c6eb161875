"""Same seed, same bits (same machine, same versions); a different seed, different weights.

Sizes are tiny (8 steps, 8 units): what is tested is that nothing random escapes the seed, which
does not depend on size; the chapter-size acceptance run repeats in CI (`lstm-repro verify`).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import shared_builds
import tensorflow as tf

from lstm_repro.backend import deterministic_environment
from lstm_repro.config import TrainConfig
from lstm_repro.data import make_pipelines
from lstm_repro.models import build_model
from lstm_repro.records import weights_sha256
from lstm_repro.synthetic import make_synthetic
from lstm_repro.train import compile_model, seed_everything, train

TINY = TrainConfig(vocab_size=500, max_len=8, units=8, embedding_dim=8, epochs=1, batch_size=64)

# The runs below share module fixtures: --dist loadfile keeps them on one worker.


def _tiny_run(model: str, seed: int) -> dict:
    config = TINY.replace(seed=seed)
    data = make_synthetic(n_train=256, n_test=64, seed=seed, num_words=500, max_len=8)
    return train(config, data=data, model_name=model)


@pytest.fixture(scope="module")
def runs():
    """Each (model, seed) trained on demand and kept: repeats are separate calls of train()."""
    cache: dict = {}

    def get(model: str, seed: int, repeat: int = 0) -> dict:
        if (model, seed, repeat) not in cache:
            shared_builds.note(f"test_determinism:{model}:{seed}:{repeat}")
            cache[model, seed, repeat] = _tiny_run(model, seed)
        return cache[model, seed, repeat]

    return get


# Each variant trained twice in one process: ~10 s of CPU a variant, nearly all of it tracing,
# so all of them run under `-m slow`. The default tier's same-seed check is `lstm-repro verify`
# in a fresh process against a record this process wrote after building another model
# (tests/test_cli.py), which kills what these kill (an unseeded initialiser, dropout or shuffle;
# state left by an earlier model) and state that lives only in one process besides.
@pytest.mark.slow
@pytest.mark.parametrize(
    "model", ["fused-lstm", "unrolled-lstm", "unrolled-rnn", "fused-rnn", "fused-gru"]
)
def test_same_seed_in_one_process_gives_bit_identical_losses_and_weights(runs, model):
    a, b = runs(model, 3), runs(model, 3, repeat=1)
    assert len(a["step_losses"]) == 4
    assert a["step_losses"] == b["step_losses"]  # float equality: the same bits
    assert a["weights_sha256"] == b["weights_sha256"]


@pytest.mark.slow
def test_a_different_seed_gives_different_weights(runs):
    assert runs("fused-lstm", 3)["weights_sha256"] != runs("fused-lstm", 4)["weights_sha256"]


def _first_batch_and_weights(model: str, seed: int) -> tuple[np.ndarray, str]:
    seed_everything(seed)
    net = build_model(model, TINY.replace(seed=seed))
    data = make_synthetic(n_train=256, n_test=64, seed=0, num_words=500, max_len=8)
    train_ds, _ = make_pipelines(data, batch_size=64, seed=seed, shuffle_buffer=1000)
    x, _ = next(iter(train_ds))
    return x.numpy(), weights_sha256(net.get_weights())


@pytest.mark.parametrize("model", ["fused-lstm", "unrolled-lstm"])
def test_the_seed_reaches_the_initial_weights_and_the_batch_order(model):
    """What a seed decides before the first step, without training (the trained form above
    costs ~5 s of tracing a run). Same seed, same start; seeds 3 and 4, different initial
    weights and a different first batch from the same data. Kills (each checked by editing
    the code): keras.utils.set_random_seed given a constant, and a shuffle that does not
    reorder (buffer 1). A constant op seed in shuffle() is not caught and need not be: TF
    combines it with the global seed, so the order still follows the run's seed."""
    batch_3, weights_3 = _first_batch_and_weights(model, 3)
    batch_3_again, weights_3_again = _first_batch_and_weights(model, 3)
    batch_4, weights_4 = _first_batch_and_weights(model, 4)
    assert weights_3 == weights_3_again and weights_3 != weights_4
    np.testing.assert_array_equal(batch_3, batch_3_again)
    assert not np.array_equal(batch_3, batch_4)


def test_seeding_turns_op_determinism_on_and_keras_keeps_xla_off():
    """The guard on CPU: op determinism must be on after seed_everything (removing the call
    changes nothing visible on CPU, where the kernels used are deterministic anyway, so it has
    to be asserted), and Keras must compile without XLA under it. Kills: dropping
    enable_op_determinism, or a jit_compile=True creeping into compile_model."""
    from tensorflow.python.framework import config as tf_config  # no public getter in TF 2.21

    seed_everything(0)
    assert tf_config.is_op_determinism_enabled()
    model = build_model("fused-lstm", TINY)
    compile_model(model, TINY)
    assert model.jit_compile is False


def _cli_run(tmp_path, engine: str, tag: str) -> subprocess.Popen:
    from tinyrun import TINY_RUN_FLAGS

    out = tmp_path / f"{engine}-{tag}.json"
    args = [
        "--data",
        "synthetic",
        "--epochs",
        "1",
        "--seed",
        "7",
        "--train-samples",
        "256",
        "--test-samples",
        "64",
        *TINY_RUN_FLAGS,
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "lstm_repro", "reproduce", *args, "--json", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=deterministic_environment({**os.environ, "KERAS_BACKEND": engine}),
    )
    proc.out_path = out
    return proc


ENGINES = [e for e in ("tensorflow", "jax", "torch") if importlib.util.find_spec(e)]
EXTRA = {"tensorflow": "", "jax": "[jax]", "torch": "[cross]"}


@pytest.fixture(scope="module")
def fresh_runs(tmp_path_factory):
    """The hand-stepped LSTM, seed 7, twice per backend asked for, both processes at once."""
    tmp = tmp_path_factory.mktemp("fresh")
    results = {}

    def get(engine: str) -> tuple[dict, dict]:
        if engine not in results:
            shared_builds.note(f"test_determinism:fresh:{engine}")
            procs = [_cli_run(tmp, engine, tag) for tag in ("a", "b")]
            pair = []
            for proc in procs:
                _, err = proc.communicate(timeout=900)
                assert proc.returncode == 0, f"{engine}: {err[-2000:]}"
                pair.append(json.loads(proc.out_path.read_text()))
            results[engine] = tuple(pair)
        return results[engine]

    return get


# A fresh TensorFlow process costs ~12 s of CPU here, JAX ~18 s, PyTorch ~16 s (imports and
# compilation): all three run under `-m slow`. The default tier's cross-process check is
# `lstm-repro verify` in a fresh process on a record the test process wrote after building
# other models (tests/test_cli.py), on TensorFlow.
@pytest.mark.parametrize(
    "engine",
    [
        pytest.param(
            e,
            marks=[
                pytest.mark.skipif(
                    e not in ENGINES,
                    reason=f"{e} is not installed (pip install -e '.{EXTRA[e]}')",
                ),
                pytest.mark.slow,
            ],
        )
        for e in ("tensorflow", "jax", "torch")
    ],
)
def test_two_fresh_processes_agree_bit_for_bit(fresh_runs, engine):
    """Two interpreters per backend, nothing shared: same losses and weights, under each
    backend's deterministic mode (TF op determinism; torch.use_deterministic_algorithms; XLA's
    deterministic flag). Kills: state that survives only in one process (a default graph, a
    cached RNG) standing in for the seed."""
    first, second = fresh_runs(engine)
    assert first["environment"]["keras_backend"] == engine
    assert first["step_losses"] == second["step_losses"]
    assert first["weights_sha256"] == second["weights_sha256"]


@pytest.mark.parametrize("model", ["unrolled-lstm", "fused-lstm"])
def test_injected_upstream_gradient_gives_identical_weight_gradients(model):
    """Backward pass alone: the same random dL/dy pushed through twice, compared bitwise."""
    seed_everything(11)
    config = TINY.replace(dropout=0.0)
    net = build_model(model, config)
    rng = np.random.default_rng(5)
    x = tf.constant(rng.integers(0, config.vocab_size, size=(32, config.max_len)), tf.int32)
    upstream = tf.constant(rng.normal(size=(32, 1)), tf.float32)

    def weight_grads():
        with tf.GradientTape() as tape:
            y = net(x, training=False)
        return tape.gradient(y, net.trainable_weights, output_gradients=upstream)

    first, second = weight_grads(), weight_grads()
    for g1, g2 in zip(first, second, strict=True):
        g1 = tf.convert_to_tensor(g1).numpy()  # the embedding's gradient is IndexedSlices
        g2 = tf.convert_to_tensor(g2).numpy()
        np.testing.assert_array_equal(g1, g2)
    assert any(np.abs(tf.convert_to_tensor(g).numpy()).sum() > 0 for g in first)


@pytest.mark.skipif(
    not tf.config.list_physical_devices("GPU"),
    reason="cuDNN determinism is a GPU property; this machine has no GPU",
)
def test_fused_lstm_is_deterministic_on_gpu_with_op_determinism():
    a, b = _tiny_run("fused-lstm", 5), _tiny_run("fused-lstm", 5)
    assert a["weights_sha256"] == b["weights_sha256"]
