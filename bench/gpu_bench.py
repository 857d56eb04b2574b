#!/usr/bin/env python3
"""The device half of bench/gpu.sh (issue 20): ours on CUDA vs PyTorch on the same GPU.

    python bench/gpu_bench.py --out RESULTS_DIR [--deadline EPOCH] [--model full.pt]
                              [--device cuda] [--shapes 1x3,1x10,16x3,64x3,256x3]

Needs torch and the `ecapa2` package (a build with the cuda feature). Sections, in order (each
one is recorded in RESULTS_DIR/gpu.json and gpu.md as soon as it ends, so a timeout still
leaves what ran):

  env        versions, GPU, TF32 flags, library folders.
  smoke      FAST FAIL: the committed tiny fixture loads on the device (f32 and f16, self-check
             on) and matches its CPU goldens for every case and label (gross mismatch: exit 2).
  archive    the full-size random-weight archive: reference/make_fixture.py's build_model("full")
             (seeded weights, one-pass BN calibration on the CPU), torch.jit.script(...).save.
  load       FAST FAIL: ours f16 and f32 with the self-check (timed), f16 with
             skip_self_check=True (timed); PyTorch's archive on the device.
  parity     ours f32 vs PyTorch fp32 (TF32 off, op by op) per label: relative L2.
  f16        16 mixed-length utterances (1-20 s, seeded): cosine of ours f16 (batch) and of
             PyTorch fp16 autocast to PyTorch fp32, per row; ours f32 relative L2 per row.
  mixed      the same 16 rows: ours batch vs one by one (f32 and f16), max relative diff per row.
  timing     ours f16/f32 and PyTorch fp16 autocast/fp32 (TF32 flags as torch defaults them) at
             each shape: warm-up, then the median of a few calls; peak GPU memory; audio-s/s.
  profile    torch.profiler kernel tables (top 15 by device time) of PyTorch fp16 and ours f16
             at 64 x 3 s.

Exit status: 0 all ran and every correctness target passed, 1 a correctness target failed, a
section broke or a section did not run for lack of time, 2 fast fail (no device, library, self-check, tiny parity), 124 out of time.
`--device cpu` is a dry run of the same code on the CPU (for checking this script without a
GPU; numbers meaningless).
"""

from __future__ import annotations

import argparse
import faulthandler
import gc
import json
import math
import os
import platform
import signal
import statistics
import sys
import threading
import time
import traceback

T_START = time.time()
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SR = 16000
SEED = 20240116
LABELS = ("gfe_1", "gfe_2", "pool", "attention", "embedding")
DEFAULT_SHAPES = "1x3,1x10,16x3,64x3,256x3"
PROFILE_SHAPE = (64, 3.0)

# Targets of issue 20.
TOL_F32_REL_L2 = 1e-4
TOL_F16_COS = 0.9999
TOL_MIXED_F32 = 1e-5
# Fast-fail gates (far looser: something is broken, not merely imprecise).
GATE_F32_REL_L2 = 1e-2
GATE_F16_COS = 0.99


class FastFail(Exception):
    """A problem that makes the rest of the run meaningless: exit 2 with one line."""


def one_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return f"{type(e).__name__}: {text}"[:500]


# --------------------------------------------------------------------------------------
# Results: JSON + markdown, rewritten after every section
# --------------------------------------------------------------------------------------
class Results:
    def __init__(self, out: str, deadline: float):
        self.out = out
        self.deadline = deadline
        self.data = {"status": "running", "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(T_START)),
                     "deadline_in_s": round(deadline - T_START, 1), "sections": {}, "targets": []}

    def remaining(self) -> float:
        return self.deadline - time.time()

    def sec(self, name: str) -> dict:
        return self.data["sections"].setdefault(name, {})

    def save(self) -> None:
        self.data["elapsed_s"] = round(time.time() - T_START, 1)
        self.data["targets"] = targets(self.data["sections"])
        for name, text in (("gpu.json", json.dumps(self.data, indent=1, default=str) + "\n"),
                           ("gpu.md", markdown(self.data))):
            tmp = os.path.join(self.out, name + ".tmp")
            with open(tmp, "w") as f:
                f.write(text)
            os.replace(tmp, os.path.join(self.out, name))

    def run(self, name: str, need_s: float, fn, *args, fatal: bool = False):
        """Runs section `name` if at least `need_s` seconds are left; fn(rec, *args) fills rec."""
        rec = self.sec(name)
        if self.remaining() < need_s:
            rec["status"] = f"not run (budget: {self.remaining():.0f} s left, needs {need_s:.0f} s)"
            print(f"[{name}] {rec['status']}", flush=True)
            self.save()
            return None
        rec["status"] = "running"
        self.save()
        print(f"[{name}] start ({self.remaining():.0f} s left)", flush=True)
        t0 = time.time()
        try:
            value = fn(rec, *args)
            rec["status"] = "ok"
            return value
        except FastFail as e:
            rec["status"] = "failed"
            rec["error"] = str(e)
            raise
        except Exception as e:  # noqa: BLE001 - recorded, the run goes on
            rec["status"] = "failed"
            rec["error"] = one_line(e)
            rec["traceback"] = traceback.format_exc()[-4000:]
            print(f"[{name}] FAILED: {one_line(e)}", flush=True)
            if fatal:
                raise FastFail(f"{name}: {one_line(e)}") from e
            return None
        finally:
            rec["seconds"] = round(time.time() - t0, 2)
            print(f"[{name}] {rec['status']} in {rec['seconds']:.1f} s", flush=True)
            self.save()


