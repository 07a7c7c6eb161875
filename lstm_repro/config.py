"""Run configuration. Defaults are the chapter's numbers (IMDB LSTM, TensorFlow 2.0 code)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from lstm_repro.errors import ReproError

# The model variants (built in models.py); listed here so the CLI can parse without TensorFlow.
MODEL_NAMES = ("unrolled-lstm", "fused-lstm", "unrolled-rnn", "fused-gru")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run's numbers. Frozen: derived values are passed apart."""

    vocab_size: int = 10000  # words kept (Keras `num_words`); rarer words become the OOV id 2
    max_len: int = 80  # tokens per review after pre-padding / pre-truncation
    batch_size: int = 128  # samples per training step
    embedding_dim: int = 100  # width of the word embedding
    units: int = 64  # hidden units per recurrent layer
    num_layers: int = 2  # stacked recurrent layers
    dropout: float = 0.2  # input dropout of each recurrent cell, one mask per sequence
    learning_rate: float = 1e-3  # Adam step size
    epochs: int = 4  # passes over the training split
    seed: int = 22  # seeds Python, NumPy, TensorFlow, dropout and shuffling
    clipnorm: float | None = None  # clip gradients to this global L2 norm; None = off
    forget_bias: float = 1.0  # LSTM forget-gate bias at init (Keras's unit_forget_bias = 1.0)
    shuffle_buffer: int = 1000  # tf.data shuffle buffer (the chapter's shuffle(1000))

    def __post_init__(self) -> None:
        positive = (
            "vocab_size",
            "max_len",
            "batch_size",
            "embedding_dim",
            "units",
            "num_layers",
            "epochs",
            "shuffle_buffer",
        )
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ReproError(f"{name} must be a positive integer, got {value!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ReproError(f"dropout must lie in [0, 1), got {self.dropout!r}")
        if not self.learning_rate > 0.0:
            raise ReproError(f"learning_rate must be positive, got {self.learning_rate!r}")
        if not -1e3 < self.forget_bias < 1e3:
            raise ReproError(f"forget_bias must be a finite number, got {self.forget_bias!r}")
        if self.clipnorm is not None and not self.clipnorm > 0.0:
            raise ReproError(f"clipnorm must be positive (or omitted), got {self.clipnorm!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ReproError(f"seed must be a non-negative integer, got {self.seed!r}")
        if self.vocab_size < 4:
            raise ReproError("vocab_size must be at least 4 (ids 0-2 are pad, start and OOV)")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ReproError(f"unknown config keys {unknown}; known keys are {sorted(known)}")
        return cls(**values)

    def replace(self, **changes) -> TrainConfig:
        return dataclasses.replace(self, **changes)
