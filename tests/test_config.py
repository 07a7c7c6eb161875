import dataclasses

import pytest

from lstm_repro.config import VARIANTS, TrainConfig
from lstm_repro.errors import ReproError


def test_defaults_are_the_chapters_numbers():
    c = TrainConfig()
    assert (c.vocab_size, c.max_len, c.batch_size, c.embedding_dim) == (10000, 80, 128, 100)
    assert (c.units, c.num_layers, c.dropout) == (64, 2, 0.2)
    assert (c.learning_rate, c.epochs, c.seed) == (1e-3, 4, 22)
    assert c.clipnorm is None


def test_config_round_trips_through_a_dict():
    c = TrainConfig(units=32, clipnorm=1.5, seed=3)
    assert TrainConfig.from_dict(c.to_dict()) == c


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        TrainConfig().units = 3


@pytest.mark.parametrize(
    "change",
    [
        {"epochs": 0},
        {"epochs": -1},
        {"units": 0},
        {"batch_size": -5},
        {"dropout": 1.0},
        {"learning_rate": 0.0},
        {"clipnorm": 0.0},
        {"seed": -1},
        {"vocab_size": 3},
    ],
)
def test_invalid_values_raise_a_user_error(change):
    with pytest.raises(ReproError):
        TrainConfig(**change)


def test_unknown_keys_are_refused():
    with pytest.raises(ReproError, match="unknown config keys"):
        TrainConfig.from_dict({"units": 4, "unitz": 5})


def test_the_variants_are_named_in_one_table():
    assert tuple(VARIANTS) == (
        "unrolled-lstm",
        "fused-lstm",
        "unrolled-rnn",
        "fused-rnn",
        "fused-gru",
    )
    assert {v.cell for v in VARIANTS.values()} == {"lstm", "rnn", "gru"}


def test_every_config_flag_is_described_by_its_field(capsys):
    """Each TrainConfig field carries its description in dataclasses.field(metadata=...), and
    `reproduce --help` prints it beside the field's flag and default. Kills: a field added
    without a description (KeyError at parser build), help scraped from somewhere else (a
    description changed in the field but not in --help), a flag printing another's text."""
    from lstm_repro.cli import main
    from lstm_repro.config import field_help

    helps = field_help(TrainConfig)
    assert set(helps) == {f.name for f in dataclasses.fields(TrainConfig)}
    with pytest.raises(SystemExit) as e:
        main(["reproduce", "--help"])
    assert e.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for name, description in helps.items():
        default = getattr(TrainConfig(), name)
        assert f"--{name.replace('_', '-')} " in text
        assert " ".join(f"{description} (default {default})".split()) in text, name
