"""Every table and report this package shows (the figures are figures.py's); measurement
modules return data only.

The report's sections return a Table (headers and rows of cell text); one renderer writes it
as Markdown (the report and the README's blocks) and one as HTML. Nothing here reads back
what it wrote.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lstm_repro.figures import clipping_figure, curves_figure, gradient_flow_figure, png_bytes
from lstm_repro.gate import AccuracyReport, SpeedReport


@dataclass(frozen=True)
class Table:
    """A section of the report: headers and rows of cell text; with no headers, `note` is
    all there is to say (nothing recorded, nothing in common)."""

    headers: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    note: str = ""

    @classmethod
    def of(cls, headers, rows) -> Table:
        return cls(tuple(headers), tuple(tuple(str(c) for c in r) for r in rows))


def render_markdown(table: Table) -> str:
    """A pipe table (cell pipes escaped), or the note."""
    if not table.headers:
        return table.note
    rows = [[c.replace("|", "\\|") for c in r] for r in table.rows]
    return _table(list(table.headers), rows, markdown=True)


def _html_cell(text: str) -> str:
    import html
    import re

    escaped = html.escape(text)
    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", escaped)  # the verdicts' bold


def render_html(table: Table) -> str:
    """An HTML table (every cell escaped; Markdown bold as <strong>), or the note."""
    import html

    if not table.headers:
        return f"<p>{html.escape(table.note)}</p>"
    head = "".join(f"<th>{html.escape(h)}</th>" for h in table.headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{_html_cell(c)}</td>" for c in r) + "</tr>" for r in table.rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _table(headers: list[str], rows: list[list[str]], *, markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    fmt = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    return "\n".join([fmt.format(*headers), *(fmt.format(*r) for r in rows)])


def speed_table(report: SpeedReport, *, markdown: bool = False) -> str:
    """Every benchmark, then every variant: ratio (Hodges-Lehmann), CI, p-values, verdict."""
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
        f"{report.alpha:g} and the {report.confidence:.0%} CI of {report.names[1]} / "
        f"{report.names[0]} (Hodges-Lehmann, the interval of that rank test) lies above "
        f"{1 + report.tolerance:g}; it is faster when the same holds the other way (CI below "
        f"1/{1 + report.tolerance:g}) (times normalised: {report.normalise})"
    )
    if report.other_machine_class:
        summary += (
            f"\nwarning: {report.names[0]} was measured on {report.machines[0]}, "
            f"{report.names[1]} on {report.machines[1]}: another machine class, so the "
            "ratios above measure the machines as much as the code (lstm-repro ab compares "
            "two revisions on one machine)"
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


def accuracy_family_table(family, *, markdown: bool = False) -> str:
    """gate-accuracy on a campaign: one row per distribution, its p-value Holm-adjusted."""
    from lstm_repro.config import changed_settings

    rows = []
    for r in family.reports:
        spec = r.spec or {}
        rows.append(
            [
                r.model,
                str(spec.get("data", "-")),
                spec.get("backend", "tensorflow"),
                changed_settings(spec.get("config", {})) or "chapter",
                f"{r.baseline['mean']:.4f} ({r.baseline['n']})",
                f"{r.current['mean']:.4f} ({r.current['n']})",
                f"{r.difference:+.4f}",
                f"{r.p_value:.3g}",
                r.verdict,
            ]
        )
    headers = ["variant", "data", "backend", "config", "baseline (n)", "current (n)"]
    headers += ["difference", "Holm p", "verdict"]
    regressions = sum(r.regressed for r in family.reports)
    summary = (
        f"{'REGRESSION' if regressions else 'ok'}: {regressions} of {len(family.reports)} "
        f"distributions regressed (one-sided Welch, Holm-adjusted p < {family.alpha:g} and a "
        f"drop of at least {family.min_effect:g})"
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


def campaign_table(dists: list[dict], *, markdown: bool = False) -> str:
    """A campaign's summary: one row per distribution (what differs from the chapter's
    configuration named), its runs done, failed and planned, mean test accuracy and 95% CI."""
    from lstm_repro.config import changed_settings

    rows = []
    for d in dists:
        spec, summary = d["spec"], d["summary"]
        ci = summary["ci95"] if summary else None
        rows.append(
            [
                spec["model"],
                spec["data"],
                spec.get("backend", "tensorflow"),
                changed_settings(spec["config"]) or "chapter",
                f"{len(d['runs'])}/{d['planned']}",
                str(d["failed"]),
                f"{summary['mean']:.4f}" if summary else "-",
                f"{ci[0]:.4f}-{ci[1]:.4f}" if ci else "-",
            ]
        )
    headers = ["variant", "data", "backend", "config", "done", "failed", "mean", "95% CI"]
    return _table(headers, rows, markdown=markdown)


def campaign_line(label: str, outcome: dict) -> str:
    """One finished run, as the campaign prints it: what ran, its accuracy, its seconds."""
    seconds = f"{outcome['wall_seconds']:.0f} s" if outcome.get("wall_seconds") else "- s"
    if outcome["status"] != "done":
        return f"{label}: FAILED ({seconds}): {outcome['error']}"
    r = outcome["record"]
    return f"{label}: test accuracy {r['test_accuracy']:.4f} ({seconds})"


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
            f"{h['epoch']:>5}  {_num(h['train_loss'], '.4f'):>10}  "
            f"{_num(h['train_accuracy'], '.4f'):>9}  {_num(h['test_loss'], '.4f'):>9}  "
            f"{_num(h['test_accuracy'], '.4f'):>8}"
        )
    lines += [
        f"wall time: {result['seconds']:.1f} s (first step, incl. tracing: "
        f"{result['first_step_seconds']:.1f} s; median step {result['step_seconds'] * 1e3:.1f} ms)",
        f"chapter's setup is expected to reach: {CHAPTER_EXPECTED}",
        f"weights sha256: {result['weights_sha256']}",
    ]
    return "\n".join(lines)


def _num(value, spec: str) -> str:
    """A number formatted with `spec`; read back from strict JSON a NaN or infinity is null
    (records.write_json), shown here as 'n/a' rather than failing."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return format(value, spec)


