#!/usr/bin/env python3
"""Time a TorchScript ECAPA2 archive on CPU (the PyTorch baseline for the Rust engine).

    python bench/torch_bench.py --model bench/out/full/model.pt --threads 4 \
        --lengths 1,3,10,60 --batch8 3 --repeats 5 --out bench/out/torch_t4.json \
        [--t0 "$(date +%s.%N)"] [--bf16] [--label embedding]

Measures (all wall-clock, time.perf_counter):
  * cold start: process start -> first embedding of 1 s of audio. The start is --t0 (epoch
    seconds, e.g. `--t0 "$(date +%s.%N)"` taken just before launching python) when given,
    otherwise the moment this script began executing (before `import torch`). Split into
    import / load / first call.
  * batch 1 at each length in --lengths (seconds of 16 kHz audio), and batch 8 x --batch8
    seconds (0 disables it): 2 warm-up calls, then --repeats timed calls each; reports
    median, min, max, quartiles, mean and the real-time factor (median / seconds of audio
    processed in the call; < 1 is faster than real time).
  * peak RSS of the process (resource.getrusage ru_maxrss).
  * --bf16: the same cases again under torch.autocast("cpu", dtype=torch.bfloat16), plus the
    cosine similarity of the bf16 and fp32 embeddings.
Everything runs under torch.inference_mode(). Only torch and numpy (and the stdlib) are used.
"""

import time

_T_SCRIPT = time.time()  # before importing torch
_P_SCRIPT = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402

_P_IMPORT0 = time.perf_counter()
import numpy as np  # noqa: E402
import torch  # noqa: E402

_P_IMPORT1 = time.perf_counter()

SR = 16000


def synth(seconds: float, batch: int = 1, seed: int = 0) -> torch.Tensor:
    """Deterministic test audio: a few sinusoids + white noise, peak 0.5, float32 (B, N)."""
    n = int(round(seconds * SR))
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SR
    out = np.empty((batch, n), dtype=np.float32)
    for b in range(batch):
        x = 0.5 * rng.standard_normal(n)
        for _ in range(4):
            x += rng.uniform(0.2, 1.0) * np.sin(2 * np.pi * rng.uniform(100, 4000) * t + rng.uniform(0, 6.3))
        out[b] = 0.5 * x / np.abs(x).max()
    return torch.from_numpy(out)


def stats(times):
    s = sorted(times)
    q = statistics.quantiles(s, n=4, method="inclusive") if len(s) >= 2 else [s[0], s[0], s[0]]
    return {
        "median_s": statistics.median(s),
        "min_s": s[0],
        "max_s": s[-1],
        "q1_s": q[0],
        "q3_s": q[2],
        "mean_s": statistics.fmean(s),
        "n": len(s),
        "all_s": s,
    }


def peak_rss_mb() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 1024.0 if sys.platform != "darwin" else r / (1024.0 * 1024.0)  # Linux: KiB


def run_case(model, label, audio, warmup, repeats, autocast_bf16):
    times = []
    out = None
    for i in range(warmup + repeats):
        t0 = time.perf_counter()
        if autocast_bf16:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                out = model(audio, label)
        else:
            out = model(audio, label)
        dt = time.perf_counter() - t0
        if i >= warmup:
            times.append(dt)
    return times, out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="TorchScript archive (torch.jit.load)")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    p.add_argument("--interop-threads", type=int, default=1, help="torch.set_num_interop_threads")
    p.add_argument("--lengths", default="1,3,10,60", help="batch-1 lengths in seconds, comma-separated")
    p.add_argument("--batch8", type=float, default=3.0, help="seconds per row for the batch-8 case (0: skip)")
    p.add_argument("--repeats", type=int, default=5, help="timed calls per case (after 2 warm-ups)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--label", default="embedding", help="label argument passed to the model")
    p.add_argument("--t0", type=float, default=None, help="process start time (epoch seconds) for cold start")
    p.add_argument("--bf16", action="store_true", help="also time CPU bf16 autocast")
    p.add_argument("--out", required=True, help="output JSON path")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(args.interop_threads)
    except RuntimeError:
        pass  # already set
    torch.manual_seed(0)

    result = {
        "model": os.path.abspath(args.model),
        "model_bytes": os.path.getsize(args.model),
        "threads": args.threads,
        "interop_threads": torch.get_num_interop_threads(),
        "label": args.label,
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "mkldnn": torch.backends.mkldnn.is_available(),
        "warmup": args.warmup,
        "repeats": args.repeats,
        "cases": [],
    }

    # ---- cold start ------------------------------------------------------------------
    one_sec = synth(1.0, 1, seed=1)
    t_load0 = time.perf_counter()
    model = torch.jit.load(args.model, map_location="cpu")
    model.eval()
    t_load1 = time.perf_counter()
    with torch.inference_mode():
        emb = model(one_sec, args.label)
    t_first = time.perf_counter()
    now = time.time()
    if args.t0 is not None:
        cold = now - args.t0
        origin = "--t0 (caller's process start)"
    else:
        cold = t_first - _P_SCRIPT
        origin = "script start (before import torch)"
    result["cold_start"] = {
        "total_s": cold,
        "origin": origin,
        "python_startup_s": (_T_SCRIPT - args.t0) if args.t0 is not None else None,
        "import_s": _P_IMPORT1 - _P_IMPORT0,
        "load_s": t_load1 - t_load0,
        "first_call_1s_s": t_first - t_load1,
        "output_shape": list(emb.shape),
    }
    print(f"cold start {cold:.3f}s (import {_P_IMPORT1 - _P_IMPORT0:.2f}s, load {t_load1 - t_load0:.2f}s, "
          f"first 1 s call {t_first - t_load1:.2f}s)", flush=True)

    # ---- warm timings ----------------------------------------------------------------
    cases = [(1, float(s)) for s in args.lengths.split(",") if s.strip()]
    if args.batch8 > 0:
        cases.append((8, args.batch8))
    modes = [False, True] if args.bf16 else [False]
    with torch.inference_mode():
        for bf16 in modes:
            for batch, seconds in cases:
                audio = synth(seconds, batch, seed=2)
                times, out = run_case(model, args.label, audio, args.warmup, args.repeats, bf16)
                st = stats(times)
                case = {
                    "name": f"b{batch}_{seconds:g}s" + ("_bf16" if bf16 else ""),
                    "batch": batch,
                    "seconds": seconds,
                    "samples": audio.shape[1],
                    "dtype": "bf16-autocast" if bf16 else "fp32",
                    **st,
                    "rtf_median": st["median_s"] / (batch * seconds),
                    "audio_seconds_per_second": (batch * seconds) / st["median_s"],
                    "peak_rss_mb_so_far": peak_rss_mb(),
                }
                if bf16:
                    ref = model(audio, args.label).float()
                    cos = torch.nn.functional.cosine_similarity(out.float(), ref, dim=1)
                    case["cosine_vs_fp32_min"] = float(cos.min())
                    case["max_abs_diff_vs_fp32"] = float((out.float() - ref).abs().max())
                result["cases"].append(case)
                print(f"{case['name']:>14}: median {st['median_s']:.4f}s  [min {st['min_s']:.4f}, "
                      f"max {st['max_s']:.4f}, IQR {st['q1_s']:.4f}-{st['q3_s']:.4f}]  "
                      f"RTF {case['rtf_median']:.4f}  rss {case['peak_rss_mb_so_far']:.0f} MB", flush=True)

    result["peak_rss_mb"] = peak_rss_mb()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    print(f"peak RSS {result['peak_rss_mb']:.0f} MB -> {args.out}")


if __name__ == "__main__":
    main()
