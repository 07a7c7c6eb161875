"""One backend's part of benchmarks/gpu/run.sh (KERAS_BACKEND chooses the backend).

    KERAS_BACKEND=torch python benchmarks/gpu/gpu_bench.py OUT.json [--smoke] [--fast]
    python benchmarks/gpu/gpu_bench.py --summary OUT_DIR

Times the unrolled LSTMCell loop against keras.layers.LSTM (train and inference steps, the
chapter's size and the (units, batch) sweep), reads whether cuDNN ran from what the backend
executed, measures the fp32 and (where the device has it) bf16 matmul peaks, and trains a tiny
model twice in fresh processes to see whether the backend's deterministic mode gives the same
bits. OUT.json is pytest-benchmark shaped, so `lstm-repro gate` can compare two of them.
--smoke: tiny sizes and few rounds, for a CPU (CI runs it so the script cannot rot).
--fast: time the backend's fast (nondeterministic) kernels instead of its deterministic mode;
the mode in force is read back and recorded per benchmark, and the determinism check, which
belongs to the deterministic mode, is skipped.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def _determinism(smoke: bool) -> dict:
    """The same seed in two fresh processes: identical weights_sha256?"""
    args = [
        "--data",
        "synthetic",
        "--model",
        "fused-lstm",
        "--epochs",
        "1",
        "--train-samples",
        "256",
        "--test-samples",
        "64",
    ]
    if smoke:
        args += ["--set", "max_len=8", "--set", "units=8", "--set", "batch_size=64"]
    hashes = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(2):
            out = Path(tmp) / f"r{i}.json"
            proc = subprocess.run(
                [sys.executable, "-m", "lstm_repro", "reproduce", *args, "--json", str(out)],
                capture_output=True,
                text=True,
                cwd=ROOT,
            )
            if proc.returncode != 0:
                return {"identical": None, "error": proc.stderr.strip().splitlines()[-1:]}
            hashes.append(json.loads(out.read_text())["weights_sha256"])
    return {"identical": hashes[0] == hashes[1], "weights_sha256": hashes}


def measure(out: Path, *, smoke: bool, fast: bool = False) -> None:
    if smoke:
        os.environ["LSTM_REPRO_BENCH_SMOKE"] = "1"
    from lstm_repro import backend
    from lstm_repro.bench import benchmark_cases, derived_figures, time_case
    from lstm_repro.records import cpu_name

    on_gpu = backend.gpu_name() is not None
    n = 8192 if on_gpu else (256 if smoke else 1024)  # an H200 finishes 1024^3 in microseconds
    peaks = {"float32": backend.matmul_peak_gflops(n=n)}
    peaks["bfloat16"] = (
        backend.matmul_peak_gflops(n=n, dtype="bfloat16") if (backend.bf16_supported()) else None
    )
    cases = [c for c in benchmark_cases() if c.variant in ("unrolled-lstm", "fused-lstm")]
    rows = []
    for case in cases:
        runner, config, compile_seconds, samples = time_case(
            case, rounds=5 if smoke else 30, deterministic=not fast
        )
        median = statistics.median(samples)
        rows.append(
            {
                "name": f"test_step[{case.name}]",
                "group": case.group,
                "stats": {"median": median, "rounds": len(samples), "data": samples},
                "extra_info": {
                    "case": case.name,
                    "variant": case.variant,
                    "mode": case.mode,
                    "backend": backend.name(),
                    "backend_version": backend.version(),
                    "compile_seconds": compile_seconds,
                    "cudnn": backend.cudnn_used(runner.model, runner.x, runner.y),
                    **runner.execution_mode(),
                    **derived_figures(
                        variant=case.variant,
                        config=config,
                        mode=case.mode,
                        median_seconds=median,
                        peak_gflops=peaks["float32"],
                    ),
                },
            }
        )
        print(
            f"{backend.name():<6} {case.name:<32} {median * 1e3:8.2f} ms  cuDNN "
            f"{rows[-1]['extra_info']['cudnn']}",
            flush=True,
        )
    doc = {
        "machine_info": {"device": backend.device_name(cpu_name()), "backend": backend.name()},
        "backend": backend.name(),
        "versions": backend.library_versions(),
        "peak_gflops": peaks,
        "determinism": {"identical": None, "skipped": "--fast"} if fast else _determinism(smoke),
        "benchmarks": rows,
    }
    out.write_text(json.dumps(doc, indent=2) + "\n")


def summary(out_dir: Path) -> None:
    from lstm_repro.report import execution_mode

    print(
        "| backend | kernels | mode | size | unrolled ms | fused ms | fused/unrolled speedup | "
        "fused cuDNN | same bits twice |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    peak_lines = []
    for path in sorted(out_dir.glob("*.json")):
        doc = json.loads(path.read_text())
        rows = {r["extra_info"]["case"]: r for r in doc["benchmarks"]}
        for name, row in rows.items():
            if not name.startswith("chapter-unrolled") and not name.startswith("sweep-unrolled"):
                continue
            if row["extra_info"]["mode"] == "core":  # no fused rival; its ratio is below
                core = row["stats"]["median"]
                step = rows[name.replace("-core", "-train")]["stats"]["median"]
                peak_lines.append(
                    f"- {path.name}: full step / LSTM core {step / core:.2f} "
                    f"({step * 1e3:.2f} / {core * 1e3:.2f} ms)"
                )
                continue
            fused = rows[name.replace("unrolled", "fused")]
            u, f = row["stats"]["median"], fused["stats"]["median"]
            size = "chapter" if name.startswith("chapter-") else name.split("-lstm-")[-1]
            mode = row["extra_info"]["mode"]
            print(
                f"| {doc['backend']} | {execution_mode(row['extra_info'])} | {mode} | {size} | "
                f"{u * 1e3:.2f} | {f * 1e3:.2f} | "
                f"{u / f:.2f}x | {fused['extra_info']['cudnn']} | "
                f"{doc['determinism'].get('identical')} |"
            )
        peaks = doc["peak_gflops"]
        peak_lines.append(
            f"- {path.name}: {doc['backend']} on {doc['machine_info']['device']}: fp32 peak "
            f"{peaks['float32']:.0f} GFLOP/s, bf16 {peaks['bfloat16'] or 'n/a'}"
        )
    print("\nMatmul peaks, measured in each pass:\n")
    print("\n".join(peak_lines))


if __name__ == "__main__":
    if sys.argv[1] == "--summary":
        summary(Path(sys.argv[2]))
    else:
        measure(Path(sys.argv[1]), smoke="--smoke" in sys.argv[2:], fast="--fast" in sys.argv[2:])
