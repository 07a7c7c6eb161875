"""Where a training step's time goes (`lstm-repro bench --profile`), on each Keras backend
with that backend's own profiler.

The chapter's step runs as `reproduce` runs it (model.fit over the training pipeline, with the
StepRecorder callback that records each step's loss), and the profiler records a few steady
steps. Each kernel is put in one part of the model (PARTS) by where it came from:

- TensorFlow: its profiler through Keras's own TensorBoard callback (profile_batch). The
  profile (`plugins/profile/*/*.xplane.pb`, which TensorBoard's profile plugin opens) is read
  with the profiler's protobuf schema as it ships in TensorFlow; a kernel's part is the Keras
  name scope it ran under. The same events are written as a Chrome trace (`trace.json.gz`)
  that Perfetto (ui.perfetto.dev) and chrome://tracing open.
- JAX: jax.profiler (the same XSpace format, and its own Perfetto trace). A kernel event
  names its HLO instruction; the compiled HLO module, which the profile carries, gives that
  instruction's op_name, the JAX name scopes Keras opened (`jvp(lstm_cell)/...`).
- PyTorch: torch.profiler, with a named range around each Keras layer's call, the loss, the
  metrics and the optimizer's update (_torch_scopes; its Python stacks would cost minutes to
  read at the chapter's sizes). A forward op's part is the scopes it ran under; a backward
  op's is its forward op's, matched by the autograd sequence number. Its Chrome trace is the
  trace.

The table's rows sum to the measured step wall time:
- host: the time outside the compiled step function (Keras's fit loop, callbacks, the loss
  fetched to Python each step); on PyTorch, which compiles nothing, the Python between ops;
- input pipeline (TensorFlow): the step function waiting for tf.data's next batch
  (IteratorGetNext; the batching itself runs ahead on tf.data's own threads); on JAX and
  PyTorch the next batch is fetched outside the step, in the host row;
- the rest of the step function's wall time, split over the parts in proportion to the
  kernel time each part used (kernels of two parts overlap on two threads, so a part's share
  of kernel time stands in for its share of the wall); on PyTorch each part is its ops' time.
"""

from __future__ import annotations

