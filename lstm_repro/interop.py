"""Keras LSTM weights in the layouts of two implementations nobody on this project wrote:
`torch.nn.LSTM` and the ONNX `LSTM` operator (run by onnxruntime). Used to check the chapter's
model against them (tests/test_engines.py).

Keras: kernel (inputs, 4u), recurrent_kernel (u, 4u), bias (4u,), gate order i, f, c, o.
torch: weight_ih (4u, inputs), weight_hh (4u, u), bias_ih + bias_hh, gate order i, f, g, o
(the same order; the one bias goes in bias_ih, zeros in bias_hh).
ONNX: W (1, 4u, inputs), R (1, 4u, u), B (1, 8u) = [Wb, Rb], gate order i, o, f, c.
"""

from __future__ import annotations

import numpy as np

KERAS_GATES = "ifco"
ONNX_GATES = "iofc"


def _reorder(matrix: np.ndarray, units: int, order: str) -> np.ndarray:
    """Rows of a (4u, ...) gate-stacked matrix rearranged from Keras's i, f, c, o to `order`."""
    blocks = {g: matrix[k * units : (k + 1) * units] for k, g in enumerate(KERAS_GATES)}
    return np.concatenate([blocks[g] for g in order], axis=0)


def lstm_to_torch(kernel, recurrent_kernel, bias, *, order: str = KERAS_GATES) -> dict:
    """One Keras LSTM layer's weights as torch.nn.LSTM's weight_ih, weight_hh, bias_ih, bias_hh
    (NumPy, float32). `order` exists so that tests can show a wrong mapping is caught."""
    units = recurrent_kernel.shape[0]
    return {
        "weight_ih": _reorder(np.asarray(kernel).T, units, order).astype(np.float32),
        "weight_hh": _reorder(np.asarray(recurrent_kernel).T, units, order).astype(np.float32),
        "bias_ih": _reorder(np.asarray(bias)[:, None], units, order)[:, 0].astype(np.float32),
        "bias_hh": np.zeros(4 * units, dtype=np.float32),
    }


def lstm_to_onnx(kernel, recurrent_kernel, bias, *, order: str = ONNX_GATES) -> dict:
    """One Keras LSTM layer's weights as the ONNX LSTM node's W, R and B initialisers."""
    units = recurrent_kernel.shape[0]
    w = _reorder(np.asarray(kernel).T, units, order)[None]  # (1, 4u, inputs)
    r = _reorder(np.asarray(recurrent_kernel).T, units, order)[None]  # (1, 4u, u)
    b = _reorder(np.asarray(bias)[:, None], units, order)[:, 0]
    return {
        "W": w.astype(np.float32),
        "R": r.astype(np.float32),
        "B": np.concatenate([b, np.zeros_like(b)])[None].astype(np.float32),  # (1, 8u)
    }


