"""Root conftest: keep benchmarks/ out of a plain `pytest` run, and run tests on workers.

`pytest` runs tests/ only. benchmarks/ is collected when named on the command line
(`pytest benchmarks ...`) or with `--benchmark-only`, so `pytest --benchmark-only` runs the
benchmarks and nothing else.

A plain `pytest` runs on pytest-xdist workers (one per core, at most 4, each with
TensorFlow thread pools of cores / workers), grouped by `xdist_group` so that tests sharing a
trained model stay on one worker (timings in pytest_cmdline_main). Benchmarks always run in one
process (pytest-benchmark disables itself under xdist); `-n 0` turns the workers off, `-n N`
sets them (then with TensorFlow's default pools and `--dist` as given).
"""

import importlib.util
import os
from pathlib import Path

import pytest

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


def pytest_cmdline_main(config):
    """Workers for a plain run. xdist's own hook has run (tryfirst) and left `dist` "no" and
    no `tx`; set both as `-n N --dist loadgroup` would."""
    if os.environ.get("PYTEST_XDIST_WORKER") or importlib.util.find_spec("xdist") is None:
        return
    if config.option.numprocesses is not None or _benchmarks_requested(config):
        return
    # One worker per core (at most 4), each TensorFlow/oneDNN pool sized to its share of the
    # cores, unless the user set them: workers each spinning pools the size of the machine
    # oversubscribe it. Measured on 2 cores (2026-11-29, quiet): 3 workers x 1 thread 131 s,
    # 2 workers x 1 thread 105-130 s, 2 workers x 2 threads 133 s; one process 164-236 s.
    # Workers, and the subprocesses their tests start, inherit the variables.
    cores = os.cpu_count() or 1
    workers = min(4, cores)
    if workers >= 2 and not config.option.collectonly:
        for var in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
            os.environ.setdefault(var, str(max(1, cores // workers)))
        config.option.numprocesses = workers
        config.option.dist = "loadgroup"
        config.option.tx = ["popen"] * workers


if importlib.util.find_spec("xdist") is not None:

    def pytest_configure_node(node):
        """xdist controller: tell each worker to group tests. A worker parses the original
        command line again, so a `--dist loadgroup` set in pytest_cmdline_main above never
        reaches it, and without the group suffix on node ids every `xdist_group` was ignored:
        tests sharing a trained model trained it once per worker."""
        node.workerinput["lstm_repro_loadgroup"] = node.config.option.dist == "loadgroup"


def pytest_configure(config):
    """xdist worker: group as the controller asked (see pytest_configure_node)."""
    if getattr(config, "workerinput", {}).get("lstm_repro_loadgroup"):
        config.option.loadgroup = True
