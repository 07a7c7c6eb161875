"""Statistical comparison of two runs, for speed and for accuracy. No TensorFlow import.

Speed (`compare_speed`): per benchmark, the raw per-round times of a baseline and a current run
(pytest-benchmark's `stats.data`) are compared with a one-sided Mann-Whitney U test (current
slower?), Holm-corrected over all benchmarks compared, and an effect size: the Hodges-Lehmann
estimate of the ratio current / baseline with the confidence interval that inverts the same
rank test (`shift_ratio_ci`). A benchmark REGRESSES when the adjusted p-value is below alpha
AND the CI's lower bound exceeds 1 + tolerance: significant and larger than the slowdown that
matters. Times are first normalised by the matmul peak measured
in each run (`normalise="peak"`), so a machine slower across the board does not regress; the
same-machine A/B mode interleaves both sides and compares raw times (`normalise="none"`).
Where both runs have the LSTM core benchmark (bench.CORE), the full step over the core is one
more row (`core_pairs`, `_ratio_of_ratios`), gated the same way: it regresses when the work
outside the chapter's LSTM math grows, whatever the machine's speed.

Accuracy (`compare_accuracy`): two distributions of test accuracy over seeds; a one-sided
Welch t-test (current lower?) plus a minimum effect in accuracy points.

Benchmark documents are user input like any other file: every figure used is validated, and a
missing, zero, negative or non-finite one is an error (exit 2), never a silent "ok".
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from lstm_repro.bench import CORE as CORE_MODE  # a name only: bench imports no framework
from lstm_repro.corpus import REAL_DATASETS
from lstm_repro.errors import ReproError

REFERENCE_VARIANT = "fused-lstm"
NORMALISATIONS = ("peak", "reference", "none")
# The speed gate's defaults, which `gate` and `ab` offer as flags: a slowdown that matters is
# one whose 95% CI lies above 1.10, at a family-wise error rate of 0.05 (Holm).
TOLERANCE, SPEED_ALPHA, CONFIDENCE, NORMALISE = 0.10, 0.05, 0.95, "peak"
# Fewest raw rounds a benchmark must have to be gated: below this a one-sided Mann-Whitney test
# cannot reach significance after Holm over a few benchmarks (5 vs 5 rounds: p >= 0.004).
MIN_ROUNDS = 8


@dataclass(frozen=True)
class Benchmark:
    """One benchmark row of a pytest-benchmark document, as the gate uses it."""

    name: str
    group: str
    variant: str
    median: float  # seconds per step
    samples: tuple[float, ...]  # seconds per round, raw
    flops: float  # analytic FLOPs per step
    peak: float  # GFLOP/s of the matmul peak measured in the same run
    mode: str = ""  # "train", "infer" or "core" (bench.CORE); "" if not recorded


def _figure(value, *, what: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ReproError(f"{where}: {what} is not a number ({type(value).__name__})")
    try:
        number = float(value)
    except OverflowError:
        raise ReproError(f"{where}: {what} is too large to be a number") from None
    if not math.isfinite(number) or number <= 0:
        raise ReproError(f"{where}: {what} must be a positive finite number, got {value!r}")
    return number


def parse_benchmarks(doc: dict, *, path: str) -> dict[str, Benchmark]:
    """The rows of a pytest-benchmark document that carry this suite's extra_info.

    Rows without `extra_info.variant` (the matmul-peak benchmark, other suites' rows) are
    skipped; a row that has one must be complete and valid, raw samples included.
    """
    rows = doc.get("benchmarks")
    if not isinstance(rows, list):
        raise ReproError(f"{path}: not a pytest-benchmark JSON file (no 'benchmarks' list)")
    out: dict[str, Benchmark] = {}
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise ReproError(f"{path}: benchmarks[{i}] is not an object")
        name = row.get("name")
        if not isinstance(name, str) or not name:
            raise ReproError(f"{path}: benchmarks[{i}] has no name (or a name that is not text)")
        info = row.get("extra_info")
        if not isinstance(info, dict) or "variant" not in info:
            continue
        where = f"{path}: {name}"
        if name in out:
            raise ReproError(f"{where}: appears twice")
        stats = row.get("stats")
        if not isinstance(stats, dict):
            raise ReproError(f"{where}: has no stats")
        variant, group = info["variant"], row.get("group") or ""
        if not isinstance(variant, str) or not isinstance(group, str):
            raise ReproError(f"{where}: variant and group must be text")
        data = stats.get("data")
        if not isinstance(data, list) or len(data) < MIN_ROUNDS:
            raise ReproError(
                f"{where}: needs at least {MIN_ROUNDS} raw round times in stats.data "
                "(this suite's benchmarks record them; rerun them with this version)"
            )
        samples = tuple(_figure(t, what="a round time", where=where) for t in data)
        out[name] = Benchmark(
            name=name,
            group=group,
            variant=variant,
            median=_figure(stats.get("median"), what="stats.median", where=where),
            samples=samples,
            flops=_figure(info.get("flops_per_step"), what="flops_per_step", where=where),
            peak=_figure(info.get("peak_gflops"), what="peak_gflops", where=where),
            mode=info.get("mode") if isinstance(info.get("mode"), str) else "",
        )
    return out


# The full step over the LSTM core (bench.CORE): a row of its own in the speed comparison.


def core_pairs(table: dict[str, Benchmark]) -> list[tuple[str, str]]:
    """(training step, its core) name pairs: each core benchmark with the train benchmark of
    the same variant and group."""
    return [
        (b.name, core.name)
        for core in table.values()
        if core.mode == CORE_MODE
        for b in table.values()
        if b.mode == "train" and b.group == core.group and b.variant == core.variant
    ]


def _ratio_of_ratios(step, core, confidence: float) -> tuple[float, float, float, float, float]:
    """(estimate, low, high, p greater, p less) of (step's current / baseline) over (core's
    current / baseline), from the two benchmarks' Hodges-Lehmann estimates and intervals:
    on log times a difference of two shifts, its standard error the two intervals' (half-width
    / z) combined in quadrature (the two are timed apart, so independent), and a normal test.

    Written here because the obvious construction, each step round over the core's median in
    the same run, read a 1.23x "regression" on unchanged code: the core's rounds were bimodal
    (two processes per side, one slower), its median jumped between the modes, and every
    step round moved with it (`ab 268ed12`, 2026-12-03)."""
    from scipy import stats

    z = stats.norm.ppf(0.5 + confidence / 2)
    log_ratio = math.log(step[0]) - math.log(core[0])
    se = math.hypot(
        (math.log(step[2]) - math.log(step[1])) / (2 * z),
        (math.log(core[2]) - math.log(core[1])) / (2 * z),
    )
    if se == 0:
        greater = less = 0.5 if log_ratio == 0 else float(log_ratio > 0)
        return math.exp(log_ratio), math.exp(log_ratio), math.exp(log_ratio), 1 - greater, less
    return (
        math.exp(log_ratio),
        math.exp(log_ratio - z * se),
        math.exp(log_ratio + z * se),
        float(stats.norm.sf(log_ratio / se)),
        float(stats.norm.cdf(log_ratio / se)),
    )


# --------------------------------------------------------------------------- statistics


def holm(p_values: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1).

    Written here because scipy has Benjamini-Hochberg/Yekutieli (false_discovery_control)
    but not Holm, which controls the family-wise error: the chance of even one false alarm.
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def shift_ratio_ci(
    current: np.ndarray, baseline: np.ndarray, *, confidence: float
) -> tuple[float, float, float]:
    """(estimate, low, high) of the ratio current / baseline of two samples of times.

    A slowdown by a factor r multiplies every time by r: on log times it is a shift, and the
    Hodges-Lehmann estimate of a shift is the median of all m*n differences log c_i - log b_j.
    Its confidence interval runs from the (k+1)-th smallest to the (k+1)-th largest of those
    differences, k being the largest U with P(U <= k) <= (1 - confidence)/2 under the
    Mann-Whitney null: the shifts the gate's own rank test does not reject (Hollander, Wolfe &
    Chicken, Nonparametric Statistical Methods, 3rd ed., sec. 4.3; R's wilcox.test(conf.int=
    TRUE)). k comes from the normal approximation to U (MIN_ROUNDS >= 8 per side).

    Written here because scipy has the test (mannwhitneyu) but neither this estimate nor its
    interval. It replaced a bootstrap of the ratio of medians: rounds of one benchmark are often
    bimodal on a shared VM (a process or a moment runs slow), which makes the median jump
    between modes and the bootstrap interval wide; the estimate above uses every pair of rounds.
    Deterministic: no resampling.
    """
    from scipy import stats

    diffs = np.sort(np.subtract.outer(np.log(current), np.log(baseline)), axis=None)
    m, n = len(current), len(baseline)
    z = stats.norm.ppf(0.5 + confidence / 2)
    k = max(0, math.floor(m * n / 2 - z * math.sqrt(m * n * (m + n + 1) / 12)))
    return (
        math.exp(float(np.median(diffs))),
        math.exp(float(diffs[k])),
        math.exp(float(diffs[m * n - 1 - k])),
    )


@dataclass(frozen=True)
class SpeedRow:
    """One benchmark (or, with kind="variant", one variant's summary) in a speed comparison."""

    kind: str  # "benchmark" or "variant"
    name: str
    variant: str
    rounds: tuple[int, int]  # baseline, current
    ratio: float  # Hodges-Lehmann estimate of current / baseline, normalised; > 1 is slower
    ci_low: float
    ci_high: float
    p_value: float  # one-sided Mann-Whitney U, current slower
    p_adjusted: float  # Holm over every benchmark compared
    verdict: str  # "REGRESSION", "faster", "slower (below tolerance)", "ok"


@dataclass(frozen=True)
class SpeedReport:
    rows: tuple[SpeedRow, ...]
    regressed: bool
    tolerance: float
    alpha: float
    confidence: float
    normalise: str
    names: tuple[str, str]
    # Each run's CPU as pytest-benchmark recorded it (machine_class); "" where not recorded.
    machines: tuple[str, str] = ("", "")

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def other_machine_class(self) -> bool:
        """The two runs were made on different CPU models: normalising by the matmul peak
        does not make them comparable (measured 2026-12-05: an AVX-512 EPYC ran the chapter's
        steps at 0.49-0.86 of an older EPYC's, peak-normalised, on the same code)."""
        return all(self.machines) and self.machines[0] != self.machines[1]


def machine_class(doc: dict) -> str:
    """A pytest-benchmark document's CPU: brand, family and model (py-cpuinfo's fields), the
    class a committed baseline holds for; "" where the document does not say."""
    cpu = (doc.get("machine_info") or {}).get("cpu") or {}
    if not isinstance(cpu, dict) or not cpu.get("brand_raw"):
        return ""
    return f"{cpu['brand_raw']} (family {cpu.get('family', '?')}, model {cpu.get('model', '?')})"


def _scales(table: dict[str, Benchmark], normalise: str) -> dict[str, float]:
    """Per-benchmark multiplier that puts one run's times on a machine-independent scale."""
    if normalise == "none":
        return dict.fromkeys(table, 1.0)
    if normalise == "peak":  # seconds x GFLOP/s: the same work on a 2x faster machine scores equal
        return {name: b.peak for name, b in table.items()}
    reference = {b.group: b.median for b in table.values() if b.variant == REFERENCE_VARIANT}
    return {
        name: 1.0 / reference[b.group]
        for name, b in table.items()
        if b.group in reference and b.variant != REFERENCE_VARIANT
    }


def compare_speed(
    baseline: dict,
    current: dict,
    *,
    tolerance: float = TOLERANCE,
    alpha: float = SPEED_ALPHA,
    confidence: float = CONFIDENCE,
    normalise: str = NORMALISE,
    names: tuple[str, str] = ("baseline", "current"),
) -> SpeedReport:
    """Gate `current` against `baseline` (two pytest-benchmark documents)."""
    from scipy import stats

    if not (math.isfinite(tolerance) and tolerance >= 0):
        raise ReproError(f"--tolerance must be a finite number >= 0, got {tolerance}")
    if not 0 < alpha < 1:
        raise ReproError(f"--alpha must lie in (0, 1), got {alpha}")
    if normalise not in NORMALISATIONS:
        raise ReproError(f"--normalise must be one of {', '.join(NORMALISATIONS)}")
    base = parse_benchmarks(baseline, path=names[0])
    cur = parse_benchmarks(current, path=names[1])
    scale_b, scale_c = _scales(base, normalise), _scales(cur, normalise)
    common = sorted(set(base) & set(cur) & set(scale_b) & set(scale_c))
    if not common:
        raise ReproError(
            f"no common benchmarks between {names[0]} ({len(base)}) and {names[1]} ({len(cur)})"
        )
    measured = []
    for name in common:
        b = np.asarray(base[name].samples) * scale_b[name]
        c = np.asarray(cur[name].samples) * scale_c[name]
        p = float(stats.mannwhitneyu(c, b, alternative="greater").pvalue)
        p_less = float(stats.mannwhitneyu(c, b, alternative="less").pvalue)
        ratio, low, high = shift_ratio_ci(c, b, confidence=confidence)
        measured.append((name, b, c, ratio, low, high, p, p_less))
    # The full step over its core, where both runs have both (a ratio of two runs' ratios,
    # so machine speed and normalisation cancel): in the Holm family like any benchmark.
    by_name = {m[0]: m for m in measured}
    base_pairs = set(core_pairs(base))
    for step, core in core_pairs(cur):
        if step in by_name and core in by_name and (step, core) in base_pairs:
            s, k = by_name[step], by_name[core]
            ratio, low, high, p, p_less = _ratio_of_ratios(s[3:6], k[3:6], confidence)
            measured.append((f"{step} / core", s[1], s[2], ratio, low, high, p, p_less))
    adjusted = holm([m[6] for m in measured])
    adjusted_less = holm([m[7] for m in measured])
    rows = []
    for (name, b, c, ratio, low, high, p, _), p_adj, p_adj_less in zip(
        measured, adjusted, adjusted_less, strict=True
    ):
        if p_adj < alpha and low > 1.0 + tolerance:
            verdict = "REGRESSION"
        elif p_adj_less < alpha and high < 1.0 / (1.0 + tolerance):
            # The regression rule mirrored. With "CI below 1" alone, 6 of 75 unchanged
            # benchmarks in the recorded ab runs (and 2 of 8 in two CI runs) read "faster".
            verdict = "faster"
        elif ratio > 1.0 + tolerance:
            verdict = "slower (not significant)"
        else:
            verdict = "ok"
        rows.append(
            SpeedRow(
                "benchmark",
                name,
                base[name.removesuffix(" / core")].variant,
                (len(b), len(c)),
                ratio,
                low,
                high,
                p,
                p_adj,
                verdict,
            )
        )
    rows += _variant_rows(rows)
    regressed = any(r.verdict == "REGRESSION" for r in rows)
    machines = (machine_class(baseline), machine_class(current))
    return SpeedReport(
        tuple(rows), regressed, tolerance, alpha, confidence, normalise, names, machines
    )


def _variant_rows(rows: list[SpeedRow]) -> list[SpeedRow]:
    """Per variant: geometric means of its benchmarks' ratios and bounds, the smallest adjusted
    p-value, and the worst verdict. A summary; the verdicts come from the benchmarks."""
    by_variant: dict[str, list[SpeedRow]] = {}
    for r in rows:
        by_variant.setdefault(r.variant, []).append(r)
    out = []
    for variant, members in sorted(by_variant.items()):

        def geo(values):
            values = list(values)
            return math.exp(sum(math.log(v) for v in values) / len(values))

        verdicts = [m.verdict for m in members]
        verdict = next(
            (v for v in ("REGRESSION", "slower (not significant)") if v in verdicts),
            "faster" if all(v == "faster" for v in verdicts) else "ok",
        )
        out.append(
            SpeedRow(
                "variant",
                f"{variant} ({len(members)} benchmarks)",
                variant,
                (sum(m.rounds[0] for m in members), sum(m.rounds[1] for m in members)),
                geo(m.ratio for m in members),
                geo(m.ci_low for m in members),
                geo(m.ci_high for m in members),
                min(m.p_value for m in members),
                min(m.p_adjusted for m in members),
                verdict,
            )
        )
    return out


# --------------------------------------------------------------------------- accuracy
# An accuracy change counts when a one-sided Welch t-test gives p < ALPHA and it is at least
# MIN_EFFECT (one accuracy point): gate-accuracy's defaults, and claims.py's real-review rules.
ALPHA, MIN_EFFECT = 0.05, 0.01


@dataclass(frozen=True)
class Distribution:
    """Test accuracies over seeds, with the summary `seeds` writes."""

    model: str
    accuracies: tuple[float, ...]
    seeds: tuple[int, ...]
    config: dict  # the runs' shared config, seed excluded
    key: str  # spec_key of the runs' spec: model, config (no seed), data

    @property
    def mean(self) -> float:
        return float(np.mean(self.accuracies))


def summarise(accuracies) -> dict:
    """mean, std (ddof 1), min, max and a 95% t confidence interval of the mean."""
    from scipy import stats

    a = np.asarray(accuracies, dtype=np.float64)
    summary = {"n": len(a), "mean": float(a.mean()), "min": float(a.min()), "max": float(a.max())}
    if len(a) > 1:
        std = float(a.std(ddof=1))
        ci = [summary["mean"]] * 2  # no spread: the interval is the mean (scipy warns on 0)
        if std > 0:
            low, high = stats.t.interval(0.95, len(a) - 1, loc=a.mean(), scale=stats.sem(a))
            ci = [float(low), float(high)]
        summary.update(std=std, ci95=ci)
    else:
        summary.update(std=None, ci95=None)
    return summary


def spec_key(spec: dict, dataset: dict | None = None) -> str:
    """A run spec with its seed removed: what two distributions must share to be compared.

    With the identity of the data the runs trained on (a result's "dataset"), real reviews are
    keyed by what was read, not by how it was named: `--data auto --imdb-path /a/x.tar.gz` and
    `--data imdb --imdb-path ../x.tar.gz` on the same archive share a key (its SHA-256 and the
    tokenizer), and two different files never do."""
    import json

    config = {k: v for k, v in spec.get("config", {}).items() if k != "seed"}
    keyed = {**spec, "config": config}
    name = dataset.get("name") if isinstance(dataset, dict) else None
    if name in REAL_DATASETS:
        keyed.pop("imdb_path", None)
        keyed.update(
            data=name, dataset_sha256=dataset.get("sha256"), tokenizer=dataset.get("tokenizer")
        )
    return json.dumps(keyed, sort_keys=True)


def runs_dataset(doc: dict) -> dict | None:
    """The one dataset identity a seeds document's runs share (None: not recorded, or mixed).
    A collection entry (benchmarks/baselines/accuracy.json) carries it as "dataset"."""
    if isinstance(doc.get("dataset"), dict):
        return doc["dataset"]
    runs = doc.get("runs") if isinstance(doc.get("runs"), list) else []
    found = [r.get("dataset") for r in runs if isinstance(r, dict)]
    if found and all(isinstance(d, dict) for d in found):
        keys = {(d.get("name"), d.get("sha256"), d.get("tokenizer")) for d in found}
        if len(keys) == 1:
            return found[0]
    return None


def parse_distribution(doc: dict, *, path: str, like: Distribution | None = None) -> Distribution:
    """A `seeds` document, or from a collection ({"distributions": [...]}, such as
    benchmarks/baselines/accuracy.json) the one whose spec matches `like`'s."""
    if isinstance(doc.get("distributions"), list):
        if like is None:
            raise ReproError(f"{path}: a collection of distributions cannot be the current run")
        for i, entry in enumerate(doc["distributions"]):
            if not isinstance(entry, dict):
                raise ReproError(f"{path}: distributions[{i}] is not an object")
            spec = entry.get("spec")
            if isinstance(spec, dict) and spec_key(spec, runs_dataset(entry)) == like.key:
                return parse_distribution(entry, path=f"{path} (distributions[{i}])")
        raise ReproError(f"{path}: no distribution with the current run's model, config and data")
    runs = doc.get("runs")
    if not isinstance(runs, list) or not runs:
        raise ReproError(f"{path}: not a `lstm-repro seeds` file (no 'runs' list)")
    accuracies, seeds, models, configs = [], [], set(), []
    for i, run in enumerate(runs):
        where = f"{path}: runs[{i}]"
        if not isinstance(run, dict) or not isinstance(run.get("config"), dict):
            raise ReproError(f"{where} is not a result record")
        acc = run.get("test_accuracy")
        if isinstance(acc, bool) or not isinstance(acc, (int, float)) or not 0 <= acc <= 1:
            raise ReproError(f"{where}: test_accuracy must be a number in [0, 1], got {acc!r}")
        accuracies.append(float(acc))
        seeds.append(run["config"].get("seed"))
        models.add(run.get("model"))
        configs.append({k: v for k, v in run["config"].items() if k != "seed"})
    if len(models) != 1 or any(c != configs[0] for c in configs):
        raise ReproError(f"{path}: the runs do not share one model and configuration")
    spec = (
        doc.get("spec")
        if isinstance(doc.get("spec"), dict)
        else {"model": next(iter(models)), "config": configs[0]}
    )
    return Distribution(
        next(iter(models)),
        tuple(accuracies),
        tuple(seeds),
        configs[0],
        spec_key(spec, runs_dataset(doc)),
    )


def difference_test(a, b) -> dict:
    """Is distribution `a` higher than `b`? mean(a) - mean(b), the one-sided p-values of a
    Welch t-test and a Mann-Whitney U test (a greater), and the two-sided 95% Welch interval
    of the difference (its lower end is what a non-inferiority margin is checked against)."""
    from scipy import stats

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if min(len(a), len(b)) < 2:
        raise ReproError("each distribution needs at least 2 seeds for a test")
    welch = stats.ttest_ind(a, b, equal_var=False, alternative="greater")
    low, high = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    return {
        "difference": float(a.mean() - b.mean()),
        "welch_p": float(welch.pvalue),
        "mwu_p": float(stats.mannwhitneyu(a, b, alternative="greater").pvalue),
        "ci_low": float(low),
        "ci_high": float(high),
    }


def prediction_floor(accuracies, *, confidence: float = 0.999) -> float:
    """The one-sided `confidence` prediction bound for one more seed's accuracy, from a seed
    distribution (normal model): mean - t_{conf, n-1} * std * sqrt(1 + 1/n). At 0.999 a healthy
    run falls below it once in a thousand seeds."""
    from scipy import stats

    a = np.asarray(accuracies, dtype=np.float64)
    n = len(a)
    if n < 3:
        raise ReproError("a floor needs a distribution of at least 3 seeds")
    t = stats.t.ppf(confidence, n - 1)
    return float(a.mean() - t * a.std(ddof=1) * math.sqrt(1 + 1 / n))


def prediction_ceiling(accuracies, *, confidence: float = 0.999) -> float:
    """The matching upper bound (for a measured failure to learn, e.g. the memory task)."""
    a = np.asarray(accuracies, dtype=np.float64)
    return float(2 * a.mean() - prediction_floor(a, confidence=confidence))


@dataclass(frozen=True)
class AccuracyReport:
    model: str
    baseline: dict  # summarise() of the baseline accuracies
    current: dict
    difference: float  # mean current - mean baseline (negative: worse)
    p_value: float  # one-sided Welch t-test, current lower (Holm-adjusted within a family)
    min_effect: float
    alpha: float
    regressed: bool
    verdict: str
    spec: dict | None = None  # the current distribution's spec (a family names each row)
    raw_p_value: float | None = None  # before Holm's adjustment (a family of several only)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class AccuracyFamily:
    """Every distribution of a collection (a campaign) gated against its baseline match, the
    p-values Holm-adjusted over the family: the chance of even one false alarm stays alpha."""

    reports: tuple[AccuracyReport, ...]
    min_effect: float
    alpha: float

    @property
    def regressed(self) -> bool:
        return any(r.regressed for r in self.reports)

    def to_dict(self) -> dict:
        return {
            "reports": [r.to_dict() for r in self.reports],
            "min_effect": self.min_effect,
            "alpha": self.alpha,
            "regressed": self.regressed,
        }


def _check_min_effect(min_effect: float) -> None:
    if not (math.isfinite(min_effect) and min_effect >= 0):
        raise ReproError(f"--min-effect must be a finite number >= 0, got {min_effect}")


def _paired(baseline: dict, current: Distribution, names: tuple[str, str]) -> Distribution:
    """The baseline distribution that `current` is compared with, and the checks that they
    are comparable."""
    base = parse_distribution(baseline, path=names[0], like=current)
    if base.model != current.model:
        raise ReproError(f"{names[0]} is {base.model} but {names[1]} is {current.model}")
    differs = sorted(
        k
        for k in set(base.config) | set(current.config)
        if base.config.get(k) != current.config.get(k)
    )
    if differs:
        raise ReproError(f"the two distributions were trained with different {differs}")
    if len(base.accuracies) < 2 or len(current.accuracies) < 2:
        raise ReproError("each distribution needs at least 2 seeds for a test")
    return base


def _lower_p(base: Distribution, cur: Distribution) -> float:
    """One-sided Welch p of `cur` lower than `base`."""
    from scipy import stats

    b, c = np.asarray(base.accuracies), np.asarray(cur.accuracies)
    if np.ptp(b) == 0 and np.ptp(c) == 0:  # no spread: the test is undefined, the means decide
        return 0.0 if c.mean() < b.mean() else 1.0
    return float(stats.ttest_ind(c, b, equal_var=False, alternative="less").pvalue)


def _decide(
    base: Distribution, cur: Distribution, p: float, *, min_effect: float, alpha: float, **extra
) -> AccuracyReport:
    b, c = np.asarray(base.accuracies), np.asarray(cur.accuracies)
    difference = float(c.mean() - b.mean())
    regressed = p < alpha and -difference >= min_effect
    if regressed:
        verdict = "REGRESSION"
    elif difference < 0 and p < alpha:
        verdict = "lower, but by less than the minimum effect"
    else:
        verdict = "ok"
    return AccuracyReport(
        base.model,
        summarise(b),
        summarise(c),
        difference,
        p,
        min_effect,
        alpha,
        regressed,
        verdict,
        **extra,
    )


def compare_accuracy(
    baseline: dict,
    current: dict,
    *,
    min_effect: float = MIN_EFFECT,
    alpha: float = ALPHA,
    names: tuple[str, str] = ("baseline", "current"),
) -> AccuracyReport:
    """A regression: current's mean accuracy is significantly lower (one-sided Welch t-test,
    p < alpha) and lower by at least `min_effect` (accuracy, 0.01 = one point)."""
    _check_min_effect(min_effect)
    cur = parse_distribution(current, path=names[1])
    base = _paired(baseline, cur, names)
    return _decide(base, cur, _lower_p(base, cur), min_effect=min_effect, alpha=alpha)


def compare_accuracy_family(
    baseline: dict,
    current: dict,
    *,
    min_effect: float = MIN_EFFECT,
    alpha: float = ALPHA,
    names: tuple[str, str] = ("baseline", "current"),
) -> AccuracyFamily:
    """Each distribution of the collection `current` ({"distributions": [...]}, a campaign)
    against the baseline's distribution of the same spec, as compare_accuracy decides one,
    with the p-values Holm-adjusted over the family."""
    _check_min_effect(min_effect)
    entries = current.get("distributions")
    if not isinstance(entries, list) or not entries:
        raise ReproError(f"{names[1]}: not a collection of distributions")
    pairs = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ReproError(f"{names[1]}: distributions[{i}] is not an object")
        where = f"{names[1]} (distributions[{i}])"
        cur = parse_distribution(entry, path=where)
        pairs.append((_paired(baseline, cur, (names[0], where)), cur, entry.get("spec")))
    raw = [_lower_p(base, cur) for base, cur, _ in pairs]
    reports = tuple(
        _decide(
            base,
            cur,
            p,
            min_effect=min_effect,
            alpha=alpha,
            spec=spec,
            raw_p_value=p_raw,
        )
        for (base, cur, spec), p, p_raw in zip(pairs, holm(raw), raw, strict=True)
    )
    return AccuracyFamily(reports, min_effect, alpha)
