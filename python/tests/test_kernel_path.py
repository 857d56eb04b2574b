"""The installed package picks the best kernel path this CPU has, at run time.

A wheel is built for a baseline x86_64 (no `target-cpu=native`) and must still run AVX-512 or
AMX where the machine has them. The expectation comes from the kernel's own CPU flags in
/proc/cpuinfo, not from the package, so a wheel stuck on a baseline path fails here.
"""

import pathlib
import platform

import ecapa2
import pytest

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures"


def cpu_flags():
    cpuinfo = pathlib.Path("/proc/cpuinfo")
    if platform.machine() not in ("x86_64", "AMD64") or not cpuinfo.is_file():
        pytest.skip("the SIMD paths are x86_64's; flags read from Linux's /proc/cpuinfo")
    for line in cpuinfo.read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    pytest.skip("/proc/cpuinfo lists no flags")


def best_winograd_level(flags):
    if {"avx512f", "avx2", "fma"} <= flags:
        return "avx512"
    if {"avx2", "fma"} <= flags:
        return "avx2"
    return "portable"


def test_winograd_runs_the_best_simd_level_of_this_cpu():
    expected = f"winograd-{best_winograd_level(cpu_flags())}"
    model = ecapa2.Ecapa2.load(FIXTURES / "small" / "model.pt", threads=1)
    levels = {p for p in model.backend.replace(")", "").replace(",", " ").split() if p.startswith("winograd-")}
    assert levels == {expected}, model.backend


def test_bf16_runs_where_the_cpu_has_amx_bf16():
    flags = cpu_flags()
    model = ecapa2.Ecapa2.load(FIXTURES / "small" / "model.pt", threads=1, precision="bf16")
    # Without AMX-BF16 the engine lowers bf16 to exact f32 (see Precision::supported).
    assert model.precision == ("bf16" if "amx_bf16" in flags else "f32")