def _gradient_rows(result: dict) -> list[list[str]]:
    """Per gradient series: its name, log slope, |g| at k = 30 over k = 0, |g| at k = 50."""
    rows = []
    for s in result["series"]:
        norms = s["grad_norm_by_distance"]
        extra = f", forget bias {s['forget_bias']:g}" if "forget_bias" in s else ""
        if s["input_scale"] != 1.0:
            extra += f", inputs {s['input_scale']:g}"
        rho = "Keras init" if s["recurrent_scale"] is None else f"rho={s['recurrent_scale']:g}"
        k50 = norms[min(50, len(norms) - 1)]
        k30, k0 = norms[min(30, len(norms) - 1)], norms[0]
        ratio = k30 / k0 if None not in (k30, k0) and k0 else None
        rows.append(
            [
                f"{s['model']} {s['activation']} {rho}{extra}",
                _num(s["log_slope"], ".4f"),
                _num(ratio, ".3g"),
                _num(k50, ".3g"),
            ]
        )
    return rows


def gradient_table(result: dict) -> str:
    """The `gradients` table: per series its log slope and norms at k = 30 and 50."""
    lines = [f"{'series':<56} {'log slope':>9} {'|g| k=30/k=0':>13} {'|g| k=50':>10}"]
    for name, slope, ratio, k50 in _gradient_rows(result):
        lines.append(f"{name:<56} {slope:>9} {ratio:>13} {k50:>10}")
    for name, run in result["clipping"].items():
        fate = (
            "all finite"
            if run["all_finite"]
            else f"non-finite from step {run['first_non_finite_step']}"
        )
        lines.append(f"clipping demo, {name}: {fate}; final loss {_num(run['final_loss'], '.3g')}")
    return "\n".join(lines)


