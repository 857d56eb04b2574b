//! `ecapa2._ecapa2`: the engine as a CPython extension module. The public Python API
//! (`python/ecapa2/__init__.py`) wraps it: it turns any audio (numpy of any dtype, torch
//! tensors, lists) into C-contiguous float32 arrays, and this module runs the engine with the
//! GIL released.

// One `unsafe` block, in `InPlace`: reading a read-only numpy array in place.
#![deny(unsafe_code)]

use ecapa2::{Device, Ecapa2, LabelSet, Options, Precision};
use ecapa2_audio::{AudioError, LoadOptions};
use numpy::{
    PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods,
};
use pyo3::create_exception;
use pyo3::exceptions::{
    PyException, PyFileNotFoundError, PyIsADirectoryError, PyPermissionError, PyRuntimeError,
    PyValueError,
};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyTuple, PyType};
use std::path::PathBuf;

create_exception!(
    _ecapa2,
    Ecapa2Error,
    PyException,
    "An archive that cannot be read or bound to the network, or another engine failure."
);

/// `DeviceError(Ecapa2Error, RuntimeError)`, made once: a device that cannot run (a build
/// without CUDA support, no driver or libraries, a failed self-check, a failure on the
/// device). Both bases, so that `except Ecapa2Error` and `except RuntimeError` catch it
/// (`create_exception!` takes one base).
static DEVICE_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn device_error_type(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    DEVICE_ERROR
        .get_or_try_init(py, || {
            let bases = PyTuple::new(
                py,
                [
                    py.get_type::<Ecapa2Error>(),
                    py.get_type::<PyRuntimeError>(),
                ],
            )?;
            let dict = PyDict::new(py);
            dict.set_item("__module__", "ecapa2._ecapa2")?;
            dict.set_item(
                "__doc__",
                "A device that cannot run the model: a build without CUDA support, no NVIDIA \
                 driver or CUDA libraries, a failed load-time self-check, or a failure on the \
                 device. A subclass of both Ecapa2Error and RuntimeError.",
            )?;
            let ty = py
                .import("builtins")?
                .getattr("type")?
                .call1(("DeviceError", bases, dict))?;
            Ok::<_, PyErr>(ty.cast_into::<PyType>()?.unbind())
        })
        .map(|t| t.bind(py))
}

/// Engine errors as Python exceptions: bad audio and unknown labels are `ValueError`, a file
/// that cannot be opened the `OSError` subclass `open()` would raise, a device that cannot
/// run `DeviceError` (an `Ecapa2Error` and a `RuntimeError`), the rest (archive, binding,
/// hub, memory) `Ecapa2Error`.
fn engine_err(e: ecapa2::Error) -> PyErr {
    use ecapa2::Error as E;
    match &e {
        E::AudioTooShort { .. }
        | E::NonFinite { .. }
        | E::OutOfRange { .. }
        | E::UnknownLabel { .. }
        | E::InBatch { .. } => PyValueError::new_err(e.to_string()),
        E::Device { .. } | E::SelfCheck { .. } => {
            Python::attach(|py| match device_error_type(py) {
                Ok(ty) => PyErr::from_type(ty.clone(), e.to_string()),
                Err(failed) => failed,
            })
        }
        _ => os_err(&e).unwrap_or_else(|| Ecapa2Error::new_err(e.to_string())),
    }
}

/// Diarization errors: bad options, too few windows and bad audio are `ValueError`, engine
/// failures as [`engine_err`] maps them.
fn diarize_err(e: ecapa2_diarize::DiarizeError) -> PyErr {
    use ecapa2_diarize::DiarizeError as D;
    match e {
        D::Embedding(inner) => match inner.downcast::<ecapa2::Error>() {
            Ok(engine) => engine_err(*engine),
            Err(other) => Ecapa2Error::new_err(other.to_string()),
        },
        D::Io { .. } => audio_err(e),
        D::Detection(_) => PyValueError::new_err(e.to_string()),
        other => PyValueError::new_err(other.to_string()),
    }
}

