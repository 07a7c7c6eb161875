"""Same seed, same bits (same machine, same versions); a different seed, different weights."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from lstm_repro.config import TrainConfig
from lstm_repro.models import build_model
from lstm_repro.synthetic import make_synthetic
from lstm_repro.train import seed_everything, train

SMALL = TrainConfig(vocab_size=2000, max_len=24, units=16, embedding_dim=16, epochs=1, seed=3)


def _small_run(model: str, seed: int) -> dict:
    config = SMALL.replace(seed=seed)
    data = make_synthetic(n_train=512, n_test=128, seed=seed, num_words=2000, max_len=24)
    return train(config, data=data, model_name=model)


@pytest.mark.parametrize("model", ["unrolled-lstm", "fused-lstm", "unrolled-rnn", "fused-gru"])
def test_same_seed_in_one_process_gives_bit_identical_losses_and_weights(model):
    a, b = _small_run(model, 3), _small_run(model, 3)
    assert len(a["step_losses"]) == 4
    assert a["step_losses"] == b["step_losses"]  # float equality: the same bits
    assert a["weights_sha256"] == b["weights_sha256"]


def test_a_different_seed_gives_different_weights():
    assert (
        _small_run("unrolled-lstm", 3)["weights_sha256"]
        != _small_run("unrolled-lstm", 4)["weights_sha256"]
    )


def _cli_run(tmp_path, seed: int) -> dict:
    out = tmp_path / f"r{seed}-{len(list(tmp_path.iterdir()))}.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "lstm_repro",
            "reproduce",
            "--data",
            "synthetic",
            "--epochs",
            "1",
            "--seed",
            str(seed),
            "--train-samples",
            "512",
            "--test-samples",
            "128",
            "--units",
            "16",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(out.read_text())


def test_two_fresh_processes_agree_bit_for_bit_and_another_seed_differs(tmp_path):
    first, second, other = _cli_run(tmp_path, 7), _cli_run(tmp_path, 7), _cli_run(tmp_path, 8)
    assert first["step_losses"] == second["step_losses"]
    assert first["weights_sha256"] == second["weights_sha256"]
    assert other["weights_sha256"] != first["weights_sha256"]


@pytest.mark.parametrize("model", ["unrolled-lstm", "fused-lstm"])
def test_injected_upstream_gradient_gives_identical_weight_gradients(model):
    """Backward pass alone: the same random dL/dy pushed through twice, compared bitwise."""
    seed_everything(11)
    config = SMALL.replace(dropout=0.0)
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
    a, b = _small_run("fused-lstm", 5), _small_run("fused-lstm", 5)
    assert a["weights_sha256"] == b["weights_sha256"]