def bench_table(result: dict) -> str:
    """The `bench` table: per variant, mode and backend, step time and the derived figures."""
    peaks = result.get("peak_gflops_by_backend") or {
        result.get("backend", "tensorflow"): result["peak_gflops"]
    }
    lines = [
        f"device: {result['device']}; fp32 matmul peak (GFLOP/s): "
        + ", ".join(f"{b} {p:.1f}" for b, p in peaks.items()),
        f"{'variant':<14} {'mode':<5} {'backend':<10} {'ms/step':>8} {'samples/s':>10} "
        f"{'GFLOP/s':>8} {'peak frac':>9} {'compile s':>9} {'cuDNN':<5} mode",
    ]
    for r in result["rows"]:
        lines.append(
            f"{r['variant']:<14} {r['mode']:<5} {r.get('backend', 'tensorflow'):<10} "
            f"{r['ms_per_step']:>8.1f} "
            f"{r['samples_per_second']:>10.0f} {r['gflops']:>8.2f} {r['peak_fraction']:>9.3f} "
            f"{r['compile_seconds']:>9.1f} {r['cudnn']!s:<5} {execution_mode(r)}"
        )
    by_key = {(r["variant"], r.get("backend", "tensorflow"), r["mode"]): r for r in result["rows"]}
    for (variant, backend, mode), core in by_key.items():
        step = by_key.get((variant, backend, "train"))
        if mode == "core" and step is not None:
            lines.append(
                f"full step / LSTM core ({variant}, {backend}): "
                f"{step['ms_per_step'] / core['ms_per_step']:.2f}"
            )
    return "\n".join(lines)


def profile_table(result: dict) -> str:
    """`bench --profile`: one row per part of the step, ms and share, then the core ratio."""
    rows = [
        [
            r["part"],
            f"{r['ms']:.2f}",
            f"{r['share']:.1%}",
            "-" if r["kernel_ms"] is None else f"{r['kernel_ms']:.2f}",
        ]
        for r in result["rows"]
    ]
    rows.append(["the step (mean of the profiled steps)", f"{result['step_ms']:.2f}", "100%", ""])
    table = _table(["part", "ms/step", "share", "kernel ms/step"], rows, markdown=True)
    mode = "deterministic kernels" if result["execution_mode"]["deterministic"] else "fast kernels"
    lines = [
        f"{result['variant']} on {result.get('backend', 'tensorflow')}, "
        f"{result['steps_profiled']} profiled steps, {mode}",
        table,
        f"unprofiled full step {result['full_step_ms']:.2f} ms",
    ]
    if result.get("core_ms") is not None:
        lines[-1] += (
            f"; LSTM core alone (forward + backward) {result['core_ms']:.2f} ms; full step / core "
            f"= {result['full_over_core']:.2f}"
        )
    return "\n".join(lines)


def package_difference_lines(differences: list[dict]) -> list[str]:
    """One line per package whose version here is not the record's, with the lock's pin."""
    lines = []
    for d in differences:
        here = d["here"] if d["here"] is not None else "not installed"
        lock = f"the lock pins {d['locked']}" if d["locked"] is not None else "not in the lock"
        lines.append(f"{d['package']}: {d['recorded']} in the record, {here} here ({lock})")
    return lines


def verification_text(outcome: dict) -> str:
    """What `verify` prints: the verdict, where the losses part, what the environment changed."""
    packages = outcome.get("package_differences") or []
    lines = [f"verdict: {outcome['verdict']}"]
    if packages:
        lines[0] += (
            f" (with {len(packages)} package version{'s' if len(packages) > 1 else ''} "
            "other than the record's)"
        )
        lines += [f"  {line}" for line in package_difference_lines(packages)]
    if outcome["verdict"] != "bit-identical":
        recorded, now = outcome["test_accuracy"]
        lines += [
            f"  weights identical: {outcome['weights_identical']}",
            f"  steps: {outcome['steps'][0]} recorded, {outcome['steps'][1]} now",
            f"  losses first differ at step {outcome['first_divergent_step']} "
            f"(max relative difference {outcome['max_relative_loss_difference']:.3g})",
            f"  test accuracy: {recorded} recorded, {now} now",
        ]
    if outcome.get("numerics_note"):
        lines.append(f"  numerics: {outcome['numerics_note']}")
    diffs = outcome["environment_differences"]
    if diffs:
        lines.append("environment differences (recorded -> now):")
        lines += [f"  {key}: {old!r} -> {new!r}" for key, old, new in diffs]
    else:
        lines.append("environment: identical to the record's")
    return "\n".join(lines)


# --------------------------------------------------------------------------- figures


# --------------------------------------------------------------------------- the report

KINDS = (
    "claims",
    "result",
    "seeds",
    "gate-power",
    "gradients",
    "benchmarks",
    "speed-gate",
    "accuracy-gate",
    "verification",
    "bench",
)