def onnx_lstm_model(weights: list[np.ndarray], *, order: str = ONNX_GATES, opset: int = 17):
    """The chapter's network (Embedding -> LSTM layers -> Dense(1) -> sigmoid) as an ONNX
    graph, from a Keras model's get_weights() (embedding, then kernel/recurrent/bias per layer,
    then the head). Input `tokens` (batch, time) int64; output `p` (batch, 1)."""
    from onnx import TensorProto, helper, numpy_helper

    embedding, *rest = weights
    head_w, head_b = rest[-2:]
    layers = [rest[i : i + 3] for i in range(0, len(rest) - 2, 3)]
    inits = [numpy_helper.from_array(np.asarray(embedding, np.float32), "embedding")]
    nodes = [
        helper.make_node("Gather", ["embedding", "tokens"], ["embedded"]),  # (b, t, e)
        helper.make_node("Transpose", ["embedded"], ["x0"], perm=[1, 0, 2]),  # (t, b, e)
    ]
    x = "x0"
    for k, (kernel, recurrent, bias) in enumerate(layers):
        units = recurrent.shape[0]
        onnx_w = lstm_to_onnx(kernel, recurrent, bias, order=order)
        for key, value in onnx_w.items():
            inits.append(numpy_helper.from_array(value, f"{key}{k}"))
        last = k == len(layers) - 1
        nodes.append(
            helper.make_node(
                "LSTM",
                [x, f"W{k}", f"R{k}", f"B{k}"],
                [f"seq{k}", f"h{k}"],
                hidden_size=units,
            )
        )
        if not last:
            inits.append(numpy_helper.from_array(np.array([1], np.int64), f"axis{k}"))
            nodes.append(helper.make_node("Squeeze", [f"seq{k}", f"axis{k}"], [f"x{k + 1}"]))
            x = f"x{k + 1}"  # (t, b, u)
    inits += [
        numpy_helper.from_array(np.array([0], np.int64), "axis_h"),
        numpy_helper.from_array(np.asarray(head_w, np.float32), "head_w"),
        numpy_helper.from_array(np.asarray(head_b, np.float32), "head_b"),
    ]
    nodes += [
        helper.make_node("Squeeze", [f"h{len(layers) - 1}", "axis_h"], ["h_last"]),  # (b, u)
        helper.make_node("MatMul", ["h_last", "head_w"], ["logit0"]),
        helper.make_node("Add", ["logit0", "head_b"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["p"]),  # (b, 1)
    ]
    graph = helper.make_graph(
        nodes,
        "chapter_lstm",
        [helper.make_tensor_value_info("tokens", TensorProto.INT64, ["batch", "time"])],
        [helper.make_tensor_value_info("p", TensorProto.FLOAT, ["batch", 1])],
        initializer=inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def run_onnx(model, tokens: np.ndarray) -> np.ndarray:
    import onnxruntime

    session = onnxruntime.InferenceSession(
        model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    return session.run(["p"], {"tokens": np.asarray(tokens, np.int64)})[0]


def torch_lstm_forward_and_grads(
    weights: list[np.ndarray], tokens: np.ndarray, coeff: np.ndarray, *, order: str = KERAS_GATES
):
    """The chapter's network in plain PyTorch (nn.Embedding, nn.LSTM, nn.Linear) with a Keras
    model's weights: P(positive) and the gradients of sum(coeff * p) in Keras's layouts."""
    import torch

    embedding, *rest = weights
    head_w, head_b = rest[-2:]
    layers = [rest[i : i + 3] for i in range(0, len(rest) - 2, 3)]
    units = layers[0][1].shape[0]
    emb = torch.nn.Embedding(*embedding.shape)
    lstm = torch.nn.LSTM(embedding.shape[1], units, num_layers=len(layers), batch_first=True)
    head = torch.nn.Linear(units, 1)
    with torch.no_grad():
        emb.weight.copy_(torch.tensor(embedding))
        for k, (kernel, recurrent, bias) in enumerate(layers):
            for key, value in lstm_to_torch(kernel, recurrent, bias, order=order).items():
                getattr(lstm, f"{key}_l{k}").copy_(torch.tensor(value))
        head.weight.copy_(torch.tensor(np.asarray(head_w).T))
        head.bias.copy_(torch.tensor(head_b))
    sequence, _ = lstm(emb(torch.tensor(np.asarray(tokens, np.int64))))  # (b, t, u)
    p = torch.sigmoid(head(sequence[:, -1]))  # (b, 1)
    (p * torch.tensor(coeff)).sum().backward()
    inverse = {g: order.index(g) for g in KERAS_GATES}

    def back(matrix):  # torch's gate blocks in `order` -> Keras's i, f, c, o
        blocks = [matrix[j * units : (j + 1) * units] for j in range(4)]
        return np.concatenate([blocks[inverse[g]] for g in KERAS_GATES], axis=0)

    grads = [emb.weight.grad.numpy()]
    for k in range(len(layers)):
        # The bias gradient is bias_ih's (bias_hh's is the same: both add to the gates).
        grads += [
            back(getattr(lstm, f"weight_ih_l{k}").grad.numpy()).T,
            back(getattr(lstm, f"weight_hh_l{k}").grad.numpy()).T,
            back(getattr(lstm, f"bias_ih_l{k}").grad.numpy()[:, None])[:, 0],
        ]
    grads += [head.weight.grad.numpy().T, head.bias.grad.numpy()]
    return p.detach().numpy(), grads
