"""The installed package and `ecapa2` command against the source build, on every fixture.

tests/run-all.sh installs the library and command-line wheels into a virtual environment whose
PATH has no cargo or rustc, sets ECAPA2_CLI to the wheel's `ecapa2` and ECAPA2_SOURCE_CLI to
the binary `cargo test` built from this checkout: then every output of the wheels (all labels,
every test archive on every decodable audio fixture and on its golden inputs) must equal the
source build's within 1e-6.
"""

import importlib.metadata
import os
import pathlib
import re
import struct
import subprocess

import ecapa2
import numpy as np
import pytest
from conftest import FIXTURES, LABELS, ROOT, cli_embeddings

ALL_LABELS = "|".join(LABELS)
MODELS = ("tiny", "tiny-fwse", "tiny-variant", "small")
AUDIO = (
    "speech_16k.wav",
    "speech2_16k.wav",
    "speech_16k.flac",
    "speech_16k.mp3",
    "speech_16k.ogg",
    "speech_16k_f32.wav",
    "speech_16k_s24.wav",
    "speech_16k_s32.wav",
    "speech_16k_u8.wav",
    "stereo_44k.wav",
)
ATOL = 1e-6


@pytest.fixture(scope="session")
def source_cli():
    path = os.environ.get("ECAPA2_SOURCE_CLI") or str(ROOT / "target/debug/ecapa2")
    if not pathlib.Path(path).is_file():
        pytest.skip(f"no source build of the CLI at {path} (cargo test builds it; or set ECAPA2_SOURCE_CLI)")
    return path


def write_f32_wav(path, samples):
    """A 16 kHz mono IEEE-float WAV (format tag 3) holding exactly `samples`."""
    data = np.asarray(samples, "<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, 16000, 16000 * 4, 4, 32)
    path.write_bytes(
        b"RIFF" + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(data)) + b"WAVE"
        + b"fmt " + struct.pack("<I", len(fmt)) + fmt
        + b"data" + struct.pack("<I", len(data)) + data
    )


@pytest.fixture(scope="session")
def golden_inputs(tmp_path_factory):
    """Each test archive's golden input arrays, one f32 WAV per row: {model: [paths]}."""
    out = tmp_path_factory.mktemp("golden-inputs")
    files = {}
    for model in MODELS:
        files[model] = []
        for npy in sorted((FIXTURES / model / "golden").glob("*.audio.npy")):
            audio = np.load(npy)
            for row, samples in enumerate(audio.reshape(-1, audio.shape[-1])):
                path = out / f"{model}-{npy.name[: -len('.audio.npy')]}-{row}.wav"
                write_f32_wav(path, samples)
                files[model].append(path)
    return files


@pytest.mark.parametrize("model_name", MODELS)
def test_outputs_equal_the_source_build(model_name, cli, source_cli, golden_inputs):
    model_path = FIXTURES / model_name / "model.pt"
    files = [FIXTURES / "audio" / f for f in AUDIO] + golden_inputs[model_name]
    want = cli_embeddings(source_cli, model_path, files, label=ALL_LABELS)
    got_cli = cli_embeddings(cli, model_path, files, label=ALL_LABELS)
    model = ecapa2.Ecapa2.load(model_path)
    assert set(want) == {str(f) for f in files}, "the source build failed some inputs"
    assert set(got_cli) == set(want)
    for f in files:
        reference = want[str(f)]
        assert reference.shape == (model.dim(ALL_LABELS),)
        np.testing.assert_allclose(got_cli[str(f)], reference, rtol=0, atol=ATOL, err_msg=f"CLI, {f}")
        from_api = model.embed_file(f, label=ALL_LABELS)
        np.testing.assert_allclose(from_api, reference, rtol=0, atol=ATOL, err_msg=f"Python, {f}")


def test_both_packages_carry_the_workspace_version(cli):
    cargo = (ROOT / "Cargo.toml").read_text()
    version = re.search(r'\[workspace\.package\][^\[]*?\nversion = "([^"]+)"', cargo).group(1)
    out = subprocess.run([cli, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"ecapa2 {version}"
    assert ecapa2.__version__ == importlib.metadata.version("ecapa2") == version
    try:  # the command-line wheel's metadata, where it is the one installed
        assert importlib.metadata.version("ecapa2-cli") == version
    except importlib.metadata.PackageNotFoundError:
        pass