/// Audio and input-listing errors: `ValueError` (unreadable, unsupported, empty, too long…),
/// or the `OSError` subclass for a file that cannot be opened.
fn audio_err(e: impl std::error::Error + 'static) -> PyErr {
    os_err(&e).unwrap_or_else(|| PyValueError::new_err(e.to_string()))
}

/// `FileNotFoundError`, `PermissionError` or `IsADirectoryError` when an I/O error of that
/// kind is in `e`'s source chain (so `except FileNotFoundError:` works as with `open()`).
fn os_err(e: &(dyn std::error::Error + 'static)) -> Option<PyErr> {
    use std::io::ErrorKind as K;
    let kind = std::iter::successors(Some(e), |err| err.source())
        .find_map(|err| err.downcast_ref::<std::io::Error>())?
        .kind();
    let message = e.to_string();
    Some(match kind {
        K::NotFound => PyFileNotFoundError::new_err(message),
        K::PermissionDenied => PyPermissionError::new_err(message),
        K::IsADirectory => PyIsADirectoryError::new_err(message),
        _ => return None,
    })
}

fn labels(label: &str) -> PyResult<LabelSet> {
    label.parse().map_err(engine_err)
}

/// The loaders' settings, as the Python package's `_settings` returns them: `(threads,
/// precision, max_memory, device, skip_self_check, library_dirs)`. `precision`: only when given
/// (`None`: the device's default, f32 on the CPU, f16 on CUDA). `library_dirs`: folders holding
/// the CUDA libraries (the package passes `ECAPA2_CUDA_LIBRARY_PATH` and NVIDIA's pip packages
/// for a CUDA device).
/// A diarization as Python receives it: turns `(start, end, speaker)` and each speaker's
/// centroid.
type Diarized = (Vec<(f64, f64, String)>, Vec<(String, Vec<f32>)>);

#[derive(FromPyObject)]
struct Settings(
    Option<usize>,
    Option<String>,
    Option<usize>,
    String,
    bool,
    Option<Vec<PathBuf>>,
);

impl Settings {
    /// The engine's options.
    fn options(self) -> PyResult<Options> {
        let Settings(threads, precision, max_memory, device, skip_self_check, library_dirs) = self;
        let device: Device = device
            .parse()
            .map_err(|e: ecapa2::UnknownDevice| PyValueError::new_err(e.to_string()))?;
        let mut o = Options::new()
            .device(device)
            .skip_self_check(skip_self_check)
            .library_dirs(library_dirs.unwrap_or_default());
        if let Some(p) = precision {
            let p: Precision = p
                .parse()
                .map_err(|e: ecapa2::UnknownPrecision| PyValueError::new_err(e.to_string()))?;
            o = o.precision(p);
        }
        if let Some(t) = threads {
            if t == 0 {
                return Err(PyValueError::new_err("threads must be at least 1"));
            }
            o = o.threads(t);
        }
        if let Some(m) = max_memory {
            o = o.max_memory(m);
        }
        Ok(o)
    }
}

/// Python bytes the engine reads in place while it binds a model.
struct Held(PyBackedBytes);

impl AsRef<[u8]> for Held {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// A C-contiguous numpy `uint8` array over memory nobody can change, read in place while a
/// model binds: how an archive arrives from Ray's object store (`ray.get` maps the stored
/// object instead of copying it), so an actor holds no private copy of the ~100 MB archive.
struct InPlace {
    /// Keeps the array, and so its memory, alive while the archive reads from it.
    _array: Py<PyArray1<u8>>,
    /// Address and length of its data (an address as `usize`: the memory is Python's).
    addr: usize,
    len: usize,
}

impl InPlace {
    /// `array` in place, or `None` when its memory could change while the engine reads it
    /// (then it is copied). numpy's read-only flag is not enough: a read-only view of a
    /// `bytearray` (`memoryview(b).toreadonly()`) is flagged read-only while `b` stays
    /// writeable through other references, and an array that owns its data can be made
    /// writeable again. Only memory owned by `bytes` or by Ray's object store is immutable.
    fn new(array: &Bound<'_, PyArray1<u8>>) -> PyResult<Option<Self>> {
        let writeable: bool = array.getattr("flags")?.getattr("writeable")?.extract()?;
        if writeable || !array.is_c_contiguous() || !immutable_owner(array.as_any())? {
            return Ok(None);
        }
        Ok(Some(Self {
            _array: array.clone().unbind(),
            addr: array.data() as usize,
            len: array.len(),
        }))
    }
}

/// Whether the object at the end of `obj`'s buffer chain (numpy `base`, `memoryview.obj`)
/// is immutable memory: `bytes`, or a buffer of Ray's object store (`ray._raylet.Buffer` /
/// `SubBuffer`: sealed objects are never written).
fn immutable_owner(obj: &Bound<'_, PyAny>) -> PyResult<bool> {
    let mut owner = obj.clone();
    // Views of views: a chain is short; the bound only guards against a cycle.
    for _ in 0..64 {
        let next = if let Ok(view) = owner.cast::<pyo3::types::PyMemoryView>() {
            view.getattr("obj")?
        } else {
            match owner.getattr("base") {
                Ok(base) => base,
                Err(_) => break,
            }
        };
        if next.is_none() {
            break;
        }
        owner = next;
    }
    if owner.is_exact_instance_of::<PyBytes>() {
        return Ok(true);
    }
    let ty = owner.get_type();
    let module: String = ty.getattr("__module__")?.extract()?;
    let name = ty.name()?;
    Ok(module == "ray._raylet" && (name == "Buffer" || name == "SubBuffer"))
}

/// Whether `Ecapa2.from_bytes` would read `data` (a 1-D `uint8` array) in place rather than
/// copy it; for tests of that decision.
#[pyfunction]
fn _reads_in_place(data: &Bound<'_, PyArray1<u8>>) -> PyResult<bool> {
    Ok(InPlace::new(data)?.is_some())
}

impl AsRef<[u8]> for InPlace {
    fn as_ref(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: `addr..addr + len` is the data of a C-contiguous array of `len` bytes that
        // `_array` keeps alive, so it stays valid for `&self`. Its owner is immutable memory
        // (`bytes` or Ray's object store, see `InPlace::new`), so nothing writes to it; the
        // engine keeps no window on it once bound.
        #[allow(unsafe_code)]
        unsafe {
            std::slice::from_raw_parts(self.addr as *const u8, self.len)
        }
    }
}

/// A loaded model (immutable; share it between threads).
#[pyclass(frozen, module = "ecapa2._ecapa2")]
struct Model {
    inner: Ecapa2,
    /// The embedded Silero VAD of `diarize`, parsed on first use, not per call.
    vad: std::sync::OnceLock<ecapa2_diarize::SileroDetector>,
}

fn rows_to_array<'py>(
    py: Python<'py>,
    data: Vec<f32>,
    rows: usize,
    dim: usize,
) -> PyResult<Bound<'py, PyArray2<f32>>> {
    // Moves the vector into the array (no copy), then views it as (rows, dim).
    PyArray1::from_vec(py, data).reshape([rows, dim])
}

