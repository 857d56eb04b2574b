#!/usr/bin/env python3
"""Silero VAD speed: our native network (crates/ecapa2-vad) vs onnxruntime running the
silero-vad wheel's `silero_vad.onnx`, one thread each, same file, same machine, same run.

    bench/vad_bench.py [--python /work/venvs/vad/bin/python] [--minutes 30] [--repeats 3]
                       [--out-dir bench/out/vad] [--result bench/results/DATE-vad.json]

1. makes a 16 kHz file of --minutes by concatenating real speech (pyannote's sample.wav, 30 s
   of two people talking, then the two espeak fixtures), over and over;
2. builds and runs `cargo run --release -p ecapa2-vad --example vad_bench` (ours), then this
   script with --ort in the --python venv (onnxruntime, intra- and inter-op threads = 1, driven
   chunk by chunk exactly as the wheel's OnnxWrapper does, with numpy only), each in its own
   process wrapped by bench/measure.py (which records how busy the rest of the machine was);
   then (same process, timed once) the wheel's own `get_speech_timestamps` with
   `load_silero_vad(onnx=True)`, the path its users call (torch tensors around each call);
3. compares the two probability sequences (max |difference|), the segments the wheel's
   `get_speech_timestamps_from_probs` makes of each, and ours with the wheel's
   `get_speech_timestamps` output, and writes everything to --result.
The --python venv needs `silero-vad onnxruntime soundfile` (see reference/make_vad_goldens.py).
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPEECH = ["tests/fixtures/diarization/sample.wav", "tests/fixtures/audio/speech_16k.wav",
          "tests/fixtures/audio/speech2_16k.wav"]


def ort_main(path, repeats, probs_out):
    """Times onnxruntime on `path` (runs inside the --python venv)."""
    from importlib import resources

    import numpy as np
    import onnxruntime as ort
    import soundfile as sf

    x, sr = sf.read(path, dtype="float32")
    assert sr == 16000
    model = str(resources.files("silero_vad.data").joinpath("silero_vad.onnx"))
    t = time.perf_counter()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"], sess_options=opts)
    load_s = time.perf_counter() - t
    padded = np.pad(x, (0, -len(x) % 512))[None]
    rate = np.array(16000, dtype=np.int64)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        state = np.zeros((2, 1, 128), np.float32)
        ctx = np.zeros((1, 64), np.float32)
        probs = np.empty(padded.shape[1] // 512, np.float32)
        for j in range(len(probs)):
            inp = np.concatenate([ctx, padded[:, j * 512:(j + 1) * 512]], axis=1)
            out, state = sess.run(None, {"input": inp, "state": state, "sr": rate})
            probs[j] = out[0, 0]
            ctx = inp[:, -64:]
        times.append(time.perf_counter() - t)
    probs.astype("<f4").tofile(probs_out)
    # The wheel's own path, as its users call it: get_speech_timestamps with the ONNX model
    # (OnnxWrapper: torch tensors around each onnxruntime call, torch at one thread).
    import torch
    from silero_vad import get_speech_timestamps, load_silero_vad

    torch.set_num_threads(1)
    wheel_model = load_silero_vad(onnx=True)
    t = time.perf_counter()
    segments = get_speech_timestamps(torch.from_numpy(x), wheel_model)
    wheel_s = time.perf_counter() - t
    with open(probs_out + ".segments.json", "w") as f:
        json.dump([[s["start"], s["end"]] for s in segments], f)
    print(json.dumps({"engine": "onnxruntime " + ort.__version__, "audio_s": len(x) / 16000,
                      "chunks": len(probs), "load_s": load_s, "vad_s": times,
                      "rtf": min(times) / (len(x) / 16000),
                      "get_speech_timestamps_s": wheel_s,
                      "get_speech_timestamps_rtf": wheel_s / (len(x) / 16000)}))


def make_audio(py, path, minutes):
    code = f"""
import numpy as np, soundfile as sf
parts = [sf.read(p, dtype='int16')[0] for p in {[os.path.join(ROOT, s) for s in SPEECH]!r}]
out, n, want = [], 0, {minutes} * 60 * 16000
while n < want:
    for p in parts:
        out.append(p); n += len(p)
