"""Every table, plot and report this package shows; measurement modules return data only."""

from __future__ import annotations

from lstm_repro.gate import AccuracyReport, SpeedReport


def _table(headers: list[str], rows: list[list[str]], *, markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    fmt = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    return "\n".join([fmt.format(*headers), *(fmt.format(*r) for r in rows)])


def speed_table(report: SpeedReport, *, markdown: bool = False) -> str:
    """Every benchmark, then every variant: median ratio, CI, p-values, verdict."""
    headers = [
        "benchmark",
        "rounds",
        "ratio",
        f"{report.confidence:.0%} CI",
        "p",
        "p (Holm)",
        "verdict",
    ]
    rows = []
    for r in report.rows:
        name = (
            r.name
            if r.kind == "benchmark"
            else f"{'**' if markdown else ''}{r.name}" + ("**" if markdown else "")
        )
        rows.append(
            [
                name,
                f"{r.rounds[0]}/{r.rounds[1]}",
                f"{r.ratio:.3f}",
                f"{r.ci_low:.3f}-{r.ci_high:.3f}",
                f"{r.p_value:.2g}",
                f"{r.p_adjusted:.2g}",
                r.verdict,
            ]
        )
    verdict = "REGRESSION" if report.regressed else "ok"
    summary = (
        f"{verdict}: a benchmark regresses when its Holm-adjusted one-sided Mann-Whitney p < "
        f"{report.alpha:g} and the {report.confidence:.0%} CI of median {report.names[1]} / "
        f"{report.names[0]} lies above {1 + report.tolerance:g} (times normalised: "
        f"{report.normalise})"
    )
    return _table(headers, rows, markdown=markdown) + "\n" + summary


def accuracy_table(report: AccuracyReport, *, markdown: bool = False) -> str:
    def describe(s: dict) -> list[str]:
        ci = f"{s['ci95'][0]:.4f}-{s['ci95'][1]:.4f}" if s["ci95"] else "-"
        std = f"{s['std']:.4f}" if s["std"] is not None else "-"
        return [str(s["n"]), f"{s['mean']:.4f}", std, ci, f"{s['min']:.4f}-{s['max']:.4f}"]

    headers = ["", "seeds", "mean", "std", "95% CI", "min-max"]
    rows = [["baseline", *describe(report.baseline)], ["current", *describe(report.current)]]
    summary = (
        f"{report.verdict}: {report.model}, mean difference {report.difference:+.4f}, one-sided "
        f"Welch p = {report.p_value:.3g} (regression: p < {report.alpha:g} and a drop of at "
        f"least {report.min_effect:g})"
    )
    return _table(headers, rows, markdown=markdown) + "\n" + summary


def seeds_table(summary: dict, model: str, *, markdown: bool = False) -> str:
    ci = summary["ci95"]
    row = [
        model,
        str(summary["n"]),
        f"{summary['mean']:.4f}",
        f"{summary['std']:.4f}" if summary["std"] is not None else "-",
        f"{ci[0]:.4f}-{ci[1]:.4f}" if ci else "-",
        f"{summary['min']:.4f}",
        f"{summary['max']:.4f}",
    ]
    headers = ["model", "seeds", "mean", "std", "95% CI", "min", "max"]
    return _table(headers, [row], markdown=markdown)


# --------------------------------------------------------------------------- command output

# The chapter prints no accuracy. This is what its configuration typically reaches on the real
# IMDB test split in published runs of the same model (not measured here: no download).
CHAPTER_EXPECTED = "~0.80-0.85 test accuracy after 4 epochs on real IMDB (published runs)"


def result_summary(result: dict) -> str:
    """The `reproduce` table: per-epoch loss and accuracy, wall time, weights fingerprint."""
    lines = [
        f"model {result['model']} on {result['dataset']['name']}, seed {result['config']['seed']}",
        f"{'epoch':>5}  {'train_loss':>10}  {'train_acc':>9}  {'test_loss':>9}  {'test_acc':>8}",
    ]
    for h in result["history"]:
        lines.append(
            f"{h['epoch']:>5}  {h['train_loss']:>10.4f}  {h['train_accuracy']:>9.4f}  "
            f"{h['test_loss']:>9.4f}  {h['test_accuracy']:>8.4f}"
        )
    lines += [
        f"wall time: {result['seconds']:.1f} s (first step, incl. tracing: "
        f"{result['first_step_seconds']:.1f} s; median step {result['step_seconds'] * 1e3:.1f} ms)",
        f"chapter's setup is expected to reach: {CHAPTER_EXPECTED}",
        f"weights sha256: {result['weights_sha256']}",
    ]
    return "\n".join(lines)


def gradient_table(result: dict) -> str:
    """The `gradients` table: per series its log slope and norms at k = 30 and 50."""
    lines = [f"{'series':<56} {'log slope':>9} {'|g| k=30/k=0':>13} {'|g| k=50':>10}"]
    for s in result["series"]:
        norms = s["grad_norm_by_distance"]
        extra = f", forget bias {s['forget_bias']:g}" if "forget_bias" in s else ""
        if s["input_scale"] != 1.0:
            extra += f", inputs {s['input_scale']:g}"
        rho = "Keras init" if s["recurrent_scale"] is None else f"rho={s['recurrent_scale']:g}"
        name = f"{s['model']} {s['activation']} {rho}{extra}"
        k50 = norms[min(50, len(norms) - 1)]
        ratio = norms[min(30, len(norms) - 1)] / norms[0]
        lines.append(f"{name:<56} {s['log_slope']:>9.4f} {ratio:>13.3g} {k50:>10.3g}")
    for name, run in result["clipping"].items():
        fate = (
            "all finite"
            if run["all_finite"]
            else f"non-finite from step {run['first_non_finite_step']}"
        )
        lines.append(f"clipping demo, {name}: {fate}; final loss {run['final_loss']:.3g}")
    return "\n".join(lines)


def bench_table(result: dict) -> str:
    """The `bench` table: per variant and mode, step time and the derived figures."""
    lines = [
        f"device: {result['device']}; fp32 matmul peak {result['peak_gflops']:.1f} GFLOP/s",
        f"{'variant':<14} {'mode':<5} {'ms/step':>8} {'samples/s':>10} {'GFLOP/s':>8} "
        f"{'peak frac':>9} {'compile s':>9} cuDNN",
    ]
    for r in result["rows"]:
        lines.append(
            f"{r['variant']:<14} {r['mode']:<5} {r['ms_per_step']:>8.1f} "
            f"{r['samples_per_second']:>10.0f} {r['gflops']:>8.2f} {r['peak_fraction']:>9.3f} "
            f"{r['compile_seconds']:>9.1f} {r['cudnn']}"
        )
    return "\n".join(lines)