#[pymethods]
impl Model {
    /// Loads a TorchScript archive.
    #[staticmethod]
    #[pyo3(signature = (path, settings))]
    fn load(py: Python<'_>, path: PathBuf, settings: Settings) -> PyResult<Self> {
        let options = settings.options()?;
        if !path.exists() {
            return Err(PyFileNotFoundError::new_err(format!(
                "{}: no such file",
                path.display()
            )));
        }
        let inner = py
            .detach(|| Ecapa2::load_with(&path, options))
            .map_err(engine_err)?;
        Ok(Self {
            inner,
            vad: Default::default(),
        })
    }

    /// Loads an archive from `bytes` or a 1-D numpy `uint8` array, read in place when the
    /// array is read-only and contiguous (copied otherwise).
    #[staticmethod]
    #[pyo3(signature = (data, settings))]
    fn from_bytes(py: Python<'_>, data: &Bound<'_, PyAny>, settings: Settings) -> PyResult<Self> {
        let options = settings.options()?;
        let inner = if data.is_instance_of::<PyBytes>() {
            // Bytes are immutable: read in place with the GIL released.
            let held = Held(data.extract()?);
            py.detach(|| Ecapa2::from_bytes(held, options))
        } else if let Ok(array) = data.cast::<PyArray1<u8>>() {
            match InPlace::new(array)? {
                // Immutable memory: bound with the GIL released, like `bytes`.
                Some(in_place) => py.detach(|| Ecapa2::from_bytes(in_place, options)),
                None => {
                    let copy: Vec<u8> = array.readonly().as_array().iter().copied().collect();
                    py.detach(|| Ecapa2::from_bytes(copy, options))
                }
            }
        } else {
            return Err(PyValueError::new_err(format!(
                "an archive's bytes must be bytes or a 1-D uint8 numpy array, not {}",
                data.get_type().name()?
            )));
        };
        Ok(Self {
            inner: inner.map_err(engine_err)?,
            vad: Default::default(),
        })
    }