sf.write({path!r}, np.concatenate(out)[:want], 16000, subtype='PCM_16')
"""
    subprocess.run([py, "-c", code], check=True)


def run_measured(cmd, out_json):
    r = subprocess.run([sys.executable, os.path.join(ROOT, "bench/measure.py"), "--out", out_json,
                        "--"] + cmd, check=True, capture_output=True, text=True)
    sys.stderr.write(r.stderr)
    line = [ln for ln in r.stdout.splitlines() if ln.startswith("{")][-1]
    with open(out_json) as f:
        return json.loads(line), json.load(f)


def compare(py, audio, ours_f32, ort_f32):
    code = f"""
import json, numpy as np, soundfile as sf
from silero_vad import get_speech_timestamps_from_probs
n = sf.info({audio!r}).frames
a, b = np.fromfile({ours_f32!r}, '<f4'), np.fromfile({ort_f32!r}, '<f4')
sa = get_speech_timestamps_from_probs(a.tolist(), audio_length_samples=n)
sb = get_speech_timestamps_from_probs(b.tolist(), audio_length_samples=n)
wheel = json.load(open({ort_f32!r} + ".segments.json"))
print(json.dumps({{"max_abs_prob_diff": float(np.abs(a - b).max()), "segments_ours": len(sa),
                   "segments_ort": len(sb), "segments_identical": sa == sb,
                   "ours_equal_wheel_get_speech_timestamps":
                       [[s["start"], s["end"]] for s in sa] == wheel}}))
"""
    return json.loads(subprocess.run([py, "-c", code], check=True, capture_output=True,
                                      text=True).stdout)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--python", default="/work/venvs/vad/bin/python")
    p.add_argument("--minutes", type=float, default=30)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out-dir", default=os.path.join(ROOT, "bench/out/vad"))
    p.add_argument("--result", default=None)
    p.add_argument("--ort", nargs=3, metavar=("FILE", "REPEATS", "PROBS_OUT"), help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.ort:
        return ort_main(a.ort[0], int(a.ort[1]), a.ort[2])

    os.makedirs(a.out_dir, exist_ok=True)
    audio = os.path.join(a.out_dir, f"speech_{a.minutes:g}min.wav")
    if not os.path.exists(audio):
        make_audio(a.python, audio, a.minutes)
    subprocess.run(["cargo", "build", "--release", "--locked", "-p", "ecapa2-vad", "--example",
                    "vad_bench"], cwd=ROOT, check=True)
    exe = os.path.join(ROOT, "target/release/examples/vad_bench")
    ours_f32, ort_f32 = os.path.join(a.out_dir, "ours.f32"), os.path.join(a.out_dir, "ort.f32")
    ours, ours_m = run_measured([exe, audio, str(a.repeats), ours_f32], os.path.join(a.out_dir, "ours.json"))
    ort, ort_m = run_measured([a.python, os.path.abspath(__file__), "--ort", audio, str(a.repeats), ort_f32],
                              os.path.join(a.out_dir, "ort.json"))
    cmp = compare(a.python, audio, ours_f32, ort_f32)
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    result = {
        "date": datetime.date.today().isoformat(), "commit": commit, "cpu": cpu,
        "cores": os.cpu_count(), "platform": platform.platform(), "threads": 1,
        "kernel_path": "encoder as GEMMs over blocks of 256 chunks (ecapa2-kernels matmul -> gemm "
                       "crate, runtime SIMD dispatch, Threads::Single); LSTM and head plain Rust",
        "ours": ours, "ours_process": ours_m, "onnxruntime": ort, "onnxruntime_process": ort_m,
        "speedup_vs_onnxruntime": min(ort["vad_s"]) / min(ours["vad_s"]), "agreement": cmp,
    }
    out = a.result or os.path.join(ROOT, f"bench/results/{result['date']}-vad.json")
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    print(json.dumps({k: result[k] for k in ("cpu", "speedup_vs_onnxruntime", "agreement")}, indent=1))
    print(f"ours RTF {ours['rtf']:.5f}, onnxruntime RTF {ort['rtf']:.5f} -> {out}")


if __name__ == "__main__":
    main()
