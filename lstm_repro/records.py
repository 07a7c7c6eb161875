"""Result records: environment description, weight fingerprints, and the one atomic writer."""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np

from lstm_repro.errors import ReproError

SCHEMA_VERSION = 1
# What a run's bits depend on in this code beyond the config, data, seed and versions. Bumped
# when a change makes the same run give other bits; `verify` says so before rerunning an
# older record. A record without the field is version 1.
NUMERICS_VERSION = 2
NUMERICS_HISTORY = {
    1: "Keras 3's Adam on the embedding's sparse gradient (before 2026-12-03)",
    2: "train.ChapterAdam: Adam on the embedding's gradient summed per word, as TF 2.0 ran it",
}


def numerics_note(record: dict) -> str | None:
    """Why a record's bits cannot repeat with this code (None when they can): it was made by
    another numerics version."""
    made = record.get("numerics", 1)
    if made == NUMERICS_VERSION:
        return None
    then = NUMERICS_HISTORY.get(made, "unknown to this code") if isinstance(made, int) else None
    return (
        f"this record was made by numerics version {made!r} ({then or 'not a version'}); this "
        f"code is version {NUMERICS_VERSION} ({NUMERICS_HISTORY[NUMERICS_VERSION]}): the bits "
        "will differ; rerun with `reproduce --config RECORD` to make a record that verifies"
    )


