"""Issue 21's candidates for removal, one per fresh process: what each does to the chapter's
training on real reviews, in time and in bits.

Usage: python benchmarks/chapter/removals.py ARCHIVE OPTION [EPOCHS] [SAMPLES] >> out.jsonl

OPTION is one of OPTIONS. The run is `reproduce`'s (unrolled-lstm, seed 22, the chapter's
config, tf.data, the step recorder) with that one thing changed; it prints one JSON line: the
wall time, each epoch's training and validation phases (Keras callbacks), the median step, the
test accuracy and loss per epoch and the weights' SHA-256, so that "same bits" is read off,
never assumed. The first epoch's phases include tracing and compiling.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

OPTIONS = {
    "as-is": "reproduce as it runs",
    "keras-sparse-adam": "keras.optimizers.Adam on the embedding's IndexedSlices (the old way)",
    "no-step-losses": "no per-step loss recorder (no host sync after each step)",
    "steps-per-execution-5": "compile(steps_per_execution=5)",
    "eval-batch-1024": "the test split in batches of 1024 (no dropout at evaluation)",
    "no-prefetch": "tf.data without prefetch",
    "fast-kernels": "op determinism off (the seeds stay)",
}


def main(archive: str, option: str, epochs: str = "2", samples: str = "25000") -> None:
    if option not in OPTIONS:
        sys.exit(f"removals: unknown option {option!r}; choose one of {', '.join(OPTIONS)}")
    import keras
    import tensorflow as tf
    from chapter_script import Phases  # beside this file: the comparison's epoch phases

    from lstm_repro import backend
    from lstm_repro.config import RunSpec, TrainConfig
    from lstm_repro.data import load_for, make_pipelines
    from lstm_repro.models import build_model
    from lstm_repro.records import weights_sha256
    from lstm_repro.train import ChapterAdam, StepRecorder, seed_everything

    config = TrainConfig(epochs=int(epochs))
    n = int(samples)
    data = load_for(
        RunSpec("unrolled-lstm", config, "imdb", archive, train_samples=n, test_samples=n)
    )

    start = time.perf_counter()
    seed_everything(config.seed)
    if option == "fast-kernels":
        backend.allow_nondeterminism()
    model = build_model("unrolled-lstm", config)
    adam = keras.optimizers.Adam if option == "keras-sparse-adam" else ChapterAdam
    model.compile(
        optimizer=adam(learning_rate=config.learning_rate),
        loss=keras.losses.BinaryCrossentropy(),
        metrics=[keras.metrics.BinaryAccuracy(name="accuracy")],
        steps_per_execution=5 if option == "steps-per-execution-5" else 1,
    )
    train, test = make_pipelines(
        data, batch_size=config.batch_size, seed=config.seed, shuffle_buffer=config.shuffle_buffer
    )
    if option == "eval-batch-1024":
        test = tf.data.Dataset.from_tensor_slices((data.x_test, data.y_test)).batch(1024)
        test = test.prefetch(tf.data.AUTOTUNE)
    if option == "no-prefetch":
        train = tf.data.Dataset.from_tensor_slices((data.x_train, data.y_train))
        train = train.shuffle(config.shuffle_buffer, seed=config.seed).batch(
            config.batch_size, drop_remainder=True
        )
        test = tf.data.Dataset.from_tensor_slices((data.x_test, data.y_test)).batch(
            config.batch_size
        )
    recorder, phases = StepRecorder(), Phases()
    callbacks = [phases] if option == "no-step-losses" else [recorder, phases]
    history = model.fit(
        train, epochs=config.epochs, validation_data=test, callbacks=callbacks, verbose=0
    ).history
    steps = recorder.seconds[1:]
    print(
        json.dumps(
            {
                "option": option,
                "wall_s": time.perf_counter() - start,
                "epochs": phases.rows,
                "median_step_ms": statistics.median(steps) * 1e3 if steps else None,
                "test_accuracy": history["val_accuracy"],
                "test_loss": history["val_loss"],
                "weights_sha256": weights_sha256(model.get_weights()),
                "deterministic": backend.determinism_enabled(),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main(*sys.argv[1:5])