# --------------------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------------------
def rel_l2(a, b) -> float:
    import numpy as np

    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / max(float(np.linalg.norm(b)), 1e-300))


def max_rel(a, b) -> float:
    """max |a - b| / max |b|."""
    import numpy as np

    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / max(float(np.abs(b).max()), 1e-300))


def cosine(a, b) -> float:
    import numpy as np

    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    return float(a @ b / max(float(np.linalg.norm(a) * np.linalg.norm(b)), 1e-300))


def quick_audio(batch: int, seconds: float, seed: int):
    """Timing input: noise plus a few sinusoids, peak 0.5, float32 (B, N)."""
    import numpy as np

    n = int(round(seconds * SR))
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=np.float32) / SR
    x = 0.3 * rng.standard_normal((batch, n), dtype=np.float32)
    for _ in range(3):
        f = rng.uniform(100, 4000, size=(batch, 1)).astype(np.float32)
        x += np.sin(2 * np.pi * f * t[None, :]).astype(np.float32) * rng.uniform(0.2, 1.0)
    x *= 0.5 / np.abs(x).max(axis=1, keepdims=True)
    return np.ascontiguousarray(x, dtype=np.float32)


def timing_stats(times) -> dict:
    s = sorted(times)
    return {"median_ms": round(1e3 * statistics.median(s), 3), "min_ms": round(1e3 * s[0], 3),
            "max_ms": round(1e3 * s[-1], 3), "n": len(s)}


def time_calls(fn, warmup: int, reps: int, max_s: float, deadline: float) -> dict:
    """warmup untimed calls, then up to reps timed ones (at least 3 unless out of time)."""
    t_w = time.perf_counter()
    for _ in range(warmup):
        fn()
    warm_s = time.perf_counter() - t_w
    times = []
    t_all = time.perf_counter()
    while len(times) < reps:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if time.time() > deadline or (len(times) >= 3 and time.perf_counter() - t_all > max_s):
            break
    out = timing_stats(times)
    out["warmup_s"] = round(warm_s, 3)
    return out


# --------------------------------------------------------------------------------------
# The two engines
# --------------------------------------------------------------------------------------
class Env:
    """torch, ecapa2, the device, and how each side is called."""

    def __init__(self, device: str):
        import numpy as np
        import torch

        import ecapa2

        self.np, self.torch, self.ecapa2 = np, torch, ecapa2
        self.device = device
        self.cuda = device.startswith("cuda")
        self.tdev = torch.device(device)
        # fp16 autocast on the GPU; the CPU dry run uses bf16 (what CPU autocast is for).
        self.amp_dtype = torch.float16 if self.cuda else torch.bfloat16
        self.tf32_default = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
        self.skip_supported = False  # does Ecapa2.load take skip_self_check (learned in the load section)

    def sync(self) -> None:
        if self.cuda:
            self.torch.cuda.synchronize()

    # ---- ours ----
    def load_ours(self, path: str, precision: str, skip_self_check: bool = False):
        """(model, seconds). skip_self_check is passed (by keyword) only when asked."""
        kwargs = {"device": self.device, "precision": precision}
        if skip_self_check:
            kwargs["skip_self_check"] = True
        t0 = time.perf_counter()
        model = self.ecapa2.Ecapa2.load(path, **kwargs)
        return model, time.perf_counter() - t0

    def load_fast(self, path: str, precision: str):
        """A model for timing: without the self-check where the wheel allows it (already
        checked in the load section)."""
        if self.skip_supported:
            return self.load_ours(path, precision, skip_self_check=True)[0]
        return self.load_ours(path, precision)[0]

    @staticmethod
    def describe_ours(model) -> dict:
        inner = getattr(model, "_model", model)
        return {k: str(getattr(inner, k, None)) for k in ("device", "precision", "backend")}

    # ---- PyTorch ----
    def load_torch(self, path: str):
        m = self.torch.jit.load(path, map_location=self.tdev)
        m.eval()
        return m

    def strict_fp32(self):
        """TF32 off and op by op (as the goldens): the parity reference."""
        env = self

        class _Strict:
            def __enter__(self):
                t = env.torch
                self.saved = (t.backends.cuda.matmul.allow_tf32, t.backends.cudnn.allow_tf32)
                t.backends.cuda.matmul.allow_tf32 = False
                t.backends.cudnn.allow_tf32 = False
                self.opt = t.jit.optimized_execution(False)
                self.opt.__enter__()

            def __exit__(self, *exc):
                self.opt.__exit__(*exc)
                env.torch.backends.cuda.matmul.allow_tf32, env.torch.backends.cudnn.allow_tf32 = self.saved
                return False

        return _Strict()

    def torch_call(self, model, x, label: str = "embedding", mode: str = "fp32"):
        """x: a device tensor (B, N). mode fp32 (as the flags stand) or amp (autocast)."""
        torch = self.torch
        with torch.inference_mode():
            if mode == "amp":
                with torch.autocast(self.tdev.type, dtype=self.amp_dtype):
                    return model(x, label)
            return model(x, label)

    def torch_ref(self, model, x_np, label: str = "embedding"):
        """PyTorch fp32 strict on the device, as float64 numpy."""
        x = self.torch.from_numpy(self.np.ascontiguousarray(x_np)).to(self.tdev)
        with self.strict_fp32():
            y = self.torch_call(model, x, label, "fp32")
        return y.double().cpu().numpy()

    def torch_amp(self, model, x_np, label: str = "embedding"):
        x = self.torch.from_numpy(self.np.ascontiguousarray(x_np)).to(self.tdev)
        return self.torch_call(model, x, label, "amp").double().cpu().numpy()

    # ---- device memory ----
    def used_bytes(self):
        if not self.cuda:
            return None
        free, total = self.torch.cuda.mem_get_info()
        return total - free