import contextlib
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
# A cell's dropout mask is jax.random.bernoulli under the cell's scope on JAX, and
# aten::bernoulli_ (or aten::native_dropout) on PyTorch.
PARTS = (
    ("dropout masks", ("dropout", "bernoulli")),
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
HOST_EAGER = "host: Python between ops (Keras, fit loop, callbacks, loss fetch)"  # PyTorch
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


# JAX's transformations wrap a scope: "transpose(jvp(lstm_cell))" is lstm_cell's backward.
_TRANSFORMS = re.compile(r"^(?:[a-z_]+\()+|\)+$")


def part_of(kernel: str, model_scope: str = "") -> str:
    """The part of the model a kernel ("scope/.../name:OpType") belongs to, by its scopes."""
    wrappers = _wrapper_scopes(model_scope)  # one pattern per model: read_profile's hot loop
    segments = [_TRANSFORMS.sub("", seg) for seg in kernel.rsplit(":", 1)[0].lower().split("/")]
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


def _stat_names(plane) -> dict[int, str]:
    """A plane's stat ids -> names, built once per plane (its events' stats refer to them)."""
    return {k: v.name for k, v in plane.stat_metadata.items()}


def _stat_values(names: dict[int, str], stats) -> dict:
    """An XEvent's or XEventMetadata's stats by name (`names`: _stat_names of its plane):
    referenced strings resolved."""
    out = {}
    for st in stats:
        kind = st.WhichOneof("value")
        value = getattr(st, kind) if kind else None
        if kind == "ref_value":
            value = names.get(value, "")
        out[names.get(st.metadata_id, "")] = value
    return out


def _hlo_op_names(space) -> dict[tuple[str, int | None], dict[str, str]]:
    """Per compiled module, keyed by (name, program id) as its kernels' events name it
    ("jit_train_step", 90), each entry instruction's op_name: read from the HLO modules the JAX
    profile carries in its metadata plane. The id matters: a process that compiled the step
    twice (two models) carries both modules under one name, and their fusions share names."""
    try:
        from tensorflow.compiler.xla.service import hlo_pb2
    except ImportError as e:
        raise ReproError(f"no XLA HLO schema to read JAX's profile with ({e})") from None
    modules: dict[tuple[str, int | None], dict[str, str]] = {}
    for plane in space.planes:
        if plane.name != "/host:metadata":
            continue
        stat_names = _stat_names(plane)
        for meta in plane.event_metadata.values():
            stats = _stat_values(stat_names, meta.stats)
            blob = stats.get("Hlo Proto")
            if not blob:
                continue
            proto = hlo_pb2.HloProto()
            proto.ParseFromString(blob)
            module = proto.hlo_module
            entry = [c for c in module.computations if c.id == module.entry_computation_id]
            ops = {i.name: i.metadata.op_name for c in entry for i in c.instructions}
            modules[(module.name, stats.get("program_id"))] = ops
    return modules


def _union_ps(intervals: list[tuple[int, int]]) -> int:
    """The length of the union of (start, end) intervals: time when any of them ran."""
    total, reach = 0, None
    for start, end in sorted(intervals):
        if reach is None or start > reach:
            total += end - start
            reach = end
        elif end > reach:
            total += end - reach
            reach = end
    return total


def read_jax_profile(path: Path, *, model_scope: str = "") -> dict:
    """As read_profile, from a JAX profile: each XLA kernel's part by its HLO op_name. The
    step function is the compiled module that ran the most kernel time (Keras's train step);
    its wall is the time any of its kernels ran (the union over XLA's threads: the dispatching
    PjitFunction call returns before they finish, so its own span is not the step's), and its
    calls are the outermost PjitFunction(...) events of that function."""
    space = _xspace(path)
    op_names = _hlo_op_names(space)
    # modules by (name, program id): the names of two compiled train steps are the same
    by_module: dict[tuple[str, int | None], dict[str, int]] = {}
    spans: dict[tuple, list[tuple[int, int]]] = {}  # module -> its kernels' (start, end) in ps
    calls: dict[str, list[tuple[int, int, int]]] = {}  # function -> (line, start, end) in ps
    for plane in space.planes:
        if not plane.name.startswith(("/host:CPU", "/device:")):
            continue
        names = {k: v.name for k, v in plane.event_metadata.items()}
        stat_names = _stat_names(plane)
        for tid, line in enumerate(plane.lines):
            for ev in line.events:
                name = names.get(ev.metadata_id, "")
                start = line.timestamp_ns * 1000 + ev.offset_ps
                if name.startswith("PjitFunction(") and name.endswith(")"):
                    calls.setdefault(name[13:-1], []).append((tid, start, start + ev.duration_ps))
                    continue
                stats = _stat_values(stat_names, ev.stats)
                if "hlo_op" not in stats:
                    continue
                module = (str(stats.get("hlo_module", "")), stats.get("program_id"))
                op_name = op_names.get(module, {}).get(str(stats["hlo_op"]), "")
                part = part_of(op_name + ":hlo", model_scope)
                parts = by_module.setdefault(module, {})
                parts[part] = parts.get(part, 0) + ev.duration_ps
                spans.setdefault(module, []).append((start, start + ev.duration_ps))
    if not by_module:
        return {"parts": {}, "step_ps": 0, "steps": 0, "input_ps": None}
    module = max(by_module, key=lambda m: sum(by_module[m].values()))
    outermost: list[tuple[int, int, int]] = []
    for tid, start, end in sorted(calls.get(module[0].removeprefix("jit_"), [])):
        if outermost and outermost[-1][0] == tid and start < outermost[-1][2]:
            continue  # PjitFunction nests a call of the same name inside itself
        outermost.append((tid, start, end))
    return {
        "parts": by_module[module],
        "step_ps": _union_ps(spans[module]),
        "steps": len(outermost),
        "input_ps": None,
        "module": module[0],
    }


_TORCH_SCOPE = "keras/"  # the prefix of the ranges _torch_scopes opens


@contextlib.contextmanager
def _torch_scopes(model):
    """Name the Keras scopes in torch.profiler's events, as TensorFlow's and JAX's profiles
    name them: a record_function range around each Keras layer's call (global module hooks:
    on PyTorch a Keras layer is a torch.nn.Module), and around the model's compute_loss and
    compute_metrics and its optimizer's apply (instance attributes, removed after)."""
    import keras
    import torch
    from torch.autograd.profiler import record_function

    open_ranges: list = []

    def enter(module, args):
        if isinstance(module, keras.layers.Layer):
            ranges = record_function(_TORCH_SCOPE + module.name)
            ranges.__enter__()
            open_ranges.append((module, ranges))

    def leave(module, args, output):
        if open_ranges and open_ranges[-1][0] is module:
            open_ranges.pop()[1].__exit__(None, None, None)

    def named(fn, scope):
        @functools.wraps(fn)
        def call(*args, **kwargs):
            with record_function(_TORCH_SCOPE + scope):
                return fn(*args, **kwargs)

        return call

    wrapped = [
        (model, "compute_loss", "compile_loss"),
        (model, "compute_metrics", "metrics"),
        (model.optimizer, "apply", "adam"),
    ]
    hooks = [
        torch.nn.modules.module.register_module_forward_pre_hook(enter),
        torch.nn.modules.module.register_module_forward_hook(leave),
    ]
    for owner, method, scope in wrapped:
        setattr(owner, method, named(getattr(owner, method), scope))
    try:
        yield
    finally:
        for hook in hooks:
            hook.remove()
        for owner, method, _ in wrapped:
            delattr(owner, method)  # the class's method again


def _torch_scope(event) -> str:
    """The Keras scopes a PyTorch op ran under, outermost first, then the op's own name (a
    dropout mask is aten::bernoulli_ or aten::native_dropout inside the cell's scope)."""
    scopes = []
    parent = event.cpu_parent
    while parent is not None:
        if parent.name.startswith(_TORCH_SCOPE):
            scopes.append(parent.name.removeprefix(_TORCH_SCOPE))
        parent = parent.cpu_parent
    return "/".join([*reversed(scopes), event.name.replace("::", "_")]) + ":op"


def read_torch_profile(events, *, steps: int, model_scope: str = "") -> dict:
    """As read_profile, from torch.profiler's events: the outermost ops (aten:: and the
    autograd engine's backward functions) by part, a forward op's part by the Keras scopes it
    ran under (_torch_scopes), a backward function's by its forward op's (autograd sequence
    number). On PyTorch the step function is the ops themselves: step_ps is their sum."""

    def outermost(event) -> bool:
        parent = event.cpu_parent
        while parent is not None:
            if parent.name.startswith(("aten::", "autograd::")):
                return False
            parent = parent.cpu_parent
        return True

    ops = [
        e
        for e in events
        if e.name.startswith(("aten::", "autograd::engine::evaluate_function")) and outermost(e)
    ]
    own = {id(e): part_of(_torch_scope(e), model_scope) for e in ops if e.name.startswith("aten::")}
    forward_part = {}
    for e in ops:
        if id(e) in own and e.sequence_nr >= 0:
            forward_part.setdefault(e.sequence_nr, own[id(e)])
    parts: dict[str, int] = {}
    for e in ops:
        # a backward function takes its forward op's part; AccumulateGrad has none
        part = own[id(e)] if id(e) in own else forward_part.get(e.sequence_nr, OTHER)
        parts[part] = parts.get(part, 0) + int(e.cpu_time_total * 1e6)  # us -> ps
    return {"parts": parts, "step_ps": sum(parts.values()), "steps": steps, "input_ps": None}


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


def breakdown(
    profile: dict, *, step_seconds: float, profiled_steps: int, host: str = HOST
) -> list[dict]:
    """Rows of (part, ms per step, share of the step) summing to `step_seconds` (the mean
    wall time of the profiled steps, which hold the step function's calls); `host` names the
    time outside it. A profile whose input_ps is None has no input row (JAX, PyTorch: the
    batch is fetched outside the step function, in the host's time)."""
    if profile["steps"] == 0 or not profile["parts"]:
        raise ReproError("the profile holds no step function or no kernels: nothing to break down")
    per_step = 1e-9 / profiled_steps  # ps over the profiled steps -> ms per step
    graph_ms = profile["step_ps"] * per_step
    measured_input = profile.get("input_ps") is not None
    input_ms = min((profile.get("input_ps") or 0) * per_step, graph_ms)  # inside the step
    step_ms = step_seconds * 1e3
    kernel_total = sum(profile["parts"].values())
    rows = [
        {"part": part, "ms": (graph_ms - input_ms) * ps / kernel_total, "kernel_ms": ps * per_step}
        for part, ps in sorted(profile["parts"].items(), key=lambda kv: -kv[1])
    ]
    if measured_input:
        rows.append({"part": INPUT, "ms": input_ms, "kernel_ms": None})
    rows.append({"part": host, "ms": max(step_ms - graph_ms, 0.0), "kernel_ms": None})
    total = sum(r["ms"] for r in rows)
    for r in rows:
        r["share"] = r["ms"] / total
    return rows


def _profiler_callback(backend: str, logdir: Path, *, first: int):
    """A Keras callback that runs JAX's or PyTorch's own profiler from batch `first` (0-based)
    of one epoch and stops it when training ends, outside every timed step (Keras's
    TensorBoard callback profiles TensorFlow, and JAX only on Python >= 3.12)."""
    import keras

    class Profiler(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.torch_profile = None

        def on_train_batch_begin(self, batch, logs=None):
            if batch != first:
                return
            if backend == "jax":
                import jax

                jax.profiler.start_trace(str(logdir), create_perfetto_trace=True)
            else:
                from torch.profiler import ProfilerActivity, profile

                self.torch_profile = profile(activities=[ProfilerActivity.CPU])
                self.torch_profile.start()

        def on_train_end(self, logs=None):
            if backend == "jax":
                import jax

                jax.profiler.stop_trace()
            else:
                self.torch_profile.stop()

    return Profiler()


def _profile_fit(
    model,
    train,
    recorder,
    *,
    backend: str,
    logdir: Path,
    warmup: int,
    steps: int,
    model_scope: str,
    trace: Path,
) -> tuple[dict, str]:
    """One epoch of warmup + steps batches with the backend's profiler over the last
    `steps`: the profile read (read_profile's shape) and the path of what TensorBoard opens;
    the Chrome trace written to `trace`."""
    import keras

    batches = warmup + steps
    if backend == "tensorflow":
        # Keras's profile_batch=(warmup + 1, batches) traces batches warmup+1..batches
        # (1-based): the recorder's steps from index `warmup`.
        profiler = keras.callbacks.TensorBoard(
            log_dir=str(logdir), profile_batch=(warmup + 1, batches), write_graph=False
        )
        model.fit(train, epochs=1, callbacks=[recorder, profiler], verbose=0, shuffle=False)
        found = sorted(logdir.rglob("*.xplane.pb"))
        if not found:
            raise ReproError(f"TensorFlow's profiler wrote no .xplane.pb under {logdir}")
        profile = read_profile(found[-1], model_scope=model_scope)
        write_trace(profile["events"], trace)
        return profile, str(found[-1])
    # The profiler's callback first: it starts before the recorder's clock.
    profiler = _profiler_callback(backend, logdir, first=warmup)
    scopes = _torch_scopes(model) if backend == "torch" else contextlib.nullcontext()
    with scopes:
        model.fit(train, epochs=1, callbacks=[profiler, recorder], verbose=0, shuffle=False)
    if backend == "jax":
        found = sorted(logdir.rglob("*.xplane.pb"))
        perfetto = sorted(logdir.rglob("perfetto_trace.json.gz"))
        if not found or not perfetto:
            raise ReproError(
                f"JAX's profiler wrote no .xplane.pb and Perfetto trace under {logdir}"
            )
        trace.write_bytes(perfetto[-1].read_bytes())
        return read_jax_profile(found[-1], model_scope=model_scope), str(found[-1])
    logdir.mkdir(parents=True, exist_ok=True)
    chrome = logdir / "torch.pt.trace.json"  # the name TensorBoard's PyTorch plugin reads
    profiler.torch_profile.export_chrome_trace(str(chrome))
    with open(chrome, "rb") as f, gzip.open(trace, "wb") as out:
        out.write(f.read())
    events = profiler.torch_profile.events()
    return read_torch_profile(events, steps=steps, model_scope=model_scope), str(chrome)


def profile_step(
    variant: str,
    config: TrainConfig,
    out: Path,
    *,
    warmup: int = 5,
    steps: int = 10,
) -> dict:
    """Train `variant` for warmup + steps batches of seeded random ids as `reproduce` does
    (fit, the training pipeline, StepRecorder), profiling the last `steps` with the backend's
    own profiler; write the profile and trace under `out` and return the breakdown."""
    import numpy as np

    from lstm_repro import backend
    from lstm_repro.bench import CORE_VARIANTS, StepRunner, core_supported, timed
    from lstm_repro.data import Dataset, make_pipelines
    from lstm_repro.models import build_model
    from lstm_repro.train import StepRecorder, compile_model, seed_everything

    name = backend.name()
    # The core first (bench.StepRunner.core_step): its runner seeds and clears Keras's session.
    core = None
    if variant in CORE_VARIANTS and core_supported():
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
    start = time.perf_counter()
    profile, written = _profile_fit(
        model,
        train,
        recorder,
        backend=name,
        logdir=out / "tensorboard",
        warmup=warmup,
        steps=steps,
        model_scope=model.name,
        trace=out / "trace.json.gz",
    )
    step_seconds = statistics.fmean(recorder.seconds[warmup:])  # the profiled steps' mean
    rows = breakdown(
        profile,
        step_seconds=step_seconds,
        profiled_steps=profile["steps"],
        host=HOST_EAGER if name == "torch" else HOST,
    )
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
        "backend": name,
        "config": config.to_dict(),
        "steps_profiled": steps,
        "step_ms": step_seconds * 1e3,
        "rows": rows,
        "profile": written,
        "trace": str(out / "trace.json.gz"),
        "full_step_ms": full * 1e3,
        "core_ms": None if core is None else core * 1e3,
        "full_over_core": None if core is None else full / core,
        "wall_seconds": time.perf_counter() - start,
        "execution_mode": {"deterministic": backend.determinism_enabled()},
    }
