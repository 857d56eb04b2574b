"""Goldens for crates/ecapa2-vad: per-chunk speech probabilities from silero-vad's own
`silero_vad.onnx` run by onnxruntime (through the wheel's OnnxWrapper), and speech timestamps
from the wheel's `get_speech_timestamps` on those same probabilities, for several option sets.

Recipe (outside the repository; torch comes with silero-vad from PyPI):
    python3 -m venv /work/venvs/vad
    /work/venvs/vad/bin/pip install silero-vad==6.2.3 onnxruntime soundfile
    /work/venvs/vad/bin/python reference/make_vad_goldens.py
Writes crates/ecapa2-vad/tests/goldens/{vad_goldens.json,noise_mix_16k.wav}.
"""
import json
import os

import numpy as np
import soundfile as sf
import torch
import silero_vad
from silero_vad import get_speech_timestamps, load_silero_vad

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "crates/ecapa2-vad/tests/goldens")

# Option sets: defaults, then each branch of the segmentation (hysteresis, long-segment cuts
# at the longest or the last silence, gap halving in padding, no padding).
OPTIONS = {
    "default": {},
    "strict": dict(threshold=0.6, neg_threshold=0.3, min_speech_duration_ms=100,
                   min_silence_duration_ms=300, speech_pad_ms=60),
    "max2s": dict(max_speech_duration_s=2.0),
    "max2s_last_silence": dict(max_speech_duration_s=2.0, use_max_poss_sil_at_max_speech=False,
                               min_silence_at_max_speech=50),
    "loose_wide_pad": dict(threshold=0.3, min_silence_duration_ms=0, speech_pad_ms=200,
                           min_speech_duration_ms=0),
    "max1s_no_pad": dict(max_speech_duration_s=1.0, speech_pad_ms=0, min_silence_duration_ms=50),
}


class Recording:
    """Passes chunks to the ONNX model and keeps each probability it returns."""

    def __init__(self, model):
        self.model, self.probs = model, []

    def reset_states(self):
        self.model.reset_states()
        self.probs = []

    def __call__(self, x, sr):
        out = self.model(x, sr)
        self.probs.append(float(out.item()))
        return out


def load(path):
    x, sr = sf.read(path, dtype="float32")
    assert sr == 16000 and x.ndim == 1, path
    return x


def random_segmentation_cases(n=60):
    """Random bursty probability sequences (f32 values, some exactly at f32(threshold) and
    f32(neg_threshold)) with random options, segmented by the wheel's
    get_speech_timestamps_from_probs: every branch of the state machine, many times."""
    from silero_vad import get_speech_timestamps_from_probs

    rng = np.random.default_rng(2121)
    cases = []
    for _ in range(n):
        length = int(rng.integers(1, 300))
        opts = {}
        if rng.random() < 0.7:
            opts["threshold"] = round(float(rng.uniform(0.2, 0.8)), 2)
        if rng.random() < 0.3:
            opts["neg_threshold"] = round(float(rng.uniform(0.05, opts.get("threshold", 0.5))), 2)
        if rng.random() < 0.6:
            opts["max_speech_duration_s"] = round(float(rng.uniform(0.3, 4.0)), 2)
        for k, hi in (("min_speech_duration_ms", 500), ("min_silence_duration_ms", 400),
                      ("speech_pad_ms", 300), ("min_silence_at_max_speech", 200)):
            if rng.random() < 0.5:
                opts[k] = int(rng.integers(0, hi))
        if rng.random() < 0.3:
            opts["use_max_poss_sil_at_max_speech"] = False
        thr = opts.get("threshold", 0.5)
        neg = opts.get("neg_threshold", max(thr - 0.15, 0.01))
        # Runs of speech-like or silence-like values, with boundary values sprinkled in.
        probs, speech = [], bool(rng.random() < 0.5)
        while len(probs) < length:
            run = int(rng.geometric(0.15))
            lo, hi = (thr - 0.1, 1.0) if speech else (0.0, neg + 0.1)
            vals = rng.uniform(max(lo, 0.0), min(hi, 1.0), run).astype(np.float32)
            edge = rng.random(run) < 0.1
            vals[edge] = rng.choice(np.float32([thr, neg]), int(edge.sum()))
            probs.extend(float(v) for v in vals)
            speech = not speech
        probs = probs[:length]
        samples = length * 512 - int(rng.integers(0, 512))
        ts = get_speech_timestamps_from_probs(probs, audio_length_samples=samples, **opts)
        cases.append({"probabilities": probs, "samples": samples, "options": opts,
                      "timestamps": [[s["start"], s["end"]] for s in ts]})
    return cases


def main():
    os.makedirs(OUT, exist_ok=True)
    # Not speech: 1.5 s of silence, 2 s of white noise, 1 s of a 300 Hz hum, then the speech
    # fixture, then 100 samples (so the length is no multiple of 512). PCM16 so the Rust side
    # reads the same samples.
    rng = np.random.default_rng(21)
    speech = load(os.path.join(ROOT, "tests/fixtures/audio/speech_16k.wav"))
    t = np.arange(16000) / 16000
    mix = np.concatenate([
        np.zeros(24000), 0.1 * rng.standard_normal(32000), 0.3 * np.sin(2 * np.pi * 300 * t),
        speech, 0.05 * rng.standard_normal(100),
    ])
    mix_path = os.path.join(OUT, "noise_mix_16k.wav")
    sf.write(mix_path, np.clip(mix, -1, 1), 16000, subtype="PCM_16")

    inputs = {
        "diarization/sample.wav": os.path.join(ROOT, "tests/fixtures/diarization/sample.wav"),
        "audio/speech_16k.wav": os.path.join(ROOT, "tests/fixtures/audio/speech_16k.wav"),
        "audio/speech2_16k.wav": os.path.join(ROOT, "tests/fixtures/audio/speech2_16k.wav"),
        "goldens/noise_mix_16k.wav": mix_path,
    }
    model = Recording(load_silero_vad(onnx=True))
    jit = load_silero_vad(onnx=False)
    cases = []
    for name, path in inputs.items():
        audio = torch.from_numpy(load(path))
        case = {"input": name, "samples": len(audio), "timestamps": {}}
        for opt_name, opts in OPTIONS.items():
            ts = get_speech_timestamps(audio, model, **opts)
            case["timestamps"][opt_name] = [[s["start"], s["end"]] for s in ts]
            if "probabilities" in case:
                assert case["probabilities"] == model.probs
            case["probabilities"] = list(model.probs)
        # For the record: how far the jit model is from the ONNX one on this input.
        jit_probs = jit.audio_forward(audio[None], 16000)[0].numpy()
        case["jit_vs_onnx_max_abs"] = float(np.abs(jit_probs - np.array(case["probabilities"])).max())
        print(f"{name}: {len(case['probabilities'])} chunks, default segments "
              f"{case['timestamps']['default']}, jit vs onnx {case['jit_vs_onnx_max_abs']:.2e}")
        cases.append(case)
    golden = {
        "source": f"silero-vad {silero_vad.__version__}, silero_vad.onnx via onnxruntime",
        "options": OPTIONS,
        "cases": cases,
        "random_segmentation": random_segmentation_cases(),
    }
    segs = [len(c["timestamps"]) for c in golden["random_segmentation"]]
    print(f"random segmentation: {len(segs)} cases, {sum(segs)} segments, {segs.count(0)} empty")
    with open(os.path.join(OUT, "vad_goldens.json"), "w") as f:
        json.dump(golden, f, separators=(",", ":"))


if __name__ == "__main__":
    main()
