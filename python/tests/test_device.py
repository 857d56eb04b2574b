"""The CUDA device from Python where it cannot run (no GPU here; by default a package built
without CUDA support): a clear DeviceError naming cuda, ValueError for a bad device name, the
CPU's default precision unchanged; the library folders handed to the engine; and
`python -m ecapa2.ray --num-gpus` reaching the actors' options (no Ray, no GPU needed)."""

import os
import warnings

import pytest

import ecapa2
import ecapa2.ray
from conftest import FIXTURES

TINY = FIXTURES / "tiny" / "model.pt"


def _gpu_may_run():
    return ecapa2._HAS_CUDA and any(os.path.exists(p) for p in ("/dev/nvidiactl", "/dev/nvidia0"))


@pytest.mark.parametrize(
    "load",
    [
        lambda **kw: ecapa2.Ecapa2.load(TINY, **kw),
        lambda **kw: ecapa2.Ecapa2.from_bytes(TINY.read_bytes(), **kw),
    ],
    ids=["load", "from_bytes"],
)
@pytest.mark.parametrize("settings", [{}, {"precision": "f32", "skip_self_check": True}])
def test_cuda_without_a_usable_device_raises_a_device_error(load, settings):
    if _gpu_may_run():
        pytest.skip("a CUDA build on a machine with an NVIDIA driver")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the experimental warning
        with pytest.raises(ecapa2.DeviceError, match="cuda") as caught:
            load(device="cuda", **settings)
    # One class for every front-end's `except`: the package's error and a RuntimeError.
    assert isinstance(caught.value, ecapa2.Ecapa2Error)
    assert isinstance(caught.value, RuntimeError)
    if not ecapa2._HAS_CUDA:
        assert "no CUDA support" in str(caught.value)


@pytest.mark.parametrize("device", ["cuda:x", "tpu", "cuda:-1"])
def test_a_bad_device_name_is_a_value_error(device):
    with pytest.raises(ValueError, match="expected cpu, cuda or cuda:N"):
        ecapa2.Ecapa2.load(TINY, device=device)


def test_the_cpu_default_precision_is_still_f32(monkeypatch):
    monkeypatch.setenv("ECAPA2_CUDA_LIBRARY_PATH", "/nonexistent")
    model = ecapa2.Ecapa2.load(TINY, threads=1)
    assert model.precision == "f32" and model.device == "cpu"
    assert ecapa2.Ecapa2.from_bytes(TINY.read_bytes(), threads=1).precision == "f32"
    explicit = ecapa2.Ecapa2.load(TINY, threads=1, precision="f32", skip_self_check=True)
    assert explicit.precision == "f32"
    with pytest.raises(ValueError, match="unknown precision"):
        ecapa2.Ecapa2.load(TINY, precision="fp8")


def test_cuda_library_dirs_in_order(tmp_path, monkeypatch):
    """$ECAPA2_CUDA_LIBRARY_PATH first, then NVIDIA's pip folders: cu13/lib, cu12/lib, the
    other nvidia/*/lib; only folders that exist, each once."""
    site = tmp_path / "site"
    for sub in ("cublas/lib", "cuda_nvrtc/lib", "cu13/lib", "cu12/lib", "nolib/include"):
        (site / "nvidia" / sub).mkdir(parents=True)
    monkeypatch.syspath_prepend(str(site))
    env = os.pathsep.join(["/opt/cuda/lib64", "", str(site / "nvidia" / "cublas" / "lib")])
    monkeypatch.setenv("ECAPA2_CUDA_LIBRARY_PATH", env)
    import importlib

    importlib.invalidate_caches()
    dirs = ecapa2._cuda_library_dirs()
    nvidia = site / "nvidia"
    expected = [
        "/opt/cuda/lib64",
        str(nvidia / "cublas" / "lib"),
        str(nvidia / "cu13" / "lib"),
        str(nvidia / "cu12" / "lib"),
        str(nvidia / "cuda_nvrtc" / "lib"),
    ]
    # Another nvidia package already installed in this environment may add its folders after
    # the temporary ones (find_spec merges every nvidia/ on sys.path).
    assert dirs[: len(expected)] == expected
    assert len(dirs) == len(set(dirs))
    assert all(os.path.isdir(d) for d in dirs[1:])


def test_library_dirs_are_passed_for_cuda_only(monkeypatch):
    monkeypatch.setenv("ECAPA2_CUDA_LIBRARY_PATH", "/opt/cuda/lib64")
    cpu = ecapa2._settings(None, None, None, "cpu")
    assert cpu[1] is None and cpu[3:] == ("cpu", False, None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        cuda = ecapa2._settings(None, None, None, "cuda:1", True)
    assert cuda[1] is None  # no precision given: the device's default (f16 on CUDA)
    assert cuda[3:5] == ("cuda:1", True)
    assert cuda[5][0] == "/opt/cuda/lib64"


def test_the_experimental_warning_is_given_once(monkeypatch):
    monkeypatch.setattr(ecapa2, "_HAS_CUDA", True)
    monkeypatch.setattr(ecapa2, "_warned_experimental", False)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        ecapa2._settings(None, None, None, "cuda")
        ecapa2._settings(None, None, None, "cuda")
        ecapa2._settings(None, None, None, "cpu")
    messages = [str(w.message) for w in seen if issubclass(w.category, RuntimeWarning)]
    assert messages == [ecapa2._EXPERIMENTAL]
    assert "not yet verified on a GPU" in messages[0]


def test_ray_num_gpus_reaches_the_actor_options():
    base = ["in.wav", "--output", "out"]
    assert ecapa2.ray.parser().parse_args(base).num_gpus == 0.0
    args = ecapa2.ray.parser().parse_args(base + ["--num-gpus", "0.5"])
    assert args.num_gpus == 0.5
    for bad in ("-1", "nan", "inf", "one"):
        with pytest.raises(SystemExit):
            ecapa2.ray.parser().parse_args(base + ["--num-gpus", bad])

    gpu = ecapa2.ray.map_batches_kwargs("ref", "embedding", 2, 8, 1.5, args.num_gpus)
    assert gpu["num_gpus"] == 0.5
    assert gpu["fn_constructor_kwargs"] == {
        "model": "ref",
        "label": "embedding",
        "threads": 2,
        "device": "cuda",
    }
    assert gpu["batch_size"] == 8 and gpu["num_cpus"] == 1.5
    cpu = ecapa2.ray.map_batches_kwargs("ref", "embedding", 2, 8, 1.5)
    assert "num_gpus" not in cpu and cpu["fn_constructor_kwargs"]["device"] == "cpu"
    with pytest.raises(ValueError):
        ecapa2.ray.map_batches_kwargs("ref", "embedding", 2, 8, 1.5, -1)


def test_ray_embedder_loads_on_the_device_it_is_given():
    """The actor class's device reaches the loader: on the CPU it runs (f32 by default); on
    CUDA where none can run, the DeviceError names it."""
    embedder = ecapa2.ray.Embedder(TINY.read_bytes(), threads=1)
    assert embedder._model.device == "cpu" and embedder._model.precision == "f32"
    if not _gpu_may_run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            with pytest.raises(ecapa2.DeviceError, match="cuda"):
                ecapa2.ray.Embedder(TINY.read_bytes(), threads=1, device="cuda")
