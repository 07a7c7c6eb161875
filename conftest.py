"""Root conftest: keep benchmarks/ out of a plain `pytest` run.

`pytest` runs tests/ only. benchmarks/ is collected when named on the command line
(`pytest benchmarks ...`) or with `--benchmark-only`, so `pytest --benchmark-only` runs the
benchmarks and nothing else.
"""

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
