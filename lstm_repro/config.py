"""Run configuration and the one table of model variants.

Defaults are the chapter's numbers (IMDB LSTM, TensorFlow 2.0 code). Nothing here imports a
deep-learning framework, so the CLI can parse and validate without one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from lstm_repro.errors import ReproError

MAX_SEED = 2**32 - 1  # NumPy's legacy seeding (used by keras.utils.set_random_seed) stops here
MAX_VOCAB = 2**31 - 1  # token ids are int32 tensors


@dataclass(frozen=True)
class Variant:
    """One model variant: which cell, stepped how, and its weight layout."""

    name: str
    cell: str  # "lstm", "gru" or "rnn"
    fused: bool  # True: keras.layers.LSTM/GRU (one fused loop, cuDNN-eligible on a GPU);
    # False: the chapter's cells called by hand over the time steps
    gate_blocks: int  # weight blocks per cell: LSTM i, f, c, o = 4; GRU 3; SimpleRNN 1
    biases_per_block: int  # GRU with reset_after keeps two bias vectors; the others one
    summary: str  # one line for --help and reports


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("unrolled-lstm", "lstm", False, 4, 1, "the chapter's LSTMCell stepped by hand"),
        Variant("fused-lstm", "lstm", True, 4, 1, "keras.layers.LSTM (cuDNN on a GPU)"),
        Variant("unrolled-rnn", "rnn", False, 1, 1, "the chapter's SimpleRNNCell baseline"),
        Variant("fused-rnn", "rnn", True, 1, 1, "keras.layers.SimpleRNN (same net, one loop)"),
        Variant("fused-gru", "gru", True, 3, 2, "keras.layers.GRU, the chapter's other remedy"),
    )
}


def variant(name: str) -> Variant:
    try:
        return VARIANTS[name]
    except KeyError:
        raise ReproError(f"unknown model {name!r}; choose one of {', '.join(VARIANTS)}") from None


def _field(default, text: str):
    """A config field and its one description, which --help (cli) reads from the field."""
    return dataclasses.field(default=default, metadata={"help": text})


def field_help(cls) -> dict[str, str]:
    """Each field's description, by name: what `_field` stored."""
    return {f.name: f.metadata["help"] for f in dataclasses.fields(cls) if "help" in f.metadata}


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run's numbers. Frozen: derived values are passed apart."""

    vocab_size: int = _field(
        10000, "words kept (Keras `num_words`); rarer words become the OOV id 2"
    )
    max_len: int = _field(80, "tokens per review after pre-padding / pre-truncation")
    batch_size: int = _field(128, "samples per training step")
    embedding_dim: int = _field(100, "width of the word embedding")
    units: int = _field(64, "hidden units per recurrent layer")
    num_layers: int = _field(2, "stacked recurrent layers")
    dropout: float = _field(0.2, "input dropout of each recurrent cell, one mask per sequence")
    learning_rate: float = _field(1e-3, "Adam step size")
    epochs: int = _field(4, "passes over the training split")
    seed: int = _field(22, "seeds Python, NumPy, the backend, dropout and shuffling")
    clipnorm: float | None = _field(None, "clip gradients to this global L2 norm; None = off")
    forget_bias: float = _field(
        1.0, "LSTM forget-gate bias at init (Keras's unit_forget_bias = 1.0)"
    )
    shuffle_buffer: int = _field(1000, "tf.data shuffle buffer (the chapter's shuffle(1000))")

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
        for name in ("dropout", "learning_rate", "forget_bias", "clipnorm"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, (int, float))
            ):
                raise ReproError(f"{name} must be a number, got {value!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ReproError(f"dropout must lie in [0, 1), got {self.dropout!r}")
        if not 0.0 < self.learning_rate < 1e3:
            raise ReproError(
                f"learning_rate must be positive and finite, got {self.learning_rate!r}"
            )
        if not -1e3 < self.forget_bias < 1e3:
            raise ReproError(f"forget_bias must be a finite number, got {self.forget_bias!r}")
        if self.clipnorm is not None and not 0.0 < self.clipnorm < float("inf"):
            raise ReproError(
                f"clipnorm must be positive and finite (or omitted), got {self.clipnorm!r}"
            )
        if (
            not isinstance(self.seed, int)
            or isinstance(self.seed, bool)
            or not 0 <= self.seed <= MAX_SEED
        ):
            raise ReproError(f"seed must be an integer in 0..{MAX_SEED}, got {self.seed!r}")
        if not 4 <= self.vocab_size <= MAX_VOCAB:
            raise ReproError(
                f"vocab_size must lie in 4..{MAX_VOCAB} (ids 0-2 are pad, start and OOV; "
                "ids are int32)"
            )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        if not isinstance(values, dict):
            raise ReproError(
                f"a config must be an object of field values, got {type(values).__name__}"
            )
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ReproError(f"unknown config keys {unknown}; known keys are {sorted(known)}")
        return cls(**values)

    def replace(self, **changes) -> TrainConfig:
        return dataclasses.replace(self, **changes)


def changed_settings(config: dict, *, skip: tuple[str, ...] = ("seed",)) -> str:
    """The fields of a config (as a dict) that differ from the chapter's, TrainConfig's
    defaults, as 'name=value, ...' ('' when none does): what tells two distributions of one
    model and data apart, such as forget-gate biases 1 and 3."""
    return ", ".join(
        f"{f.name}={config[f.name]}"
        for f in dataclasses.fields(TrainConfig)
        if f.name not in skip and f.name in config and config[f.name] != f.default
    )


@dataclass(frozen=True)
class RunSpec:
    """Everything `reproduce` needs to repeat a run: the model, its config and the data."""

    model: str
    config: TrainConfig
    data: str = "auto"  # one of corpus.DATA_CHOICES
    imdb_path: str | None = None
    train_samples: int | None = None
    test_samples: int | None = None

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "config": self.config.to_dict()}

    @classmethod
    def from_dict(cls, values: dict) -> RunSpec:
        if not isinstance(values, dict) or "config" not in values:
            raise ReproError("a run spec needs at least 'model' and 'config'")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ReproError(f"unknown run spec keys {unknown}; known keys are {sorted(known)}")
        return cls(**{**values, "config": TrainConfig.from_dict(values["config"])})

    @classmethod
    def from_record(cls, record: dict, *, where: str = "the record") -> RunSpec:
        """The run a result record describes: its `spec`, or, for records written before specs
        were recorded, one rebuilt from its model, config and dataset."""
        try:
            if isinstance(record.get("spec"), dict):
                return cls.from_dict(record["spec"])
            dataset = record["dataset"]
            from lstm_repro.corpus import SOURCE, kind_of

            name, source = dataset["name"], dataset["source"]
            data = kind_of(name, source)
            if data is None:
                raise KeyError(f"dataset name {name!r}")
            return cls(
                model=record["model"],
                config=TrainConfig.from_dict(record["config"]),
                data=data,
                imdb_path=source if SOURCE[data].reads_imdb else None,
                train_samples=dataset["train_size"],
                test_samples=dataset["test_size"],
            )
        except (KeyError, TypeError, AttributeError) as e:
            raise ReproError(f"{where} is not a result record ({e} missing or malformed)") from None