class DevicePeak:
    """Peak of the device-wide used memory (torch.cuda.mem_get_info, polled about every ms by a
    thread) while the block runs. Sees every context of the device, ours included."""

    def __init__(self, env: Env):
        self.env = env
        self.peak = None
        self._stop = threading.Event()

    def _poll(self):
        while not self._stop.is_set():
            u = self.env.used_bytes()
            if u is not None and (self.peak is None or u > self.peak):
                self.peak = u
            time.sleep(0.001)

    def __enter__(self):
        self.peak = self.env.used_bytes()
        self._t = threading.Thread(target=self._poll, daemon=True)
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join(timeout=5)
        u = self.env.used_bytes()
        if u is not None and (self.peak is None or u > self.peak):
            self.peak = u
        return False


def gib(b) -> float | None:
    return None if b is None else round(b / 2**30, 3)


# --------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------
def sec_env(rec: dict, env: Env, args) -> None:
    torch, ecapa2 = env.torch, env.ecapa2
    rec.update({
        "python": sys.version.split()[0], "platform": platform.platform(), "torch": torch.__version__,
        "torch_cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version() if env.cuda else None,
        "ecapa2": getattr(ecapa2, "__version__", "?"), "ecapa2_file": ecapa2.__file__,
        "device": args.device, "cpu_count": os.cpu_count(),
        "ECAPA2_CUDA_LIBRARY_PATH": os.environ.get("ECAPA2_CUDA_LIBRARY_PATH", ""),
        "tf32_default": {"matmul": env.tf32_default[0], "cudnn": env.tf32_default[1]},
    })
    if env.cuda:
        p = torch.cuda.get_device_properties(env.tdev)
        rec.update({"gpu": p.name, "capability": f"{p.major}.{p.minor}",
                    "gpu_memory_gib": gib(p.total_memory), "sm_count": p.multi_processor_count})
    print(json.dumps(rec, indent=1), flush=True)


def sec_smoke(rec: dict, env: Env, tiny_dir: str) -> None:
    """The committed tiny fixture vs its CPU goldens: f32 (rel L2 per case and label) and f16
    (embedding cosine per row). Gross mismatch or a failed load: FastFail."""
    np = env.np
    path = os.path.join(tiny_dir, "model.pt")
    gold = os.path.join(tiny_dir, "golden")
    with open(os.path.join(gold, "manifest.json")) as f:
        cases = [c["name"] for c in json.load(f)["cases"]]
    for prec in ("f32", "f16"):
        try:
            model, secs = env.load_ours(path, prec)
        except Exception as e:
            raise FastFail(f"tiny fixture does not load on {env.device} ({prec}): {one_line(e)}") from e
        r = rec.setdefault(prec, {"load_s": round(secs, 3), "model": env.describe_ours(model)})
        worst = {}
        cos_min = 1.0
        for case in cases:
            audio = np.load(os.path.join(gold, f"{case}.audio.npy"))
            if prec == "f32":
                for lab in LABELS:
                    e = rel_l2(model(audio, label=lab), np.load(os.path.join(gold, f"{case}.{lab}.npy")))
                    worst[lab] = max(worst.get(lab, 0.0), e)
            else:
                got, want = model(audio), np.load(os.path.join(gold, f"{case}.embedding.npy"))
                cos_min = min([cos_min] + [cosine(g, w) for g, w in zip(got, want)])
        if prec == "f32":
            r["rel_l2_max_per_label"] = worst
            bad = {k: v for k, v in worst.items() if not v <= GATE_F32_REL_L2}
            if bad:
                raise FastFail(f"tiny fixture f32 on {env.device} is wrong (rel L2 {bad} > {GATE_F32_REL_L2})")
        else:
            r["embedding_cos_min"] = cos_min
            if not cos_min >= GATE_F16_COS:
                raise FastFail(f"tiny fixture f16 on {env.device} is wrong (embedding cosine {cos_min:.5f})")
        del model
        gc.collect()
    print(f"[smoke] tiny f32 rel L2 {rec['f32']['rel_l2_max_per_label']}, "
          f"f16 cos min {rec['f16']['embedding_cos_min']:.6f}", flush=True)


