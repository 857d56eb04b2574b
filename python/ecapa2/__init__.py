"""ECAPA2 speaker embeddings, a drop-in for the TorchScript ``ecapa2.pt``.

>>> import ecapa2
>>> model = ecapa2.Ecapa2.load("ecapa2.pt")        # or Ecapa2.from_hub()
>>> emb = model(audio)                              # (N,) -> (192,), (B, N) -> (B, 192)
>>> feats = model(audio, label="gfe_1|pool|embedding")
>>> rows = model.batch([a, b, c])                   # any lengths, each row exact
>>> audio, sr = ecapa2.load_audio("speech.mp3")     # float32 mono, 16 kHz

The engine is Rust (no PyTorch needed); calls release the GIL, and one model may be called
from many threads at once.
"""

from __future__ import annotations

import glob
import importlib.util
import operator
import os
import warnings
from typing import Any, Iterable, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from ._ecapa2 import HAS_CUDA as _HAS_CUDA
from ._ecapa2 import DeviceError, Ecapa2Error, Model as _Model, __version__
from ._ecapa2 import load_audio as _load_audio
from ._ecapa2 import parse_size as _parse_size

__all__ = ["Ecapa2", "Ecapa2Error", "DeviceError", "Turn", "load_audio", "LABELS", "__version__"]

#: The feature labels, in network order (the order ``label=`` results always follow).
LABELS = ("gfe_1", "gfe_2", "pool", "attention", "embedding")



class Turn(NamedTuple):
    """One speaker turn of :meth:`Ecapa2.diarize`: ``speaker`` spoke from ``start`` to ``end``
    seconds."""

    start: float
    end: float
    speaker: str


_THREADS_ENV = "ECAPA2_NUM_THREADS"
_MEMORY_ENV = "ECAPA2_MAX_MEMORY"
_CUDA_LIBRARY_ENV = "ECAPA2_CUDA_LIBRARY_PATH"

#: Said once per process when a CUDA model is loaded, until a device run has passed.
_EXPERIMENTAL = "CUDA support is experimental: not yet verified on a GPU by this project's device run"
_warned_experimental = False


def _is_cuda(device: Any) -> bool:
    """Whether ``device`` names a CUDA device (``cuda``, ``cuda:N``, ``gpu``; the engine
    checks the ordinal)."""
    name = str(device).strip().lower()
    return name in ("cuda", "gpu") or name.startswith("cuda:")


def _cuda_library_dirs() -> List[str]:
    """Folders holding the CUDA libraries (cuBLAS, NVRTC) for a CUDA device, in search order:
    the entries of ``$ECAPA2_CUDA_LIBRARY_PATH`` (``os.pathsep``-separated), then the library
    folders of NVIDIA's pip packages in this environment: ``nvidia/cu13/lib`` (CUDA 13 wheels,
    as torch's cu130 builds install them), ``nvidia/cu12/lib``, then every other existing
    ``nvidia/*/lib`` (the CUDA 12 wheels: ``nvidia-cublas-cu12`` → ``nvidia/cublas/lib``,
    ``nvidia-cuda-nvrtc-cu12`` → ``nvidia/cuda_nvrtc/lib``, ...). Each folder once."""
    dirs: List[str] = []

    def add(folder: str) -> None:
        if folder and folder not in dirs:
            dirs.append(folder)

    for entry in os.environ.get(_CUDA_LIBRARY_ENV, "").split(os.pathsep):
        add(entry.strip())
    try:
        spec = importlib.util.find_spec("nvidia")
    except (ImportError, ValueError):
        spec = None
    roots = list(spec.submodule_search_locations or []) if spec is not None else []
    for root in roots:
        candidates = [os.path.join(root, "cu13", "lib"), os.path.join(root, "cu12", "lib")]
        candidates += sorted(glob.glob(os.path.join(glob.escape(root), "*", "lib")))
        for folder in candidates:
            if os.path.isdir(folder):
                add(folder)
    return dirs


def _warn_experimental() -> None:
    """The experimental warning, once per process, in builds that can run CUDA at all (a build
    without it refuses the load with its own message)."""
    global _warned_experimental
    if _HAS_CUDA and not _warned_experimental:
        _warned_experimental = True
        warnings.warn(_EXPERIMENTAL, RuntimeWarning, stacklevel=4)