def classify(doc: dict) -> str | None:
    """Which of this suite's outputs a JSON document is, by its shape (None: not ours)."""
    if doc.get("kind") == "lstm-repro claims" and isinstance(doc.get("claims"), list):
        return "claims"
    if "verification" in doc:
        return "verification"
    if "weights_sha256" in doc and isinstance(doc.get("history"), list):
        return "result"
    if isinstance(doc.get("runs"), list) and isinstance(doc.get("summary"), dict):
        return "seeds"
    if isinstance(doc.get("distributions"), list):
        return "seeds"  # a collection of seeds documents (benchmarks/baselines/accuracy.json)
    if doc.get("kind") == "gate-power" and isinstance(doc.get("modes"), dict):
        return "gate-power"
    if isinstance(doc.get("series"), list) and isinstance(doc.get("clipping"), dict):
        return "gradients"
    if isinstance(doc.get("benchmarks"), list):
        return "benchmarks"
    if isinstance(doc.get("rows"), list) and "regressed" in doc and "normalise" in doc:
        return "speed-gate"
    if {"baseline", "current", "p_value", "min_effect"} <= set(doc):
        return "accuracy-gate"
    if isinstance(doc.get("reports"), list) and {"min_effect", "regressed"} <= set(doc):
        return "accuracy-gate"  # a campaign's family
    if isinstance(doc.get("rows"), list) and "peak_gflops" in doc:
        return "bench"
    return None


def collect(paths) -> dict[str, list[tuple[str, dict]]]:
    """Every document of ours under `paths` (files, or directories searched recursively),
    grouped by kind. A file that is not JSON, or not ours, is a user error only when it was
    named directly; inside a directory it is skipped. A campaign directory (named, or found
    inside one named) is read as what it is, a collection of distributions, not as one
    result per run; finished or not."""
    import json
    from pathlib import Path

    from lstm_repro.campaign import Campaign, is_campaign
    from lstm_repro.errors import ReproError
    from lstm_repro.records import read_json

    found: dict[str, list[tuple[str, dict]]] = {k: [] for k in KINDS}
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise ReproError(f"{path}: no such file or directory")
        campaigns = []
        if path.is_dir():
            campaigns = [p.parent for p in sorted(path.rglob("plan.json")) if is_campaign(p.parent)]
        for root in campaigns:
            found["seeds"].append((str(root), Campaign.read(root).collection()))
        inside = path.rglob("*.json") if path.is_dir() else [path]
        files = [f for f in sorted(inside) if not any(c in f.parents for c in campaigns)]
        for f in files[:2000]:
            try:
                doc = read_json(f)
            except ReproError:
                if not path.is_dir():
                    raise
                continue
            kind = classify(doc)
            if kind is None and not path.is_dir():
                raise ReproError(f"{f}: not an output of lstm-repro (claims, result, seeds, ...)")
            if kind is not None:
                found[kind].append((str(f), json.loads(json.dumps(doc))))
    if not any(found.values()):
        raise ReproError(f"no lstm-repro outputs found under {', '.join(map(str, paths))}")
    return found


def claims_section(found) -> Table:
    rows = []
    for _, doc in found["claims"][-1:]:
        for c in doc["claims"]:
            outcomes = c.get("test_outcomes", {})
            failed = sum(v == "failed" for v in outcomes.values())
            checks = f"{len(outcomes)} tests" + (f", {failed} FAILED" if failed else "")
            rows.append([c["id"], c["title"], c["section"], _verdict_cell(c), c["reason"], checks])
    return Table.of(["id", "claim", "chapter", "verdict", "measured", "checks"], rows)


def _verdict_cell(claim: dict) -> str:
    """The headline verdict; where the synthetic corpus and real reviews both decided the claim,
    each with its data named (they can differ: README, "Real reviews")."""
    from lstm_repro.claims import UNCHECKED

    by = claim.get("by_data") or {}
    real, synthetic = by.get("real reviews", {}), by.get("synthetic", {})
    if UNCHECKED in (real.get("verdict", UNCHECKED), synthetic.get("verdict", UNCHECKED)):
        return f"**{claim['verdict']}**"
    return f"**{real['verdict']}** on real reviews; {synthetic['verdict']} on synthetic"