def sec_archive(rec: dict, env: Env, args) -> str:
    if args.model:
        rec["path"] = args.model
        rec["source"] = "given"
        return args.model
    path = os.path.join(args.out, args.config, "model.pt")
    rec["path"] = path
    if os.path.isfile(path):
        rec["source"] = "reused"
        return path
    torch = env.torch
    sys.path.insert(0, os.path.join(ROOT, "reference"))
    import make_fixture  # reference/: ecapa2_ref + the seeded realistic weights

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    t0 = time.time()
    model, _cfg = make_fixture.build_model(args.config, SEED)  # CPU: seeded, one-pass BN calibration
    rec["build_s"] = round(time.time() - t0, 1)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.jit.script(model.eval()).save(path + ".tmp")
    os.replace(path + ".tmp", path)
    rec.update({"source": f"make_fixture.build_model({args.config!r}, {SEED})",
                "bytes": os.path.getsize(path)})
    return path


def sec_load(rec: dict, env: Env, path: str) -> dict:
    models = {}
    for prec in ("f16", "f32"):
        try:
            models[prec], secs = env.load_ours(path, prec)
        except Exception as e:
            raise FastFail(f"full archive does not load on {env.device} ({prec}, self-check on): {one_line(e)}") from e
        rec[f"ours_{prec}_with_self_check_s"] = round(secs, 3)
        rec[f"ours_{prec}"] = env.describe_ours(models[prec])
    try:
        m, secs = env.load_ours(path, "f16", skip_self_check=True)
        env.skip_supported = True
        rec["ours_f16_skip_self_check_s"] = round(secs, 3)
        del m
    except TypeError as e:
        env.skip_supported = False
        rec["ours_f16_skip_self_check_s"] = f"not supported by this wheel ({one_line(e)})"
    rec["self_check_cost_s"] = (round(rec["ours_f16_with_self_check_s"] - rec["ours_f16_skip_self_check_s"], 3)
                                if isinstance(rec.get("ours_f16_skip_self_check_s"), float) else None)
    t0 = time.perf_counter()
    try:
        models["torch"] = env.load_torch(path)
        x = env.torch.zeros(1, SR, device=env.tdev)
        env.torch_call(models["torch"], x)
        env.sync()
    except Exception as e:
        raise FastFail(f"PyTorch cannot run the archive on {env.device}: {one_line(e)}") from e
    rec["torch_load_and_first_call_s"] = round(time.perf_counter() - t0, 3)
    return models


def parity_inputs(env: Env):
    sys.path.insert(0, os.path.join(ROOT, "reference"))
    import make_fixture

    return [make_fixture.synth_audio(SEED, "gpu-parity-a", 2, 3 * SR),
            make_fixture.synth_audio(SEED, "gpu-parity-b", 1, 20037)]


def sec_parity(rec: dict, env: Env, models: dict) -> None:
    per = {}
    for x in parity_inputs(env):
        for lab in LABELS:
            ours = models["f32"](x, label=lab)
            ref = env.torch_ref(models["torch"], x, lab)
            per.setdefault(lab, []).append(rel_l2(ours, ref))
    rec["inputs"] = "synth (2 x 3 s) and (1 x 20037 samples)"
    rec["rel_l2_per_label"] = {lab: max(v) for lab, v in per.items()}
    print(f"[parity] {rec['rel_l2_per_label']}", flush=True)


def mixed_rows(env: Env):
    sys.path.insert(0, os.path.join(ROOT, "reference"))
    import make_fixture

    rng = env.np.random.default_rng(SEED)
    lengths = [int(s * SR) for s in rng.uniform(1.0, 20.0, size=16)]
    return [make_fixture.synth_audio(SEED, f"gpu-mixed-{i}", 1, n)[0] for i, n in enumerate(lengths)]


def sec_f16(rec: dict, env: Env, models: dict, rows) -> None:
    ref = [env.torch_ref(models["torch"], r[None, :])[0] for r in rows]
    ours16 = models["f16"].batch(rows)
    ours32 = models["f32"].batch(rows)
    amp = [env.torch_amp(models["torch"], r[None, :])[0] for r in rows]
    rec["rows"] = len(rows)
    rec["lengths_s"] = [round(len(r) / SR, 2) for r in rows]
    rec["ours_f16_cos"] = [cosine(a, b) for a, b in zip(ours16, ref)]
    rec["torch_amp_cos"] = [cosine(a, b) for a, b in zip(amp, ref)]
    rec["ours_f32_rel_l2"] = [rel_l2(a, b) for a, b in zip(ours32, ref)]
    rec["ours_f16_cos_min"] = min(rec["ours_f16_cos"])
    rec["torch_amp_cos_min"] = min(rec["torch_amp_cos"])
    rec["ours_f32_rel_l2_max"] = max(rec["ours_f32_rel_l2"])
    print(f"[f16] ours f16 cos min {rec['ours_f16_cos_min']:.6f}, torch amp cos min "
          f"{rec['torch_amp_cos_min']:.6f}, ours f32 rel L2 max {rec['ours_f32_rel_l2_max']:.2e}", flush=True)


