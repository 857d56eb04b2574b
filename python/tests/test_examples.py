"""The Python examples run as documented and print what the API computes (1e-6)."""

import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import ecapa2
from conftest import FIXTURES, ROOT

EXAMPLES = ROOT / "python" / "examples"
MODEL = FIXTURES / "tiny" / "model.pt"
A, B = FIXTURES / "audio" / "speech_16k.wav", FIXTURES / "audio" / "speech2_16k.wav"


def run(*args):
    proc = subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_verify_prints_the_cosine_of_the_two_embeddings():
    model = ecapa2.Ecapa2.load(MODEL)
    a, b = model.embed_file(A), model.embed_file(B)
    want = float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))
    out = run(EXAMPLES / "verify.py", MODEL, A, B, "--threshold", str(want - 0.01))
    score = float(re.search(r"score (\S+)", out).group(1))
    assert abs(score - want) <= 1e-6 and "same speaker" in out


def test_hierarchical_features_saves_each_block(tmp_path):
    model = ecapa2.Ecapa2.load(MODEL)
    audio, _ = ecapa2.load_audio(A)
    out = tmp_path / "feats.npz"
    run(EXAMPLES / "hierarchical_features.py", MODEL, A, "--label", "embedding|gfe_1", "-o", out)
    saved = np.load(out)
    assert list(saved.keys()) == ["gfe_1", "embedding"]  # network order
    np.testing.assert_allclose(np.concatenate([saved["gfe_1"], saved["embedding"]]), model(audio, label="gfe_1|embedding"), rtol=0, atol=1e-6)


def test_ray_binary_files_embeds_a_folder_past_a_corrupt_file(tmp_path):
    pytest.importorskip("ray")
    folder = tmp_path / "in"
    folder.mkdir()
    for f in (A, B):
        shutil.copy(f, folder / f.name)
    (folder / "corrupt.flac").write_bytes(b"fLaC but nothing else")
    out = run(EXAMPLES / "ray_binary_files.py", MODEL, folder, tmp_path / "out", "--actors", "2")
    assert "3 files, 1 failed" in out and "corrupt.flac" in out
    import pyarrow.dataset as pads

    rows = pads.dataset(tmp_path / "out", format="parquet").to_table().to_pylist()
    model = ecapa2.Ecapa2.load(MODEL)
    for row in rows:
        if row["path"].endswith(".wav"):
            assert row["error"] == ""
            np.testing.assert_allclose(np.asarray(row["embedding"], np.float32), model.embed_file(row["path"]), rtol=0, atol=1e-6)
