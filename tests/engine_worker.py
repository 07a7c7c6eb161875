"""Run under one Keras backend (KERAS_BACKEND=tensorflow|jax|torch) in its own process:

    python tests/engine_worker.py IN.npz OUT.npz

IN.npz holds the chapter network's weights (w0, w1, ...), `tokens` (batch, time) and `coeff`
(batch, 1). For unrolled-lstm and fused-lstm built with those weights, OUT.npz gets the outputs
P(positive) and the gradients of sum(coeff * P) with respect to every weight (Keras's
stateless_call, differentiated by the backend itself). Under torch it also gets the same from a
plain torch.nn.LSTM network (lstm_repro.interop), and from one whose mapping swaps two gates.
tests/test_engines.py compares the files.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(inp: str, out: str) -> None:
    from keras import ops

    from lstm_repro import backend
    from lstm_repro.config import TrainConfig
    from lstm_repro.models import build_model

    data = np.load(inp)
    weights = [data[f"w{i}"] for i in range(len([k for k in data if k.startswith("w")]))]
    tokens, coeff = data["tokens"], data["coeff"]
    config = TrainConfig(
        vocab_size=int(data["vocab"]),
        max_len=tokens.shape[1],
        embedding_dim=weights[0].shape[1],
        units=weights[2].shape[0],
        num_layers=(len(weights) - 3) // 3,
        dropout=0.0,
    )
    results = {"backend": np.array(backend.name())}
    for variant in ("unrolled-lstm", "fused-lstm"):
        model = build_model(variant, config)
        model.set_weights(weights)

        fixed = [ops.convert_to_tensor(v) for v in model.non_trainable_variables]  # seed states
        c = ops.convert_to_tensor(coeff)

        def loss(*ws, model=model, fixed=fixed, c=c):
            p, _ = model.stateless_call(list(ws), fixed, ops.convert_to_tensor(tokens))
            return ops.sum(p * c)

        p = ops.convert_to_numpy(model(tokens, training=False))
        _, grads = backend.value_and_grad(loss, [w.astype(np.float32) for w in weights])
        key = variant.split("-")[0]
        results[f"{key}_p"] = p
        for i, g in enumerate(grads):
            results[f"{key}_g{i}"] = g
    if backend.name() == "torch":
        from lstm_repro.interop import KERAS_GATES, torch_lstm_forward_and_grads

        # The right mapping, and one with i and f swapped (the negative control).
        for key, order in (("torchnn", KERAS_GATES), ("torchswapped", "fico")):
            p, grads = torch_lstm_forward_and_grads(weights, tokens, coeff, order=order)
            results[f"{key}_p"] = p
            for i, g in enumerate(grads):
                results[f"{key}_g{i}"] = g
    np.savez(out, **results)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
