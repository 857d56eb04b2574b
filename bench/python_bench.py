#!/usr/bin/env python3
"""The Python package against PyTorch from Python, and the Ray path against the CLI.

    python bench/python_bench.py --model bench/out/full/model.pt --threads 2 \
        [--lengths 3,10] [--repeats 5] [--rust-bench target/release/examples/bench] \
        [--ray-files 200 --ray-seconds 1 --cli target/release/ecapa2] [--out result.json]

Needs a Python with `ecapa2` (and `ray[data]` for the Ray part) installed, and torch for the
PyTorch column (skipped without it). Each engine and length runs in a fresh process
(`--worker`): load, one warm-up call, then `--repeats` timed calls; the median is reported.
The Rust figure comes from the `bench` example (same archive, threads and lengths), run the
same way. The Ray part writes `--ray-files` WAV files of `--ray-seconds` each, then times
`python -m ecapa2.ray --concurrency 2 --threads 1` (2 actors × 1 thread: the same 2 cores)
and `ecapa2 embed --threads 2` over them, recording the actors' and the CLI's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import wave

import numpy as np


def synth(seconds: float, seed: int = 1) -> np.ndarray:
    n = int(seconds * 16000)
    t = np.arange(n) / 16000.0
    rng = np.random.default_rng(seed)
    x = 0.05 * rng.standard_normal(n)
    for f in (220.0, 440.0, 1000.0, 3000.0):
        x += 0.1 * np.sin(2 * np.pi * f * t)
    return (0.5 * x / np.abs(x).max()).astype(np.float32)


def worker(engine: str, model: str, threads: int, seconds: float, repeats: int) -> dict:
    audio = synth(seconds)
    if engine == "ecapa2":
        import ecapa2

        m = ecapa2.Ecapa2.load(model, threads=threads)
        call = lambda: m(audio)  # noqa: E731
    else:
        import torch

        torch.set_num_threads(threads)
        torch.set_num_interop_threads(1)
        m = torch.jit.load(model).eval()
        x = torch.from_numpy(audio)[None, :]

        def call():
            with torch.inference_mode():
                return m(x)

    call()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return {"engine": engine, "seconds": seconds, "median_s": statistics.median(times), "all_s": times}


def spawn(args, engine: str, seconds: float) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", engine, "--model", args.model, "--threads", str(args.threads),
         "--length", str(seconds), "--repeats", str(args.repeats)],
        capture_output=True, text=True,
    )
    if out.returncode != 0:
        return {"engine": engine, "seconds": seconds, "error": out.stderr.strip().splitlines()[-1:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def rust(args, seconds: float) -> dict:
    out = subprocess.run(
        [args.rust_bench, "--model", args.model, "--threads", str(args.threads), "--lengths", f"{seconds:g}",
         "--batch8", "0", "--repeats", str(args.repeats), "--warmup", "1"],
        capture_output=True, text=True, check=True,
    )
    m = re.search(r"b1_[0-9.]+s: median ([0-9.]+)s", out.stdout)
    return {"engine": "rust", "seconds": seconds, "median_s": float(m.group(1)) if m else None}


def cpu_model() -> str:
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def proc_kb(pid: str, name: str, field: str) -> int:
    """A field of /proc/PID/<name> in kB (0 once the process is gone)."""
    try:
        with open(f"/proc/{pid}/{name}") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class PeakRss:
    """The peak RSS (the kernel's high-water mark, VmHWM) and the largest PSS seen, over the
    processes whose command line matches a pattern. Polls /proc once a second: VmHWM is
    exact whatever the interval, and the poller stays out of the measured job's way."""

    def __init__(self, pattern: str):
        self.pattern, self.peak_kb, self.peak_pss_kb, self._stop = pattern, 0, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
                except OSError:
                    continue
                if re.search(self.pattern, cmd):
                    self.peak_kb = max(self.peak_kb, proc_kb(pid, "status", "VmHWM"))
                    self.peak_pss_kb = max(self.peak_pss_kb, proc_kb(pid, "smaps_rollup", "Pss"))
            self._stop.wait(1.0)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def write_wav(path: str, audio: np.ndarray) -> None:
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes((audio * 32767).astype("<i2").tobytes())


def ray_vs_cli(args) -> dict:
    folder = tempfile.mkdtemp(prefix="ecapa2-ray-bench-")
    for i in range(args.ray_files):
        write_wav(os.path.join(folder, f"f{i:04d}.wav"), synth(args.ray_seconds, seed=i))
    result = {"files": args.ray_files, "seconds_each": args.ray_seconds}
    t0 = time.perf_counter()
    cli = subprocess.Popen([args.cli, "--quiet", "--threads", "2", "embed", "--model", args.model, folder,
                            "-o", os.path.join(folder, "cli.npy")])
    # wait4 gives this child's own high-water mark (RUSAGE_CHILDREN would be the largest of
    # every child so far, the PyTorch workers included).
    _, status, usage = os.wait4(cli.pid, 0)
    result["cli_s"] = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{args.cli} failed with status {status}")
    result["cli_peak_rss_mb"] = usage.ru_maxrss / 1024
    with PeakRss(r"MapWorker|Embedder") as rss:
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "ecapa2.ray", folder, "--output", os.path.join(folder, "ray-out"),
                               "--model", args.model, "--concurrency", "2", "--threads", "1"],
                              capture_output=True, text=True)
        result["ray_s"] = time.perf_counter() - t0
    result["ray_exit"] = proc.returncode
    result["ray_summary"] = proc.stderr.strip().splitlines()[-1:]
    result["ray_actor_peak_rss_mb"] = rss.peak_kb / 1024
    result["ray_actor_peak_pss_mb"] = rss.peak_pss_kb / 1024
    result["cli_files_per_s"] = args.ray_files / result["cli_s"]
    result["ray_files_per_s"] = args.ray_files / result["ray_s"]
    result["ray_over_cli"] = result["ray_files_per_s"] / result["cli_files_per_s"]
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--lengths", default="3,10")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--rust-bench", default="target/release/examples/bench")
    p.add_argument("--ray-files", type=int, default=0)
    p.add_argument("--ray-seconds", type=float, default=1.0)
    p.add_argument("--cli", default="target/release/ecapa2")
    p.add_argument("--out")
    p.add_argument("--worker", choices=["ecapa2", "torch"])
    p.add_argument("--length", type=float)
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.model, args.threads, args.length, args.repeats)))
        return 0
    import ecapa2

    for binary in [args.rust_bench] + ([args.cli] if args.ray_files else []):
        if not os.access(binary, os.X_OK):
            p.error(f"{binary} not found: cargo build --release -p ecapa2-cli && "
                    "cargo build --release -p ecapa2 --example bench")
    result = {
        "threads": args.threads,
        "ecapa2": ecapa2.__version__,
        "cpu": cpu_model(),
        # The kernels that ran (the same archive, threads and CPU in every column).
        "backend": ecapa2.Ecapa2.load(args.model, threads=args.threads).backend,
        "calls": [],
    }
    for seconds in [float(s) for s in args.lengths.split(",") if s]:
        row = {"seconds": seconds}
        for engine in ("rust", "ecapa2", "torch"):
            r = rust(args, seconds) if engine == "rust" else spawn(args, engine, seconds)
            row[engine] = r.get("median_s")
        if row["rust"] and row["ecapa2"]:
            row["python_over_rust"] = row["ecapa2"] / row["rust"]
        if row["torch"] and row["ecapa2"]:
            row["speedup_vs_torch"] = row["torch"] / row["ecapa2"]
        print(json.dumps(row), flush=True)
        result["calls"].append(row)
    if args.ray_files:
        result["ray"] = ray_vs_cli(args)
        print(json.dumps(result["ray"]), flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
