"""The figures: matplotlib (Agg) renderings of result documents, written atomically or
returned as PNG bytes for the report. Tables and text are report.py's."""

from __future__ import annotations


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def curves_figure(result: dict):
    """Training curves of one result record: per-epoch loss and accuracy (train and test)
    and the loss after every step."""
    import numpy as np

    plt = _pyplot()
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(12, 3.6))
    epochs = [h["epoch"] for h in result["history"]]
    for key, style in (("train", "o-"), ("test", "s--")):
        ax1.plot(epochs, [h[f"{key}_loss"] for h in result["history"]], style, label=key)
        ax2.plot(epochs, [h[f"{key}_accuracy"] for h in result["history"]], style, label=key)
    losses = np.asarray(result.get("step_losses") or [], dtype=float)
    ax3.plot(np.arange(1, len(losses) + 1), losses, lw=1)
    ax1.set(xlabel="epoch", ylabel="binary cross-entropy", title="loss per epoch")
    ax2.set(xlabel="epoch", ylabel="accuracy", title="accuracy per epoch")
    ax3.set(xlabel="training step", ylabel="loss", title="loss per step")
    for ax in (ax1, ax2):
        ax.set_xticks(epochs)
        ax.legend(fontsize=8)
    for ax in (ax1, ax2, ax3):
        ax.grid(True, alpha=0.3)
    seed = result["config"]["seed"]
    fig.suptitle(f"{result['model']} on {result['dataset']['name']}, seed {seed}", fontsize=10)
    fig.tight_layout()
    return fig


def gradient_flow_figure(result: dict):
    """||dL/dh_{T-k}|| against k for every series of a gradient study, log scale."""
    import numpy as np

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 5.5))
    styles = {"linear": ":", "tanh": "-"}
    for s in result["series"]:
        norms = np.asarray(s["grad_norm_by_distance"], dtype=float)  # null (non-finite) -> nan
        ks = np.arange(len(norms))
        keep = np.isfinite(norms) & (norms > 0)
        small = s["input_scale"] != 1.0
        suffix = f", inputs σ={s['input_scale']:g}" if small else ""
        if s["model"] == "lstm":
            label = f"LSTM, forget bias {s['forget_bias']:g}{suffix}"
            style, width = ("--" if small else "-"), 2.5
        else:
            rho = "Keras init" if s["recurrent_scale"] is None else f"ρ={s['recurrent_scale']:g}"
            label = f"RNN {s['activation']}, {rho}{suffix}"
            style, width = ("--" if small else styles[s["activation"]]), 1.2 + small
        ax.semilogy(ks[keep], norms[keep], style, lw=width, label=label)
    ax.set_xlabel("distance k (steps back from the last step T)")
    ax.set_ylabel("mean ||∂L/∂h_{T-k}||  (L = <u, h_T>)")
    setup = result.get("setup", {})
    ax.set_title(
        f"Gradient reaching step T-k: RNN with W_hh = ρ·Q against LSTM "
        f"({setup.get('units', '?')} units, T = {setup.get('time', '?')})",
        fontsize=10,
    )
    ax.set_ylim(1e-20, 1e16)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7, ncol=2, loc="lower left")
    fig.tight_layout()
    return fig


def clipping_figure(result: dict):
    """Loss and gradient norm per SGD step, with and without clip_by_norm."""
    import numpy as np

    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for name, run in result["clipping"].items():
        label = name if run["clipnorm"] is None else f"{name} (clip_by_norm {run['clipnorm']:g})"
        loss = np.asarray(run["loss"], dtype=float)
        norm = np.asarray(run["grad_norm"], dtype=float)
        steps = np.arange(len(loss))
        # The unclipped run may have one finite point: draw it large, above the clipped curve.
        style = {"marker": "x", "ms": 10, "zorder": 3} if run["clipnorm"] is None else {"ms": 3}
        for ax, values in ((ax1, loss), (ax2, norm)):
            keep = np.isfinite(values)
            fmt = "o-" if "marker" not in style else "-"
            ax.semilogy(steps[keep], values[keep], fmt, label=label, **style)
        if run["first_non_finite_step"] is not None:
            ax1.axvline(
                run["first_non_finite_step"],
                color="r",
                ls="--",
                lw=1,
                label=f"{name}: loss non-finite from step {run['first_non_finite_step']}",
            )
    ax1.set(xlabel="SGD step", ylabel="training loss (MSE)", title="Loss, linear RNN ρ = 1.5")
    ax2.set(
        xlabel="SGD step", ylabel="global gradient norm (before clipping)", title="Gradient norm"
    )
    for ax in (ax1, ax2):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def bench_figure(result: dict):
    """Median ms per step of each variant and mode (the `bench` command's result)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    labels = [f"{r['variant']}\n{r['mode']}" for r in result["rows"]]
    ax.bar(labels, [r["ms_per_step"] for r in result["rows"]], color="tab:blue")
    ax.set_ylabel("ms per step (median)")
    ax.set_title(f"Step time, chapter config (batch 128, T 80) on {result['device']}")
    ax.tick_params(axis="x", labelsize=7)
    fig.tight_layout()
    return fig


def write_figure(figure_fn, doc: dict, path) -> str:
    """Render `figure_fn(doc)` to the PNG `path` (atomically) and close it."""
    from lstm_repro.records import save_figure

    fig = figure_fn(doc)
    try:
        return str(save_figure(fig, path))
    finally:
        _pyplot().close(fig)


def png_bytes(figure_fn, doc: dict) -> bytes:
    import io

    fig = figure_fn(doc)
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=110)
    finally:
        _pyplot().close(fig)
    return buf.getvalue()