def results_section(found) -> Table:
    rows = []
    for _, r in found["result"]:
        accs = " / ".join(_num(h["test_accuracy"], ".4f") for h in r["history"])
        rows.append(
            [
                r["model"],
                f"{r['dataset']['name']} {r['dataset']['train_size']}/{r['dataset']['test_size']}",
                r["config"]["seed"],
                r["config"]["epochs"],
                accs,
                f"{r['seconds']:.1f}",
                f"{r['step_seconds'] * 1e3:.1f}",
                f"{r['first_step_seconds']:.1f}",
            ]
        )
    return Table.of(
        [
            "model",
            "data (train/test)",
            "seed",
            "epochs",
            "test accuracy per epoch",
            "wall s",
            "median step ms",
            "first step s",
        ],
        rows,
    )


def _distributions(found) -> list[dict]:
    out = []
    for _, doc in found["seeds"]:
        out += doc.get("distributions", [doc])
    return out


def seeds_section(found) -> Table:
    rows = []
    for d in sorted(_distributions(found), key=_seeds_key):
        s, spec = d["summary"], d["spec"]
        ci = s.get("ci95")
        rows.append(
            [
                spec["model"] + (f" ({spec['backend']})" if spec.get("backend") else ""),
                _data_label(spec, d.get("dataset")),
                spec["config"]["epochs"],
                _changed_settings(spec["config"]),
                s["n"],
                f"{s['mean']:.4f} ± {(ci[1] - s['mean']):.4f}" if ci else f"{s['mean']:.4f}",
                f"{s['std']:.4f}" if s.get("std") is not None else "-",
                f"{s['min']:.4f}-{s['max']:.4f}",
            ]
        )
    return Table.of(
        [
            "model",
            "data (train/test)",
            "epochs",
            "changed from the chapter",
            "seeds",
            "mean ± 95% CI",
            "std",
            "min-max",
        ],
        rows,
    )


def _changed_settings(config: dict) -> str:
    """Epochs have a column of their own; the seeds vary inside a distribution."""
    from lstm_repro.config import changed_settings

    return changed_settings(config, skip=("epochs", "seed")) or "-"


def _seeds_key(d: dict):
    spec = d["spec"]
    return (_data_label(spec, d.get("dataset")), spec["config"]["epochs"], spec["model"])


def _data_label(spec: dict, dataset: dict | None = None) -> str:
    """What a distribution trained on: the data asked for, or, where its runs' data is
    recorded, what was read (real reviews are named by their tokenizer and file hash)."""
    sizes = f"{spec.get('train_samples') or 25000}/{spec.get('test_samples') or 25000}"
    if dataset and dataset.get("tokenizer"):
        return f"real reviews ({dataset['tokenizer']}, {dataset['sha256'][:8]}) {sizes}"
    if dataset and dataset.get("name") == "imdb":
        official = "imdb.npz" if dataset.get("official") else "IMDB-format file"
        return f"{official} ({dataset['sha256'][:8]}) {sizes}"
    return f"{spec['data']} {sizes}"


def gate_power_section(found) -> Table:
    """False alarms on unchanged code and detections of injected slowdowns, per gate mode."""
    _, doc = found["gate-power"][-1]
    rows = []

    def rate(tally: dict, key: str) -> str:
        hit, n = tally.get(key, (0, 0))
        return f"{hit}/{n} ({hit / n:.0%})" if n else "-"

    for mode, m in doc["modes"].items():
        tally = m["benchmarks"]
        seconds = m.get("gate_seconds_median") or m.get("ab_seconds_median")
        rows.append(
            [
                mode,
                rate(tally, "null"),
                f"{m['unchanged_pairs_with_any_alarm']}/{m['unchanged_run_pairs']}",
                rate(tally, "1.1"),
                rate(tally, "1.25"),
                rate(tally, "1.5"),
                f"{seconds:.1f} s" if seconds is not None else "-",
            ]
        )
    return Table.of(
        [
            "mode",
            "false alarms (benchmark comparisons)",
            "unchanged runs with any alarm",
            "10% caught",
            "25% caught",
            "50% caught",
            "time (median)",
        ],
        rows,
    )


def gradients_section(found) -> Table:
    _, g = found["gradients"][-1]
    rows = _gradient_rows(g)
    return Table.of(["series", "log slope per step", "‖g‖ k=30 / k=0", "‖g‖ at k=50"], rows)