    /// Fetches the official archive into the Hugging Face cache and loads it.
    #[staticmethod]
    #[pyo3(signature = (revision, settings))]
    fn from_hub(py: Python<'_>, revision: Option<String>, settings: Settings) -> PyResult<Self> {
        let options = settings.options()?;
        let hub = ecapa2_hub::HubConfig::from_env();
        let inner = py
            .detach(|| Ecapa2::from_hub_with(&hub, revision.as_deref(), options))
            .map_err(engine_err)?;
        Ok(Self {
            inner,
            vad: Default::default(),
        })
    }

    /// Features of equal-length utterances `(B, N)` → `(B, D)`.
    fn features<'py>(
        &self,
        py: Python<'py>,
        audio: PyReadonlyArray2<'py, f32>,
        label: &str,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let labels = labels(label)?;
        let (b, n) = (audio.shape()[0], audio.shape()[1]);
        // One copy of the input (a few bytes per sample), so that no Python thread can write
        // to memory the engine reads while the GIL is released.
        let owned: Vec<f32> = audio
            .as_slice()
            .map_err(|e| PyValueError::new_err(e.to_string()))?
            .to_vec();
        let out = py
            .detach(|| {
                if b == 1 {
                    // One utterance: its errors name no batch row.
                    return self.inner.features(&owned, labels);
                }
                let rows: Vec<&[f32]> = if n == 0 {
                    vec![&[][..]; b]
                } else {
                    owned.chunks_exact(n).collect()
                };
                self.inner.features_batch(&rows, labels)
            })
            .map_err(engine_err)?;
        let (rows, dim) = (out.rows().max(b), out.dim());
        rows_to_array(py, out.into_vec(), rows, dim)
    }

    /// Features of utterances of any lengths → `(B, D)`, each row exact.
    fn batch<'py>(
        &self,
        py: Python<'py>,
        audio: Vec<PyReadonlyArray1<'py, f32>>,
        label: &str,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let labels = labels(label)?;
        let owned = audio
            .iter()
            .map(|a| {
                a.as_slice()
                    .map(<[f32]>::to_vec)
                    .map_err(|e| PyValueError::new_err(e.to_string()))
            })
            .collect::<PyResult<Vec<Vec<f32>>>>()?;
        let b = owned.len();
        let out = py
            .detach(|| {
                let rows: Vec<&[f32]> = owned.iter().map(Vec::as_slice).collect();
                self.inner.features_batch(&rows, labels)
            })
            .map_err(engine_err)?;
        let dim = self.inner.dim(labels);
        rows_to_array(py, out.into_vec(), b, dim)
    }

    /// Decodes, resamples and mixes a file to mono, then computes its features →
    /// `((D,), duration in seconds)`.
    fn embed_file<'py>(
        &self,
        py: Python<'py>,
        path: PathBuf,
        label: &str,
    ) -> PyResult<(Bound<'py, PyArray1<f32>>, f64)> {
        let labels = labels(label)?;
        let (out, seconds) = py.detach(|| {
            self.embed_loaded(ecapa2_audio::load(&path, &self.load_options()), labels)
        })?;
        Ok((PyArray1::from_vec(py, out), seconds))
    }

    /// Features of an audio file held in memory (`name` is used in errors and as a format
    /// hint) → `((D,), duration in seconds)`.
    fn embed_bytes<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        data: Vec<u8>,
        label: &str,
    ) -> PyResult<(Bound<'py, PyArray1<f32>>, f64)> {
        let labels = labels(label)?;
        let (out, seconds) = py.detach(|| {
            self.embed_loaded(
                ecapa2_audio::load_bytes(name, data, &self.load_options()),
                labels,
            )
        })?;
        Ok((PyArray1::from_vec(py, out), seconds))
    }

    /// Diarizes mono 16 kHz float32 audio (embedded Silero VAD, NME-SC or AHC) →
    /// `[(start, end, speaker), ...]` sorted by time, and the speakers' centroids.
    #[pyo3(signature = (audio, num_speakers=None, min_speakers=None, max_speakers=None, clustering="nmesc", threshold=None, exclusive=false))]
    #[allow(clippy::too_many_arguments)]
    fn diarize(
        &self,
        py: Python<'_>,
        audio: PyReadonlyArray1<'_, f32>,
        num_speakers: Option<usize>,
        min_speakers: Option<usize>,
        max_speakers: Option<usize>,
        clustering: &str,
        threshold: Option<f64>,
        exclusive: bool,
    ) -> PyResult<Diarized> {
        use ecapa2_diarize::cluster::ahc::AhcOptions;
        let clustering = match (clustering, threshold) {
            ("nmesc", None) => ecapa2_diarize::Clustering::default(),
            ("nmesc", Some(_)) => {
                return Err(PyValueError::new_err(
                    "threshold applies to clustering='ahc' only",
                ))
            }
            ("ahc", t) => ecapa2_diarize::Clustering::Ahc(AhcOptions {
                threshold: t.unwrap_or(AhcOptions::default().threshold),
                ..AhcOptions::default()
            }),
            (other, _) => {
                return Err(PyValueError::new_err(format!(
                    "clustering must be 'nmesc' or 'ahc', not {other:?}"
                )))
            }
        };
        let options = ecapa2_diarize::DiarizeOptions {
            clustering,
            speakers: ecapa2_diarize::SpeakerCount {
                num: num_speakers,
                min: min_speakers,
                max: max_speakers,
            },
            ..Default::default()
        };
        let diarizer = ecapa2_diarize::Diarizer::new(options).map_err(diarize_err)?;
        let owned: Vec<f32> = audio
            .as_slice()
            .map_err(|e| PyValueError::new_err(e.to_string()))?
            .to_vec();
        let d = py
            .detach(|| {
                let vad = match self.vad.get() {
                    Some(vad) => vad,
                    None => {
                        let vad = ecapa2_diarize::SileroDetector::embedded()
                            .map_err(|e| ecapa2_diarize::DiarizeError::Detection(Box::new(e)))?;
                        self.vad.get_or_init(|| vad)
                    }
                };
                diarizer.diarize(&owned, vad, &self.inner)
            })
            .map_err(diarize_err)?;
        let turns = if exclusive { &d.exclusive } else { &d.segments };
        Ok((
            turns
                .iter()
                .map(|t| (t.start, t.end, t.speaker.clone()))
                .collect(),
            d.speakers
                .into_iter()
                .map(|s| (s.label, s.centroid))
                .collect(),
        ))
    }

    /// Width of the features for `label`.
    fn dim(&self, label: &str) -> PyResult<usize> {
        Ok(self.inner.dim(labels(label)?))
    }

    /// Shortest accepted input, in samples.
    #[getter]
    fn min_samples(&self) -> usize {
        self.inner.min_samples()
    }

    /// The sample rate the model expects.
    #[getter]
    fn sample_rate(&self) -> u32 {
        self.inner.sample_rate()
    }

    /// Worker threads of the model's pool.
    #[getter]
    fn threads(&self) -> usize {
        self.inner.threads()
    }

    /// The precision the heavy products run in (as resolved at load).
    #[getter]
    fn precision(&self) -> String {
        self.inner.precision().to_string()
    }

    /// The device the model runs on (as resolved at load).
    #[getter]
    fn device(&self) -> String {
        self.inner.device().to_string()
    }

    /// The backend and kernel paths, e.g. `cpu (2 threads; direct, winograd-avx512)`.
    #[getter]
    fn backend(&self) -> String {
        self.inner.backend_name()
    }
}

