"""Seeded, deterministic training of one model variant -> a result record (a plain dict).

Backend-neutral: Keras 3's TensorFlow, JAX or PyTorch backend (KERAS_BACKEND), with each
backend's deterministic mode (lstm_repro.backend.seed_everything)."""

from __future__ import annotations

import logging
import os
import statistics
import time

import keras

from lstm_repro import backend
from lstm_repro.config import RunSpec, TrainConfig, check_fits_in_memory, variant
from lstm_repro.data import Dataset, load_for, make_pipelines
from lstm_repro.errors import ReproError
from lstm_repro.models import build_model
from lstm_repro.records import (
    NUMERICS_VERSION,
    SCHEMA_VERSION,
    available_memory_bytes,
    environment,
    weights_sha256,
)

log = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    """Seeds and deterministic kernels for the active backend (backend.seed_everything)."""
    backend.seed_everything(seed)


def _out_of_memory_errors() -> tuple[type[BaseException], ...]:
    """MemoryError and each loaded backend's own out-of-memory error."""
    import sys

    errors: list[type[BaseException]] = [MemoryError]
    if "tensorflow" in sys.modules:
        errors.append(sys.modules["tensorflow"].errors.ResourceExhaustedError)
    if "torch" in sys.modules:
        errors.append(sys.modules["torch"].cuda.OutOfMemoryError)
    return tuple(errors)


class StepRecorder(keras.callbacks.Callback):
    """Per-step wall time and the loss Keras reports after each step."""

    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []
        self.losses: list[float] = []
        self._start = 0.0

    def on_train_batch_begin(self, batch, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.losses.append(float(logs["loss"]))  # float() waits for the step to finish
        self.seconds.append(time.perf_counter() - self._start)


class ChapterAdam(keras.optimizers.Adam):
    """Keras 3's Adam, given the embedding's gradient dense, as TensorFlow 2.0's Adam (the
    chapter's) used it.

    On TensorFlow the embedding's gradient arrives as IndexedSlices with one row per token
    occurrence, and Keras 3's Adam squares those rows before they are summed: a word seen n
    times in a batch gets sum(g_i^2) in its second moment, not (sum g_i)^2 (measured: rows
    [2, 2] of ones give v = 2(1 - beta_2), dense gives 4(1 - beta_2)). TensorFlow 2.0's Adam
    summed duplicate rows first (_resource_apply_sparse_duplicate_indices), which is Adam on
    the dense gradient. JAX and PyTorch hand Adam dense gradients already. Dense is also what
    the profile favours: Keras 3's sparse path (Unique, UnsortedSegmentSum) took 6.9-7.4% of
    the chapter's step on a 2-core AMD EPYC (2026-12-03); see the README, "Where the step goes".
    """

    def update_step(self, gradient, variable, learning_rate):
        if type(gradient).__name__ == "IndexedSlices":  # only TensorFlow makes them
            import tensorflow as tf

            gradient = tf.convert_to_tensor(gradient)  # duplicate rows summed, then dense
        super().update_step(gradient, variable, learning_rate)


def compile_model(model: keras.Model, config: TrainConfig) -> None:
    """The chapter's optimiser and loss: Adam(lr) (ChapterAdam: on the dense gradient, as in
    TensorFlow 2.0), binary cross-entropy on probabilities."""
    model.compile(
        optimizer=ChapterAdam(learning_rate=config.learning_rate, global_clipnorm=config.clipnorm),
        loss=keras.losses.BinaryCrossentropy(),
        metrics=[keras.metrics.BinaryAccuracy(name="accuracy")],
    )


def _tensorboard(log_dir) -> list[keras.callbacks.Callback]:
    """Keras's TensorBoard callback: it writes event files through tf.summary, so it works
    wherever TensorFlow is installed; without TensorFlow it is refused, not skipped."""
    if log_dir is None:
        return []
    if keras.backend.backend() != "tensorflow":
        raise ReproError(
            f"--tensorboard needs the tensorflow backend (this is {keras.backend.backend()})"
        )
    return [keras.callbacks.TensorBoard(log_dir=str(log_dir), update_freq="epoch")]


def check_memory(config: TrainConfig, model_name: str) -> None:
    check_fits_in_memory(variant(model_name), config, available_bytes=available_memory_bytes())


def train(
    config: TrainConfig,
    *,
    data: Dataset,
    model_name: str,
    progress: bool = False,
    tensorboard: str | os.PathLike | None = None,
) -> dict:
    """Train `model_name` on `data` with `config`; return the result record.

    Same config, data, seed, machine and library versions give the same bits: per-step losses
    and `weights_sha256` included.
    """
    if data.train_size < config.batch_size:
        raise ReproError(
            f"the training split has {data.train_size} samples, fewer than one batch of "
            f"{config.batch_size}; use more --train-samples or a smaller --batch-size"
        )
    if data.x_train.shape[1] != config.max_len:
        raise ReproError(
            f"data is padded to {data.x_train.shape[1]} tokens, "
            f"but config.max_len is {config.max_len}"
        )
    check_memory(config, model_name)
    start = time.perf_counter()
    seed_everything(config.seed)
    recorder = StepRecorder()
    try:
        model = build_model(model_name, config)
        compile_model(model, config)
        train_ds, test_ds = make_pipelines(
            data,
            batch_size=config.batch_size,
            seed=config.seed,
            shuffle_buffer=config.shuffle_buffer,
        )
        history = model.fit(
            train_ds,
            epochs=config.epochs,
            validation_data=test_ds,
            callbacks=[recorder, *_tensorboard(tensorboard)],
            shuffle=False,  # the pipelines shuffle, seeded
            verbose=1 if progress else 0,
        ).history
    except _out_of_memory_errors() as e:
        raise ReproError(
            f"out of memory training {model_name} (units={config.units}, "
            f"batch_size={config.batch_size}): {type(e).__name__}. Use smaller sizes."
        ) from None
    seconds = time.perf_counter() - start
    epochs = [
        {
            "epoch": i + 1,
            "train_loss": history["loss"][i],
            "train_accuracy": history["accuracy"][i],
            "test_loss": history["val_loss"][i],
            "test_accuracy": history["val_accuracy"][i],
        }
        for i in range(config.epochs)
    ]
    steady = recorder.seconds[1:] or recorder.seconds  # the first step also traces and compiles
    result = {
        "schema_version": SCHEMA_VERSION,
        "numerics": NUMERICS_VERSION,
        "model": model_name,
        "config": config.to_dict(),
        "dataset": data.identity(),
        "history": epochs,
        "test_accuracy": epochs[-1]["test_accuracy"],
        "test_loss": epochs[-1]["test_loss"],
        "weights_sha256": weights_sha256(model.get_weights()),
        "step_losses": recorder.losses,
        "steps": len(recorder.seconds),
        "seconds": seconds,
        "step_seconds": statistics.median(steady),
        "first_step_seconds": recorder.seconds[0],
        "environment": environment(),
    }
    log.info(
        "trained %s: test accuracy %.4f in %.1f s", model_name, result["test_accuracy"], seconds
    )
    return result


def run(
    spec: RunSpec,
    *,
    data: Dataset | None = None,
    progress: bool = False,
    tensorboard: str | os.PathLike | None = None,
) -> dict:
    """One reproduction: load the data `spec` names (unless given) and train; the result
    record carries `spec`, so `verify` and `reproduce --config` can repeat it."""
    data = load_for(spec) if data is None else data
    result = train(
        spec.config, data=data, model_name=spec.model, progress=progress, tensorboard=tensorboard
    )
    return {**result, "spec": spec.to_dict()}
