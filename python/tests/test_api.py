"""The Python API against the committed fixtures' PyTorch goldens, its inputs, errors and
threads (relative L2 ≤ 1e-4 per feature block, as the Rust parity suite)."""

import json
import os
import threading

import numpy as np
import pytest

import ecapa2
from conftest import FIXTURES, LABELS, cli_embeddings, rel_l2

TOLERANCE = 1e-4


def golden(name, case, file):
    return np.load(FIXTURES / name / "golden" / f"{case}.{file}.npy")


def cases(name):
    manifest = json.loads((FIXTURES / name / "golden" / "manifest.json").read_text())
    return [c["name"] for c in manifest["cases"]]


@pytest.fixture(scope="module", params=["tiny", "small"])
def fixture_model(request):
    return request.param, ecapa2.Ecapa2.load(FIXTURES / request.param / "model.pt", threads=2)


def test_every_label_matches_pytorch(fixture_model):
    name, model = fixture_model
    files = [(l, l) for l in LABELS] + [("all", "|".join(LABELS)), ("reorder", "embedding|gfe_1|pool")]
    for case in cases(name):
        audio = golden(name, case, "audio")
        for file, label in files:
            want = golden(name, case, file)
            got = model(audio, label=label)  # (B, N) -> (B, D), like the TorchScript model
            assert got.shape == want.shape and got.dtype == np.float32
            offset = 0
            for block in [l for l in LABELS if l in label.split("|")]:
                width = model.dim(block)
                for row in range(audio.shape[0]):
                    err = rel_l2(got[row, offset:offset + width], want[row, offset:offset + width])
                    assert err <= TOLERANCE, f"{name}/{case}/{file} row {row} {block}: {err:.2e}"
                offset += width
            assert offset == model.dim(label)


def test_shapes_and_input_kinds():
    model = ecapa2.Ecapa2.load(FIXTURES / "tiny" / "model.pt")
    audio = golden("tiny", "batch2_len12345", "audio")
    two = model(audio)
    assert two.shape == (2, model.dim())
    one = model(audio[1])
    assert one.shape == (model.dim(),)
    np.testing.assert_array_equal(one, two[1])
    # Lists, float64 and non-contiguous views give the same values.
    np.testing.assert_array_equal(model(audio[1].tolist()), one)
    np.testing.assert_array_equal(model(audio[1].astype(np.float64)), one)
    strided = np.repeat(audio[1], 2)[::2]
    np.testing.assert_array_equal(model(strided), one)
    # int16 is scaled by 1/32768 and int32 by 1/2**31, as torchaudio and soundfile load PCM.
    pcm = np.round(audio[1] * 32767).astype(np.int16)
    np.testing.assert_array_equal(model(pcm), model(pcm.astype(np.float32) / 32768.0))
    pcm32 = np.round(audio[1] * (2**31 - 1)).astype(np.int32)
    np.testing.assert_array_equal(model(pcm32), model((pcm32 / 2.0**31).astype(np.float32)))
    # float16 widens exactly; another byte order is the same samples.
    half = audio[1].astype(np.float16)
    np.testing.assert_array_equal(model(half), model(half.astype(np.float32)))
    np.testing.assert_array_equal(model(audio[1].astype(">f4")), one)


def test_torch_tensors_if_installed():
    torch = pytest.importorskip("torch")
    model = ecapa2.Ecapa2.load(FIXTURES / "tiny" / "model.pt")
    audio = golden("tiny", "len8037", "audio")
    np.testing.assert_array_equal(model(torch.from_numpy(audio)), model(audio))
    # What a `.half()` pipeline hands over: 16-bit floats, widened exactly.
    for dtype in (torch.float16, torch.bfloat16):
        low = torch.from_numpy(audio).to(dtype)
        np.testing.assert_array_equal(model(low), model(low.float().numpy()))


def test_batch_of_mixed_lengths_equals_single_calls():
    model = ecapa2.Ecapa2.load(FIXTURES / "small" / "model.pt", threads=2)
    a = golden("small", "len48000", "audio")[0]
    b = golden("small", "len8037", "audio")[0]
    items = [a, b[:4000], a[1000:17000], b]
    out = model.batch(items, label="gfe_1|embedding")
    assert out.shape == (4, model.dim("gfe_1|embedding"))
    for row, item in zip(out, items):
        np.testing.assert_array_equal(row, model(item, label="gfe_1|embedding"))


def test_attributes():
    model = ecapa2.Ecapa2.load(FIXTURES / "small" / "model.pt", threads=1)
    assert model.sample_rate == 16000
    assert model.min_samples == 321
    assert model.threads == 1
    assert model.precision == "f32"
    assert model.device == "cpu"
    assert "winograd" in model.backend
    # f16 is the GPU backends' mode: the CPU runs (and reports) f32.
    half = ecapa2.Ecapa2.load(FIXTURES / "tiny" / "model.pt", threads=1, precision="f16", device="cpu")
    assert (half.precision, half.device) == ("f32", "cpu")
    assert model.dim("gfe_1|pool") == 2 * 128 + 2 * 192