def _env_threads() -> Optional[int]:
    value = os.environ.get(_THREADS_ENV, "").strip()
    if not value:
        return None
    try:
        threads = int(value)
    except ValueError:
        raise ValueError(f"{_THREADS_ENV}={value!r} is not a number of threads") from None
    return threads if threads > 0 else None


def _env_max_memory() -> Optional[int]:
    value = os.environ.get(_MEMORY_ENV, "").strip()
    if not value:
        return None
    size = _parse_size(value)
    if size is None:
        raise ValueError(f"{_MEMORY_ENV}={value!r} is not a size like 2G or 1500M")
    return size


def _at_least_one(name: str, value: Any) -> Optional[int]:
    """``value`` as an int (any integer type, numpy's included) if it is ``None`` or ≥ 1."""
    if value is None:
        return None
    try:
        number = operator.index(value)
    except TypeError:
        number = 0
    if number < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, not {value!r}")
    return number


def _settings(
    threads: Optional[int],
    precision: Optional[str],
    max_memory: Optional[int],
    device: str = "cpu",
    skip_self_check: bool = False,
) -> tuple:
    """The loaders' settings, with the environment's defaults where ``None`` is given:
    ``(threads, precision, max_memory, device, skip_self_check, library_dirs)``. A precision
    only when given (``None``: the device's default); library folders only for CUDA."""
    threads = _at_least_one("threads", threads)
    max_memory = _at_least_one("max_memory", max_memory)
    library_dirs = None
    if _is_cuda(device):
        library_dirs = _cuda_library_dirs()
        _warn_experimental()
    return (
        threads if threads is not None else _env_threads(),
        precision,
        max_memory if max_memory is not None else _env_max_memory(),
        device,
        bool(skip_self_check),
        library_dirs,
    )


def _as_float32(audio: Any) -> np.ndarray:
    """Any audio as a float32 numpy array: numpy floats of any width and byte order (float16
    widens exactly), int16 or int32 PCM scaled by 1/32768 or 1/2**31 (as soundfile and
    torchaudio scale them), a torch tensor (moved to the CPU; half and bfloat16 widened), or
    anything with ``__array__``."""
    if hasattr(audio, "detach") and hasattr(audio, "cpu") and hasattr(audio, "numpy"):
        audio = audio.detach().cpu()
        # numpy has no bfloat16: widen torch's 16-bit floats first (exact).
        if audio.is_floating_point() and audio.element_size() < 4:
            audio = audio.float()
        audio = audio.numpy()
    array = np.asarray(audio)
    if array.dtype.kind == "f":
        return array.astype(np.float32, copy=False)
    if array.dtype.kind == "i" and array.dtype.itemsize in (2, 4):
        # Through float64 so that int32 samples are rounded once, to float32.
        scale = 2.0 ** (8 * array.dtype.itemsize - 1)
        return (array.astype(np.float64) / scale).astype(np.float32)
    raise ValueError(
        f"audio dtype {array.dtype} is not supported: use float samples (16, 32 or 64 bit) "
        "or int16/int32 PCM"
    )


