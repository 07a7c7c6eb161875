"""Where a training step's time goes (`lstm-repro bench --profile`).

The chapter's step runs as `reproduce` runs it (model.fit over a tf.data pipeline, with the
StepRecorder callback that records each step's loss), and TensorFlow's profiler records a few
steady steps through Keras's own TensorBoard callback (profile_batch). The profile it writes
(`plugins/profile/*/*.xplane.pb`, which TensorBoard's profile plugin opens) is read with the
profiler's protobuf schema as it ships in TensorFlow; each kernel is put in one part of the
model by the Keras name scope it ran under, and the same events are written as a Chrome trace
(`trace.json.gz`) that Perfetto (ui.perfetto.dev) and chrome://tracing open.

The table's rows sum to the measured step wall time:
- host: the time outside the compiled step function (Keras's fit loop, callbacks, the loss
  fetched to Python each step);
- input pipeline: the step function waiting for tf.data's next batch (IteratorGetNext; the
  batching itself runs ahead on tf.data's own threads);
- the rest of the step function's wall time, split over the parts below in proportion to the
  kernel time each part used on TensorFlow's inter-op threads (kernels of two parts overlap on
  two threads, so a part's share of kernel time stands in for its share of the wall).
"""

from __future__ import annotations

import functools
import gzip
import json
import re
import statistics
import time
from pathlib import Path

from lstm_repro.config import TrainConfig
from lstm_repro.errors import ReproError

# (part, substrings of a kernel's lowercased layer scopes), first match wins: dropout lives
# inside the cells' scopes and the summing of the embedding's gradient rows per word
# (train.ChapterAdam) inside Adam's, so both come before the scopes that hold them.
PARTS = (
    ("dropout masks", ("dropout",)),
    ("embedding and its gradient", ("embedding",)),
    (
        "embedding's gradient in Adam (rows summed per word)",
        ("adam/unsortedsegmentsum", "adam/unique"),
    ),
    ("optimizer (Adam)", ("adam", "optimizer", "gradient_clip")),
    ("loss and metrics", ("crossentropy", "compile_loss", "accuracy", "metrics")),
    ("recurrent math (LSTM / RNN / GRU cells)", ("lstm", "rnn", "gru")),
    ("head (Dense + sigmoid)", ("dense", "sigmoid")),
)
OTHER = "other kernels (gradient sums, variable updates)"
INPUT = "input pipeline (the step waiting for its batch)"
HOST = "host outside the step (fit loop, callbacks, loss fetch)"
# A kernel event is "scope/name:OpType"; the executor's own events ("ExecutorState::Process")
# and the Python thread's ("EagerExecute") are not.
_KERNEL = re.compile(r"^[^:\s]+:[A-Za-z_]\w*$")
# Scopes every kernel of the step shares: the step function's call and the gradient tape;
# part_of also drops the model's own name (unrolled_rnn, whose "rnn" must not make every kernel
# recurrent math).
_WRAPPERS = ("statefulpartitionedcall", "gradient_tape")


@functools.cache
def _wrapper_scopes(model_scope: str) -> re.Pattern:
    names = [*_WRAPPERS, model_scope.lower()] if model_scope else list(_WRAPPERS)
    return re.compile("^(" + "|".join(map(re.escape, names)) + r")(_\d+)?$")


def part_of(kernel: str, model_scope: str = "") -> str:
    """The part of the model a kernel ("scope/.../name:OpType") belongs to, by its scopes."""
    wrappers = _wrapper_scopes(model_scope)  # one pattern per model: read_profile's hot loop
    segments = kernel.rsplit(":", 1)[0].lower().split("/")
    scope = "/".join(seg for seg in segments if not wrappers.match(seg))
    for part, needles in PARTS:
        if any(n in scope for n in needles):
            return part
    return OTHER


def _xspace(path: Path):
    try:
        from tensorflow.tsl.profiler.protobuf import xplane_pb2
    except ImportError as e:  # the schema moved: say so rather than guess at the bytes
        raise ReproError(f"this TensorFlow has no profiler schema to read {path} ({e})") from None
    space = xplane_pb2.XSpace()
    space.ParseFromString(path.read_bytes())
    return space


def read_profile(path: Path, *, model_scope: str = "") -> dict:
    """Kernel picoseconds per part, the step function's and the input pipeline's wall
    picoseconds, and every event (for the trace), from one .xplane.pb."""
    space = _xspace(path)
    parts: dict[str, int] = {}
    step_ps = input_ps = 0
    steps = 0
    events = []
    for plane in space.planes:
        if not plane.name.startswith("/host:"):
            continue
        names = {k: v.name for k, v in plane.event_metadata.items()}
        for tid, line in enumerate(plane.lines):
            compute = line.name.startswith("tf_Compute") or line.name.startswith("tf_inter_op")
            for ev in line.events:
                name = names.get(ev.metadata_id, "")
                events.append(
                    (line.name, tid, line.timestamp_ns, ev.offset_ps, ev.duration_ps, name)
                )
                if compute and _KERNEL.match(name):
                    part = part_of(name, model_scope)
                    parts[part] = parts.get(part, 0) + ev.duration_ps
                elif not compute and name.startswith("EagerLocalExecute: __inference_"):
                    step_ps += ev.duration_ps
                    steps += 1
                elif name == "IteratorGetNextOp::DoCompute":
                    input_ps += ev.duration_ps  # the step waiting for tf.data's next batch
    return {
        "parts": parts,
        "step_ps": step_ps,
        "steps": steps,
        "input_ps": input_ps,
        "events": events,
    }


