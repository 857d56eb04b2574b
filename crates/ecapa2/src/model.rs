//! The public model: load an archive, then `embed` or extract `features`, like the original
//! `torch.jit.load('ecapa2.pt')(audio, label=...)`.

use crate::backend::{self, Engine, Execution, SpecRow};
use crate::binding::{self, Bound};
use crate::error::{Error, Result};
use crate::features::Features;
use crate::frontend::{Spectrogram, SpectrogramConfig};
use crate::labels::{Label, LabelSet};
use crate::network::Shape;
use crate::options::Options;
use crate::{Device, Precision};
use ecapa2_archive::TorchScript;
use rayon::prelude::*;
use std::path::Path;

/// An ECAPA2 model: immutable once loaded, `Send + Sync`, callable from many threads at once
/// (the calls share the model's thread pool; each gives exactly its sequential result).
pub struct Ecapa2 {
    spectrogram: Spectrogram,
    /// The device with the network prepared on it, and everything about scheduling on it.
    engine: Box<dyn Engine>,
    report: Vec<String>,
    unused: Vec<String>,
    min_samples: usize,
}

impl std::fmt::Debug for Ecapa2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ecapa2")
            .field("spectrogram", self.spectrogram.config())
            .field("blocks", &self.shape().blocks.len())
            .field("embedding_dim", &self.shape().embedding)
            .field("backend", &self.backend_name())
            .finish()
    }
}

/// Maps `path` read-only, pre-faulted, or `None` (then the file is read instead). While the
/// model binds, its tensors are read in place from the page cache: no copy of the ~100 MB
/// archive into fresh (kernel-zeroed) memory, the largest part of a cold load.
#[allow(unsafe_code)]
fn map_file(path: &Path) -> Option<memmap2::Mmap> {
    let file = std::fs::File::open(path).ok()?;
    if file.metadata().ok()?.len() == 0 {
        return None;
    }
    // SAFETY: the mapping is read-only and private to this function's caller, which drops it
    // once the model is bound. As with every mapped model file (safetensors, GGUF), truncating
    // the file while a model is loading from it is not supported: the process would get SIGBUS.
    // Archives in the Hugging Face cache are immutable blobs.
    unsafe { memmap2::MmapOptions::new().populate().map(&file) }.ok()
}