def sec_mixed(rec: dict, env: Env, models: dict, rows) -> None:
    for prec in ("f32", "f16"):
        m = models[prec]
        batch = m.batch(rows)
        single = [m(r) for r in rows]
        diffs = [max_rel(b, s) for b, s in zip(batch, single)]
        rec[prec] = {"max_rel_per_row": diffs, "max": max(diffs)}
    print(f"[mixed] batch vs one by one: f32 {rec['f32']['max']:.2e}, f16 {rec['f16']['max']:.2e}", flush=True)


def parse_shapes(text: str):
    out = []
    for part in text.split(","):
        b, s = part.lower().split("x")
        out.append((int(b), float(s)))
    return out


def shape_key(b: int, s: float) -> str:
    return f"{b}x{s:g}s"


def sec_timing(rec: dict, env: Env, args, path: str, models: dict, deadline: float) -> None:
    """Ours (fresh model per precision, so that its memory is its own) then PyTorch."""
    torch = env.torch
    shapes = parse_shapes(args.shapes)
    rec["method"] = {
        "ours": "wall clock around the call (numpy in, numpy out: includes the audio upload and the "
                "result download); peak memory = device-wide used memory (torch.cuda.mem_get_info polled "
                "~1 ms in a thread during one extra call) minus the used memory just before the model was "
                "loaded: includes our weights, workspace and CUDA context",
        "torch": "wall clock around model(x) + torch.cuda.synchronize(), audio already on the device; "
                 "peak memory = torch.cuda.max_memory_allocated (weights + activations, no context; "
                 "max_memory_reserved also given)",
        "torch_fp32_tf32": {"matmul": env.tf32_default[0], "cudnn": env.tf32_default[1]},
        "warmup": {"ours": args.warmup_ours, "torch": args.warmup_torch}, "reps": args.reps,
    }
    res = rec.setdefault("results", {})
    # Free what earlier sections held so that the memory figures are per engine.
    for k in ("f16", "f32"):
        models.pop(k, None)
    gc.collect()
    if env.cuda:
        torch.cuda.empty_cache()
    for prec in ("f16", "f32"):
        mode = f"ours_{prec}"
        gc.collect()
        base = env.used_bytes()
        model = env.load_fast(path, prec)
        after_load = env.used_bytes()
        res.setdefault(mode, {})["_load_used_gib"] = gib(None if base is None else after_load - base)
        for b, s in shapes:
            key = shape_key(b, s)
            if time.time() > deadline - 5:
                res[mode][key] = "not run (budget)"
                continue
            x = quick_audio(b, s, seed=b * 1000 + int(s))
            try:
                t = time_calls(lambda: model(x), args.warmup_ours, args.reps, args.max_case_s, deadline)
                with DevicePeak(env) as peak:
                    model(x)
                t["peak_gib"] = gib(None if base is None else peak.peak - base)
                t["audio_s_per_s"] = round(b * s / (t["median_ms"] / 1e3), 1)
                res[mode][key] = t
            except Exception as e:  # noqa: BLE001 - e.g. out of memory at 256 x 3 s
                res[mode][key] = f"failed: {one_line(e)}"
            print(f"[timing] {mode} {key}: {res[mode][key]}", flush=True)
        del model
        gc.collect()
    tm = models["torch"]
    for mode, call_mode in (("torch_amp", "amp"), ("torch_fp32", "fp32")):
        res.setdefault(mode, {})
        for b, s in shapes:
            key = shape_key(b, s)
            if time.time() > deadline - 5:
                res[mode][key] = "not run (budget)"
                continue
            try:
                x = torch.from_numpy(quick_audio(b, s, seed=b * 1000 + int(s))).to(env.tdev)

                def call():
                    y = env.torch_call(tm, x, "embedding", call_mode)
                    env.sync()
                    return y

                t = time_calls(call, args.warmup_torch, args.reps, args.max_case_s, deadline)
                if env.cuda:
                    torch.cuda.empty_cache()
                    torch.cuda.reset_peak_memory_stats()
                    call()
                    t["peak_gib"] = gib(torch.cuda.max_memory_allocated())
                    t["peak_reserved_gib"] = gib(torch.cuda.max_memory_reserved())
                t["audio_s_per_s"] = round(b * s / (t["median_ms"] / 1e3), 1)
                res[mode][key] = t
                del x
            except Exception as e:  # noqa: BLE001
                res[mode][key] = f"failed: {one_line(e)}"
            print(f"[timing] {mode} {key}: {res[mode][key]}", flush=True)
    if env.cuda:
        torch.cuda.empty_cache()


def _dev_time(evt) -> float:
    for a in ("self_device_time_total", "self_cuda_time_total"):
        v = getattr(evt, a, None)
        if v is not None:
            try:
                return float(v)
            except (TypeError, ValueError):
                pass
    return 0.0


def kernel_table(prof, iters: int) -> dict:
    """Top 15 device events (kernels, memcpys, memsets) by device time, per iteration. CPU
    operators also carry a self device time (their kernels'): counted only where the profiler
    recorded no device events of its own (then the rows are operators, said in "rows")."""
    from torch.autograd import DeviceType

    events = list(prof.key_averages())
    device = [e for e in events if getattr(e, "device_type", DeviceType.CPU) != DeviceType.CPU]
    kind = "device events"
    if not any(_dev_time(e) > 0 for e in device):
        device, kind = events, "CPU operators (self device time)"
    rows = []
    for e in device:
        t = _dev_time(e)
        if t > 0:
            rows.append({"name": e.key, "calls": int(e.count) // iters if iters else int(e.count),
                         "ms_per_iter": round(t / 1e3 / iters, 4)})
    total = sum(r["ms_per_iter"] for r in rows)
    rows.sort(key=lambda r: -r["ms_per_iter"])
    for r in rows:
        r["share"] = round(r["ms_per_iter"] / total, 4) if total else None
    return {"rows": kind, "device_ms_per_iter": round(total, 3), "kernel_names": len(rows), "top15": rows[:15]}


