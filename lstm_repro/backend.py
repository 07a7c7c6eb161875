"""What differs between Keras 3's TensorFlow, JAX and PyTorch backends, in one place.

Everything else in the package is written with `keras` and `keras.ops`. Here: seeding and each
backend's deterministic mode, gradients of a function with respect to tensors, the device and
library versions, the dense matmul peak, and whether a model's step ran cuDNN, read from what
ran (TF graph ops, torch profiler events, JAX lowered HLO), never assumed. The backend is
chosen by KERAS_BACKEND before keras is imported and cannot change inside a process.
"""

from __future__ import annotations

import importlib.metadata
import os
import time
from collections.abc import Callable

import numpy as np

from lstm_repro.errors import ReproError

BACKENDS = ("tensorflow", "jax", "torch")


def configured_name() -> str:
    """The backend KERAS_BACKEND asks for (Keras's default, tensorflow, when unset), read
    without importing Keras: what a process will get, before it imports it."""
    return os.environ.get("KERAS_BACKEND", "tensorflow")


def import_quietly() -> None:
    """Import Keras and its backend with the start-up chatter hidden: TensorFlow's absl INFO
    lines on fd 2 (TF_CPP_MIN_LOG_LEVEL no longer silences them in TF 2.21). Set
    LSTM_REPRO_TF_LOGS=1 to see them. Python-level errors raised by the import still show."""
    import sys

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "keras" in sys.modules or os.environ.get("LSTM_REPRO_TF_LOGS"):
        import keras

        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import keras  # noqa: F401

        if configured_name() == "tensorflow":
            import tensorflow as tf

            tf.config.list_physical_devices("GPU")  # CUDA probing logs once, to /dev/null
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def name() -> str:
    import keras

    return keras.backend.backend()


def library_versions() -> dict[str, str | None]:
    """Installed versions of every backend library, read without importing them."""
    out = {}
    for lib in ("tensorflow", "jax", "jaxlib", "torch", "onnxruntime"):
        try:
            out[lib] = importlib.metadata.version(lib)
        except importlib.metadata.PackageNotFoundError:
            out[lib] = None
    return out


def version() -> str:
    return library_versions()[name()] or "unknown"


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and the backend, and switch on its deterministic mode.

    TensorFlow: a cleared Keras session (the unrolled graphs' gradient sums depend on the
    auto-generated layer names: a second identical run in one process gave weights 1 ulp apart)
    and op determinism (Keras then turns XLA off; ops without a deterministic kernel raise).
    PyTorch: torch.use_deterministic_algorithms(True) and cuDNN's deterministic flag.
    JAX: XLA's deterministic GPU ops flag, which must be in XLA_FLAGS before jax initialises
    (`deterministic_environment` sets it for child processes); XLA on CPU is deterministic.
    """
    import keras

    try:
        # Without its gc.collect(), which costs ~0.4 s a call here and decides nothing:
        # what makes runs repeat is the cleared state (layer names, graphs), not freed memory.
        keras.backend.clear_session(free_memory=False)
    except TypeError:  # Keras releases before the argument
        keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    backend = name()
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    elif backend == "torch":
        import torch

        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def allow_nondeterminism() -> None:
    """Undo seed_everything's deterministic mode (the seeds stay), to time the fast kernels:
    TensorFlow's op determinism off (Keras may then compile with XLA), torch's deterministic
    algorithms off and cuDNN's autotuner on. JAX reads its flag from XLA_FLAGS at start-up, so
    a JAX process's mode is its environment's (`deterministic_environment`)."""
    backend = name()
    if backend == "tensorflow":
        from tensorflow.python.framework import config as tf_config  # no public switch-off

        tf_config.disable_op_determinism()
    elif backend == "torch":
        import torch

        torch.use_deterministic_algorithms(False)
        torch.backends.cudnn.deterministic = False
        torch.backends.cudnn.benchmark = True


def deterministic_environment(env: dict | None = None) -> dict:
    """Environment variables each backend reads at start-up for deterministic kernels."""
    env = dict(os.environ if env is None else env)
    flags = env.get("XLA_FLAGS", "")
    if "xla_gpu_deterministic_ops" not in flags:
        env["XLA_FLAGS"] = (flags + " --xla_gpu_deterministic_ops=true").strip()
    env.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS determinism for torch
    return env


def determinism_enabled() -> bool:
    backend = name()
    if backend == "tensorflow":
        from tensorflow.python.framework import config as tf_config  # no public getter

        return bool(tf_config.is_op_determinism_enabled())
    if backend == "torch":
        import torch

        return torch.are_deterministic_algorithms_enabled()
    return "xla_gpu_deterministic_ops=true" in os.environ.get("XLA_FLAGS", "") or not gpu_name()


def gradient_function(fn: Callable, *, compile: bool = False) -> Callable:
    """A function args -> (fn(*args), [d fn / d arg for each arg]): fn takes tensors and
    returns a scalar (written with keras.ops); args and gradients are NumPy arrays (gradients
    float64). compile=True traces fn once (tf.function, jax.jit) for repeated calls; torch
    runs eagerly either way."""
    backend = name()
    if backend == "tensorflow":
        import tensorflow as tf

        def tf_grad(*tensors):
            with tf.GradientTape() as tape:
                for t in tensors:
                    tape.watch(t)
                value = fn(*tensors)
            # tf.convert_to_tensor: an embedding's gradient arrives as IndexedSlices
            return value, [tf.convert_to_tensor(g) for g in tape.gradient(value, tensors)]

        run = tf.function(tf_grad) if compile else tf_grad

        def call(args):
            value, grads = run(*[tf.constant(a) for a in args])
            return float(value), [np.asarray(g, dtype=np.float64) for g in grads]

        return call
    if backend == "jax":
        import jax

        def call(args, _cache={}):  # noqa: B006 (one traced function per call site)
            if "f" not in _cache:
                grad = jax.value_and_grad(fn, argnums=tuple(range(len(args))))
                _cache["f"] = jax.jit(grad) if compile else grad
            value, grads = _cache["f"](*[jax.numpy.asarray(a) for a in args])
            return float(value), [np.asarray(g, dtype=np.float64) for g in grads]

        return call
    if backend == "torch":
        import torch

        def call(args):
            tensors = [torch.tensor(np.asarray(a), requires_grad=True) for a in args]
            value = fn(*tensors)
            grads = torch.autograd.grad(value, tensors)
            return float(value.detach()), [
                g.detach().cpu().numpy().astype(np.float64) for g in grads
            ]

        return call
    raise ReproError(f"unsupported Keras backend {backend!r}; use one of {', '.join(BACKENDS)}")


def value_and_grad(fn: Callable, args: list) -> tuple[float, list[np.ndarray]]:
    """fn(*args) and its gradient with respect to every arg (see gradient_function)."""
    return gradient_function(fn)(args)


def gpu_name() -> str | None:
    backend = name()
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            details = tf.config.experimental.get_device_details(gpus[0])
            return details.get("device_name", gpus[0].name)
        return None
    if backend == "torch":
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    if backend == "jax":
        import jax

        gpus = [d for d in jax.devices() if d.platform == "gpu"]
        return gpus[0].device_kind if gpus else None
    return None


def device_name(cpu: str) -> str:
    """'GPU: <name>' for the backend's first GPU, else 'CPU: <cpu> (<n> cores)'."""
    gpu = gpu_name()
    return f"GPU: {gpu}" if gpu else f"CPU: {cpu} ({os.cpu_count()} cores)"


