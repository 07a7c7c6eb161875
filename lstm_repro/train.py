"""Seeded, deterministic training of one model variant -> a result record (a plain dict)."""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed

import keras
import tensorflow as tf

from lstm_repro.config import RunSpec, TrainConfig, check_fits_in_memory, variant
from lstm_repro.data import Dataset, load_dataset, make_pipelines
from lstm_repro.errors import ReproError
from lstm_repro.models import build_model
from lstm_repro.records import (
    SCHEMA_VERSION,
    available_memory_bytes,
    environment,
    weights_sha256,
)

log = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    """A cleared Keras session, Python/NumPy/TensorFlow seeds and deterministic kernels.

    The session is cleared because the unrolled graphs' gradient sums depend on the
    auto-generated layer names: a second identical run in one process (lstm_cell_2 instead of
    lstm_cell) gave weights 1 ulp apart (max |diff| 3e-8) with identical losses. Op
    determinism makes Keras turn XLA off and makes ops without a deterministic kernel raise
    instead of silently varying; it stays on for the rest of the process.
    """
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


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


def compile_model(model: keras.Model, config: TrainConfig) -> None:
    """The chapter's optimiser and loss: Adam(lr), binary cross-entropy on probabilities."""
    model.compile(
        optimizer=keras.optimizers.Adam(
            learning_rate=config.learning_rate, global_clipnorm=config.clipnorm
        ),
        loss=keras.losses.BinaryCrossentropy(),
        metrics=[keras.metrics.BinaryAccuracy(name="accuracy")],
    )


def check_memory(config: TrainConfig, model_name: str) -> None:
    check_fits_in_memory(variant(model_name), config, available_bytes=available_memory_bytes())


def train(config: TrainConfig, *, data: Dataset, model_name: str, progress: bool = False) -> dict:
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
            callbacks=[recorder],
            shuffle=False,  # the tf.data pipeline shuffles, seeded
            verbose=1 if progress else 0,
        ).history
    except (MemoryError, tf.errors.ResourceExhaustedError) as e:
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


def run(spec: RunSpec, *, progress: bool = False) -> dict:
    """Load the data `spec` names and train on it: one reproduction, as a result record."""
    data = load_dataset(
        spec.data,
        num_words=spec.config.vocab_size,
        max_len=spec.config.max_len,
        seed=spec.config.seed,
        imdb_path=spec.imdb_path,
        train_samples=spec.train_samples,
        test_samples=spec.test_samples,
    )
    return train(spec.config, data=data, model_name=spec.model, progress=progress)


def _run_in_child(spec: dict) -> dict:
    return run(RunSpec.from_dict(spec))


def run_seeds(
    spec: RunSpec,
    seeds: list[int],
    *,
    jobs: int = 1,
    on_done: Callable[[dict], None] | None = None,
) -> list[dict]:
    """One fresh process per seed (spawned, one task each: no state leaks between runs), at
    most `jobs` at a time. Each run is exactly `reproduce --seed S` with spec's other options.
    Results come back in seed order."""
    context = multiprocessing.get_context("spawn")  # TensorFlow does not survive a fork
    specs = {
        s: dataclasses.replace(spec, config=spec.config.replace(seed=s)).to_dict() for s in seeds
    }
    results: dict[int, dict] = {}
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context, max_tasks_per_child=1) as pool:
        futures = {pool.submit(_run_in_child, specs[s]): s for s in seeds}
        try:
            for future in as_completed(futures):
                result = future.result()
                results[futures[future]] = result
                if on_done is not None:
                    on_done(result)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return [results[s] for s in seeds]