impl Model {
    /// Decoding options for this model: its sample rate and shortest input.
    fn load_options(&self) -> LoadOptions {
        LoadOptions::for_model(self.inner.sample_rate(), self.inner.min_samples())
    }

    /// The features of decoded audio (its first signal: mixed to mono) and its duration.
    fn embed_loaded(
        &self,
        loaded: Result<ecapa2_audio::Loaded, AudioError>,
        labels: LabelSet,
    ) -> PyResult<(Vec<f32>, f64)> {
        let loaded = loaded.map_err(audio_err)?;
        let features = self
            .inner
            .features(&loaded.signals[0], labels)
            .map_err(engine_err)?;
        Ok((features.into_vec(), loaded.duration_s))
    }
}

/// Decodes a file to float32 mono at the model's rate (16 kHz): `(samples, 16000)`.
#[pyfunction]
#[pyo3(signature = (path, sample_rate=ecapa2::SAMPLE_RATE))]
fn load_audio<'py>(
    py: Python<'py>,
    path: PathBuf,
    sample_rate: u32,
) -> PyResult<(Bound<'py, PyArray1<f32>>, u32)> {
    let opts = LoadOptions::for_model(sample_rate, 1);
    let mut loaded = py
        .detach(|| ecapa2_audio::load(&path, &opts))
        .map_err(audio_err)?;
    let signal = loaded.signals.swap_remove(0);
    Ok((PyArray1::from_vec(py, signal), loaded.sample_rate))
}

