"""`lstm-repro` command line: argument parsing and printing only; the work is in the modules.

TensorFlow is imported only after the arguments parse and every input is checked, so a bad flag
fails in well under a second. Every user error ends as one `lstm-repro: error: ...` message and
exit code 2; a gate that finds a regression exits 1; Ctrl-C exits 130.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys

from lstm_repro.config import MAX_SEED
from lstm_repro.errors import ReproError

PROG = "lstm-repro"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage dump
        self.exit(2, f"{PROG}: error: {message}\n")


def _int_in(low: int, high: int | None, description: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {description}, got {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"expected {description}, got {value}")
        return value

    return parse


_positive_int = _int_in(1, None, "a positive integer")
_seed = _int_in(0, MAX_SEED, f"a seed in 0..{MAX_SEED}")
# The gradient study unrolls T steps eagerly for 13 series; 1,000 is already minutes.
_time_steps = _int_in(1, 1000, "a sequence length in 1..1000")


def _scheduler_address(text: str) -> str:
    """[PROTOCOL://]HOST:PORT, as `dask scheduler` prints it: checked here so that a typo fails
    before a campaign directory is made."""
    import re

    if not re.fullmatch(r"(?:[a-z]+://)?[^\s/:]+:\d{1,5}", text) and not re.fullmatch(
        r"(?:[a-z]+://)?\[[0-9a-fA-F:.]+\]:\d{1,5}", text
    ):
        raise argparse.ArgumentTypeError(f"expected [tcp://]HOST:PORT, got {text!r}")
    return text


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _positive_float(text: str) -> float:
    value = _number(text)
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text}")
    return value


def _import_tensorflow_quietly() -> None:
    from lstm_repro.backend import import_quietly

    import_quietly()


def _write_outputs(args, payload: dict, text_md: str | None = None) -> None:
    from lstm_repro.records import write_atomic, write_json

    if getattr(args, "json", None) is not None:
        write_json(args.json, payload)
    if getattr(args, "markdown", None) is not None and text_md is not None:
        write_atomic(args.markdown, lambda f: f.write((text_md + "\n").encode()))


def _check_outputs(args) -> None:
    from lstm_repro.records import check_writable

    for flag in ("json", "markdown"):
        value = getattr(args, flag, None)
        if value is not None:
            check_writable(value, flag=f"--{flag}")


# --------------------------------------------------------------------------- run options


def _config_value(field: dataclasses.Field, text: str):
    kind = str(field.type)
    if text.strip().lower() == "none" and "None" in kind:
        return None
    if kind.startswith("int"):
        try:
            return int(text)
        except ValueError:
            raise ReproError(f"{field.name} must be an integer, got {text!r}") from None
    try:
        return float(text)
    except ValueError:
        raise ReproError(f"{field.name} must be a number, got {text!r}") from None


def _add_run_options(parser: argparse.ArgumentParser, *, with_seed: bool = True) -> None:
    """The options of one reproduction: data, model, and one flag per TrainConfig field."""
    from lstm_repro.config import VARIANTS, TrainConfig, field_help
    from lstm_repro.corpus import SOURCES

    parser.add_argument(
        "--data",
        choices=[s.kind for s in SOURCES],
        help="; ".join(f"{s.kind}: {s.help}" for s in SOURCES),
    )
    parser.add_argument(
        "--imdb-path",
        metavar="FILE",
        help="an imdb.npz in Keras's layout, the aclImdb archive, or an extracted aclImdb/",
    )
    parser.add_argument(
        "--model",
        choices=tuple(VARIANTS),
        help="; ".join(f"{v.name}: {v.summary}" for v in VARIANTS.values())
        + " (default unrolled-lstm)",
    )
    parser.add_argument(
        "--train-samples", type=_positive_int, metavar="N", help="use the first N training reviews"
    )
    parser.add_argument(
        "--test-samples", type=_positive_int, metavar="N", help="use the first N test reviews"
    )
    helps = field_help(TrainConfig)
    defaults = TrainConfig()
    for field in dataclasses.fields(TrainConfig):
        if field.name == "seed" and not with_seed:
            continue
        parser.add_argument(
            f"--{field.name.replace('_', '-')}",
            dest=f"config_{field.name}",
            metavar="N" if str(field.type).startswith("int") else "X",
            type=str,
            help=f"{helps[field.name]} (default {getattr(defaults, field.name)})",
        )
    parser.add_argument(
        "--config",
        metavar="RECORD.json",
        help="start from the run a result record describes (model, config, data); the flags "
        "given here change it",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set any config field by name, e.g. --set dropout=0.1 (after the flags above)",
    )


def _run_spec(args, *, seed: int | None = None):
    """The RunSpec the run options describe, on top of --config RECORD.json when given; every
    value is validated by TrainConfig."""
    from lstm_repro.config import RunSpec, TrainConfig

    base = RunSpec(model="unrolled-lstm", config=TrainConfig())
    if getattr(args, "config", None) is not None:
        from lstm_repro.records import read_json

        base = RunSpec.from_record(read_json(args.config, what="result record"), where=args.config)
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    values = base.config.to_dict()
    for name, field in fields.items():
        text = getattr(args, f"config_{name}", None)
        if text is not None:
            values[name] = _config_value(field, text)
    for item in args.set:
        key, sep, text = item.partition("=")
        if not sep or key.strip() not in fields:
            raise ReproError(f"--set {item!r}: expected KEY=VALUE with KEY one of {sorted(fields)}")
        values[key.strip()] = _config_value(fields[key.strip()], text)
    if seed is not None:
        values["seed"] = seed
    data = args.data or (base.data if args.config is not None else "auto")
    return RunSpec(
        model=args.model or base.model,
        config=TrainConfig(**values),
        data=data,
        imdb_path=args.imdb_path if args.imdb_path is not None else base.imdb_path,
        train_samples=args.train_samples or base.train_samples,
        test_samples=args.test_samples or base.test_samples,
    )


def _check_run(spec) -> None:
    """What can be known wrong before data, TensorFlow, training or any output directory: the
    memory it needs, and a named data file that is not there. (Only checked here: load_for
    resolves the file, searching where none is named.)"""
    from lstm_repro.config import check_fits_in_memory, variant
    from lstm_repro.corpus import IMDB_KINDS
    from lstm_repro.imdb import named_imdb_path
    from lstm_repro.records import available_memory_bytes

    check_fits_in_memory(variant(spec.model), spec.config, available_bytes=available_memory_bytes())
    if spec.data in IMDB_KINDS:
        named_imdb_path(spec.imdb_path)


# --------------------------------------------------------------------------- commands


def _reproduce(args) -> int:
    from lstm_repro import corpus
    from lstm_repro.data import load_for
    from lstm_repro.records import output_dir

    spec = _run_spec(args)
    _check_run(spec)
    # --out first: --json may name a file inside it.
    out = output_dir(args.out) if args.out is not None else None
    tensorboard = None
    if args.tensorboard is not None:
        import importlib.util

        if importlib.util.find_spec("tensorboard") is None:
            raise ReproError(
                "--tensorboard needs the tensorboard package (pip install tensorboard)"
            )
        tensorboard = output_dir(args.tensorboard, flag="--tensorboard")
    _check_outputs(args)
    data = load_for(spec)
    imdb = (
        "IMDB (official file)"
        if data.identity()["official"]
        else (
            f"IMDB reviews from the Large Movie Review Dataset, tokenized by {data.tokenizer} "
            "(not Keras's imdb.npz)"
            if data.tokenizer
            else "IMDB-format file (NOT the official IMDB: its sha256 differs)"
        )
    )
    print(
        f"data: {corpus.banner(data.name, imdb)}: {data.train_size} train / "
        f"{data.test_size} test reviews from {data.source}",
        flush=True,
    )
    _import_tensorflow_quietly()
    from lstm_repro.report import result_summary
    from lstm_repro.train import run

    result = run(spec, data=data, progress=sys.stdout.isatty(), tensorboard=tensorboard)
    _write_outputs(args, result)
    print(result_summary(result))
    if args.json is not None:
        print(f"result written to {args.json}")
    if out is not None:
        from lstm_repro.figures import curves_figure, write_figure
        from lstm_repro.records import write_json

        write_json(out / "result.json", result)
        written = [str(out / "result.json")]
        try:
            written.append(write_figure(curves_figure, result, out / "curves.png"))
        except ImportError:
            print("note: matplotlib is not installed: curves.png skipped (pip install .[plot])")
        print(f"wrote {', '.join(written)}")
    return 0


def _verify(args) -> int:
    from lstm_repro.config import RunSpec
    from lstm_repro.corpus import IMDB_KINDS
    from lstm_repro.data import load_for
    from lstm_repro.records import read_json

    record = read_json(args.record, what="result record")
    spec = RunSpec.from_record(record, where=args.record)
    if args.imdb_path is not None:
        spec = dataclasses.replace(spec, imdb_path=args.imdb_path)
    for key in ("weights_sha256", "step_losses", "test_accuracy", "dataset"):
        if key not in record:
            raise ReproError(f"{args.record}: not a result record (no {key!r})")
    _check_run(spec)
    _check_outputs(args)
    from lstm_repro.records import numerics_note, package_differences
    from lstm_repro.report import package_difference_lines

    # Before the rerun, which takes minutes: what already tells the bits may not repeat.
    for line in package_difference_lines(package_differences(record.get("environment"))):
        print(f"verify: {line}", flush=True)
    if (note := numerics_note(record)) is not None:
        print(f"verify: {note}", flush=True)
    data = load_for(spec)
    recorded = record["dataset"].get("sha256")
    if data.sha256 != recorded:
        hint = (
            "pass --imdb-path with the file the record was made from"
            if spec.data in IMDB_KINDS
            else "the generator or its inputs changed since the record was made"
        )
        raise ReproError(
            f"{args.record}: its dataset has sha256 {str(recorded)[:16]}..., but {data.source} "
            f"here has {data.sha256[:16]}...; refusing to compare runs on different data ({hint})"
        )
    print(
        f"verify: rerunning {spec.model} on {data.name} ({data.sha256[:12]}), seed "
        f"{spec.config.seed}",
        flush=True,
    )
    _import_tensorflow_quietly()
    from lstm_repro.records import compare_runs
    from lstm_repro.report import verification_text
    from lstm_repro.train import run

    fresh = run(spec, data=data)
    outcome = compare_runs(record, fresh)
    print(verification_text(outcome))
    _write_outputs(args, {"verification": outcome, "rerun": fresh})
    ok = outcome["verdict"] == "bit-identical" or (
        args.tolerate_close and outcome["verdict"] == "numerically close"
    )
    return 0 if ok else 1


def _report(args) -> int:
    from pathlib import Path

    from lstm_repro.records import output_dir, write_atomic
    from lstm_repro.report import build_report, collect, replace_blocks

    out = output_dir(args.out)
    if args.readme is not None:
        readme = Path(args.readme)
        if not readme.is_file():
            raise ReproError(f"--readme {readme}: no such file")
    found = collect(args.inputs)
    old = collect([args.compare]) if args.compare is not None else None
    md, html, images = build_report(found, old=old)
    for name, png in images.items():
        write_atomic(out / name, lambda f, png=png: f.write(png))
    write_atomic(out / "report.md", lambda f: f.write(md.encode()))
    write_atomic(out / "report.html", lambda f: f.write(html.encode()))
    counts = ", ".join(f"{len(v)} {k}" for k, v in found.items() if v)
    print(f"report of {counts}: wrote {out / 'report.html'} and {out / 'report.md'}")
    if args.readme is not None:
        text = replace_blocks(readme.read_text(), md)
        write_atomic(readme, lambda f: f.write(text.encode()))
        print(f"updated the report blocks in {readme}")
    return 0


def _seeds(args) -> int:
    from lstm_repro.corpus import SOURCE
    from lstm_repro.data import resolve_imdb
    from lstm_repro.gate import summarise
    from lstm_repro.report import seeds_table

    seeds = list(range(args.first_seed, args.first_seed + args.n))
    if seeds[-1] > MAX_SEED:
        raise ReproError(f"seeds {seeds[0]}..{seeds[-1]} go past {MAX_SEED}")
    spec = _run_spec(args, seed=seeds[0])
    _check_run(spec)
    if spec.data in SOURCE and SOURCE[spec.data].reads_imdb:  # (an unknown kind: load_dataset)
        # Resolved once, here, before any worker starts: each run is told the file found
        # (and its record names it), instead of every worker searching again.
        path = resolve_imdb(spec.data, spec.imdb_path)
        if path is not None:
            spec = dataclasses.replace(spec, imdb_path=str(path))
    _check_outputs(args)
    from lstm_repro.backend import configured_name
    from lstm_repro.campaign import Plan
    from lstm_repro.engines import execute, local_engine

    print(
        f"training {spec.model} for seeds {seeds[0]}..{seeds[-1]}, {args.jobs} at a time",
        flush=True,
    )
    # A one-line plan on the campaign's machinery: a fresh process per seed, `jobs` at a time,
    # their thread pools left as the backend chooses (the bits `seeds` has always given).
    tasks = Plan.of_seeds(spec, seeds, configured_name()).tasks()
    by_seed = {}

    def done(task, outcome) -> None:
        seed = task.spec.config.seed
        if outcome["status"] == "cancelled":
            return
        if "record" not in outcome:  # (a NaN loss keeps its run here, as `seeds` always did)
            raise ReproError(f"seed {seed}: {outcome['error']}")
        r = by_seed[seed] = outcome["record"]
        print(
            f"seed {seed}: test accuracy {r['test_accuracy']:.4f} ({r['seconds']:.0f} s)",
            flush=True,  # seen as it happens through a pipe (benchmarks/accuracy/run.sh's tee)
        )

    with local_engine(args.jobs, size_threads=False) as engine:
        execute(tasks, engine, on_outcome=done)
    runs = [by_seed[s] for s in seeds]
    summary = summarise([r["test_accuracy"] for r in runs])
    payload = {"spec": spec.to_dict(), "seeds": seeds, "summary": summary, "runs": runs}
    _write_outputs(args, payload)
    print(seeds_table(summary, spec.model))
    return 0


def _campaign(args) -> int:
    from lstm_repro import campaign, engines
    from lstm_repro.records import output_dir, write_json
    from lstm_repro.report import campaign_line, campaign_table

    plan = campaign.resolve_data(campaign.read_plan(args.plan))
    if args.scheduler is None:  # a cluster's workers may have more memory than this machine
        for task in plan.tasks():
            _check_run(task.spec)
    run = campaign.Campaign.start(plan, output_dir(args.out))
    found = run.finished()
    todo = run.todo(found, retry_failed=args.retry_failed)
    total, failed = len(run.tasks), sum(f.status == "failed" for f in found.values())
    print(
        f"campaign {run.out}: {total} runs, {len(found)} recorded"
        + (f" ({failed} failed)" if failed else "")
        + f", {len(todo)} to run",
        flush=True,
    )
    if todo:
        if args.scheduler is not None:
            engine = engines.dask_engine(scheduler=args.scheduler)
        elif args.local is not None:
            engine = engines.dask_engine(local=args.local)
        else:
            engine = engines.local_engine(args.jobs)
        with engine as running:
            print(f"running on {running.name}", flush=True)  # before the bar takes the line
            with _Progress(total, total - len(todo)) as progress:
                run.run(
                    todo,
                    running,
                    on_record=lambda task, outcome: progress.advance(
                        campaign_line(task.label(), outcome)
                    ),
                )
    dists = run.distributions(run.finished())
    if any(d["runs"] for d in dists):
        write_json(run.out / "summary.json", campaign.collection_of(dists))
    print(campaign_table(dists))
    failed = sum(d["failed"] for d in dists)
    finished = sum(len(d["runs"]) for d in dists)
    print(f"{finished} runs done, {failed} failed, of {total}; records in {run.runs}")
    return 1 if failed else 0


class _Progress:
    """One line per finished run on stdout, and on a terminal a bar below them (done/total,
    elapsed, ETA) on stderr; rich draws it. Where stdout is that terminal too, the lines are
    printed above the bar; where it is a file or a pipe, they go there whole."""

    def __init__(self, total: int, done: int):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.done, self.total = done, total
        console = Console(stderr=True)
        self.bar = Progress(
            TextColumn("runs"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            disable=not console.is_terminal,
            redirect_stdout=False,  # stdout stays the caller's, whatever the bar does
            # the ETA from every run finished since the start, not rich's last 30 s (runs of
            # minutes would leave it blank between them)
            speed_estimate_period=7 * 24 * 3600,
        )
        self.row = self.bar.add_task("runs", total=total, completed=done)

    def __enter__(self):
        if not self.bar.disable:  # (a disabled bar still printed a blank line, rich 13.0)
            self.bar.__enter__()
        return self

    def __exit__(self, *exc):
        if not self.bar.disable:
            self.bar.__exit__(*exc)

    def advance(self, line: str) -> None:
        self.done += 1
        line = f"[{self.done}/{self.total}] {line}"
        if self.bar.live.is_started and sys.stdout.isatty():  # above the bar, not through it
            self.bar.console.print(line, markup=False, highlight=False, soft_wrap=True)
        else:
            print(line, flush=True)
        self.bar.advance(self.row)


def _gate(args) -> int:
    from lstm_repro.gate import compare_speed
    from lstm_repro.records import read_json
    from lstm_repro.report import speed_table

    _check_outputs(args)
    baseline = read_json(args.baseline, what="pytest-benchmark JSON file")
    current = read_json(args.current, what="pytest-benchmark JSON file")
    report = compare_speed(
        baseline,
        current,
        tolerance=args.tolerance,
        alpha=args.alpha,
        normalise=args.normalise,
        names=(args.baseline, args.current),
    )
    return _finish_gate(args, report, speed_table)


def _finish_gate(args, report, table, extra: dict | None = None) -> int:
    """Every gate ends alike: the table printed, JSON and Markdown written, exit 1 on a
    regression."""
    print(table(report))
    _write_outputs(args, {**report.to_dict(), **(extra or {})}, table(report, markdown=True))
    return 1 if report.regressed else 0


def _ab(args) -> int:
    from lstm_repro.bench import benchmark_cases
    from lstm_repro.gate import compare_speed
    from lstm_repro.report import speed_table

    _check_outputs(args)
    if args.save_docs is not None:
        from lstm_repro.records import output_dir

        output_dir(args.save_docs, flag="--save-docs")
    from lstm_repro.ab import run_ab

    cases = benchmark_cases(quick=not args.all)
    print(
        f"ab: {args.rev} (baseline) against this checkout, {len(cases)} benchmarks, "
        f"{args.workers} process(es) per side",
        flush=True,
    )
    base, cur, info = run_ab(
        args.rev,
        cases=cases,
        blocks=args.blocks,
        rounds=args.rounds,
        workers=args.workers,
        on_case=lambda name: print(f"  {name}", flush=True),
    )
    report = compare_speed(
        base,
        cur,
        tolerance=args.tolerance,
        alpha=args.alpha,
        normalise="none",
        names=(args.rev, "this checkout"),
    )
    print(f"ab took {info['seconds']:.0f} s")
    if args.save_docs is not None:
        from pathlib import Path

        from lstm_repro.records import write_json

        write_json(Path(args.save_docs) / "baseline.json", base)
        write_json(Path(args.save_docs) / "current.json", cur)
    return _finish_gate(args, report, speed_table, extra={"ab": info})


def _distributions(path: str) -> dict:
    """A `seeds` file, a collection of distributions, or a campaign directory (which must be
    finished: a gate on part of a campaign would compare biased distributions)."""
    from lstm_repro.campaign import Campaign
    from lstm_repro.records import read_json

    if os.path.isdir(path):
        return Campaign.read(path).collection(complete=True)
    return read_json(path, what="`lstm-repro seeds` file")


def _gate_accuracy(args) -> int:
    from lstm_repro.gate import compare_accuracy, compare_accuracy_family
    from lstm_repro.report import accuracy_family_table, accuracy_table

    _check_outputs(args)
    baseline, current = _distributions(args.baseline), _distributions(args.current)
    options = {
        "min_effect": args.min_effect,
        "alpha": args.alpha,
        "names": (args.baseline, args.current),
    }
    if isinstance(current.get("distributions"), list):  # a campaign: every distribution in it
        return _finish_gate(
            args, compare_accuracy_family(baseline, current, **options), accuracy_family_table
        )
    return _finish_gate(args, compare_accuracy(baseline, current, **options), accuracy_table)


def _export_synthetic(args) -> int:
    from lstm_repro.imdb import save_imdb_file
    from lstm_repro.records import check_writable
    from lstm_repro.synthetic import synthetic_raw

    check_writable(args.file, flag="export-synthetic")
    if os.path.lexists(args.file) and not args.force:
        raise ReproError(f"{args.file} exists; pass --force to replace it")
    x_train, y_train = synthetic_raw(n=args.train_samples, split="train", seed=args.seed)
    x_test, y_test = synthetic_raw(n=args.test_samples, split="test", seed=args.seed)
    save_imdb_file(args.file, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    print(f"wrote {args.file} (Keras imdb.npz layout; raw ids, no start char)")
    return 0


def _prepare_imdb(args) -> int:
    from pathlib import Path

    from lstm_repro import aclimdb
    from lstm_repro.imdb import file_sha256, named_imdb_path
    from lstm_repro.records import check_writable

    _, source = named_imdb_path(args.archive, flag="ARCHIVE")
    check_writable(args.out, flag="--out")
    if os.path.lexists(args.out) and not args.force:
        raise ReproError(f"{args.out} exists; pass --force to replace it")
    if aclimdb.kind_of(source) == "npz":
        raise ReproError(
            f"{source}: not a gzip archive or an aclImdb/ directory (an imdb.npz needs no "
            "preparing: pass it to --imdb-path as it is)"
        )
    aclimdb.convert(source, Path(args.out))
    print(
        f"wrote {args.out} (Keras imdb.npz layout, tokenizer {aclimdb.tokenizer_name()}, "
        f"sha256 {file_sha256(args.out)[:16]}...) from {source}"
    )
    return 0


def _gradients(args) -> int:
    from lstm_repro.records import output_dir

    out = output_dir(args.out)
    _import_tensorflow_quietly()
    from lstm_repro.figures import clipping_figure, gradient_flow_figure, write_figure
    from lstm_repro.gradients import FlowSetup, study
    from lstm_repro.records import environment, write_json
    from lstm_repro.report import gradient_table

    result = study(FlowSetup(time=args.time, seed=args.seed), clipnorm=args.clipnorm)
    result["environment"] = environment()
    try:
        result["plots"] = [
            os.path.basename(write_figure(gradient_flow_figure, result, out / "gradient_flow.png")),
            os.path.basename(write_figure(clipping_figure, result, out / "clipping.png")),
        ]
    except ImportError:
        result["plots"] = []
        result["plots_note"] = "matplotlib is not installed: plots skipped (pip install .[plot])"
        print(f"note: {result['plots_note']}")
    write_json(out / "gradients.json", result)
    print(gradient_table(result))
    print(f"wrote {out / 'gradients.json'} and {', '.join(result['plots']) or 'no plots'}")
    return 0


def _bench_backends(args, backends: list[str]) -> int:
    """`bench --backends`: each backend in its own process (bench.compare_backends), one
    table at the end."""
    from lstm_repro.bench import compare_backends
    from lstm_repro.report import bench_table

    merged = compare_backends(
        backends, quick=args.quick, on_backend=lambda b: print(f"--- {b}", flush=True)
    )
    print(bench_table(merged))
    _write_outputs(args, merged)
    return 0


def _bench_profile(args, out) -> int:
    """`bench --profile`: where the chapter's training step goes, and the full step over the
    LSTM core alone (lstm_repro/profile.py)."""
    from lstm_repro.config import TrainConfig, variant

    if out is None:
        raise ReproError("--profile needs --out DIR: the profile and the trace are written there")
    if args.backends is not None or args.quick:
        raise ReproError(
            "--profile takes neither --backends nor --quick (it profiles the backend "
            "KERAS_BACKEND names: KERAS_BACKEND=jax lstm-repro bench --profile ...)"
        )
    variant(args.model)  # an unknown name fails before TensorFlow is imported
    _import_tensorflow_quietly()
    from lstm_repro.profile import profile_step
    from lstm_repro.report import profile_table

    result = profile_step(args.model, TrainConfig(), out)
    print(profile_table(result))
    print(f"wrote {result['profile']} (TensorBoard) and {result['trace']} (Perfetto)")
    _write_outputs(args, result)
    return 0


def _bench(args) -> int:
    from lstm_repro.records import output_dir

    out = output_dir(args.out) if args.out is not None else None
    _check_outputs(args)
    if args.profile:
        return _bench_profile(args, out)
    if args.backends is not None:
        return _bench_backends(args, [b.strip() for b in args.backends.split(",") if b.strip()])
    _import_tensorflow_quietly()
    from lstm_repro.bench import benchmark_cases, compare_variants
    from lstm_repro.figures import bench_figure, write_figure
    from lstm_repro.report import bench_table

    cases = [c for c in benchmark_cases(quick=args.quick) if c.name.startswith("chapter-")]
    result = compare_variants(
        cases,
        rounds=5 if args.quick else 20,
        on_row=lambda r: print(
            f"{r['variant']:<14} {r['mode']:<5} {r['ms_per_step']:>8.1f} ms/step", flush=True
        ),
    )
    print(bench_table(result))
    _write_outputs(args, result)
    if out is not None:
        try:
            print(f"wrote {write_figure(bench_figure, result, out / 'bench.png')}")
        except ImportError:
            print("note: matplotlib is not installed: bar chart skipped (pip install .[plot])")
    return 0


# --------------------------------------------------------------------------- parser


def _add_gate_options(parser: argparse.ArgumentParser) -> None:
    from lstm_repro import gate  # its defaults; it imports NumPy, not TensorFlow

    parser.add_argument(
        "--tolerance",
        type=_number,
        default=gate.TOLERANCE,
        help="the slowdown that matters: the CI's lower bound must exceed 1 + this "
        f"(default {gate.TOLERANCE})",
    )
    parser.add_argument(
        "--alpha",
        type=_number,
        default=gate.SPEED_ALPHA,
        help=f"family-wise error rate (Holm; default {gate.SPEED_ALPHA})",
    )
    _add_report_outputs(parser)


def _add_report_outputs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", metavar="FILE", help="write the comparison as JSON")
    parser.add_argument("--markdown", metavar="FILE", help="the table in Markdown (CI summaries)")


def build_parser() -> argparse.ArgumentParser:
    from lstm_repro import gate as gate_module  # the gates' defaults (NumPy, no TensorFlow)

    parser = _Parser(prog=PROG, description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    rep = sub.add_parser("reproduce", help="train the chapter's model and report")
    _add_run_options(rep)
    rep.add_argument("--json", metavar="FILE", help="write the result record here (atomically)")
    rep.add_argument("--out", metavar="DIR", help="write result.json and curves.png here")
    rep.add_argument(
        "--tensorboard", metavar="DIR", help="log through Keras's TensorBoard callback here"
    )
    rep.set_defaults(func=_reproduce)

    report = sub.add_parser(
        "report", help="one HTML and Markdown report of claims, runs, gradients, benchmarks"
    )
    report.add_argument("inputs", nargs="+", metavar="PATH", help="JSON files or directories")
    report.add_argument("--out", required=True, metavar="DIR", help="report.html, report.md here")
    report.add_argument("--compare", metavar="OLD", help="an older run's directory: what changed")
    report.add_argument(
        "--readme", metavar="FILE", help="rewrite FILE's report:NAME blocks from this report"
    )
    report.set_defaults(func=_report)

    ver = sub.add_parser(
        "verify", help="rerun what a result record describes; bit-identical, close or different"
    )
    ver.add_argument("record", metavar="RECORD.json")
    ver.add_argument("--imdb-path", metavar="FILE", help="where the record's IMDB file is here")
    ver.add_argument(
        "--tolerate-close", action="store_true", help="exit 0 for 'numerically close' too"
    )
    ver.add_argument("--json", metavar="FILE", help="the comparison and the rerun's record")
    ver.set_defaults(func=_verify)

    seeds = sub.add_parser("seeds", help="train N seeds in parallel processes; the distribution")
    _add_run_options(seeds, with_seed=False)
    seeds.add_argument("--n", type=_positive_int, required=True, help="number of seeds")
    seeds.add_argument("--first-seed", type=_seed, default=0, help="seeds run from here (0)")
    seeds.add_argument("--jobs", type=_positive_int, default=1, help="processes at a time (1)")
    seeds.add_argument("--json", metavar="FILE", required=True, help="every run and the summary")
    seeds.set_defaults(func=_seeds)

    camp = sub.add_parser(
        "campaign",
        help="run a plan's grid (variants x seeds x data x backends x overrides), resumable, "
        "locally or on a Dask cluster",
    )
    camp.add_argument("plan", metavar="PLAN.toml", help="the grid (README, 'Campaigns')")
    camp.add_argument(
        "--out", required=True, metavar="DIR", help="one record per run; rerun to resume"
    )
    engine = camp.add_mutually_exclusive_group()
    engine.add_argument(
        "--jobs", type=_positive_int, default=1, help="runs at a time on this machine, no Dask (1)"
    )
    engine.add_argument(
        "--local", type=_positive_int, metavar="N", help="a local Dask cluster of N workers"
    )
    engine.add_argument(
        "--scheduler",
        type=_scheduler_address,
        metavar="tcp://HOST:PORT",
        help="a running Dask cluster's scheduler",
    )
    camp.add_argument(
        "--retry-failed", action="store_true", help="run again the runs recorded as failed"
    )
    camp.set_defaults(func=_campaign)

    exp = sub.add_parser(
        "export-synthetic", help="write the synthetic corpus as a Keras-layout imdb.npz"
    )
    exp.add_argument("file")
    exp.add_argument("--seed", type=_seed, default=22)
    exp.add_argument("--train-samples", type=_positive_int, default=25000, metavar="N")
    exp.add_argument("--test-samples", type=_positive_int, default=25000, metavar="N")
    exp.add_argument("--force", action="store_true", help="replace an existing file")
    exp.set_defaults(func=_export_synthetic)

    prep = sub.add_parser(
        "prepare-imdb",
        help="convert the Large Movie Review Dataset archive (or aclImdb/) to an imdb.npz",
    )
    prep.add_argument("archive", metavar="ARCHIVE", help="aclImdb_v1.tar.gz, a copy, or aclImdb/")
    prep.add_argument("--out", required=True, metavar="FILE", help="the imdb.npz to write")
    prep.add_argument("--force", action="store_true", help="replace an existing file")
    prep.set_defaults(func=_prepare_imdb)

    grad = sub.add_parser("gradients", help="measure gradient flow (vanishing/exploding/clipping)")
    grad.add_argument("--out", required=True, metavar="DIR", help="gradients.json and PNGs go here")
    grad.add_argument("--time", type=_time_steps, default=80, help="sequence length T")
    grad.add_argument("--seed", type=_seed, default=0)
    grad.add_argument(
        "--clipnorm",
        type=_positive_float,
        default=1.0,
        help="clip value for the clipping demonstration",
    )
    grad.set_defaults(func=_gradients)

    gate = sub.add_parser(
        "gate", help="compare two pytest-benchmark JSON files; exit 1 on a regression"
    )
    gate.add_argument("baseline")
    gate.add_argument("current")
    _add_gate_options(gate)
    gate.add_argument(
        "--normalise",
        choices=gate_module.NORMALISATIONS,
        default=gate_module.NORMALISE,
        help=f"peak: times x each run's matmul peak; reference: times / fused-lstm's in the "
        f"same group; none: raw times (one machine, one session); default {gate_module.NORMALISE}",
    )
    gate.set_defaults(func=_gate)

    ab = sub.add_parser(
        "ab", help="benchmark a git revision against this checkout, interleaved; gate them"
    )
    ab.add_argument("rev", help="the baseline revision, e.g. main or HEAD")
    ab.add_argument("--all", action="store_true", help="every benchmark (default: LSTM, chapter)")
    ab.add_argument("--blocks", type=_positive_int, default=8, help="alternations per case (8)")
    ab.add_argument("--rounds", type=_positive_int, default=4, help="steps per block (4)")
    ab.add_argument(
        "--workers",
        type=_positive_int,
        default=2,
        help="processes per side, taking blocks in turn (2; needs 2 blocks per worker)",
    )
    ab.add_argument("--save-docs", metavar="DIR", help="also write both sides' benchmark JSON")
    _add_gate_options(ab)
    ab.set_defaults(func=_ab)

    acc = sub.add_parser(
        "gate-accuracy",
        help="compare accuracy distributions (`seeds` files, collections, campaign directories; "
        "a campaign's every distribution, Holm-adjusted); exit 1 on a regression",
    )
    acc.add_argument("baseline", help="a seeds file, a collection or a campaign directory")
    acc.add_argument("current", help="a seeds file or a campaign directory (or collection)")
    acc.add_argument(
        "--min-effect",
        type=_number,
        default=gate_module.MIN_EFFECT,
        help=f"smallest accuracy drop that counts (default {gate_module.MIN_EFFECT})",
    )
    acc.add_argument(
        "--alpha",
        type=_number,
        default=gate_module.ALPHA,
        help=f"one-sided test level ({gate_module.ALPHA})",
    )
    _add_report_outputs(acc)
    acc.set_defaults(func=_gate_accuracy)

    bench = sub.add_parser("bench", help="step-time comparison of the variants without pytest")
    bench.add_argument("--quick", action="store_true", help="LSTM variants only, 5 rounds")
    bench.add_argument("--json", metavar="FILE")
    bench.add_argument(
        "--backends",
        metavar="LIST",
        help="comma-separated Keras backends (tensorflow,jax,torch), each in its own process",
    )
    bench.add_argument("--out", metavar="DIR", help="write bench.png (or the profile) here")
    bench.add_argument(
        "--profile",
        action="store_true",
        help="profile the chapter's training step on the backend KERAS_BACKEND names, with that "
        "backend's own profiler: where its time goes, the full step over the LSTM core, a "
        "profile for TensorBoard and a Perfetto trace in --out",
    )
    bench.add_argument(
        "--model", default="unrolled-lstm", help="the variant --profile profiles (unrolled-lstm)"
    )
    bench.set_defaults(func=_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Exit codes: 0 done, 1 a gate found a regression, 2 bad input, 130 interrupted (Ctrl-C,
    128 + SIGINT as shells report it, so scripts can tell an interrupt from bad input)."""
    try:
        args = build_parser().parse_args(argv)
        logging.basicConfig(level=logging.WARNING, format=f"{PROG}: %(message)s")
        return args.func(args)
    except ReproError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
