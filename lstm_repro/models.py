"""The networks under test: the chapter's hand-stepped cells and Keras's fused layers.

Every variant maps int token ids (batch, time) to P(positive) (batch, 1) through
Embedding -> `num_layers` recurrent layers -> Dense(1) -> sigmoid. No variant bakes in the
batch size. Weights are created in the same order (embedding, layer 1, ..., head) in every
variant, so `unrolled-lstm` and `fused-lstm` weights transfer one to one via get/set_weights.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
from keras import layers, ops

from lstm_repro.config import TrainConfig, variant
from lstm_repro.errors import ReproError


class UnrolledRNN(keras.Model):
    """The chapter's MyRnn, ported to Keras 3: cells stepped by hand over `time` in Python.

    Ported details: initial states are sized from the input batch (the chapter baked in
    batch 128), and each cell's cached dropout mask is cleared on every call, so a mask made
    in one traced graph never leaks into another (InaccessibleTensorError otherwise).
    """

    def __init__(self, *, config: TrainConfig, make_cell: Callable[[], layers.Layer], **kwargs):
        super().__init__(**kwargs)
        self.embedding = layers.Embedding(config.vocab_size, config.embedding_dim)
        self.cells = [make_cell() for _ in range(config.num_layers)]
        self.head = layers.Dense(1)

    def call(self, tokens, training=False):
        x = self.embedding(tokens)  # (batch, time, embed)
        batch = ops.shape(x)[0]
        states = [cell.get_initial_state(batch_size=batch) for cell in self.cells]
        for cell in self.cells:
            cell.reset_dropout_mask()  # one fresh mask per sequence, as keras.layers.RNN does
        h = None
        for x_t in ops.unstack(x, axis=1):  # time x (batch, embed)
            h = x_t
            for i, cell in enumerate(self.cells):
                h, states[i] = cell(h, states[i], training=training)  # h: (batch, units)
        for cell in self.cells:
            cell.reset_dropout_mask()
        return ops.sigmoid(self.head(h))  # (batch, 1)


def _unrolled(config: TrainConfig, cell_cls) -> keras.Model:
    model = UnrolledRNN(
        config=config, make_cell=lambda: cell_cls(config.units, dropout=config.dropout)
    )
    model(ops.zeros((1, 1), dtype="int32"))  # create weights (their shapes ignore the length)
    return model


def _fused(config: TrainConfig, layer_cls) -> keras.Model:
    # Left at their defaults on purpose: activation tanh, recurrent_activation sigmoid,
    # recurrent_dropout 0, unroll False, use_bias True -- the conditions for cuDNN on a GPU.
    recurrent = [
        layer_cls(config.units, dropout=config.dropout, return_sequences=i < config.num_layers - 1)
        for i in range(config.num_layers)
    ]
    return keras.Sequential(
        [
            keras.Input(shape=(None,), dtype="int32"),  # (batch, time), neither baked in
            layers.Embedding(config.vocab_size, config.embedding_dim),
            *recurrent,
            layers.Dense(1),
            layers.Activation("sigmoid"),
        ]
    )


_CELLS = {"lstm": layers.LSTMCell, "rnn": layers.SimpleRNNCell, "gru": layers.GRUCell}
_FUSED = {"lstm": layers.LSTM, "rnn": layers.SimpleRNN, "gru": layers.GRU}


def build_model(name: str, config: TrainConfig) -> keras.Model:
    """Build variant `name` (config.VARIANTS) with freshly initialised weights (seed first).

    config.forget_bias other than Keras's 1.0 overwrites the LSTM cells' forget-gate bias
    (gate order i, f, c, o); for the other cells it is an error.
    """
    v = variant(name)
    if config.forget_bias != 1.0 and v.cell != "lstm":
        raise ReproError(f"--forget-bias applies to the LSTM variants only, not {name}")
    model = _fused(config, _FUSED[v.cell]) if v.fused else _unrolled(config, _CELLS[v.cell])
    if config.forget_bias != 1.0:
        for cell in recurrent_cells(model):
            kernel, recurrent, bias = cell.get_weights()
            bias[config.units : 2 * config.units] = config.forget_bias
            cell.set_weights([kernel, recurrent, bias])
    return model


def recurrent_cells(model: keras.Model) -> list[layers.Layer]:
    """The per-layer recurrent cells of any variant, bottom first."""
    if isinstance(model, UnrolledRNN):
        return list(model.cells)
    return [layer.cell for layer in model.layers if isinstance(layer, layers.RNN)]
