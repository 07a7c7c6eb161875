"""Session-wide measurements every benchmark normalises by."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def peak_gflops() -> float:
    """Dense fp32 matmul peak on this device, measured once per session (n = 1024)."""
    from lstm_repro.backend import matmul_peak_gflops

    return matmul_peak_gflops()


@pytest.fixture(scope="session")
def device() -> str:
    from lstm_repro.records import device_name

    return device_name()