def test_errors():
    model = ecapa2.Ecapa2.load(FIXTURES / "tiny" / "model.pt")
    with pytest.raises(ValueError, match="at least 321"):
        model(np.zeros(100, np.float32))
    bad = np.zeros(4000, np.float32)
    bad[7] = np.nan
    with pytest.raises(ValueError, match="sample 7"):
        model(bad)
    bad[7] = 1e18  # finite, but not audio: refused like a file holding it (was NaN output)
    with pytest.raises(ValueError, match="sample 7 is 1e18, beyond"):
        model(bad)
    with pytest.raises(ValueError, match="gfe_1, gfe_2, pool, attention, embedding"):
        model(np.zeros(4000, np.float32), label="gfe_1|lfe_2")
    with pytest.raises(ValueError, match="shape"):
        model(np.zeros((2, 2, 4000), np.float32))
    with pytest.raises(ValueError, match="dtype"):
        model(np.zeros(4000, np.uint8))
    with pytest.raises(ValueError, match="batch row 1"):
        model.batch([np.zeros(4000, np.float32), np.zeros(10, np.float32)])
    with pytest.raises(FileNotFoundError):
        ecapa2.Ecapa2.load(FIXTURES / "no-such.pt")
    with pytest.raises(FileNotFoundError):
        model.embed_file(FIXTURES / "audio" / "no-such.wav")
    # The OSError subclasses open() raises, whichever call opens the file.
    with pytest.raises(IsADirectoryError):
        model.embed_file(FIXTURES / "audio")
    with pytest.raises(IsADirectoryError):
        ecapa2.load_audio(FIXTURES / "audio")
    with pytest.raises(IsADirectoryError):
        ecapa2.Ecapa2.load(FIXTURES / "tiny")
    with pytest.raises(ValueError, match="unsupported|corrupt"):
        model.embed_file(FIXTURES / "audio" / "not_audio.wav")
    for broken in ("truncated.pt", "missing_tensor.pt", "wrong_shape.pt"):
        with pytest.raises(ecapa2.Ecapa2Error):
            ecapa2.Ecapa2.load(FIXTURES / "broken" / broken)
    with pytest.raises(ValueError, match="precision"):
        ecapa2.Ecapa2.load(FIXTURES / "tiny" / "model.pt", precision="f8")
    with pytest.raises(ValueError, match="device"):
        ecapa2.Ecapa2.load(FIXTURES / "tiny" / "model.pt", device="tpu")
    for threads in (0, -1, 1.5, "2"):
        with pytest.raises(ValueError, match="threads"):
            ecapa2.Ecapa2.load(FIXTURES / "tiny" / "model.pt", threads=threads)
    assert ecapa2.Ecapa2.load(FIXTURES / "tiny" / "model.pt", threads=np.int64(2)).threads == 2
    # One utterance's errors name no batch row; a batch's name the row.
    for audio in (np.zeros(0, np.float32), np.zeros((1, 100), np.float32)):
        with pytest.raises(ValueError, match="^audio has 0 samples|^audio has 100 samples"):
            model(audio)
    with pytest.raises(ValueError, match="^batch row 1: audio sample 3 is inf"):
        model(np.stack([np.full(4000, 0.1, np.float32), np.where(np.arange(4000) == 3, np.inf, 0.1).astype(np.float32)]))
    with pytest.raises(ValueError, match="empty"):
        model.embed_bytes(b"", name="zero.wav")
    import pickle

    with pytest.raises(TypeError, match="send workers the archive"):
        pickle.dumps(model)


def test_concurrent_calls_from_threads_equal_sequential():
    model = ecapa2.Ecapa2.load(FIXTURES / "small" / "model.pt", threads=2)
    audio = [golden("small", c, "audio")[0] for c in ("len4000", "len8037", "len16000")]
    want = [model(a, label="gfe_2|embedding") for a in audio]
    failures = []

    def work(t):
        for k in range(6):
            i = (k + t) % len(audio)
            got = model(audio[i], label="gfe_2|embedding")
            if not np.array_equal(got, want[i]):
                failures.append((t, i))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures


def test_load_audio_and_embed_file_match_the_cli(cli):
    model_path = FIXTURES / "tiny" / "model.pt"
    model = ecapa2.Ecapa2.load(model_path)
    files = [FIXTURES / "audio" / f for f in ("speech_16k.flac", "stereo_44k.wav", "speech_16k.mp3")]
    from_cli = cli_embeddings(cli, model_path, files)
    for f in files:
        audio, sr = ecapa2.load_audio(f)
        assert sr == 16000 and audio.dtype == np.float32 and audio.ndim == 1
        by_array = model(audio)
        np.testing.assert_array_equal(model.embed_file(f), by_array)
        np.testing.assert_array_equal(model.embed_file(os.fsencode(f)), by_array)  # bytes paths
        np.testing.assert_array_equal(model.embed_bytes(f.read_bytes(), name=str(f)), by_array)
        np.testing.assert_allclose(by_array, from_cli[str(f)], rtol=0, atol=1e-6)