def throughput_section(found) -> Table:
    rows = []
    for _, doc in found["benchmarks"]:
        for b in doc["benchmarks"]:
            info, stats = b.get("extra_info", {}), b.get("stats", {})
            if "variant" not in info or "median" not in stats:
                continue
            rows.append(
                [
                    info.get("case", b["name"]),
                    info.get("backend", "tensorflow"),
                    f"{stats['median'] * 1e3:.2f}",
                    f"{info['peak_fraction']:.3f}" if "peak_fraction" in info else "-",
                    f"{info.get('compile_seconds', float('nan')):.1f}",
                    str(info.get("cudnn", "-")).lower(),
                    execution_mode(info),
                    stats.get("rounds", len(stats.get("data", []))),
                ]
            )
    return Table.of(
        [
            "benchmark",
            "backend",
            "ms/step (median)",
            "peak fraction",
            "compile s",
            "cuDNN",
            "mode",
            "rounds",
        ],
        rows,
    )


def execution_mode(info: dict) -> str:
    """A benchmark's recorded mode: deterministic kernels or not, XLA or not. Files written
    before the mode was recorded say so rather than guess."""
    if "deterministic" not in info:
        return "not recorded"
    kernels = "deterministic" if info["deterministic"] else "nondeterministic"
    return f"{kernels}, XLA {'on' if info.get('jit_compile') else 'off'}"


def determinism_section(found) -> Table:
    rows = []
    for _, r in found["result"]:
        rows.append(
            [r["model"], r["config"]["seed"], r["dataset"]["sha256"][:16], r["weights_sha256"][:16]]
        )
    for _, v in found["verification"]:
        o, rerun = v["verification"], v["rerun"]
        rows.append(
            [
                rerun["model"],
                rerun["config"]["seed"],
                rerun["dataset"]["sha256"][:16],
                f"{rerun['weights_sha256'][:16]} (verify: {o['verdict']})",
            ]
        )
    return Table.of(["model", "seed", "dataset sha256", "weights sha256"], rows)


def environment_section(found) -> Table:
    env = next(
        (
            d["environment"]
            for kind in ("claims", "result", "gradients")
            for _, d in found[kind]
            if "environment" in d
        ),
        None,
    )
    if env is None:
        return Table(note="(no environment recorded in these inputs)")
    from lstm_repro.records import _flatten

    env = dict(env)
    packages, lock = env.pop("packages", None), env.pop("lock", None)
    rows = [[k, v] for k, v in _flatten(env).items()]
    if packages is not None:
        rows.append(["packages imported", len(packages)])
    if lock is not None:
        differs = ", ".join(
            f"{name} {d['installed']} (locked {d['locked']})"
            for name, d in sorted(lock["differs"].items())
        )
        rows.append(["lock", f"{lock['file']} (sha256 {lock['sha256'][:12]})"])
        rows.append(["unlike the lock", differs or "none"])
    return Table.of(["", "value"], rows)


def compare_section(found, old) -> Table:
    """What changed from an older run: flipped verdicts, accuracy shifts, speed ratios."""
    lines = []
    new_claims = {c["id"]: c for _, d in found["claims"][-1:] for c in d["claims"]}
    old_claims = {c["id"]: c for _, d in old["claims"][-1:] for c in d["claims"]}
    for cid in sorted(set(new_claims) & set(old_claims), key=lambda x: int(x[1:])):
        a, b = old_claims[cid]["verdict"], new_claims[cid]["verdict"]
        if a != b:
            lines.append([f"claim {cid}", a, b, "verdict flipped"])

    def runs(f):
        return {(r["model"], r["dataset"]["name"], r["config"]["seed"]): r for _, r in f["result"]}

    new_runs, old_runs = runs(found), runs(old)
    for key in sorted(set(new_runs) & set(old_runs), key=str):
        a, b = old_runs[key]["test_accuracy"], new_runs[key]["test_accuracy"]
        lines.append(
            [
                f"{key[0]} on {key[1]}, seed {key[2]}",
                f"{a:.4f}",
                f"{b:.4f}",
                f"accuracy {b - a:+.4f}",
            ]
        )

    def medians(f):
        return {
            b["name"]: b["stats"]["median"]
            for _, d in f["benchmarks"]
            for b in d["benchmarks"]
            if "median" in b.get("stats", {})
        }

    new_b, old_b = medians(found), medians(old)
    for name in sorted(set(new_b) & set(old_b)):
        ratio = new_b[name] / old_b[name]
        lines.append(
            [
                name,
                f"{old_b[name] * 1e3:.2f} ms",
                f"{new_b[name] * 1e3:.2f} ms",
                f"time x{ratio:.3f}",
            ]
        )
    if not lines:
        return Table(note="(nothing in common to compare)")
    return Table.of(["what", "old", "new", "change"], lines)


