"""`Ecapa2.diarize`: the same turns as `ecapa2 diarize` on the same file and model, the
speaker-count arguments, and clear errors. (The tiny random-weight model: speaker identity
means nothing here; the pipeline's accuracy is tested with oracle embeddings in Rust.)"""

import json
import subprocess

import numpy as np
import pytest

import ecapa2

SAMPLE = "diarization/sample.wav"


@pytest.fixture(scope="module")
def model(fixtures):
    return ecapa2.Ecapa2.load(fixtures / "tiny" / "model.pt", threads=2)


def test_turns_equal_the_cli(model, fixtures, cli, tmp_path):
    out = tmp_path / "out.json"
    subprocess.run(
        [cli, "--quiet", "--threads", "2", "diarize", "--model", str(fixtures / "tiny" / "model.pt"),
         "--num-speakers", "2", str(fixtures / SAMPLE), "-o", str(out)],
        check=True,
    )
    want = json.loads(out.read_text())["files"][0]["segments"]
    got = model.diarize(fixtures / SAMPLE, num_speakers=2)
    assert [(t.start, t.end, t.speaker) for t in got] == [(w["start"], w["end"], w["speaker"]) for w in want]
    assert {t.speaker for t in got} == {"SPEAKER_00", "SPEAKER_01"}
    # Samples in memory give the same turns as the path.
    audio, sr = ecapa2.load_audio(fixtures / SAMPLE)
    assert sr == 16000
    assert model.diarize(audio, num_speakers=2) == got


def test_counts_and_outputs(model, fixtures):
    audio, _ = ecapa2.load_audio(fixtures / SAMPLE)
    turns = model.diarize(audio, max_speakers=1)
    assert {t.speaker for t in turns} == {"SPEAKER_00"}
    for t in turns:
        assert isinstance(t, ecapa2.Turn) and t.end > t.start
    assert turns == sorted(turns, key=lambda t: (t.start, t.end, t.speaker))
    excl = model.diarize(audio, num_speakers=3, clustering="ahc", exclusive=True)
    assert all(a.end <= b.start for a, b in zip(excl, excl[1:]))
    assert len({t.speaker for t in excl}) == 3


def test_silence_and_bad_arguments(model):
    assert model.diarize(np.zeros(16000 * 3, np.float32)) == []
    with pytest.raises(ValueError, match="larger than max_speakers"):
        model.diarize(np.zeros(16000, np.float32), min_speakers=3, max_speakers=2)
    with pytest.raises(ValueError, match="at least 1"):
        model.diarize(np.zeros(16000, np.float32), num_speakers=0)
    with pytest.raises(ValueError, match="shape"):
        model.diarize(np.zeros((2, 16000), np.float32))
    with pytest.raises(ValueError, match="clustering"):
        model.diarize(np.zeros(16000, np.float32), clustering="kmeans")
    with pytest.raises(FileNotFoundError):
        model.diarize("missing.wav")
