"""Root conftest: keep benchmarks/ out of a plain `pytest` run, and run tests on workers.

`pytest` runs tests/ only. benchmarks/ is collected when named on the command line
(`pytest benchmarks ...`) or with `--benchmark-only`, so `pytest --benchmark-only` runs the
benchmarks and nothing else.

A plain `pytest` runs on pytest-xdist workers (min(4, cores + 1)), grouped by `xdist_group` so
that tests sharing a trained model stay on one worker: on 2 cores the default tier took 205 s on
three workers, 220 s on two and about 370 s of CPU in all. Benchmarks always run in one
process (pytest-benchmark disables itself under xdist); `-n 0` turns the workers off, `-n N`
sets them.
"""

import importlib.util
import os
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).parent.resolve() / "benchmarks"


def _inside_benchmarks(path: Path) -> bool:
    return path == BENCHMARKS or BENCHMARKS in path.parents


def pytest_ignore_collect(collection_path, config):
    if not _inside_benchmarks(Path(collection_path).resolve()):
        return None
    if config.getoption("benchmark_only", default=False):
        return None
    if config.args_source == pytest.Config.ArgsSource.ARGS and any(
        _inside_benchmarks((config.invocation_params.dir / a.split("::")[0]).resolve())
        for a in config.args
    ):
        return None
    return True


def _benchmarks_requested(config) -> bool:
    if config.getoption("benchmark_only", default=False):
        return True
    return any(
        _inside_benchmarks((config.invocation_params.dir / a.split("::")[0]).resolve())
        for a in config.args
    )


def pytest_cmdline_main(config):
    """Workers for a plain run, before xdist reads its options (it runs trylast)."""
    if os.environ.get("PYTEST_XDIST_WORKER") or importlib.util.find_spec("xdist") is None:
        return
    if config.option.numprocesses is not None or _benchmarks_requested(config):
        return
    # One more worker than cores: much of the tier waits on subprocesses (CLI, engines).
    workers = min(4, (os.cpu_count() or 1) + 1)
    if workers >= 2 and not config.option.collectonly:
        config.option.numprocesses = workers
        config.option.dist = "loadgroup"
        config.option.tx = ["popen"] * workers
