"""bench/gpu.sh and bench/gpu_bench.py (issue 20's device run) without a GPU: the scripts parse,
and the device script stops at once with one line saying what is missing (no torch, no GPU)
instead of spending its budget."""

import importlib.util
import json
import os
import py_compile
import shutil
import subprocess
import sys
import time

import pytest

from conftest import ROOT

GPU_SH = ROOT / "bench" / "gpu.sh"
GPU_BENCH = ROOT / "bench" / "gpu_bench.py"


def _gpu_present() -> bool:
    smi = shutil.which("nvidia-smi")
    if not smi:
        return False
    try:
        return subprocess.run([smi, "-L"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def test_gpu_sh_parses():
    subprocess.run(["bash", "-n", str(GPU_SH)], check=True)


def test_gpu_bench_compiles(tmp_path):
    py_compile.compile(str(GPU_BENCH), cfile=str(tmp_path / "gpu_bench.pyc"), doraise=True)
    out = subprocess.run([sys.executable, str(GPU_BENCH), "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "--deadline" in out.stdout


def test_gpu_bench_report_without_results():
    """The markdown and the targets table from an empty run: every target 'not run'."""
    spec = importlib.util.spec_from_file_location("gpu_bench", GPU_BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    targets = bench.targets({})
    assert targets and all(t["result"] == "not run" for t in targets)
    text = bench.markdown({"status": "running", "sections": {}, "targets": targets})
    assert "| target | measured | result |" in text


@pytest.mark.skipif(_gpu_present(), reason="an NVIDIA GPU is present: run bench/gpu.sh itself")
def test_gpu_sh_fails_fast_without_gpu(tmp_path):
    env = dict(os.environ, PYTHON=sys.executable, ECAPA2_GPU_TIMEOUT="55")
    env.pop("ECAPA2_GPU_DEVICE", None)
    env.pop("ECAPA2_GPU_SH_INNER", None)
    t0 = time.monotonic()
    out = subprocess.run(["bash", str(GPU_SH), str(tmp_path / "results")], capture_output=True, text=True,
                         timeout=60, env=env)
    elapsed = time.monotonic() - t0
    text = out.stdout + out.stderr
    assert out.returncode == 2, text
    assert elapsed < 30, f"took {elapsed:.1f} s to fail"
    failed = [line for line in text.splitlines() if line.startswith("gpu.sh: FAILED: ")]
    assert len(failed) == 1, text
    reason = failed[0][len("gpu.sh: FAILED: "):]
    assert any(w in reason for w in ("no torch", "sees no CUDA device", "no wheel")), reason
    record = json.loads((tmp_path / "results" / "gpu.json").read_text())
    assert record["status"] == "failed" and record["error"] == reason
    assert (tmp_path / "results" / "gpu.log").read_text().count("gpu.sh: FAILED: ") == 1
