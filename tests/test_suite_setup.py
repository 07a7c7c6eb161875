"""The suite's own set-up (root conftest.py): a plain `pytest` runs on grouped xdist workers.

Both failures it kills were real and silent: the `testpaths` default names benchmarks/, which
kept every plain `pytest` in one process; and a `--dist loadgroup` set by the controller never
reached the workers, so every `xdist_group` was ignored and shared models trained once per worker.
"""

from __future__ import annotations

import importlib.util
import os

import pytest

# Options with which the user chose the process layout; then there is nothing to check here.
LAYOUT_OPTIONS = ("-n", "--numprocesses", "--dist", "-d", "--tx", "--collect-only")


def _plain_run(config) -> bool:
    args = [str(a) for a in config.invocation_params.args]
    chosen = any(a.startswith(LAYOUT_OPTIONS) for a in args) or "no:xdist" in args
    return not chosen and (os.cpu_count() or 1) >= 2 and importlib.util.find_spec("xdist")


@pytest.mark.xdist_group("suite-setup")
def test_a_plain_run_is_on_grouped_workers_with_pools_sized_to_share_the_cores(request):
    if not _plain_run(request.config):
        pytest.skip("the process layout was chosen on the command line, or one core, no xdist")
    assert os.environ.get("PYTEST_XDIST_WORKER"), "a plain `pytest` ran in a single process"
    assert request.node.nodeid.endswith("@suite-setup"), "xdist_group is ignored by workers"
    # Set by conftest unless the user had set them (then theirs stand): never left to
    # TensorFlow's default of one pool thread per core in every worker.
    for var in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
        assert os.environ.get(var), f"{var} unset: each worker's pools oversubscribe the cores"