def test_environment_sets_defaults(monkeypatch):
    monkeypatch.setenv("ECAPA2_NUM_THREADS", "1")
    assert ecapa2.Ecapa2.load(FIXTURES / "tiny" / "model.pt").threads == 1
    monkeypatch.setenv("ECAPA2_MAX_MEMORY", "lots")
    with pytest.raises(ValueError, match="ECAPA2_MAX_MEMORY"):
        ecapa2.Ecapa2.load(FIXTURES / "tiny" / "model.pt")


def test_from_bytes_reads_every_kind_of_buffer_like_a_file():
    """`bytes` and read-only uint8 arrays (what `ray.get` returns for an array in the object
    store) are read in place; writeable arrays and other buffers are copied first. Every
    kind gives the file's model exactly, and none is kept once the model is bound."""
    import mmap
    import sys

    path = FIXTURES / "small" / "model.pt"
    audio = golden("small", cases("small")[0], "audio")
    want = ecapa2.Ecapa2.load(path, threads=1)(audio)
    raw = path.read_bytes()
    read_only = np.frombuffer(raw, dtype=np.uint8)
    assert not read_only.flags.writeable
    writeable = np.frombuffer(bytearray(raw), dtype=np.uint8)
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        for data in (raw, read_only, writeable, bytearray(raw), memoryview(raw), mapped):
            before = sys.getrefcount(data)
            got = ecapa2.Ecapa2.from_bytes(data, threads=1)(audio)
            np.testing.assert_array_equal(got, want, err_msg=type(data).__name__)
            assert sys.getrefcount(data) == before, f"{type(data).__name__} kept by the model"
    # An array of another shape or dtype stands for its bytes in order.
    np.testing.assert_array_equal(ecapa2.Ecapa2.from_bytes(read_only.reshape(1, -1), threads=1)(audio), want)
    with pytest.raises((TypeError, ValueError)):
        ecapa2.Ecapa2.from_bytes(12345)
    with pytest.raises(ecapa2.Ecapa2Error):
        ecapa2.Ecapa2.from_bytes(np.frombuffer(raw[: len(raw) // 2], dtype=np.uint8))


def test_from_bytes_reads_in_place_only_memory_nobody_can_change():
    """numpy's read-only flag is not enough to read an archive in place: a read-only view of a
    bytearray can still change through the bytearray, and an array owning its data can be made
    writeable again. Only bytes (and Ray's object store, tested in test_ray.py) qualify."""
    from ecapa2 import _ecapa2

    raw = (FIXTURES / "tiny" / "model.pt").read_bytes()
    assert _ecapa2._reads_in_place(np.frombuffer(raw, dtype=np.uint8))
    assert _ecapa2._reads_in_place(np.frombuffer(memoryview(raw), dtype=np.uint8))
    backing = bytearray(raw)
    view = np.frombuffer(memoryview(backing).toreadonly(), dtype=np.uint8)
    assert not view.flags.writeable
    assert not _ecapa2._reads_in_place(view)
    owned = np.array(bytearray(raw), dtype=np.uint8)
    owned.flags.writeable = False
    assert not _ecapa2._reads_in_place(owned)
    assert not _ecapa2._reads_in_place(np.frombuffer(backing, dtype=np.uint8))
    # A copied archive still loads, and changing the bytearray afterwards changes nothing.
    audio = np.sin(np.arange(8000, dtype=np.float32) / 7.0)
    model = ecapa2.Ecapa2.from_bytes(view, threads=1)
    before = model(audio)
    backing[:] = bytes(len(backing))
    np.testing.assert_array_equal(model(audio), before)


def test_from_hub_reads_the_huggingface_cache_offline(monkeypatch, tmp_path):
    """from_hub finds the archive where huggingface_hub caches it (blob + snapshot link +
    ref), with no network (HF_HUB_OFFLINE=1). The tiny fixture stands in for the official
    file: at a pinned commit it loads and equals load(); at the default revision the official
    file's size and sha256 are checked, so the stand-in is refused with Ecapa2Error."""
    import hashlib

    data = (FIXTURES / "tiny" / "model.pt").read_bytes()
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--Jenthe--ECAPA2"
    blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
    snapshot = repo / "snapshots" / commit / "ecapa2.pt"
    for folder in (blob.parent, repo / "refs", snapshot.parent):
        folder.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(data)
    (repo / "refs" / "main").write_text(commit)
    snapshot.symlink_to(os.path.relpath(blob, snapshot.parent))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    audio = golden("tiny", "len8037", "audio")
    from_hub = ecapa2.Ecapa2.from_hub(revision=commit, threads=1)
    np.testing.assert_array_equal(from_hub(audio), ecapa2.Ecapa2.load(FIXTURES / "tiny" / "model.pt", threads=1)(audio))
    with pytest.raises(ecapa2.Ecapa2Error):
        ecapa2.Ecapa2.from_hub(threads=1)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))
    with pytest.raises(ecapa2.Ecapa2Error, match="HF_HUB_OFFLINE"):
        ecapa2.Ecapa2.from_hub(revision=commit, threads=1)
