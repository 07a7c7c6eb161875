"""One campaign run in a fresh interpreter: `python -m lstm_repro.campaign_worker`.

The task comes as one JSON line on stdin ({"spec": RunSpec.to_dict()}; the backend is the
KERAS_BACKEND this process was started with); the outcome leaves as one JSON document on
stdout: {"status": "done", "record": ...} or {"status": "failed", "error": one line}. A run
whose loss became NaN or infinite is failed, not done (its accuracy means nothing), and
carries its record for the post-mortem.

When the process that started this one (a Dask worker, perhaps SIGKILLed) is gone, this run
exits instead of training on as an orphan whose result nobody would read. (Gone is told by the
parent process id, which the parent passes as the one argument, no longer being this one's
parent, checked each second: an end-of-file on stdin was tried first, and under two concurrent
runs a read returned end-of-file with the parent alive, 1 run in 8.)
"""

from __future__ import annotations

import json
import math
import os
import sys
import threading
import time


def _exit_when_parent_goes(parent: int) -> None:
    while os.getppid() == parent:  # reparented (to init or a subreaper) when the parent dies
        time.sleep(1.0)
    os._exit(3)


def non_finite_step(record: dict) -> int | None:
    """The first training step (from 1) whose loss is NaN or infinite; 0 when only the final
    test loss is; None when every loss is finite."""
    for i, loss in enumerate(record["step_losses"]):
        if not math.isfinite(loss):
            return i + 1
    return None if math.isfinite(record["test_loss"]) else 0


def outcome_of(task: dict) -> dict:
    from lstm_repro import backend
    from lstm_repro.config import RunSpec
    from lstm_repro.errors import ReproError

    try:
        spec = RunSpec.from_dict(task["spec"])
        from lstm_repro.data import load_for

        data = load_for(spec)  # a missing or corrupt file fails here, before Keras loads
        backend.import_quietly()
        from lstm_repro.train import run

        record = run(spec, data=data)
    except ReproError as e:
        return {"status": "failed", "error": str(e)}
    except Exception as e:  # a crash inside Keras: recorded with its type, the others go on
        return {"status": "failed", "error": f"{type(e).__name__}: {e}".splitlines()[0]}
    step = non_finite_step(record)
    if step is not None:
        where = f"at training step {step}" if step else "in the final test loss"
        error = f"the loss became NaN or infinite {where}"
        return {"status": "failed", "error": error, "record": record}  # kept for the post-mortem
    return {"status": "done", "record": record}


def main(argv: list[str]) -> int:
    # The parent's pid comes from the parent: one read here could already be init's, when the
    # parent was killed before this process got this far.
    parent = int(argv[0]) if argv else os.getppid()
    threading.Thread(target=_exit_when_parent_goes, args=(parent,), daemon=True).start()
    protocol = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # what a library prints goes to stderr, never into the outcome
    line = sys.stdin.readline()
    if not line:  # the parent went before it said what to run
        return 3
    task = json.loads(line)
    protocol.write(json.dumps(outcome_of(task)))  # NaN stays NaN (Python's JSON reads it back)
    protocol.close()
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # not sys.exit: no interpreter shutdown beside the watcher thread
