"""The suite's own set-up (root conftest.py, pyproject's addopts): a plain `pytest` runs on
xdist workers, each test module on one worker, and each shared model is built once per run.

The failures these kill were real and silent: the `testpaths` default names benchmarks/, which
kept every plain `pytest` in one process; a `--dist loadgroup` set by the controller never
reached the workers; and on pytest 9.2 loadgroup stopped grouping at all (xdist 3.8 still
rewrote a node id field pytest no longer reads), so shared models trained once per worker with
every test passing. The set-up now uses only xdist's public options (`-n auto --dist loadfile`)
and its documented hook, and proves the grouping by running it (below), on whatever pytest and
xdist are installed: the locked ones in CI, the newest under `tox -e latest`, the oldest under
`tox -e oldest`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Options with which the user chose the process layout; then there is nothing to check here.
LAYOUT_OPTIONS = ("-n", "--numprocesses", "--dist", "-d", "--tx", "--collect-only")


def _plain_run(config) -> bool:
    args = [str(a) for a in config.invocation_params.args]
    chosen = any(a.startswith(LAYOUT_OPTIONS) for a in args)
    return not chosen and (os.cpu_count() or 1) >= 2


def test_a_plain_run_is_on_file_grouped_workers_with_pools_sized_to_share_the_cores(request):
    if not _plain_run(request.config):
        pytest.skip("the process layout was chosen on the command line, or one core")
    assert os.environ.get("PYTEST_XDIST_WORKER"), "a plain `pytest` ran in a single process"
    # Set by conftest unless the user had set them (then theirs stand): never left to
    # TensorFlow's default of one pool thread per core in every worker.
    for var in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
        assert os.environ.get(var), f"{var} unset: each worker's pools oversubscribe the cores"


# Two modules of four tests, each module's tests sharing one fixture that notes its build in
# the ledger and records which worker ran each test. INNER_SCOPE=function breaks the sharing.
_INNER_MODULE = """
import os
import time
from pathlib import Path

import pytest
import shared_builds


@pytest.fixture(scope=os.environ["INNER_SCOPE"])
def model():
    shared_builds.note(__name__)
    time.sleep(0.3)  # a build takes long enough for the other worker to ask for tests
    return __name__


@pytest.mark.parametrize("i", range(4))
def test_uses_the_shared_model(model, i):
    with open(Path(os.environ["INNER_LOG"]), "a") as f:
        f.write(f"{model} {os.environ.get('PYTEST_XDIST_WORKER', 'main')}\\n")
"""


@pytest.fixture
def inner_session(pytester, monkeypatch):
    """A pytest session in a subprocess with this project's conftest.py, pyproject.toml and
    ledger, over two modules; returns a runner giving (result, {module: workers})."""
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: a plain run has no workers to group")
    shutil.copy(ROOT / "conftest.py", pytester.path / "conftest.py")
    shutil.copy(ROOT / "pyproject.toml", pytester.path / "pyproject.toml")
    (pytester.path / "tests").mkdir()
    shutil.copy(ROOT / "tests" / "shared_builds.py", pytester.path / "tests" / "shared_builds.py")
    for name in ("test_first", "test_second"):
        (pytester.path / "tests" / f"{name}.py").write_text(_INNER_MODULE)
    log = pytester.path / "workers.log"
    for var in ("PYTEST_XDIST_WORKER", "PYTEST_ADDOPTS", "LSTM_REPRO_TEST_BUILDS_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("INNER_LOG", str(log))

    def run(scope: str):
        monkeypatch.setenv("INNER_SCOPE", scope)
        log.write_text("")
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
        workers: dict[str, set[str]] = {}
        for line in log.read_text().splitlines():
            module, worker = line.split()
            workers.setdefault(module, set()).add(worker)
        return result, workers

    return run


def test_a_plain_run_keeps_each_module_on_one_worker_and_builds_its_model_once(inner_session):
    """Kills: a layout that spreads a module's tests over workers (`--dist load`, or a
    loadgroup that silently stopped grouping), which retrains a shared model per worker."""
    result, workers = inner_session("module")
    result.assert_outcomes(passed=8)
    assert result.ret == 0
    assert {m: len(w) for m, w in workers.items()} == {"test_first": 1, "test_second": 1}
    assert all(w != {"main"} for w in workers.values()), "the inner run had no workers"
    result.stdout.no_fnmatch_line("*built more than once*")


def test_a_run_that_builds_a_shared_model_twice_fails(inner_session):
    """The ledger's guard: the same tests with the fixture's cache broken (function scope)
    pass one by one, and the run fails naming the model built twice. Kills: a guard that
    reads no ledger, or an exit status the controller forgets to set."""
    result, _ = inner_session("function")
    result.assert_outcomes(passed=8)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*shared model 'test_first' was built more than once*"])