def write_trace(events, path: Path) -> None:
    """Chrome trace-event JSON (what Perfetto and chrome://tracing open), gzipped."""
    trace = [
        {
            "name": name,
            "ph": "X",
            "ts": base_ns / 1e3 + offset_ps / 1e6,
            "dur": duration_ps / 1e6,
            "pid": 1,
            "tid": tid,
            "args": {"thread": thread},
        }
        for thread, tid, base_ns, offset_ps, duration_ps, name in events
    ]
    with gzip.open(path, "wt", encoding="utf-8") as f:
        json.dump({"traceEvents": trace, "displayTimeUnit": "ms"}, f)


def breakdown(profile: dict, *, step_seconds: float, profiled_steps: int) -> list[dict]:
    """Rows of (part, ms per step, share of the step) summing to `step_seconds` (the mean
    wall time of the profiled steps, which hold the step function's calls)."""
    if profile["steps"] == 0 or not profile["parts"]:
        raise ReproError("the profile holds no step function or no kernels: nothing to break down")
    per_step = 1e-9 / profiled_steps  # ps over the profiled steps -> ms per step
    graph_ms = profile["step_ps"] * per_step
    input_ms = min(profile["input_ps"] * per_step, graph_ms)  # inside the step function
    step_ms = step_seconds * 1e3
    kernel_total = sum(profile["parts"].values())
    rows = [
        {"part": part, "ms": (graph_ms - input_ms) * ps / kernel_total, "kernel_ms": ps * per_step}
        for part, ps in sorted(profile["parts"].items(), key=lambda kv: -kv[1])
    ]
    rows += [
        {"part": INPUT, "ms": input_ms, "kernel_ms": None},
        {"part": HOST, "ms": max(step_ms - graph_ms, 0.0), "kernel_ms": None},
    ]
    total = sum(r["ms"] for r in rows)
    for r in rows:
        r["share"] = r["ms"] / total
    return rows


def profile_step(
    variant: str,
    config: TrainConfig,
    out: Path,
    *,
    warmup: int = 5,
    steps: int = 10,
) -> dict:
    """Train `variant` for warmup + steps batches of seeded random ids as `reproduce` does
    (fit, tf.data, StepRecorder), profiling the last `steps`; write the profile and trace
    under `out` and return the breakdown."""
    import keras
    import numpy as np

    from lstm_repro import backend

    if backend.name() != "tensorflow":
        raise ReproError(
            f"--profile reads TensorFlow's profiler; this is the {backend.name()} backend "
            "(KERAS_BACKEND=tensorflow)"
        )
    from lstm_repro.bench import CORE_VARIANTS, StepRunner, timed
    from lstm_repro.data import Dataset, make_pipelines
    from lstm_repro.models import build_model
    from lstm_repro.train import StepRecorder, compile_model, seed_everything

    # The core first (bench.StepRunner.core_step): its runner seeds and clears Keras's session.
    core = None
    if variant in CORE_VARIANTS:
        core = StepRunner(variant, config).core_step()
        core()
        core()
    seed_everything(0)
    batches = warmup + steps
    rng = np.random.default_rng(0)
    n = batches * config.batch_size
    x = rng.integers(0, config.vocab_size, size=(n, config.max_len)).astype("int32")
    y = rng.integers(0, 2, size=n).astype("int32")
    data = Dataset("random", "profile", "-", x, y, x[: config.batch_size], y[: config.batch_size])
    train, _ = make_pipelines(
        data, batch_size=config.batch_size, seed=0, shuffle_buffer=config.shuffle_buffer
    )
    model = build_model(variant, config)
    compile_model(model, config)
    recorder = StepRecorder()
    logdir = out / "tensorboard"
    profiler = keras.callbacks.TensorBoard(
        log_dir=str(logdir), profile_batch=(warmup + 1, batches), write_graph=False
    )
    start = time.perf_counter()
    model.fit(train, epochs=1, callbacks=[recorder, profiler], verbose=0, shuffle=False)
    found = sorted(logdir.rglob("*.xplane.pb"))
    if not found:
        raise ReproError(f"TensorFlow's profiler wrote no .xplane.pb under {logdir}")
    profile = read_profile(found[-1], model_scope=model.name)
    write_trace(profile["events"], out / "trace.json.gz")
    # Keras's profile_batch=(warmup + 1, batches) traces batches warmup+1..batches (1-based):
    # the recorder's steps from index `warmup`. Their mean, as the profile's sums are.
    step_seconds = statistics.fmean(recorder.seconds[warmup:])
    rows = breakdown(profile, step_seconds=step_seconds, profiled_steps=profile["steps"])
    # The full step timed again without the profiler (its overhead inflates the profiled
    # steps), in turns with the core, so that a drift of the machine's speed hits both: their
    # ratio is the target (full step at most 1.25x the core).
    full_seconds, core_seconds = [], []
    for _ in range(3):
        unprofiled = StepRecorder()
        model.fit(train, epochs=1, callbacks=[unprofiled], verbose=0, shuffle=False)
        full_seconds += unprofiled.seconds[1:]
        if core is not None:
            core_seconds += timed(core, steps)
    full = statistics.median(full_seconds)
    core = statistics.median(core_seconds) if core_seconds else None
    return {
        "variant": variant,
        "config": config.to_dict(),
        "steps_profiled": steps,
        "step_ms": step_seconds * 1e3,
        "rows": rows,
        "profile": str(found[-1]),
        "trace": str(out / "trace.json.gz"),
        "full_step_ms": full * 1e3,
        "core_ms": None if core is None else core * 1e3,
        "full_over_core": None if core is None else full / core,
        "wall_seconds": time.perf_counter() - start,
        "execution_mode": {"deterministic": backend.determinism_enabled()},
    }
