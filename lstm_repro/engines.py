"""Where a campaign's runs execute. Each run is a fresh interpreter
(`python -m lstm_repro.campaign_worker`), so no TensorFlow state leaks from one run into the
next; what starts it is an engine behind one `concurrent.futures` seam:

- `local_engine(jobs)`: a thread pool on this machine, `jobs` runs at a time (`--jobs`, `seeds`);
- `dask_engine(local=N)`: a Dask `LocalCluster` of N single-threaded worker processes;
- `dask_engine(scheduler=ADDR)`: a running Dask cluster (`dask scheduler`, `dask worker`).

The Dask engines reach the cluster through `Client.get_executor()`. A run's outcome (its
record, or why it failed) goes back to the process that started the campaign, which alone
writes the campaign directory: the workers need no shared filesystem.

Why a subprocess per run and not a worker restarted by its nanny after each run: measured in
benchmarks/campaign/fresh_interpreter.py (README, "Campaigns").

No TensorFlow import here, and Dask only inside the Dask engines.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import dataclasses
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator

from lstm_repro.errors import ReproError

log = logging.getLogger(__name__)

WORKER_COMMAND = (sys.executable, "-m", "lstm_repro.campaign_worker")  # one run, fresh
POLL_SECONDS = 1.0  # how often a running run looks for a cancellation, and the loop for news
CLUSTER_HINT = "pip install 'lstm-repro[cluster]'"


# --------------------------------------------------------------------------- one run


def cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0))


def threads_for(runs_here: int) -> int:
    """TensorFlow's (and OpenMP's) threads for one of `runs_here` runs sharing this machine."""
    return max(1, cores() // max(1, runs_here))


def thread_env(threads: int) -> dict[str, str]:
    return {
        "TF_NUM_INTRAOP_THREADS": str(threads),
        "TF_NUM_INTEROP_THREADS": str(threads),
        "OMP_NUM_THREADS": str(threads),
    }


def host_of(address: str) -> str:
    """'tcp://10.0.0.5:8786' -> '10.0.0.5'."""
    return address.split("://")[-1].rsplit(":", 1)[0]


_LIVE: set[subprocess.Popen] = set()  # this process's running runs (killed on Ctrl-C)
_LIVE_LOCK = threading.Lock()


def kill_children() -> None:
    """Kill every run this process started that is still running."""
    with _LIVE_LOCK:
        for proc in list(_LIVE):
            with contextlib.suppress(ProcessLookupError):
                proc.kill()


def run_task(
    task: dict,
    *,
    threads: int | None = None,
    cancel_event: str | None = None,
) -> dict:
    """Run one task ({"spec": RunSpec dict, "backend": name}) in a fresh interpreter; return its
    outcome: {"status": "done", "record": ...}, {"status": "failed", "error": one line} or
    {"status": "cancelled"}, with "wall_seconds" and "host". Runs wherever the engine put it:
    a thread here, or a Dask worker (`cancel_event` names the campaign's Dask Event, which
    stops the run when set; the thread pools are then sized to the runs on this host)."""
    env = {**os.environ, "KERAS_BACKEND": task["backend"], "PYTHONUNBUFFERED": "1"}
    cancelled: Callable[[], bool] = lambda: False  # noqa: E731
    if cancel_event is not None:
        threads, cancelled = _on_dask_worker(cancel_event)
    if threads is not None:
        env.update(thread_env(threads))
    start = time.monotonic()
    outcome = _run_child(task, env, cancelled)
    return {**outcome, "wall_seconds": time.monotonic() - start, "host": socket.gethostname()}


def _on_dask_worker(cancel_event: str) -> tuple[int, Callable[[], bool]]:
    """Inside a Dask task: the thread count for a run here (the cores shared by every worker
    thread on this host, as the scheduler knows them now, so workers that joined late count),
    and whether the campaign's cancel Event is set."""
    from distributed import Event, get_client, get_worker

    client = get_client()
    host = host_of(get_worker().address)
    runs_here = sum(n for address, n in client.nthreads().items() if host_of(address) == host)
    event = Event(cancel_event, client=client)

    def cancelled() -> bool:
        try:
            return event.is_set()
        except Exception:  # the scheduler is unreachable: the run goes on; the worker decides
            return False

    return threads_for(runs_here), cancelled


def _run_child(task: dict, env: dict, cancelled: Callable[[], bool]) -> dict:
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        # Its own session: a Ctrl-C in the campaign's terminal reaches the campaign, which
        # stops the runs itself, and never a run alone (a run that saw it would fail and be
        # recorded as failed instead of being left to the resume).
        proc = subprocess.Popen(
            [*WORKER_COMMAND, str(os.getpid())],  # its parent, which it outlives by < 1 s
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=err,
            env=env,
            start_new_session=True,
        )
        with _LIVE_LOCK:
            _LIVE.add(proc)
        try:
            with contextlib.suppress(BrokenPipeError):  # it died at once: its exit code says
                proc.stdin.write((json.dumps({"spec": task["spec"]}) + "\n").encode())
                proc.stdin.close()
            while True:
                try:
                    code = proc.wait(timeout=POLL_SECONDS)
                    break
                except subprocess.TimeoutExpired:
                    if cancelled():
                        return {"status": "cancelled"}
        finally:
            with _LIVE_LOCK:
                _LIVE.discard(proc)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if code == 0:
            out.seek(0)
            with contextlib.suppress(ValueError):
                return json.loads(out.read())
        err.seek(0, os.SEEK_END)
        err.seek(max(0, err.tell() - 4000))
        tail = err.read().decode(errors="replace").strip().splitlines()
        last = tail[-1] if tail else "no output"
        how = f"signal {-code}" if code < 0 else f"exit code {code}"
        return {"status": "failed", "error": f"the run's process ended with {how}: {last}"}