def parameter_count(v: Variant, config: TrainConfig) -> int:
    """Trainable weights: embedding, each recurrent layer's kernels and biases, the head."""
    total = config.vocab_size * config.embedding_dim + config.units + 1
    inputs = config.embedding_dim
    for _ in range(config.num_layers):
        blocks = v.gate_blocks * config.units
        total += blocks * (inputs + config.units) + v.biases_per_block * blocks
        inputs = config.units
    return total


def training_memory_bytes(v: Variant, config: TrainConfig) -> int:
    """A lower-bound estimate of what one training step holds in float32: weights, gradients
    and Adam's two moments (4 copies of every weight), plus the activations the backward pass
    keeps for each time step and layer (gate pre-activations, states)."""
    weights = 4 * 4 * parameter_count(v, config)
    per_step = config.embedding_dim + config.num_layers * config.units * (v.gate_blocks + 4)
    activations = 4 * config.batch_size * config.max_len * per_step
    return weights + activations


def check_fits_in_memory(v: Variant, config: TrainConfig, *, available_bytes: int) -> None:
    """Refuse sizes that cannot fit before a framework tries (and dies) allocating them."""
    need = training_memory_bytes(v, config)
    if need > available_bytes:
        raise ReproError(
            f"{v.name} with units={config.units}, batch_size={config.batch_size}, "
            f"vocab_size={config.vocab_size}, embedding_dim={config.embedding_dim}, "
            f"max_len={config.max_len} needs at least {need / 2**30:,.1f} GiB to train; "
            f"this machine has {available_bytes / 2**30:,.1f} GiB available. Use smaller sizes."
        )