def torch_table_text(prof) -> str:
    for key in ("self_cuda_time_total", "self_device_time_total", "cuda_time_total", "device_time_total",
                "self_cpu_time_total"):
        try:
            return prof.key_averages().table(sort_by=key, row_limit=15)
        except Exception:  # noqa: BLE001 - the key's name depends on the torch version
            continue
    return "(no table)"


def sec_profile(rec: dict, env: Env, args, path: str, models: dict) -> None:
    import gzip
    import shutil

    torch = env.torch
    from torch.profiler import ProfilerActivity, profile

    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if env.cuda else [])
    b, s = PROFILE_SHAPE
    if args.device == "cpu":
        b, s = parse_shapes(args.shapes)[-1]
    iters = 2
    x_np = quick_audio(b, s, seed=7)
    rec["shape"] = shape_key(b, s)
    rec["iterations"] = iters

    def run(name, fn):
        for _ in range(2):
            fn()
        env.sync()
        t0 = time.perf_counter()
        with profile(activities=acts) as prof:
            for _ in range(iters):
                fn()
            env.sync()
        r = kernel_table(prof, iters)
        r["wall_ms_per_iter_profiled"] = round(1e3 * (time.perf_counter() - t0) / iters, 2)
        with open(os.path.join(args.out, f"profile_{name}.txt"), "w") as f:
            f.write(torch_table_text(prof) + "\n")
        try:
            trace = os.path.join(args.out, f"trace_{name}.json")
            prof.export_chrome_trace(trace)
            with open(trace, "rb") as src, gzip.open(trace + ".gz", "wb") as dst:
                shutil.copyfileobj(src, dst)
            os.remove(trace)
        except Exception as e:  # noqa: BLE001
            r["trace"] = f"not written: {one_line(e)}"
        if not r["top15"]:
            r["note"] = "the profiler saw no device events for this run"
        rec[name] = r
        print(f"[profile] {name}: {r['device_ms_per_iter']} ms device time per iteration, "
              f"{r['kernel_names']} kernel names", flush=True)

    x = torch.from_numpy(x_np).to(env.tdev)
    run("torch_amp", lambda: env.torch_call(models["torch"], x, "embedding", "amp"))
    del x
    if env.cuda:
        torch.cuda.empty_cache()
    model = env.load_fast(path, "f16")
    run("ours_f16", lambda: model(x_np))


# --------------------------------------------------------------------------------------
# Targets and markdown
# --------------------------------------------------------------------------------------
def _get(d, *keys):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
            return f"{v:.2e}"
        return f"{v:.4g}" if abs(v) < 1 else f"{v:.1f}"
    return str(v)