def threads() -> dict:
    """The backend's own thread settings (CPU reductions may depend on them)."""
    backend = name()
    if backend == "tensorflow":
        import tensorflow as tf

        return {
            "tf_intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
            "tf_inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
        }
    if backend == "torch":
        import torch

        return {
            "torch_threads": torch.get_num_threads(),
            "torch_interop": torch.get_num_interop_threads(),
        }
    return {}


def matmul_peak_gflops(*, n: int = 1024, repeats: int = 30, dtype: str = "float32") -> float:
    """Dense (n, n) @ (n, n) GFLOP/s on the backend's default device, best of `repeats` after
    a warm-up. Best, not median: a peak is what the device can do, and the fastest run is the
    one least disturbed (a median peak taken on a busy machine once came out ~40% low)."""
    import keras
    from keras import ops

    rng = np.random.default_rng(0)
    a = ops.convert_to_tensor(rng.normal(size=(n, n)).astype(np.float32), dtype=dtype)
    b = ops.convert_to_tensor(rng.normal(size=(n, n)).astype(np.float32), dtype=dtype)

    def product(x, y):
        return ops.sum(ops.cast(ops.matmul(x, y), "float32"))

    backend = name()
    if backend == "jax":
        import jax

        product = jax.jit(product)
    elif backend == "tensorflow":
        import tensorflow as tf

        product = tf.function(product)
    keras.ops.convert_to_numpy(product(a, b))  # trace, compile and warm up
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        keras.ops.convert_to_numpy(product(a, b))  # to host: waits for the device
        seconds.append(time.perf_counter() - start)
    return 2.0 * n**3 / min(seconds) / 1e9


def bf16_supported() -> bool:
    """Whether the device has bf16 matmul units worth timing (a GPU of compute capability 8+);
    CPUs here emulate bf16, and a peak measured that way says nothing about the device."""
    backend = name()
    if backend == "torch":
        import torch

        return torch.cuda.is_available() and torch.cuda.get_device_capability(0)[0] >= 8
    return gpu_name() is not None


def cudnn_used(model, x: np.ndarray, y: np.ndarray) -> bool:
    """Whether one training step of `model` on (x, y) runs a cuDNN RNN kernel, read from what
    the backend executes: TF graph op types (CudnnRNN*), torch profiler event names
    (cudnn/_cudnn_rnn), JAX lowered HLO text (the cudnn custom call)."""
    backend = name()
    if backend == "tensorflow":
        import tensorflow as tf

        fn = tf.function(lambda t: model(t, training=True))
        graph_def = fn.get_concrete_function(tf.constant(x)).graph.as_graph_def()
        ops = {node.op for node in graph_def.node}
        for function in graph_def.library.function:
            ops |= {node.op for node in function.node_def}
        return any("Cudnn" in op for op in ops)
    if backend == "torch":
        import torch
        from torch.profiler import ProfilerActivity, profile

        activities = [ProfilerActivity.CPU]
        if torch.cuda.is_available():
            activities.append(ProfilerActivity.CUDA)
        with profile(activities=activities) as prof:
            model.train_on_batch(x, y)
        return any("cudnn" in e.key.lower() for e in prof.key_averages())
    if backend == "jax":
        import jax

        text = jax.jit(lambda t: model(t, training=True)).lower(x).as_text()
        return "cudnn" in text.lower()
    raise ReproError(f"unsupported Keras backend {backend!r}")