class Ecapa2:
    """An ECAPA2 model. Call it like the TorchScript model: ``model(audio, label=...)``."""

    __slots__ = ("_model",)

    def __init__(self, model: _Model):
        if not isinstance(model, _Model):
            raise TypeError("use Ecapa2.load(path) or Ecapa2.from_hub()")
        self._model = model

    @classmethod
    def load(
        cls,
        path: "str | bytes | os.PathLike",
        threads: Optional[int] = None,
        precision: Optional[str] = None,
        max_memory: Optional[int] = None,
        device: str = "cpu",
        skip_self_check: bool = False,
    ) -> "Ecapa2":
        """Loads a TorchScript archive such as the official ``ecapa2.pt``.

        ``threads``: the model's own worker threads (default ``$ECAPA2_NUM_THREADS``, else the
        physical cores). ``precision``: default ``None``, the device's own: ``"f32"`` on the
        CPU, ``"f16"`` on CUDA; also ``"f32"`` on CUDA, and ``"bf16"``/``"bf16x3"`` on CPUs
        with AMX-BF16 (the CPU runs ``"f16"`` as f32). ``max_memory``: the model's memory
        budget, bytes of activations its concurrent calls may hold together (default
        ``$ECAPA2_MAX_MEMORY``, else 80 % of the memory available at load); longer inputs run
        exactly over time tiles.

        ``device``: ``"cpu"`` (default), or ``"cuda"``/``"cuda:N"`` (experimental, warned once):
        it needs a package built with CUDA support, an NVIDIA driver and the CUDA 12 or 13
        cuBLAS and NVRTC libraries, searched first in ``$ECAPA2_CUDA_LIBRARY_PATH`` and in
        NVIDIA's pip packages (``nvidia-cublas-cu12`` + ``nvidia-cuda-nvrtc-cu12``, or
        torch's). A device that cannot run raises :class:`DeviceError` (an
        :class:`Ecapa2Error` and a ``RuntimeError``) naming what is missing; a device name
        that is not ``cpu``, ``cuda`` or ``cuda:N`` raises ``ValueError``. At load a CUDA model
        runs a short self-check against the CPU and refuses a device that disagrees
        (``DeviceError``); ``skip_self_check=True`` skips it (only for a device verified
        otherwise).
        """
        return cls(
            _Model.load(
                os.fsdecode(path),
                _settings(threads, precision, max_memory, device, skip_self_check),
            )
        )

    @classmethod
    def from_bytes(
        cls,
        data: Any,
        threads: Optional[int] = None,
        precision: Optional[str] = None,
        max_memory: Optional[int] = None,
        device: str = "cpu",
        skip_self_check: bool = False,
    ) -> "Ecapa2":
        """Loads an archive from its bytes (no file needed): ``bytes``, or any buffer such as
        a ``memoryview`` or a numpy ``uint8`` array. ``bytes`` and read-only 1-D ``uint8``
        arrays (what ``ray.get`` returns for an array in the object store) are read in place;
        other buffers are copied once. Nothing of ``data`` is kept once the model is bound.
        The other arguments as for :meth:`load`."""
        if not isinstance(data, (bytes, np.ndarray)):
            data = np.frombuffer(data, dtype=np.uint8)  # a view: memoryview, bytearray, mmap
        elif isinstance(data, np.ndarray) and (data.dtype != np.uint8 or data.ndim != 1):
            data = np.ascontiguousarray(data).reshape(-1).view(np.uint8)
        return cls(
            _Model.from_bytes(
                data,
                _settings(threads, precision, max_memory, device, skip_self_check),
            )
        )

    @classmethod
    def from_hub(
        cls,
        revision: Optional[str] = None,
        threads: Optional[int] = None,
        precision: Optional[str] = None,
        max_memory: Optional[int] = None,
        device: str = "cpu",
        skip_self_check: bool = False,
    ) -> "Ecapa2":
        """Fetches the official ``ecapa2.pt`` (hub repo ``Jenthe/ECAPA2``) into the cache
        shared with ``huggingface_hub`` (``HF_HOME``, ``HF_HUB_CACHE``, ``HF_ENDPOINT``,
        ``HF_TOKEN``, ``HF_HUB_OFFLINE``) and loads it. The other arguments as for
        :meth:`load`."""
        return cls(
            _Model.from_hub(
                revision,
                _settings(threads, precision, max_memory, device, skip_self_check),
            )
        )

    def __call__(self, audio: Any, label: str = "embedding") -> np.ndarray:
        """Features of ``audio`` for ``label`` (``'|'``-separated, network order).

        Shape ``(N,)`` gives ``(D,)``; ``(B, N)`` gives ``(B, D)`` (B utterances of equal
        length), as the TorchScript model does. 16 kHz mono samples in [-1, 1].
        """
        array = _as_float32(audio)
        if array.ndim == 1:
            return self._model.features(np.ascontiguousarray(array[None, :]), label)[0]
        if array.ndim == 2:
            return self._model.features(np.ascontiguousarray(array), label)
        raise ValueError(f"audio must have shape (N,) or (B, N), got {array.shape}")

    def batch(self, audio: Iterable[Any], label: str = "embedding") -> np.ndarray:
        """Features of utterances of any lengths: ``(len(audio), D)``. Each row equals what
        that utterance alone gives (no padding effects)."""
        rows = []
        for i, a in enumerate(audio):
            array = _as_float32(a)
            if array.ndim != 1:
                raise ValueError(f"batch item {i} must have shape (N,), got {array.shape}")
            rows.append(np.ascontiguousarray(array))
        return self._model.batch(rows, label)

    def embed_file(self, path: "str | bytes | os.PathLike", label: str = "embedding") -> np.ndarray:
        """Decodes a file (WAV, FLAC, MP3, Ogg Vorbis; any rate and channel count), resamples
        it to 16 kHz, mixes it to mono, and returns its features ``(D,)``."""
        return self._model.embed_file(os.fsdecode(path), label)[0]

    def embed_bytes(self, data: bytes, name: str = "audio", label: str = "embedding") -> np.ndarray:
        """As :meth:`embed_file` for a file held in memory; ``name`` (a path or key) appears in
        errors and its extension is used as a format hint."""
        return self._model.embed_bytes(name, bytes(data), label)[0]

    def diarize(
        self,
        audio: Any,
        num_speakers: Optional[int] = None,
        min_speakers: Optional[int] = None,
        max_speakers: Optional[int] = None,
        *,
        clustering: str = "nmesc",
        threshold: Optional[float] = None,
        exclusive: bool = False,
    ) -> List[Turn]:
        """Who spoke when: speaker turns of ``audio`` (a path, or 16 kHz mono samples),
        sorted by time, as :class:`Turn` ``(start, end, speaker)`` in seconds.

        Speech is found by the embedded Silero VAD, windows of 1.5 s every 0.75 s are
        embedded, and the windows are clustered by NME-SC (``clustering="nmesc"``: the count
        found by the normalised maximum eigengap, at most 8 unless ``max_speakers``) or AHC
        (``clustering="ahc"``, cut at the cosine distance ``threshold``). ``num_speakers``
        fixes the count; ``min_speakers``/``max_speakers`` bound it. ``exclusive=True`` gives
        one speaker at a time. No speech gives ``[]``; more speakers than windows, or
        contradictory counts, raise ``ValueError``.
        """
        if isinstance(audio, (str, bytes, os.PathLike)):
            samples, _ = load_audio(audio, self.sample_rate)
        else:
            samples = _as_float32(audio)
            if samples.ndim != 1:
                raise ValueError(f"audio must have shape (N,), got {samples.shape}")
        counts = {
            name: _at_least_one(name, value)
            for name, value in (
                ("num_speakers", num_speakers),
                ("min_speakers", min_speakers),
                ("max_speakers", max_speakers),
            )
        }
        turns, _ = self._model.diarize(
            np.ascontiguousarray(samples),
            counts["num_speakers"],
            counts["min_speakers"],
            counts["max_speakers"],
            clustering,
            threshold,
            exclusive,
        )
        return [Turn(*t) for t in turns]

    def dim(self, label: str = "embedding") -> int:
        """Width of the features for ``label``."""
        return self._model.dim(label)

    @property
    def min_samples(self) -> int:
        """Shortest accepted input, in samples (321 for the released model)."""
        return self._model.min_samples

    @property
    def sample_rate(self) -> int:
        """The sample rate the model expects (16000)."""
        return self._model.sample_rate

    @property
    def threads(self) -> int:
        """Worker threads of the model's own pool."""
        return self._model.threads

    @property
    def precision(self) -> str:
        """The precision the heavy products run in, as resolved at load (``"f32"`` on the CPU
        unless another was asked for)."""
        return self._model.precision

    @property
    def device(self) -> str:
        """The device the model runs on (``"cpu"``, ``"cuda:0"``, ...)."""
        return self._model.device

    @property
    def backend(self) -> str:
        """The backend and kernel paths that run, e.g. ``cpu (2 threads; direct, winograd-avx512)``."""
        return self._model.backend

    def __reduce__(self):
        # Ray and multiprocessing pickle what they send to workers; say what to send instead.
        raise TypeError(
            "an ecapa2.Ecapa2 model cannot be pickled (it holds the prepared native model): "
            "send workers the archive instead (its path, or its bytes for Ecapa2.from_bytes; "
            "on Ray, ecapa2.ray.Embedder does this)"
        )

    def __repr__(self) -> str:
        return f"Ecapa2(dim={self.dim()}, backend={self.backend!r}, precision={self.precision!r})"


def load_audio(path: "str | bytes | os.PathLike", sample_rate: int = 16000) -> Tuple[np.ndarray, int]:
    """Decodes a file to float32 mono at ``sample_rate`` (16 kHz): ``(samples, sample_rate)``."""
    return _load_audio(os.fsdecode(path), sample_rate)
