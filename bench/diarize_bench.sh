#!/usr/bin/env bash
# Diarization speed: real-time factor on 2 threads for a 30-minute file of real speech (the
# committed fixtures' speech concatenated), split into VAD, embeddings and clustering, with the
# kernel path the engine reports. Usage: bench/diarize_bench.sh [MODEL.pt] (default: the
# Winograd-width test archive tests/fixtures/small/model.pt; the official ecapa2.pt for numbers
# worth quoting).
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL="${1:-tests/fixtures/small/model.pt}"
OUT="${TMPDIR:-/tmp}/ecapa2-diarize-bench-30min.wav"
python3 - "$OUT" <<'PY'
import sys, wave
parts = ["tests/fixtures/diarization/sample.wav", "tests/fixtures/audio/speech2_16k.wav"]
frames = b""
for p in parts:
    with wave.open(p) as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1 and w.getsampwidth() == 2, p
        frames += w.readframes(w.getnframes())
target = 30 * 60 * 16000 * 2
data = (frames * (target // len(frames) + 1))[:target]
with wave.open(sys.argv[1], "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(16000); w.writeframes(data)
PY
cargo run --release --locked -q -p ecapa2-diarize --features silero --example diarize_bench -- "$MODEL" "$OUT" 2
