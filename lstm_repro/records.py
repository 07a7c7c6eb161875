"""Result records: environment description, weight fingerprints and atomic JSON writing."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
from pathlib import Path

import numpy as np

from lstm_repro.errors import ReproError

SCHEMA_VERSION = 1


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name() -> str:
    """'GPU: <name>' for the first GPU TensorFlow sees, else 'CPU: <model> (<n> cores)'."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return f"GPU: {details.get('device_name', gpus[0].name)}"
    return f"CPU: {cpu_name()} ({os.cpu_count()} cores)"


def environment() -> dict:
    import keras
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "device": device_name(),
        "platform": platform.platform(),
    }


def weights_sha256(weights: list[np.ndarray]) -> str:
    """Fingerprint of a weight list: dtype, shape and bytes of each array, in order."""
    digest = hashlib.sha256()
    for w in weights:
        w = np.ascontiguousarray(w)
        digest.update(f"{w.dtype.str}{w.shape}".encode())
        digest.update(w.tobytes())
    return digest.hexdigest()


def write_json_atomic(path: str | os.PathLike, payload: dict) -> Path:
    """Write JSON to a temporary file beside `path`, then rename it over `path`.

    A reader sees the old file or the new one, never half of one; a failed write leaves
    whatever was there untouched.
    """
    path = Path(path)
    text = json.dumps(payload, indent=2, sort_keys=True, allow_nan=True) + "\n"
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise ReproError(f"cannot write {path}: directory {directory} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as e:
        raise ReproError(f"cannot write {path}: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        raise ReproError(f"cannot write {path}: {e.strerror or e}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def save_figure_atomic(fig, out_dir: str | os.PathLike, name: str) -> str:
    """Save a matplotlib figure as out_dir/name: render beside the target, then rename."""
    target = Path(out_dir) / name
    tmp = target.with_name(f".{name}.{os.getpid()}.tmp.png")
    try:
        fig.savefig(tmp, dpi=110)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return str(target)


def read_json(path: str | os.PathLike, *, what: str = "JSON file") -> dict:
    try:
        with open(path) as f:
            data = json.load(f)
    except FileNotFoundError:
        raise ReproError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ReproError(f"{path}: cannot read ({e})") from None
    except json.JSONDecodeError as e:
        raise ReproError(f"{path}: not a {what} ({e.msg} at line {e.lineno})") from None
    if not isinstance(data, dict):
        raise ReproError(f"{path}: not a {what} (top level is not an object)")
    return data
