"""A real Dask cluster for the campaign tests: `dask scheduler` and `dask worker` processes on
127.0.0.1, started as a user would start them (README, "Campaigns"), on free ports (the
scheduler picks its port and writes it to a scheduler file, so two test runs never clash)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

DASK = [sys.executable, "-m", "dask"]  # the `dask` command of this interpreter's environment
LOOPBACK = ("--host", "127.0.0.1", "--no-dashboard")
START_SECONDS = 60  # a scheduler or a worker up; each took 2-4 s here (2 cores, TF runs beside)


class DaskCluster:
    def __init__(self, directory: Path, *, workers: int = 2):
        self.directory = directory
        self.file = directory / "scheduler.json"
        self.logs = []
        self.scheduler = self._start(
            "scheduler",
            [*DASK, "scheduler", "--scheduler-file", str(self.file), *LOOPBACK, "--port", "0"],
        )
        deadline = time.monotonic() + START_SECONDS
        while not self.file.exists() or not self.file.read_text().strip():
            self._wait(deadline, "the scheduler file")
        self.address = json.loads(self.file.read_text())["address"]
        self.workers = [self.start_worker(i) for i in range(workers)]
        while self.worker_count() < workers:
            self._wait(deadline, f"{workers} workers")

    def _start(self, name: str, command: list[str]) -> subprocess.Popen:
        log = open(self.directory / f"{name}.log", "wb")  # noqa: SIM115 (closed in stop)
        self.logs.append(log)
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)

    def _wait(self, deadline: float, what: str) -> None:
        if time.monotonic() > deadline:
            logs = "\n".join(p.read_text()[-2000:] for p in self.directory.glob("*.log"))
            raise RuntimeError(f"no {what} after {START_SECONDS} s:\n{logs}")
        time.sleep(0.2)

    def start_worker(self, i: int) -> subprocess.Popen:
        """`dask worker` with its nanny (which restarts a killed worker process), one thread."""
        return self._start(
            f"worker-{i}",
            [*DASK, "worker", "--scheduler-file", str(self.file), "--nthreads", "1", *LOOPBACK],
        )

    def worker_count(self) -> int:
        from distributed import Client

        with Client(self.address, timeout="10s") as client:
            return len(client.nthreads())

    def worker_processes(self) -> list[psutil.Process]:
        """The worker processes themselves (the nannies' children): where runs are started."""
        return [c for w in self.workers for c in psutil.Process(w.pid).children()]

    def runs(self) -> list[psutil.Process]:
        """The campaign runs now running under this cluster's workers."""
        return [
            c
            for p in self.worker_processes()
            for c in p.children()
            if "lstm_repro.campaign_worker" in " ".join(c.cmdline())
        ]

    def kill_scheduler(self) -> None:
        self.scheduler.send_signal(signal.SIGKILL)
        self.scheduler.wait()

    def stop(self) -> None:
        for p in [*self.workers, self.scheduler]:
            if p.poll() is None:
                p.terminate()
        for p in [*self.workers, self.scheduler]:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for log in self.logs:
            log.close()


def campaign_runs_anywhere() -> list[psutil.Process]:
    """Every campaign run on this machine (none may outlive its campaign)."""
    found = []
    for p in psutil.process_iter(["cmdline"]):
        if "lstm_repro.campaign_worker" in " ".join(p.info["cmdline"] or []):
            found.append(p)
    return found