def cpu_name(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The CPU's model name from /proc/cpuinfo (`cpuinfo`: tests point it at a crafted file),
    else what the platform module says."""
    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def available_memory_bytes(meminfo: str = "/proc/meminfo") -> int:
    """MemAvailable from /proc/meminfo (what can be allocated without swapping), else total RAM
    (`meminfo`: tests point it at a crafted file)."""
    try:
        with open(meminfo) as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def device_name() -> str:
    """'GPU: <name>' for the active backend's first GPU, else 'CPU: <model> (<n> cores)'."""
    from lstm_repro import backend

    return backend.device_name(cpu_name())


THREAD_ENV = (
    "OMP_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
    "TF_ENABLE_ONEDNN_OPTS",
    "XLA_FLAGS",
)


LOCK_DIR = Path(__file__).resolve().parents[1] / "requirements"


def imported_packages() -> dict[str, str]:
    """{distribution: installed version} for every installed distribution that provides a
    module this process has imported: what a rerun must match, read from package metadata."""
    import importlib.metadata
    import sys

    providers = importlib.metadata.packages_distributions()
    out = {}
    for top in {name.partition(".")[0] for name in list(sys.modules)}:
        for name in providers.get(top, ()):
            try:
                dist = importlib.metadata.distribution(name)
            except importlib.metadata.PackageNotFoundError:
                continue
            # setuptools puts its vendored copies (setuptools/_vendor: jaraco, backports, ...)
            # on sys.path in processes that import pkg_resources: they are not installed
            # packages, and a fresh process does not see them (tox -e oldest showed it).
            if "_vendor" in Path(str(dist.locate_file(""))).parts:
                continue
            out[_canonical(name)] = dist.version
    return dict(sorted(out.items()))


def _canonical(name: str) -> str:
    import re

    return re.sub(r"[-_.]+", "-", name).lower()


def lock_pins(path: Path) -> dict[str, str]:
    """{package: version} pinned by a requirements lock (`name==version` lines)."""
    import re

    pins = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", line)
        if match:
            pins[_canonical(match.group(1))] = match.group(2)
    return pins


def lock_files(directory: Path = LOCK_DIR) -> list[Path]:
    """The committed locks beside the package (a source checkout; none in a wheel install)."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.glob("*.txt") if p.name != "constraints.txt")


def matching_lock(packages: dict[str, str], directory: Path = LOCK_DIR) -> dict | None:
    """The committed lock that best describes `packages` (fewest differing pins, then the most
    packages pinned): its file, SHA-256 and every package whose installed version differs from
    its pin. None where no lock is found."""
    best = None
    for path in lock_files(directory):
        pins = lock_pins(path)
        differs = {
            name: {"locked": pins[name], "installed": version}
            for name, version in packages.items()
            if name in pins and pins[name] != version
        }
        covered = sum(name in pins for name in packages)
        key = (len(differs), -covered)
        if best is None or key < best[0]:
            best = (key, path, differs)
    if best is None:
        return None
    _, path, differs = best
    return {
        "file": f"{path.parent.name}/{path.name}",
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "differs": differs,
    }


def package_differences(recorded_env: dict, *, installed: dict | None = None) -> list[dict]:
    """Every package of a record's environment whose version here differs from the record's
    (None: not installed here), beside the version this checkout's copy of the record's lock
    pins (None where it pins none). `installed` defaults to what is installed now."""
    import importlib.metadata

    recorded_env = recorded_env or {}
    lock = recorded_env.get("lock") or {}
    lock_path = LOCK_DIR.parent / str(lock.get("file", ""))
    pins = lock_pins(lock_path) if lock.get("file") and lock_path.is_file() else {}
    out = []
    for name, version in sorted((recorded_env.get("packages") or {}).items()):
        if installed is not None:
            here = installed.get(name)
        else:
            try:
                here = importlib.metadata.version(name)
            except importlib.metadata.PackageNotFoundError:
                here = None
        if here != version:
            out.append(
                {"package": name, "recorded": version, "here": here, "locked": pins.get(name)}
            )
    return out


def environment() -> dict:
    """What a run's bits can depend on: library versions, the CPU model and its feature set,
    and thread counts (TensorFlow's determinism holds per machine and thread setting; oneDNN
    picks kernels per CPU and may split reductions by thread count).

    Versions are read from package metadata. The backend's device and thread settings are
    asked only when Keras is already loaded (a claims file written by a test session that
    trained nothing need not import a framework for them)."""
    import sys

    from lstm_repro import backend

    versions = backend.library_versions()
    env = {
        "python": platform.python_version(),
        "keras": _version("keras"),
        "keras_backend": backend.configured_name(),
        **{lib: versions[lib] for lib in ("tensorflow", "jax", "torch")},
        "numpy": np.__version__,
        "device": f"CPU: {cpu_name()} ({os.cpu_count()} cores)",
        "cpu": cpu_name(),
        "cpu_flags": cpu_flags(),
        "platform": platform.platform(),
        "threads": {
            "cpu_count": os.cpu_count(),
            "usable_cpus": len(os.sched_getaffinity(0)),
            **{name: os.environ.get(name) for name in THREAD_ENV},
        },
    }
    if "keras" in sys.modules:
        env["keras_backend"] = backend.name()
        env["device"] = device_name()
        env["threads"].update(backend.threads())
    env["backend_version"] = versions.get(env["keras_backend"])
    env["packages"] = imported_packages()
    env["lock"] = matching_lock(env["packages"])
    return env


def _version(package: str) -> str | None:
    import importlib.metadata

    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The SIMD extensions that decide which kernels oneDNN and XLA pick (avx2, avx512*, ...)
    (`cpuinfo`: tests point it at a crafted file)."""
    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.startswith("flags"):
                    flags = line.split(":", 1)[1].split()
                    wanted = ("avx", "fma", "sse4", "amx", "f16c")
                    return " ".join(sorted(x for x in flags if x.startswith(wanted)))
    except OSError:
        pass
    return platform.machine()


def _flatten(value, prefix: str = "") -> dict:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {prefix.rstrip("."): value}


# Compared by package_differences against what is installed, not against what the other
# process happened to import: a record made in a pytest worker imported hypothesis, a rerun in
# a fresh process does not, and that is no difference in the environment.
_PER_PROCESS = ("packages.", "lock.differs.")


def environment_differences(recorded: dict, current: dict) -> list[tuple[str, object, object]]:
    """(key, recorded, now) for every environment entry that differs (imported packages
    apart: package_differences)."""
    a, b = _flatten(recorded or {}), _flatten(current or {})
    keys = sorted(k for k in set(a) | set(b) if not k.startswith(_PER_PROCESS))
    return [(k, a.get(k), b.get(k)) for k in keys if a.get(k) != b.get(k)]


# "numerically close": every per-step loss within this relative difference and the final test
# accuracy within this many points. Same-machine runs are bit-identical (tests/test_determinism);
# these bounds are for reruns elsewhere, where float reordering drifts the losses: 1e-3 keeps
# runs whose curves overlap to the eye; 0.01 is ten reviews in a 1,000-review test split.
CLOSE_LOSS_REL = 1e-3
CLOSE_ACCURACY = 0.01


def compare_runs(recorded: dict, fresh: dict) -> dict:
    """Verdict on a rerun: bit-identical, numerically close, or different, with what differs."""
    a, b = recorded.get("step_losses") or [], fresh.get("step_losses") or []
    same_weights = recorded.get("weights_sha256") == fresh.get("weights_sha256")
    first = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), None)
    if first is None and len(a) != len(b):
        first = min(len(a), len(b))
    rel = [
        abs(x - y) / max(abs(x), 1e-12)
        for x, y in zip(a, b, strict=False)
        if x is not None and y is not None
    ]
    max_rel = max(rel, default=0.0)
    acc = (recorded.get("test_accuracy"), fresh.get("test_accuracy"))
    acc_diff = abs(acc[0] - acc[1]) if None not in acc else float("inf")
    if same_weights and first is None:
        verdict = "bit-identical"
    elif len(a) == len(b) and max_rel <= CLOSE_LOSS_REL and acc_diff <= CLOSE_ACCURACY:
        verdict = "numerically close"
    else:
        verdict = "different"
    return {
        "verdict": verdict,
        "weights_identical": same_weights,
        "steps": (len(a), len(b)),
        "first_divergent_step": first,
        "max_relative_loss_difference": max_rel,
        "test_accuracy": acc,
        "test_accuracy_difference": acc_diff,
        "environment_differences": environment_differences(
            recorded.get("environment"), fresh.get("environment")
        ),
        "package_differences": package_differences(recorded.get("environment")),
        "numerics": (recorded.get("numerics", 1), fresh.get("numerics", 1)),
        "numerics_note": numerics_note(recorded),
    }


