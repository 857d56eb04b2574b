"""A real local Ray job over the audio fixtures plus a corrupt file: the Parquet rows equal the
CLI's embeddings (1e-6), the corrupt row carries its error and a NaN embedding, and the
program entry point reports it with exit code 2."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

ray = pytest.importorskip("ray")

import ecapa2.ray  # noqa: E402
from conftest import FIXTURES, cli_embeddings  # noqa: E402

GOOD = ["speech_16k.wav", "speech_16k.flac", "speech_16k.mp3", "speech_16k.ogg", "stereo_44k.wav", "speech2_16k.wav"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("audio")
    for name in GOOD:
        shutil.copy(FIXTURES / "audio" / name, folder / name)
    (folder / "corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt garbage that is not audio")
    return folder


@pytest.fixture(scope="module")
def local_ray():
    # Enough logical CPU slots for two actors and the reading tasks on a 2-core machine.
    ray.init(address="local", num_cpus=4, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    yield
    ray.shutdown()


def read_rows(output):
    rows = ray.data.read_parquet(str(output)).to_pandas()
    return {r.path: r for r in rows.itertuples()}


def test_inputs_are_listed_as_the_cli_lists_them(tmp_path, cli):
    """Folders by the CLI's extensions, @list lines against the list's folder: the same files
    as `ecapa2 embed` reads (its keys), as absolute paths."""
    sub = tmp_path / "corpus" / "sub"
    sub.mkdir(parents=True)
    for name in ("b.WAV", "c.rf64", "d.oga", "notes.txt"):
        shutil.copy(FIXTURES / "audio" / "speech_16k.wav", sub / name)
    (tmp_path / "corpus" / "list.txt").write_text("# relative to this list\nsub/b.WAV\n")
    args = [str(tmp_path / "corpus" / "sub"), "@" + str(tmp_path / "corpus" / "list.txt")]
    listed = ecapa2.ray.list_inputs(args)
    assert listed == [str(sub / "b.WAV"), str(sub / "c.rf64"), str(sub / "d.oga"), str(sub / "b.WAV")]
    out = subprocess.run(
        [str(cli), "--quiet", "embed", "--model", str(FIXTURES / "tiny" / "model.pt"), *args],
        capture_output=True, text=True, timeout=600,
    )
    keys = [json.loads(line)["key"] for line in out.stdout.splitlines()]
    assert [os.path.abspath(k) for k in keys] == listed, out.stderr
    with pytest.raises(FileNotFoundError):
        ecapa2.ray.list_inputs([str(tmp_path / "no-such-folder")])


@pytest.mark.parametrize("reader", ["actors", "tasks"])
def test_job_matches_the_cli_and_keeps_going_past_a_corrupt_file(inputs, local_ray, tmp_path, cli, reader):
    model_path = FIXTURES / "tiny" / "model.pt"
    files = ecapa2.ray.list_inputs([str(inputs)])
    assert len(files) == len(GOOD) + 1
    summary = ecapa2.ray.run(
        files, str(tmp_path / "out"), model_path.read_bytes(), concurrency=2, threads=1, batch_size=2, reader=reader
    )
    assert summary["files"] == len(files) and summary["failed"] == 1
    rows = read_rows(tmp_path / "out")
    want = cli_embeddings(cli, model_path, [f for f in files if not f.endswith("corrupt.wav")])
    assert len(want) == len(GOOD)
    for path, vector in want.items():
        row = rows[path]
        assert row.error == ""
        np.testing.assert_allclose(np.asarray(row.embedding, np.float32), vector, rtol=0, atol=1e-6)
    bad = rows[str(inputs / "corrupt.wav")]
    assert "corrupt" in bad.error or "unsupported" in bad.error
    assert np.isnan(np.asarray(bad.embedding, np.float32)).all()


def test_program_entry_point(inputs, tmp_path):
    out = tmp_path / "cli-out"
    proc = subprocess.run(
        [sys.executable, "-m", "ecapa2.ray", str(inputs), "--output", str(out), "--model", str(FIXTURES / "tiny" / "model.pt"), "--concurrency", "2"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 2, proc.stderr  # one row failed
    assert f"{len(GOOD) + 1} files, 1 failed" in proc.stderr
    assert list(out.glob("*.parquet"))
    bad = subprocess.run([sys.executable, "-m", "ecapa2.ray", str(tmp_path / "nothing-here"), "--output", str(out)], capture_output=True, text=True)
    assert bad.returncode == 1 and "no such file" in bad.stderr
    # A second run into the same folder would mix its rows with the first's (and count them in
    # its summary): refused before Ray starts, unless --overwrite replaces them.
    again = [sys.executable, "-m", "ecapa2.ray", str(inputs / GOOD[0]), "--output", str(out), "--model", str(FIXTURES / "tiny" / "model.pt")]
    refused = subprocess.run(again, capture_output=True, text=True, timeout=600)
    assert refused.returncode == 1 and "--overwrite" in refused.stderr, refused.stderr
    replaced = subprocess.run(again + ["--overwrite"], capture_output=True, text=True, timeout=600)
    assert replaced.returncode == 0, replaced.stderr
    assert "1 files, 0 failed" in replaced.stderr
    import pyarrow.parquet as pq

    assert pq.read_table(out, columns=["path"]).column("path").to_pylist() == [str(inputs / GOOD[0])]


def test_program_refuses_a_broken_archive_or_an_unknown_label(inputs, tmp_path):
    """Exit 1 with the engine's message, before any file is embedded."""
    for extra, message in (
        (["--model", str(FIXTURES / "broken" / "truncated.pt")], "error: Ecapa2Error"),
        (["--model", str(FIXTURES / "tiny" / "model.pt"), "--label", "gfe_1|lfe_9"], "gfe_1, gfe_2, pool, attention, embedding"),
    ):
        out = tmp_path / "refused"
        proc = subprocess.run(
            [sys.executable, "-m", "ecapa2.ray", str(inputs), "--output", str(out), *extra],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 1, proc.stderr
        assert message in proc.stderr, proc.stderr
        assert not out.exists()


def test_archives_from_the_object_store_are_read_in_place(local_ray):
    """What ray.get returns for an array in the object store (a read-only view of Ray's own
    sealed buffer) is read in place, in the driver and in a worker: no private copy per actor."""
    from ecapa2 import _ecapa2

    raw = np.frombuffer((FIXTURES / "tiny" / "model.pt").read_bytes(), dtype=np.uint8).copy()
    ref = ray.put(raw)
    assert _ecapa2._reads_in_place(ray.get(ref))

    @ray.remote(num_cpus=0.25)
    def in_worker(array):
        from ecapa2 import _ecapa2 as native

        return native._reads_in_place(array)

    assert ray.get(in_worker.remote(ref), timeout=120)
