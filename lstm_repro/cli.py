"""`lstm-repro` command line: argument parsing and printing only; the work is in the modules.

TensorFlow is imported only after the arguments parse, so a bad flag fails in well under a
second. Every user error ends as one `lstm-repro: error: ...` message and exit code 2.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from lstm_repro.errors import ReproError

PROG = "lstm-repro"
# The chapter prints no accuracy. This is what its configuration typically reaches on the real
# IMDB test split in published runs of the same model (not measured here: no download).
CHAPTER_EXPECTED = "~0.80-0.85 test accuracy after 4 epochs on real IMDB (published runs)"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage dump
        self.exit(2, f"{PROG}: error: {message}\n")


def _int_at_least(minimum: int, description: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {description}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {description}, got {value}")
        return value

    return parse


_positive_int = _int_at_least(1, "a positive integer")
_non_negative_int = _int_at_least(0, "an integer >= 0")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text}")
    return value


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow with its C++ start-up chatter (absl INFO lines on fd 2) hidden.

    TF_CPP_MIN_LOG_LEVEL no longer silences those lines in TF 2.21. Set LSTM_REPRO_TF_LOGS=1
    to see them. Python-level errors raised by the import are still shown.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules or os.environ.get("LSTM_REPRO_TF_LOGS"):
        import tensorflow  # noqa: F401

        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")  # CUDA probing logs once, here, to /dev/null
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


# --------------------------------------------------------------------------- reproduce


def _reproduce(args) -> int:
    from lstm_repro.config import TrainConfig
    from lstm_repro.data import load_dataset

    if args.json:
        parent = os.path.dirname(os.path.abspath(args.json))
        if not os.path.isdir(parent):
            raise ReproError(f"--json {args.json}: directory {parent} does not exist")
        if os.path.isdir(args.json):
            raise ReproError(f"--json {args.json}: is a directory; give a file name")
    config = TrainConfig(
        epochs=args.epochs,
        seed=args.seed,
        batch_size=args.batch_size,
        units=args.units,
        clipnorm=args.clipnorm,
        forget_bias=args.forget_bias,
    )
    data = load_dataset(
        args.data,
        num_words=config.vocab_size,
        max_len=config.max_len,
        seed=config.seed,
        imdb_path=args.imdb_path,
        train_samples=args.train_samples,
        test_samples=args.test_samples,
    )
    banner = {
        "synthetic": "SYNTHETIC corpus (not IMDB)",
        "imdb": "IMDB (official file)"
        if data.identity()["official"]
        else "IMDB-format file (NOT the official IMDB: its sha256 differs)",
    }[data.name]
    print(
        f"data: {banner}: {data.train_size} train / {data.test_size} test reviews "
        f"from {data.source}",
        flush=True,
    )
    _import_tensorflow_quietly()
    from lstm_repro.records import write_json_atomic
    from lstm_repro.train import train

    result = train(config, data=data, model_name=args.model, progress=sys.stdout.isatty())
    if args.json:
        write_json_atomic(args.json, result)
    print(_summary_table(result))
    if args.json:
        print(f"result written to {args.json}")
    return 0


def _summary_table(result: dict) -> str:
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


def _export_synthetic(args) -> int:
    from lstm_repro.data import save_imdb_file, synthetic_raw

    if os.path.exists(args.file) and not args.force:
        raise ReproError(f"{args.file} exists; pass --force to replace it")
    x_train, y_train = synthetic_raw(n=args.train_samples, split="train", seed=args.seed)
    x_test, y_test = synthetic_raw(n=args.test_samples, split="test", seed=args.seed)
    save_imdb_file(args.file, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    print(f"wrote {args.file} (Keras imdb.npz layout; raw ids, no start char)")
    return 0


def _output_dir(value: str):
    """--out DIR, created if missing; a user error (not a traceback) when it cannot be."""
    from pathlib import Path

    out = Path(value)
    if out.exists() and not out.is_dir():
        raise ReproError(f"--out {out}: exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ReproError(f"--out {out}: cannot create ({e.strerror or e})") from None
    return out


def _gradients(args) -> int:
    from pathlib import Path

    out = _output_dir(args.out)
    _import_tensorflow_quietly()
    from lstm_repro.gradients import FlowSetup, plot_study, study
    from lstm_repro.records import environment, write_json_atomic

    result = study(FlowSetup(time=args.time, seed=args.seed), clipnorm=args.clipnorm)
    result["environment"] = environment()
    try:
        result["plots"] = [Path(p).name for p in plot_study(result, out)]
    except ImportError:
        result["plots"] = []
        result["plots_note"] = "matplotlib is not installed: plots skipped (pip install .[plot])"
        print(f"note: {result['plots_note']}")
    write_json_atomic(out / "gradients.json", result)
    print(_gradient_table(result))
    print(f"wrote {out / 'gradients.json'} and {', '.join(result['plots']) or 'no plots'}")
    return 0


def _gradient_table(result: dict) -> str:
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


def _gate(args) -> int:
    from lstm_repro.bench import format_gate, gate
    from lstm_repro.records import read_json

    baseline = read_json(args.baseline, what="pytest-benchmark JSON file")
    current = read_json(args.current, what="pytest-benchmark JSON file")
    rows, regressed = gate(
        baseline, current, tolerance=args.tolerance, names=(args.baseline, args.current)
    )
    print(format_gate(rows))
    verdict = "REGRESSION" if regressed else "ok"
    print(f"{verdict}: tolerance {args.tolerance:.0%} slowdown, {len(rows)} metrics compared")
    return 1 if regressed else 0


def _bench(args) -> int:
    out = _output_dir(args.out) if args.out else None
    _import_tensorflow_quietly()
    from lstm_repro.bench import compare_variants, plot_comparison
    from lstm_repro.config import MODEL_NAMES, TrainConfig
    from lstm_repro.records import write_json_atomic

    result = compare_variants(
        ("unrolled-lstm", "fused-lstm") if args.quick else MODEL_NAMES,
        TrainConfig(),
        rounds=5 if args.quick else 20,
        on_row=lambda r: print(
            f"{r['variant']:<14} {r['mode']:<5} {r['ms_per_step']:>8.1f} ms/step", flush=True
        ),
    )
    print(_bench_table(result))
    if args.json:
        write_json_atomic(args.json, result)
    if out is not None:
        try:
            print(f"wrote {plot_comparison(result, out)}")
        except ImportError:
            print("note: matplotlib is not installed: bar chart skipped (pip install .[plot])")
    return 0


def _bench_table(result: dict) -> str:
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


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    from lstm_repro.config import MODEL_NAMES
    from lstm_repro.data import DATA_CHOICES

    parser = _Parser(prog=PROG, description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    rep = sub.add_parser("reproduce", help="train the chapter's model and report")
    rep.add_argument(
        "--data",
        choices=DATA_CHOICES,
        default="auto",
        help="auto: real IMDB when found, else the synthetic corpus (default)",
    )
    rep.add_argument("--imdb-path", metavar="FILE", help="an imdb.npz in Keras's layout")
    rep.add_argument("--model", choices=MODEL_NAMES, default="unrolled-lstm")
    rep.add_argument("--epochs", type=_positive_int, default=4)
    rep.add_argument("--seed", type=_non_negative_int, default=22)
    rep.add_argument("--batch-size", type=_positive_int, default=128)
    rep.add_argument("--units", type=_positive_int, default=64)
    rep.add_argument(
        "--clipnorm",
        type=_positive_float,
        default=None,
        help="clip gradients to this global L2 norm (default: off)",
    )
    rep.add_argument(
        "--forget-bias",
        type=float,
        default=1.0,
        help="LSTM forget-gate bias at init (default 1.0, Keras's)",
    )
    rep.add_argument(
        "--train-samples", type=_positive_int, metavar="N", help="use the first N training reviews"
    )
    rep.add_argument(
        "--test-samples", type=_positive_int, metavar="N", help="use the first N test reviews"
    )
    rep.add_argument("--json", metavar="FILE", help="write the result record here (atomically)")
    rep.set_defaults(func=_reproduce)

    exp = sub.add_parser(
        "export-synthetic", help="write the synthetic corpus as a Keras-layout imdb.npz"
    )
    exp.add_argument("file")
    exp.add_argument("--seed", type=_non_negative_int, default=22)
    exp.add_argument("--train-samples", type=_positive_int, default=25000, metavar="N")
    exp.add_argument("--test-samples", type=_positive_int, default=25000, metavar="N")
    exp.add_argument("--force", action="store_true", help="replace an existing file")
    exp.set_defaults(func=_export_synthetic)

    grad = sub.add_parser("gradients", help="measure gradient flow (vanishing/exploding/clipping)")
    grad.add_argument("--out", required=True, metavar="DIR", help="gradients.json and PNGs go here")
    grad.add_argument("--time", type=_positive_int, default=80, help="sequence length T")
    grad.add_argument("--seed", type=_non_negative_int, default=0)
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
    gate.add_argument(
        "--tolerance",
        type=_positive_float,
        default=0.25,
        help="slowdown factor - 1 that counts as a regression (default 0.25)",
    )
    gate.set_defaults(func=_gate)

    bench = sub.add_parser("bench", help="step-time comparison of the variants without pytest")
    bench.add_argument("--quick", action="store_true", help="LSTM variants only, 5 rounds")
    bench.add_argument("--json", metavar="FILE")
    bench.add_argument("--out", metavar="DIR", help="write bench.png here")
    bench.set_defaults(func=_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format=f"{PROG}: %(message)s")
    try:
        return args.func(args)
    except ReproError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
