"""Shared fixtures: hypothesis profiles, offline mode, and session-scoped trained models."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# Keras calls are slow and their first call traces; no per-example deadline anywhere.
settings.register_profile(
    "ci",
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
# `claim` (lstm_repro.pytest_plugin) is function-scoped and meant to accumulate over examples.
settings.register_profile(
    "dev",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

# Tests never download: the IMDB locator skips its network step.
os.environ.setdefault("LSTM_REPRO_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def isolated_keras_home(tmp_path, monkeypatch):
    """A KERAS_HOME with no cached IMDB and no $LSTM_REPRO_IMDB, so lookups are predictable."""
    home = tmp_path / "keras_home"
    (home / "datasets").mkdir(parents=True)
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.delenv("LSTM_REPRO_IMDB", raising=False)
    return home


@pytest.fixture
def unwritable_dir(tmp_path):
    """A directory this process cannot create files in. chmod 555 is enough for a normal user;
    root ignores permission bits, so as root a sysfs directory (which refuses new files) is
    used. Skips, saying why, if neither refuses a write here."""
    import tempfile
    from pathlib import Path

    if os.geteuid() != 0:
        target = tmp_path / "read-only"
        target.mkdir()
        target.chmod(0o555)
    else:
        target = Path("/sys/kernel")
    try:
        fd, probe = tempfile.mkstemp(dir=target)
    except OSError:
        yield target
    else:
        os.close(fd)
        os.unlink(probe)
        pytest.skip(f"{target} accepts writes on this machine; no unwritable directory to test")
    if target.is_relative_to(tmp_path):
        target.chmod(0o755)