def weights_sha256(weights: list[np.ndarray]) -> str:
    """Fingerprint of a weight list: dtype, shape and bytes of each array, in order."""
    digest = hashlib.sha256()
    for w in weights:
        w = np.ascontiguousarray(w)
        digest.update(f"{w.dtype.str}{w.shape}".encode())
        digest.update(w.tobytes())
    return digest.hexdigest()


def write_atomic(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> Path:
    """The one way this package writes a file: `write(f)` into a temporary file beside
    `path`, fsync, mode 0644, then rename over `path`.

    A reader sees the old file or the new one, never half of one; a failed write leaves
    whatever was there untouched and no temporary file behind. OSError becomes ReproError.
    """
    path = _output_path(path)
    _check_target(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise ReproError(f"cannot write {path}: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; outputs are readable like any other file
        os.replace(tmp, path)
    except OSError as e:
        raise ReproError(f"cannot write {path}: {e.strerror or e}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _output_path(value: str | os.PathLike) -> Path:
    if not str(value).strip():  # Path("") would silently mean the current directory
        raise ReproError("an output path is empty; give a file name")
    return Path(value)


def _check_target(path: Path) -> None:
    if path.is_dir():
        raise ReproError(f"cannot write {path}: is a directory; give a file name")
    if not path.parent.is_dir():
        raise ReproError(f"cannot write {path}: directory {path.parent} does not exist")


def check_writable(path: str | os.PathLike, *, flag: str) -> Path:
    """Fail now, before a long run, if `path` could not be written later."""
    try:
        path = _output_path(path)
        _check_target(path)
        _probe_directory(path.parent)
    except ReproError as e:
        raise ReproError(f"{flag} {str(path)!r}: {e}") from None
    return path


def output_dir(value: str | os.PathLike, *, flag: str = "--out") -> Path:
    """An output directory, created if missing and checked writable before any work starts."""
    if not str(value).strip():
        raise ReproError(f"{flag} is empty; give a directory")
    out = Path(value)
    if out.exists() and not out.is_dir():
        raise ReproError(f"{flag} {out}: exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ReproError(f"{flag} {out}: cannot create ({e.strerror or e})") from None
    try:
        _probe_directory(out)
    except ReproError as e:
        raise ReproError(f"{flag} {out}: {e}") from None
    return out


def _probe_directory(directory: Path) -> None:
    try:
        fd, probe = tempfile.mkstemp(prefix=".write-probe.", dir=directory)
    except OSError as e:
        raise ReproError(f"not writable ({e.strerror or e})") from None
    os.close(fd)
    os.unlink(probe)


def strict_json(payload) -> tuple[object, list[str]]:
    """`payload` with every non-finite float replaced by None, and the JSON paths replaced.

    JSON has no NaN or Infinity; readers other than Python's choke on the bare tokens.
    """
    replaced: list[str] = []

    def clean(value, where: str):
        if isinstance(value, float) and not math.isfinite(value):
            replaced.append(where)
            return None
        if isinstance(value, dict):
            return {k: clean(v, f"{where}.{k}") for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, np.generic):
            return clean(value.item(), where)
        return value

    return clean(payload, "$"), replaced


NON_FINITE_KEY = "non_finite_as_null"


def write_json(path: str | os.PathLike, payload: dict) -> Path:
    """Strict JSON, atomically. Non-finite numbers are written as null, and their paths are
    listed under `non_finite_as_null` so a reader knows those nulls stand for NaN or inf."""
    cleaned, replaced = strict_json(payload)
    if replaced:
        cleaned[NON_FINITE_KEY] = replaced
    text = json.dumps(cleaned, indent=2, sort_keys=True, allow_nan=False) + "\n"
    return write_atomic(path, lambda f: f.write(text.encode()))


def save_figure(fig, path: str | os.PathLike) -> Path:
    """A matplotlib figure as PNG, atomically."""
    return write_atomic(path, lambda f: fig.savefig(f, format="png", dpi=110))


MAX_JSON_BYTES = 256 << 20  # the largest JSON document read (benchmark files are ~1 MB)


def read_bounded(path: str | os.PathLike, *, limit: int, what: str) -> bytes:
    """The bytes of a file a user named, at most `limit` of them (more is an error, found
    without reading past limit + 1); every way it can be wrong is a ReproError."""
    try:
        with open(path, "rb") as f:
            raw = f.read(limit + 1)
    except FileNotFoundError:
        raise ReproError(f"{path}: no such file") from None
    except OSError as e:
        raise ReproError(f"{path}: cannot read ({e.strerror or e})") from None
    if len(raw) > limit:
        raise ReproError(f"{path}: larger than {limit:,} bytes; not a {what}")
    return raw


def read_json(path: str | os.PathLike, *, what: str = "JSON file") -> dict:
    """A JSON object from a file a user named; every way it can be wrong is a ReproError."""
    raw = read_bounded(path, limit=MAX_JSON_BYTES, what=what)
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as e:
        raise ReproError(f"{path}: not a {what} ({e.msg} at line {e.lineno})") from None
    except RecursionError:
        raise ReproError(f"{path}: not a {what} (nested too deeply)") from None
    except (ValueError, UnicodeDecodeError) as e:  # e.g. an integer of over 4,300 digits
        raise ReproError(f"{path}: not a {what} ({' '.join(str(e).split())[:120]})") from None
    if not isinstance(data, dict):
        raise ReproError(f"{path}: not a {what} (top level is not an object)")
    return data