# --------------------------------------------------------------------------- engines


@dataclasses.dataclass
class Engine:
    """What a campaign needs of an engine: start a task, stop them all, and notice when the
    engine itself is gone."""

    name: str
    submit: Callable[[dict], cf.Future]  # a task dict -> the future of its outcome
    stop: Callable[[], None]  # stop every running run (Ctrl-C, a lost engine)
    check: Callable[[], None] = lambda: None  # raises ReproError when the engine is gone


@contextlib.contextmanager
def local_engine(jobs: int, *, size_threads: bool = True) -> Iterator[Engine]:
    """`jobs` runs at a time on this machine, no Dask. size_threads: each run's thread pools
    get cores / jobs threads (False: left as the backend chooses, as `seeds` always had)."""
    pool = cf.ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="run")
    threads = threads_for(jobs) if size_threads else None
    try:
        yield Engine(
            f"this machine, {jobs} run(s) at a time",
            lambda task: pool.submit(run_task, task, threads=threads),
            kill_children,
        )
    finally:
        kill_children()
        pool.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def dask_engine(*, local: int | None = None, scheduler: str | None = None) -> Iterator[Engine]:
    """A Dask client: on a LocalCluster of `local` single-threaded worker processes, or on the
    running cluster at `scheduler`. How long connecting (and reconnecting) may take is Dask's
    own setting, distributed.comm.timeouts.connect (30 s unless configured)."""
    try:
        from distributed import Client, Event, LocalCluster
    except ImportError:
        raise ReproError(f"--local and --scheduler need Dask distributed: {CLUSTER_HINT}") from None

    _quiet_distributed()
    cluster = None
    try:
        if local is not None:
            cluster = LocalCluster(
                n_workers=local,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",  # a free port: never a clash with another cluster
                silence_logs=logging.ERROR,
            )
            client = Client(cluster)
            where = f"a local Dask cluster of {local} worker(s)"
        else:
            client = Client(scheduler)
            where = f"the Dask scheduler at {scheduler}"
    except (OSError, TimeoutError, ValueError, TypeError) as e:  # (TLS without its context)
        if cluster is not None:
            cluster.close()
        what = "start a local Dask cluster" if local is not None else f"reach {scheduler}"
        raise ReproError(f"cannot {what}: {' '.join(str(e).split())}") from None
    cancel = f"lstm-repro-cancel-{uuid.uuid4().hex}"
    executor = client.get_executor(pure=False)

    def stop() -> None:
        # Without a scheduler there is no one to tell (setting the Event would wait out the
        # connect timeout): the workers' runs end with their workers.
        if client.status == "running":
            with contextlib.suppress(Exception):
                Event(cancel, client=client).set()

    try:
        if not client.nthreads():
            log.warning("%s has no workers yet: the runs wait for one", where)
        yield Engine(
            where,
            lambda task: executor.submit(run_task, task, cancel_event=cancel),
            stop,
            _lost_when_closed(client, where),
        )
    finally:
        with contextlib.suppress(Exception):
            client.close(timeout=5)
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close(timeout=10)


def _quiet_distributed() -> None:
    """distributed's log lines (a lost scheduler comes with tracebacks) would reach the user
    through the CLI's handler: what went wrong reaches them as the campaign's one-line error.
    distributed sets levels on some of its loggers itself, so each is set, not the parent."""
    for name in ["distributed", *logging.root.manager.loggerDict]:
        if name == "distributed" or name.startswith("distributed."):
            logging.getLogger(name).setLevel(logging.CRITICAL)


def _lost_when_closed(client, where: str) -> Callable[[], None]:
    def check() -> None:
        if client.status in ("closing", "closed"):
            raise ReproError(
                f"lost {where} (the client could not reconnect); the finished runs are kept: "
                "rerun the same command to resume"
            )

    return check


# --------------------------------------------------------------------------- the loop


def execute(
    tasks: list,
    engine: Engine,
    *,
    on_outcome: Callable[[object, dict], None],
    poll_seconds: float = POLL_SECONDS,
) -> None:
    """Start every task (objects with to_dict()) on the engine; hand each outcome to
    `on_outcome` in this thread, as it arrives (records are written here, one at a time).

    A run whose worker died is run again by the engine (Dask reschedules it); one that
    exhausts the engine's retries, or whose start raised, comes back failed. Ctrl-C, an error
    from `on_outcome` or a lost engine stops every running run and cancels the rest."""
    futures = {engine.submit(t.to_dict()): t for t in tasks}
    pending = set(futures)
    try:
        while pending:
            done, pending = cf.wait(pending, timeout=poll_seconds, return_when="FIRST_COMPLETED")
            for future in done:
                task = futures[future]
                try:
                    outcome = future.result()
                except cf.CancelledError:  # only the engine cancels (Dask: scheduler lost)
                    engine.check()
                    raise ReproError(
                        f"{engine.name} cancelled the runs (the scheduler was lost); the "
                        "finished runs are kept: rerun the same command to resume"
                    ) from None
                except Exception as e:  # KilledWorker, a task that could not start
                    error = " ".join(f"{type(e).__name__}: {e}".split())
                    outcome = {"status": "failed", "error": error}
                on_outcome(task, outcome)
            if pending:
                engine.check()
    except BaseException:
        for future in pending:
            future.cancel()
        engine.stop()
        raise
