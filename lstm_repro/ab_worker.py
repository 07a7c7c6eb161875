"""Worker process for `lstm-repro ab`, run by path: `python ab_worker.py TREE`.

It imports `lstm_repro` from TREE (a git worktree of another revision, or this checkout), never
from wherever this file lives, and answers one JSON command per line on stdin:

  {"cmd": "prepare", "variant", "mode", "config"}       -> build and compile that step
                                                          ({"unsupported": why} if TREE's
                                                          StepRunner has no such mode)
  {"cmd": "run", "rounds": k, "slowdown": f}              -> time k steps, seconds per step
  {"cmd": "quit"}

Only `StepRunner(variant, config)`, `.step(mode)`, `TrainConfig().replace(...)` and
`matmul_peak_gflops()` are used from TREE: the API every revision since the benchmarks landed
has. The timing loop and the injected slowdown live here, so both sides are timed by the same
code whatever revision they are.
"""

import json
import os
import sys
import time
from pathlib import Path


def main() -> int:
    tree = Path(sys.argv[1]).resolve()
    sys.path[0] = str(tree)  # replace this file's own directory: TREE's lstm_repro wins
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything a library prints goes to stderr, never into the protocol

    import lstm_repro
    from lstm_repro.bench import StepRunner, matmul_peak_gflops
    from lstm_repro.config import TrainConfig

    module = Path(lstm_repro.__file__).resolve()
    if tree not in module.parents:
        protocol.write(json.dumps({"error": f"imported {module}, not from {tree}"}) + "\n")
        return 2
    protocol.write(json.dumps({"ready": str(module), "peak_gflops": matmul_peak_gflops()}) + "\n")
    step = None
    for line in sys.stdin:
        command = json.loads(line)
        if command["cmd"] == "prepare":
            config = TrainConfig().replace(**command["config"])  # fields that differ from default
            runner = StepRunner(command["variant"], config)
            try:
                compile_seconds = runner.first_call_seconds(command["mode"])
            except KeyError:  # an older revision's step(mode) table: say so, do not die
                reply = {"unsupported": f"this revision has no {command['mode']!r} step"}
                protocol.write(json.dumps(reply) + "\n")
                continue
            step = runner.step(command["mode"])
            step()
            reply = {"compile_seconds": compile_seconds}
        elif command["cmd"] == "run":
            extra = command.get("slowdown", 1.0) - 1.0
            samples = []
            for _ in range(command["rounds"]):
                start = time.perf_counter()
                step()
                elapsed = time.perf_counter() - start
                if extra > 0:
                    time.sleep(extra * elapsed)
                    elapsed = time.perf_counter() - start
                samples.append(elapsed)
            reply = {"samples": samples}
        else:
            return 0
        protocol.write(json.dumps(reply) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
