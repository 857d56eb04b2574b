//! The public model: load an archive, then `embed` or extract `features`, like the original
//! `torch.jit.load('ecapa2.pt')(audio, label=...)`.

use crate::binding::{self, Bound};
use crate::error::{Error, Result};
use crate::frontend::{Spectrogram, SpectrogramConfig};
use crate::labels::{Label, LabelSet};
use crate::network::Network;
use ecapa2_archive::TorchScript;
use rayon::prelude::*;
use std::path::Path;

/// Environment variable that sets the default thread count.
pub const THREADS_ENV: &str = "ECAPA2_NUM_THREADS";

/// How to run the model.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Worker threads; `None` = `$ECAPA2_NUM_THREADS`, else the number of physical cores.
    pub threads: Option<usize>,
}

impl Options {
    /// The thread count these options resolve to.
    pub fn resolved_threads(&self) -> usize {
        self.threads
            .or_else(|| {
                std::env::var(THREADS_ENV)
                    .ok()
                    .and_then(|v| v.trim().parse().ok())
            })
            .filter(|&n| n > 0)
            .unwrap_or_else(num_cpus::get_physical)
            .max(1)
    }
}

/// An ECAPA2 model ready to run on the CPU.
pub struct Ecapa2 {
    spectrogram: Spectrogram,
    network: Network,
    pool: rayon::ThreadPool,
    report: Vec<String>,
    unused: Vec<String>,
    min_samples: usize,
}

impl std::fmt::Debug for Ecapa2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ecapa2")
            .field("spectrogram", self.spectrogram.config())
            .field("blocks", &self.network.blocks.len())
            .field("embedding_dim", &self.network.dim(Label::Embedding))
            .field("threads", &self.pool.current_num_threads())
            .finish()
    }
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
        let archive = TorchScript::open(path)?;
        Self::from_archive(&archive, options)
    }

    /// Fetches the official `ecapa2.pt` from the Hugging Face hub (repo `Jenthe/ECAPA2`) into
    /// the cache shared with Python's `huggingface_hub`, verifies it, and loads it. Honours
    /// `HF_ENDPOINT`, `HF_TOKEN`, `HF_HUB_OFFLINE` and `HF_HUB_CACHE`/`HF_HOME`.
    #[cfg(feature = "hub")]
    pub fn from_hub() -> Result<Self> {
        let fetched = ecapa2_hub::fetch_official(&ecapa2_hub::HubConfig::from_env(), None, None)?;
        Self::load(fetched.path)
    }

    /// Binds an already-read archive.
    pub fn from_archive(archive: &TorchScript, options: Options) -> Result<Self> {
        let Bound {
            spectrogram,
            network,
            report,
            unused,
        } = binding::bind(archive)?;
        let threads = options.resolved_threads();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("ecapa2-{i}"))
            .build()
            .map_err(|e| Error::Threads {
                threads,
                message: e.to_string(),
            })?;
        tracing::debug!(threads, "model bound");
        let min_samples = min_samples(&spectrogram, network.min_frames());
        Ok(Self {
            spectrogram: Spectrogram::new(spectrogram)?,
            network,
            pool,
            report,
            unused,
            min_samples,
        })
    }

    /// The speaker embedding of one mono 16 kHz utterance (samples in [-1, 1]).
    pub fn embed(&self, audio: &[f32]) -> Result<Vec<f32>> {
        self.features_with(audio, LabelSet::embedding())
    }

    /// Hierarchical features for `labels` (`'gfe_1|pool|embedding'`), concatenated in network
    /// order whatever order they are given in, exactly as the original `label=` argument.
    pub fn features(&self, audio: &[f32], labels: &str) -> Result<Vec<f32>> {
        self.features_with(audio, LabelSet::parse(labels)?)
    }

    /// [`Ecapa2::features`] with an already-parsed label set.
    pub fn features_with(&self, audio: &[f32], labels: LabelSet) -> Result<Vec<f32>> {
        self.check(audio)?;
        let (spec, frames) = self.spectrogram.forward(audio)?;
        let bins = self.spectrogram.config().bins();
        Ok(self
            .pool
            .install(|| self.network.forward(spec, bins, frames, labels)))
    }

    /// Features for several utterances of any lengths; each row equals what
    /// [`Ecapa2::features_with`] returns for that utterance alone (no padding effects).
    pub fn features_batch(&self, batch: &[&[f32]], labels: LabelSet) -> Result<Vec<Vec<f32>>> {
        for audio in batch {
            self.check(audio)?;
        }
        let bins = self.spectrogram.config().bins();
        self.pool.install(|| {
            // The front-end is cheap and independent per utterance; the network spreads each
            // utterance over the pool itself.
            let specs = batch
                .par_iter()
                .map(|a| self.spectrogram.forward(a))
                .collect::<Result<Vec<_>>>()?;
            Ok(specs
                .into_iter()
                .map(|(s, t)| self.network.forward(s, bins, t, labels))
                .collect())
        })
    }

    /// Width of the output for `labels`.
    pub fn dim(&self, labels: LabelSet) -> usize {
        self.network.dims(labels)
    }

    /// Shortest accepted input, in samples: the front-end's reflect padding and the GFE's
    /// frame requirements (321 samples for the released model).
    pub fn min_samples(&self) -> usize {
        self.min_samples
    }

    /// Front-end settings as read from the archive.
    pub fn spectrogram_config(&self) -> &SpectrogramConfig {
        self.spectrogram.config()
    }

    /// One line per bound layer, plus notes on assumed defaults.
    pub fn binding_report(&self) -> &[String] {
        &self.report
    }

    /// Archive tensors the network does not use (e.g. a training head).
    pub fn unused_tensors(&self) -> &[String] {
        &self.unused
    }

    /// Worker threads in use.
    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    fn check(&self, audio: &[f32]) -> Result<()> {
        let min = self.min_samples;
        if audio.len() < min {
            return Err(Error::AudioTooShort {
                samples: audio.len(),
                min,
                min_ms: min as f64 / 16.0,
            });
        }
        if let Some((index, &value)) = audio.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(Error::NonFinite { index, value });
        }
        // Refuse up front rather than be killed by the OOM killer half-way through.
        let cfg = self.spectrogram.config();
        let needed = self
            .network
            .activation_bytes(cfg.bins(), cfg.frames(audio.len()).unwrap_or(0));
        // Only large inputs pay for reading /proc/meminfo.
        if let Some(available) = (needed > MEMORY_CHECK_BYTES)
            .then(available_memory)
            .flatten()
        {
            if needed as f64 > 0.8 * available as f64 {
                let gb = |b: usize| b as f64 / 1e9;
                return Err(Error::TooLong {
                    seconds: audio.len() as f64 / crate::SAMPLE_RATE as f64,
                    needed_gb: gb(needed),
                    available_gb: gb(available),
                });
            }
        }
        Ok(())
    }
}

/// Activation sizes below this are never checked against available memory.
const MEMORY_CHECK_BYTES: usize = 1 << 30;

/// Shortest input whose framing gives at least `min_frames` frames.
fn min_samples(cfg: &SpectrogramConfig, min_frames: usize) -> usize {
    let mut n = cfg.min_samples_to_frame();
    while cfg.frames(n).unwrap_or(0) < min_frames {
        n += 1;
    }
    n
}

/// `MemAvailable` from /proc/meminfo (Linux); `None` elsewhere, where no limit is enforced.
fn available_memory() -> Option<usize> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