def targets(secs: dict) -> list:
    """[(target, measured, PASS/FAIL/not run, correctness?)] from what the sections recorded."""
    out = []

    def add(name, value, ok, correctness=True, text=None):
        result = "not run" if value is None else ("PASS" if ok else "FAIL")
        out.append({"target": name, "measured": text if text is not None else _fmt(value),
                    "result": result, "correctness": correctness})

    for lab in LABELS:
        v = _get(secs, "smoke", "f32", "rel_l2_max_per_label", lab)
        add(f"tiny fixture f32 vs CPU goldens, {lab}: rel L2 ≤ {TOL_F32_REL_L2:g}", v,
            v is not None and v <= TOL_F32_REL_L2)
    v = _get(secs, "smoke", "f16", "embedding_cos_min")
    add(f"tiny fixture f16 embedding cosine to CPU goldens ≥ {TOL_F16_COS}", v, v is not None and v >= TOL_F16_COS,
        text=None if v is None else f"{v:.6f}")
    v = _get(secs, "load", "ours_f16_with_self_check_s")
    add("full archive loads with the self-check (f16 and f32)", v,
        v is not None and _get(secs, "load", "ours_f32_with_self_check_s") is not None,
        text=None if v is None else f"f16 {v:.2f} s, f32 {_get(secs, 'load', 'ours_f32_with_self_check_s')} s")
    for lab in LABELS:
        v = _get(secs, "parity", "rel_l2_per_label", lab)
        add(f"f32 vs PyTorch fp32 (no TF32), {lab}: rel L2 ≤ {TOL_F32_REL_L2:g}", v,
            v is not None and v <= TOL_F32_REL_L2)
    v = _get(secs, "f16", "ours_f16_cos_min")
    amp = _get(secs, "f16", "torch_amp_cos_min")
    add(f"f16 embedding cosine to PyTorch fp32 ≥ {TOL_F16_COS}, every row (16 mixed-length)", v,
        v is not None and v >= TOL_F16_COS,
        text=None if v is None else f"min {v:.6f} (PyTorch fp16 autocast: min {_fmt(amp) if amp is None else f'{amp:.6f}'})")
    v = _get(secs, "f16", "ours_f32_rel_l2_max")
    # Information: up to 20 s rows, where fp32 rounding alone (the log of weak spectral bins)
    # moves a CPU engine ~1e-4 from PyTorch on the tiny fixture; the target is per block above.
    out.append({"target": "f32 embedding vs PyTorch fp32, 16 mixed-length rows: max rel L2 (no target)",
                "measured": _fmt(v), "result": "not run" if v is None else "info", "correctness": False})
    v = _get(secs, "mixed", "f32", "max")
    add(f"mixed batch of 16 (1-20 s), f32: each row vs one by one ≤ {TOL_MIXED_F32:g} (max rel)", v,
        v is not None and v <= TOL_MIXED_F32)
    v = _get(secs, "mixed", "f16", "max")
    out.append({"target": "mixed batch of 16, f16: each row vs one by one (max rel, no target)",
                "measured": _fmt(v), "result": "not run" if v is None else "info", "correctness": False})

    res = _get(secs, "timing", "results") or {}

    def med(mode, key):
        return _get(res, mode, key, "median_ms")

    o, t = med("ours_f16", "64x3s"), med("torch_amp", "64x3s")
    ratio = None if o is None or t is None else t / o
    add("64 × 3 s throughput ≥ PyTorch fp16 autocast (goal 2×)", ratio, ratio is not None and ratio >= 1.0,
        correctness=False, text=None if ratio is None else f"{ratio:.2f}× ({o:.1f} ms vs {t:.1f} ms)")
    o = med("ours_f16", "1x3s")
    tt = [x for x in (med("torch_amp", "1x3s"), med("torch_fp32", "1x3s")) if x is not None]
    add("1 × 3 s latency ≤ PyTorch's (best of fp16/fp32; goal ≤ 5 ms)", o if tt else None,
        o is not None and bool(tt) and o <= min(tt), correctness=False,
        text=None if o is None or not tt else f"{o:.2f} ms vs {min(tt):.2f} ms (goal 5 ms: {'met' if o <= 5 else 'not met'})")
    om, tm = _get(res, "ours_f16", "64x3s", "peak_gib"), _get(res, "torch_amp", "64x3s", "peak_gib")
    add("peak GPU memory at 64 × 3 s ≤ PyTorch fp16's", om if tm is not None else None,
        om is not None and tm is not None and om <= tm, correctness=False,
        text=None if om is None or tm is None else f"{om:.2f} GiB vs {tm:.2f} GiB (ours incl. its context)")
    return out