impl Ecapa2 {
    /// Loads a TorchScript archive (such as the official `ecapa2.pt`) with default options.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        Self::load_with(path, Options::default())
    }

    /// Loads a TorchScript archive with options.
    pub fn load_with(path: impl AsRef<Path>, options: Options) -> Result<Self> {
        let path = path.as_ref();
        let _span = tracing::info_span!("load", path = %path.display()).entered();
        let archive = match map_file(path) {
            Some(map) => TorchScript::from_owner(std::sync::Arc::new(map))?,
            None => TorchScript::open(path)?,
        };
        Self::from_archive(&archive, options)
    }

    /// Fetches the official `ecapa2.pt` from the Hugging Face hub (repo `Jenthe/ECAPA2`) into
    /// the cache shared with Python's `huggingface_hub`, verifies it, and loads it. The hub
    /// settings (`HF_ENDPOINT`, `HF_TOKEN`, `HF_HUB_OFFLINE`, `HF_HUB_CACHE`/`HF_HOME`) are
    /// read by `huggingface_hub`'s rules; see [`Ecapa2::from_hub_with`] to pass them.
    #[cfg(feature = "hub")]
    pub fn from_hub(options: Options) -> Result<Self> {
        Self::from_hub_with(&ecapa2_hub::HubConfig::from_env(), None, options)
    }

    /// [`Ecapa2::from_hub`] with explicit hub settings and revision (`None`: `main`).
    #[cfg(feature = "hub")]
    pub fn from_hub_with(
        hub: &ecapa2_hub::HubConfig,
        revision: Option<&str>,
        options: Options,
    ) -> Result<Self> {
        let fetched = ecapa2_hub::fetch_official(hub, revision, None)?;
        Self::load_with(fetched.path, options)
    }

    /// Loads an archive held in memory (for instance shipped to a worker through Ray's object
    /// store), without a file. The bytes are read in place (no copy) and dropped once the
    /// model is bound.
    pub fn from_bytes(
        bytes: impl AsRef<[u8]> + Send + Sync + 'static,
        options: Options,
    ) -> Result<Self> {
        let archive = TorchScript::from_owner(std::sync::Arc::new(bytes))?;
        Self::from_archive(&archive, options)
    }

    /// Binds an already-read archive.
    pub fn from_archive(archive: &TorchScript, options: Options) -> Result<Self> {
        let Bound {
            spectrogram,
            network,
            report,
            unused,
        } = binding::bind(archive)?;
        let engine = backend::engine(&network, spectrogram.bins(), &options)?;
        drop(network);
        let min_samples = min_samples(&spectrogram, engine.shape().min_frames);
        Ok(Self {
            spectrogram: Spectrogram::new(spectrogram)?,
            engine,
            report,
            unused,
            min_samples,
        })
    }

    /// The speaker embedding of one mono 16 kHz utterance (samples in [-1, 1]).
    pub fn embed(&self, audio: &[f32]) -> Result<Vec<f32>> {
        Ok(self.features(audio, LabelSet::embedding())?.into_vec())
    }

    /// Hierarchical features of one utterance for `labels` (`"gfe_1|pool".parse()?`), in
    /// network order whatever order they were given in, exactly as the original `label=`.
    pub fn features(&self, audio: &[f32], labels: LabelSet) -> Result<Features> {
        self.check(audio)?;
        let spec = self.spectrogram.forward(audio)?;
        let rows = self.engine.run(vec![spec], labels).map_err(|e| match e {
            // A batch of one: the error is the utterance's own.
            Error::InBatch { source, .. } => *source,
            e => e,
        })?;
        Ok(self.wrap(labels, rows.into_iter().flatten().collect()))
    }

    /// Features of several utterances of any lengths, run as one batch on the device; row `i`
    /// equals what [`Ecapa2::features`] returns for utterance `i` alone (no padding effects).
    /// An unusable utterance refuses the batch before any work ([`Error::InBatch`] names the
    /// row).
    pub fn features_batch(&self, batch: &[&[f32]], labels: LabelSet) -> Result<Features> {
        for (row, a) in batch.iter().enumerate() {
            self.check(a).map_err(|e| Error::InBatch {
                row,
                source: Box::new(e),
            })?;
        }
        // The front-end is cheap and independent per utterance.
        let mut specs: Option<Result<Vec<SpecRow>>> = None;
        self.engine.install(&mut || {
            specs = Some(
                batch
                    .par_iter()
                    .map(|a| self.spectrogram.forward(a))
                    .collect(),
            );
        });
        let specs = specs.unwrap_or_else(|| Ok(Vec::new()))?;
        let rows = self.engine.run(specs, labels)?;
        Ok(self.wrap(labels, rows.into_iter().flatten().collect()))
    }

    fn wrap(&self, labels: LabelSet, data: Vec<f32>) -> Features {
        Features::new(labels, |l| self.shape().dim(l), data)
    }

    fn shape(&self) -> &Shape {
        self.engine.shape()
    }

    /// Width of the output for `labels`.
    pub fn dim(&self, labels: LabelSet) -> usize {
        self.shape().dims(labels)
    }

    /// Shortest accepted input, in samples: the front-end's reflect padding and the GFE's
    /// frame requirements (321 samples for the released model).
    pub fn min_samples(&self) -> usize {
        self.min_samples
    }

    /// The sample rate the model expects (16 kHz; the model never resamples).
    pub fn sample_rate(&self) -> u32 {
        crate::SAMPLE_RATE
    }

    /// Front-end settings as read from the archive.
    #[doc(hidden)]
    pub fn spectrogram_config(&self) -> &SpectrogramConfig {
        self.spectrogram.config()
    }

    /// The precision the heavy products run in: what the options asked for, lowered once at
    /// load to what the device offers.
    pub fn precision(&self) -> Precision {
        self.engine.precision()
    }

    /// The device the model runs on, as resolved at load.
    pub fn device(&self) -> Device {
        self.engine.device()
    }

    /// Which backend runs the model and its kernel path (`cpu (2 threads; winograd avx512)`,
    /// …), for logs and benchmark tables.
    pub fn backend_name(&self) -> String {
        self.engine.name()
    }

    /// One line per bound layer, then notes (assumed defaults, unused tensors).
    pub fn binding_report(&self) -> &[String] {
        &self.report
    }

    /// Archive tensors the network does not use (e.g. a training head).
    pub fn unused_tensors(&self) -> &[String] {
        &self.unused
    }

    /// Worker threads in use.
    pub fn threads(&self) -> usize {
        self.engine.threads()
    }

    /// The execution [`Execution::Auto`] picks for `samples` samples against the model's
    /// whole memory budget (tests, benchmarks).
    #[doc(hidden)]
    pub fn plan(&self, samples: usize) -> Result<Execution> {
        let frames = self.spectrogram.config().frames(samples).unwrap_or(0);
        self.engine
            .plan(frames, samples as f64 / crate::SAMPLE_RATE as f64)
    }

    /// Validates the audio, and refuses an input that can never fit the memory budget.
    fn check(&self, audio: &[f32]) -> Result<()> {
        let min = self.min_samples;
        if audio.len() < min {
            return Err(Error::AudioTooShort {
                samples: audio.len(),
                min,
                min_ms: min as f64 * 1000.0 / crate::SAMPLE_RATE as f64,
            });
        }
        // The same bound as files get in ecapa2-audio, for every door (arrays, JSON, Python).
        let bad = |v: &f32| !v.is_finite() || v.abs() > crate::MAX_SAMPLE_MAGNITUDE;
        if let Some((index, &value)) = audio.iter().enumerate().find(|(_, v)| bad(v)) {
            return Err(if value.is_finite() {
                Error::OutOfRange {
                    index,
                    value,
                    max: crate::MAX_SAMPLE_MAGNITUDE,
                }
            } else {
                Error::NonFinite { index, value }
            });
        }
        self.plan(audio.len()).map(drop)
    }
}

impl Label {
    /// The width of this label's features in `model`.
    pub fn dim(self, model: &Ecapa2) -> usize {
        model.shape().dim(self)
    }
}

/// Shortest input whose framing gives at least `min_frames` frames.
fn min_samples(cfg: &SpectrogramConfig, min_frames: usize) -> usize {
    let mut n = cfg.min_samples_to_frame();
    while cfg.frames(n).unwrap_or(0) < min_frames {
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn model_is_send_and_sync() {
        assert_send_sync::<super::Ecapa2>();
    }
}
