"""Root conftest: keep benchmarks/ out of a plain `pytest` run, and run tests on workers.

`pytest` runs tests/ only. benchmarks/ is collected when named on the command line
(`pytest benchmarks ...`) or with `--benchmark-only`, so `pytest --benchmark-only` runs the
benchmarks and nothing else.

A plain `pytest` runs on pytest-xdist workers: pyproject's addopts say `-n auto --dist
loadfile`, both xdist's public options. `auto` is one worker per core, at most 4, each with
TensorFlow thread pools of cores / workers (pytest_xdist_auto_num_workers, xdist's documented
hook). `loadfile` keeps each test module on one worker, and the tests that share a trained
model share a module, so each shared model is built once per run; the run fails if one is built
twice (the ledger in tests/shared_builds.py). Nothing here touches xdist's node ids or worker
input: a `--dist loadgroup` that did stopped grouping silently on pytest 9.2.
Benchmarks always run in one process (pytest-benchmark disables itself under xdist); `-n 0`
turns the workers off, `-n N` sets them (then with TensorFlow's default pools).
"""

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "tests"))
import shared_builds

_LEDGER_DIR = pytest.StashKey[Path]()
pytest_plugins = ["pytester"]  # tests/test_suite_setup.py runs inner sessions of this set-up

BENCHMARKS = Path(__file__).parent.resolve() / "benchmarks"


def _inside_benchmarks(path: Path) -> bool:
    return path == BENCHMARKS or BENCHMARKS in path.parents


def _benchmarks_requested(config) -> bool:
    """Benchmarks asked for: --benchmark-only, or a path under benchmarks/ on the command line
    (not the `testpaths` default, which names benchmarks/ too: reading it here kept every plain
    `pytest` in one process)."""
    if config.getoption("benchmark_only", default=False):
        return True
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        return False
    return any(
        _inside_benchmarks((config.invocation_params.dir / a.split("::")[0]).resolve())
        for a in config.args
    )


def pytest_ignore_collect(collection_path, config):
    if not _inside_benchmarks(Path(collection_path).resolve()):
        return None
    return None if _benchmarks_requested(config) else True


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_auto_num_workers(config):
    """How many workers `-n auto` (in pyproject's addopts) starts: one per core, at most 4, and
    none (one process) when benchmarks are asked for, since pytest-benchmark disables itself
    under xdist. This is xdist's documented hook; `-n N` on the command line overrides it.

    Each worker's TensorFlow/oneDNN pools are sized to its share of the cores, unless the user
    set them: workers each spinning pools the size of the machine oversubscribe it. Measured on
    2 cores (2026-11-29, quiet): 3 workers x 1 thread 131 s, 2 workers x 1 thread 105-130 s,
    2 workers x 2 threads 133 s; one process 164-236 s. Workers, and the subprocesses their
    tests start, inherit the variables."""
    if _benchmarks_requested(config):
        return 0
    cores = os.cpu_count() or 1
    workers = min(4, cores)
    if workers >= 2:
        for var in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
            os.environ.setdefault(var, str(max(1, cores // workers)))
        return workers
    return 0


def pytest_configure(config):
    """Controller (or a run without workers): a directory for this session's ledger of shared
    builds (tests/shared_builds.py), inherited by the workers through the environment."""
    if hasattr(config, "workerinput") or os.environ.get(shared_builds.SESSION_DIR_VAR):
        return
    config.stash[_LEDGER_DIR] = Path(tempfile.mkdtemp(prefix="lstm-repro-builds-"))
    os.environ[shared_builds.SESSION_DIR_VAR] = str(config.stash[_LEDGER_DIR])


def pytest_sessionfinish(session, exitstatus):
    """Controller: fail the run if a shared model was built twice (in two workers, or twice in
    one): the modules that share one must stay on one worker (`--dist loadfile`)."""
    directory = session.config.stash.get(_LEDGER_DIR, None)
    if directory is None:
        return
    twice = shared_builds.built_more_than_once(directory)
    shutil.rmtree(directory, ignore_errors=True)
    os.environ.pop(shared_builds.SESSION_DIR_VAR, None)
    if twice:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        for name, where in sorted(twice.items()):
            line = f"shared model {name!r} was built more than once: {', '.join(where)}"
            if reporter is not None:
                reporter.write_line(f"ERROR: {line}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