SECTIONS = (
    ("claims", "The chapter's claims", claims_section, "claims"),
    ("results", "Training runs", results_section, "result"),
    ("accuracy", "Accuracy over seeds", seeds_section, "seeds"),
    ("gradients", "Gradient flow", gradients_section, "gradients"),
    ("gate-power", "What the speed gate catches", gate_power_section, "gate-power"),
    ("throughput", "Throughput", throughput_section, "benchmarks"),
    ("determinism", "Determinism hashes", determinism_section, "result"),
    ("environment", "Environment", environment_section, None),
)
FIGURES = (
    ("gradients", "gradient_flow.png", gradient_flow_figure),
    ("gradients", "clipping.png", clipping_figure),
)


def marked(name: str, body: str) -> str:
    """A section between markers, so README blocks can be checked against the report."""
    return f"<!-- report:{name} -->\n{body}\n<!-- /report:{name} -->"


def marked_blocks(text: str) -> dict[str, str]:
    import re

    pattern = r"<!-- report:([\w-]+) -->\n(.*?)\n<!-- /report:\1 -->"
    return dict(re.findall(pattern, text, flags=re.S))


def replace_blocks(text: str, report_md: str) -> str:
    """`text` (a README) with each of its marked blocks that the report also has replaced by
    the report's; blocks the report lacks, and everything outside blocks, left as they are."""
    blocks = marked_blocks(report_md)
    for name, body in marked_blocks(text).items():
        if name in blocks:
            text = text.replace(marked(name, body), marked(name, blocks[name]))
    return text


def build_report(found, *, old=None) -> tuple[str, str, dict[str, bytes]]:
    """(report.md, report.html, {png name: bytes}) for the documents `collect` found."""
    import base64
    import html

    md = ["# lstm-repro report", ""]
    parts_html = []
    images: dict[str, bytes] = {}
    for name, title, section, needs in SECTIONS:
        if needs is not None and not found[needs]:
            continue
        table = section(found)
        md += [f"## {title}", "", marked(name, render_markdown(table)), ""]
        parts_html.append((title, table))
    for i, (_, r) in enumerate(found["result"]):
        images[f"curves-{i}.png"] = png_bytes(curves_figure, r)
    if found["gradients"]:
        for _, file, figure in FIGURES:
            images[file] = png_bytes(figure, found["gradients"][-1][1])
    if images:
        md += ["## Figures", ""] + [f"![{n}]({n})" for n in images] + [""]
    if old is not None:
        table = compare_section(found, old)
        md += [
            "## Changes against the older run",
            "",
            marked("changes", render_markdown(table)),
            "",
        ]
        parts_html.append(("Changes against the older run", table))
    md_text = "\n".join(md)

    body_html = "".join(f"<h2>{html.escape(t)}</h2>{render_html(b)}" for t, b in parts_html)
    figures_html = "".join(
        f'<figure><img alt="{n}" src="data:image/png;base64,'
        f'{base64.b64encode(png).decode()}"><figcaption>{n}</figcaption></figure>'
        for n, png in images.items()
    )
    style = (
        "body{font-family:sans-serif;margin:2em;max-width:1200px}"
        "table{border-collapse:collapse;margin:1em 0;font-size:13px}"
        "td,th{border:1px solid #bbb;padding:4px 8px;text-align:left;vertical-align:top}"
        "th{background:#eee}img{max-width:100%}"
    )
    html_text = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>lstm-repro report</title>"
        f"<style>{style}</style></head><body><h1>lstm-repro report</h1>{body_html}"
        f"{figures_html}</body></html>"
    )
    return md_text, html_text, images