def markdown(data: dict) -> str:
    secs = data["sections"]
    env = secs.get("env", {})
    lines = ["# GPU run (bench/gpu.sh)", ""]
    lines.append(f"Status: **{data['status']}**, {data.get('elapsed_s', '?')} s. "
                 f"GPU: {env.get('gpu', env.get('device', '?'))} (sm {env.get('capability', '?')}), "
                 f"torch {env.get('torch', '?')} (CUDA {env.get('torch_cuda', '?')}, cuDNN {env.get('cudnn', '?')}), "
                 f"ecapa2 {env.get('ecapa2', '?')}. Archive: {_get(secs, 'archive', 'source') or '-'}.")
    lines += ["", "## Sections", "", "| section | status | seconds |", "|---|---|---:|"]
    for name, rec in secs.items():
        status = rec.get("status", "?")
        if rec.get("error"):
            status += f": {rec['error']}"
        lines.append(f"| {name} | {status.replace('|', '/')} | {rec.get('seconds', '-')} |")
    lines += ["", "## Targets", "", "| target | measured | result |", "|---|---|---|"]
    for t in data.get("targets", []):
        lines.append(f"| {t['target']} | {t['measured']} | {t['result']} |")
    load = secs.get("load", {})
    if load:
        lines += ["", "## Load and self-check", ""]
        for k in ("ours_f16_with_self_check_s", "ours_f16_skip_self_check_s", "self_check_cost_s",
                  "ours_f32_with_self_check_s", "torch_load_and_first_call_s"):
            if k in load:
                lines.append(f"- {k}: {_fmt(load[k])}")
    res = _get(secs, "timing", "results")
    if res:
        keys = []
        for mode in res.values():
            keys += [k for k in mode if not k.startswith("_") and k not in keys]
        lines += ["", "## Timings (median ms; audio-s/s; peak GiB)", "",
                  "| mode | " + " | ".join(keys) + " |", "|---|" + "---:|" * len(keys)]
        for mode, cases in res.items():
            cells = []
            for k in keys:
                c = cases.get(k)
                if isinstance(c, dict):
                    cells.append(f"{c['median_ms']:.2f} ms ({c.get('audio_s_per_s', '-')}/s, "
                                 f"{_fmt(c.get('peak_gib'))} GiB, n={c['n']})")
                else:
                    cells.append(str(c or "-").replace("|", "/"))
            lines.append(f"| {mode} | " + " | ".join(cells) + " |")
        method = _get(secs, "timing", "method") or {}
        lines += ["", f"Ours: {method.get('ours', '')}.", "", f"PyTorch: {method.get('torch', '')}; "
                  f"fp32 TF32 flags: {method.get('torch_fp32_tf32')}."]
    prof = secs.get("profile", {})
    for name in ("torch_amp", "ours_f16"):
        p = prof.get(name)
        if not isinstance(p, dict):
            continue
        lines += ["", f"## Kernels: {name} at {prof.get('shape')} (per iteration)", "",
                  f"Device time {p['device_ms_per_iter']} ms over {p['kernel_names']} names ({p.get('rows')}); "
                  f"profiled wall {p.get('wall_ms_per_iter_profiled')} ms. {p.get('note', '')}", "",
                  "| kernel | calls | ms | share |", "|---|---:|---:|---:|"]
        for r in p["top15"]:
            name_ = r["name"].replace("|", "/")
            name_ = name_ if len(name_) <= 100 else name_[:97] + "..."
            lines.append(f"| `{name_}` | {r['calls']} | {r['ms_per_iter']:.3f} | {100 * (r['share'] or 0):.1f} % |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------
def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="results folder")
    p.add_argument("--deadline", type=float, default=None, help="epoch seconds to be done by (default now+400)")
    p.add_argument("--device", default="cuda", help="cuda (default), cuda:N, or cpu for a dry run")
    p.add_argument("--model", default=None, help="an archive to use instead of building one")
    p.add_argument("--config", default="full", help="reference config to build (default full)")
    p.add_argument("--tiny", default=os.path.join(ROOT, "tests", "fixtures", "tiny"), help="fixture folder")
    p.add_argument("--shapes", default=DEFAULT_SHAPES, help="BxSECONDS,... for the timings")
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--max-case-s", type=float, default=4.0, help="stop timing a case after this long (>= 3 calls)")
    p.add_argument("--warmup-ours", type=int, default=2)
    p.add_argument("--warmup-torch", type=int, default=3)
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    deadline = args.deadline or (T_START + 400)
    results = Results(args.out, deadline)

    def on_term(signum, _frame):
        results.data["status"] = f"killed by signal {signum} (out of time)"
        results.save()
        print(f"gpu_bench: out of time (signal {signum}); partial results in {args.out}", flush=True)
        os._exit(124)

    signal.signal(signal.SIGTERM, on_term)
    faulthandler.dump_traceback_later(max(10.0, deadline - time.time() - 3), exit=False)

    try:
        env = Env(args.device)
    except Exception as e:  # noqa: BLE001
        print(f"gpu_bench: FAILED: cannot import torch/ecapa2 or use {args.device}: {one_line(e)}", flush=True)
        results.data["status"] = "failed"
        results.data["error"] = one_line(e)
        results.save()
        return 2
    if env.cuda and not env.torch.cuda.is_available():
        results.data["status"] = "failed"
        results.data["error"] = "torch sees no CUDA device"
        results.save()
        print("gpu_bench: FAILED: torch sees no CUDA device", flush=True)
        return 2

    models = {}
    rows = None
    try:
        results.run("env", 0, sec_env, env, args)
        results.run("smoke", 20, sec_smoke, env, args.tiny, fatal=True)
        path = results.run("archive", 30, sec_archive, env, args, fatal=True)
        if path is None:
            raise FastFail("no time left to build the full-size archive")
        models = results.run("load", 20, sec_load, env, path, fatal=True)
        if models is None:
            raise FastFail("no time left to load the full-size archive")
        results.run("parity", 10, sec_parity, env, models)
        rows = None
        if results.remaining() > 20:
            try:
                rows = mixed_rows(env)
            except Exception as e:  # noqa: BLE001 - the two sections using them record it
                results.sec("f16")["error"] = f"no mixed-length rows: {one_line(e)}"
        if rows is not None:
            results.run("f16", 15, sec_f16, env, models, rows)
            results.run("mixed", 15, sec_mixed, env, models, rows)
        # Timing keeps ~45 s for the profile section.
        results.run("timing", 40, sec_timing, env, args, path, models, results.deadline - 45)
        results.run("profile", 20, sec_profile, env, args, path, models)
    except FastFail as e:
        results.data["status"] = "failed"
        results.data["error"] = str(e)
        results.save()
        print(f"gpu_bench: FAILED: {e}", flush=True)
        return 2
    faulthandler.cancel_dump_traceback_later()
    bad_corr = [t["target"] for t in results.data["targets"] if t["correctness"] and t["result"] == "FAIL"]
    broken = [n for n, r in results.data["sections"].items() if r.get("status") == "failed"]
    skipped = [n for n, r in results.data["sections"].items() if str(r.get("status")).startswith("not run")]
    if rows is None:
        skipped += ["f16", "mixed"]
    ok = not bad_corr and not broken and not skipped
    results.data["status"] = "done" if ok else "done with failures" if bad_corr or broken else "incomplete"
    results.save()
    print(f"gpu_bench: {results.data['status']} in {time.time() - T_START:.0f} s; "
          f"{len(bad_corr)} correctness target(s) failed, broken sections: {broken or 'none'}, "
          f"not run (time): {skipped or 'none'}", flush=True)
    for t in results.data["targets"]:
        print(f"  {t['result']:8} {t['target']}: {t['measured']}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