/// Audio files of `inputs`, as the CLI lists them: files as given, folders walked for audio
/// extensions (sorted, symlinks followed), `@list` files (relative lines against the list's
/// folder).
#[pyfunction]
fn list_audio(py: Python<'_>, inputs: Vec<PathBuf>) -> PyResult<Vec<PathBuf>> {
    py.detach(|| ecapa2_audio::inputs::expand(&inputs, &[]))
        .map_err(audio_err)
}

/// The official archive's path in the Hugging Face cache, fetched first if needed (the Ray
/// driver reads it once and ships its bytes to the workers).
#[pyfunction]
#[pyo3(signature = (revision=None))]
fn hub_file(py: Python<'_>, revision: Option<String>) -> PyResult<String> {
    let hub = ecapa2_hub::HubConfig::from_env();
    let fetched = py
        .detach(|| ecapa2_hub::fetch_official(&hub, revision.as_deref(), None))
        .map_err(|e| Ecapa2Error::new_err(e.to_string()))?;
    Ok(fetched.path.display().to_string())
}

/// Parses a size such as `2G` or `1500M` (as `ECAPA2_MAX_MEMORY` is written), or `None`.
#[pyfunction]
fn parse_size(text: &str) -> Option<usize> {
    ecapa2::parse_size(text)
}

#[pymodule]
fn _ecapa2(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Model>()?;
    m.add_function(wrap_pyfunction!(load_audio, m)?)?;
    m.add_function(wrap_pyfunction!(parse_size, m)?)?;
    m.add_function(wrap_pyfunction!(hub_file, m)?)?;
    m.add_function(wrap_pyfunction!(list_audio, m)?)?;
    m.add_function(wrap_pyfunction!(_reads_in_place, m)?)?;
    m.add(
        "AUDIO_EXTENSIONS",
        ecapa2_audio::inputs::EXTENSIONS.to_vec(),
    )?;
    m.add("Ecapa2Error", m.py().get_type::<Ecapa2Error>())?;
    m.add("DeviceError", device_error_type(m.py())?)?;
    // Whether this build can run `device="cuda"` at all (the `cuda` feature).
    m.add("HAS_CUDA", cfg!(feature = "cuda"))?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
