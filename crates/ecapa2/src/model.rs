//! The public model: load an archive, then `embed` or extract `features`, like the original
//! `torch.jit.load('ecapa2.pt')(audio, label=...)`.

use crate::binding::{self, Bound};
use crate::error::{Error, Result};
use crate::frontend::{Spectrogram, SpectrogramConfig};
use crate::labels::{Label, LabelSet};
use crate::memory::{self, Execution};
use crate::network::Network;
use ecapa2_archive::TorchScript;
pub use ecapa2_kernels::Precision;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// Environment variable that sets the default thread count.
pub const THREADS_ENV: &str = "ECAPA2_NUM_THREADS";

/// How to run the model.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Worker threads; `None` = `$ECAPA2_NUM_THREADS`, else the number of physical cores.
    pub threads: Option<usize>,
    /// Bytes of activations one utterance may use (the model's weights not included);
    /// `None` = `$ECAPA2_MAX_MEMORY` (`2G`, `1500M`), else 80 % of the memory available at the
    /// time of the call. Longer inputs run over time tiles (see [`Execution`]).
    pub max_memory: Option<usize>,
    /// Directory for the tiled path's spill files; `None` = the system temporary directory.
    pub spill_dir: Option<PathBuf>,
    /// Force whole-utterance or tiled execution (tests, benchmarks); default
    /// [`Execution::Auto`].
    pub execution: Execution,
    /// Precision of the 3×3 convolutions; default fp32. [`Precision::Bf16`] is opt-in and
    /// runs only on CPUs with AMX-BF16 (fp32 elsewhere, with a warning; see
    /// [`Ecapa2::precision`]).
    pub precision: Precision,
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

    /// The memory limit these options resolve to (`None`: 80 % of what is available).
    pub fn resolved_max_memory(&self) -> Option<usize> {
        self.max_memory.or_else(|| {
            std::env::var(memory::MEMORY_ENV)
                .ok()
                .and_then(|v| memory::parse_size(&v))
        })
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
    max_memory: Option<usize>,
    spill_dir: Option<PathBuf>,
    execution: Execution,
    precision: Precision,
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

/// Maps `path` read-only, pre-faulted, or `None` (then the file is read instead). While the
/// model binds, its tensors are read in place from the page cache: no copy of the ~100 MB
/// archive into fresh (kernel-zeroed) memory, the largest part of a cold load.
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
        } = binding::bind_with(archive, options.precision)?;
        let threads = options.resolved_threads();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("ecapa2-{i}"))
            .build()
            .map_err(|e| Error::Threads {
                threads,
                message: e.to_string(),
            })?;
        let precision = network.precision();
        if precision != options.precision {
            let why = if options.precision.supported() == options.precision {
                "no 3×3 convolution of this model is wide enough for the Winograd products"
            } else {
                "this CPU or OS offers no AMX-BF16 tiles"
            };
            tracing::warn!(
                "precision {} asked for, {precision} used: {why}",
                options.precision
            );
        }
        tracing::debug!(threads, %precision, "model bound");
        let min_samples = min_samples(&spectrogram, network.min_frames());
        Ok(Self {
            spectrogram: Spectrogram::new(spectrogram)?,
            network,
            pool,
            report,
            unused,
            min_samples,
            max_memory: options.resolved_max_memory(),
            spill_dir: options.spill_dir,
            execution: options.execution,
            precision,
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
        let execution = self.check(audio)?;
        let (spec, frames) = self.spectrogram.forward(audio)?;
        self.pool
            .install(|| self.run(spec, frames, labels, &execution))
    }

    /// Features for several utterances of any lengths; each row equals what
    /// [`Ecapa2::features_with`] returns for that utterance alone (no padding effects).
    pub fn features_batch(&self, batch: &[&[f32]], labels: LabelSet) -> Result<Vec<Vec<f32>>> {
        let executions = batch
            .iter()
            .map(|a| self.check(a))
            .collect::<Result<Vec<_>>>()?;
        self.pool.install(|| {
            // The front-end is cheap and independent per utterance; the network spreads each
            // utterance over the pool itself.
            let specs = batch
                .par_iter()
                .map(|a| self.spectrogram.forward(a))
                .collect::<Result<Vec<_>>>()?;
            specs
                .into_iter()
                .zip(&executions)
                .map(|((s, t), e)| self.run(s, t, labels, e))
                .collect()
        })
    }

    fn run(
        &self,
        spec: Vec<f32>,
        frames: usize,
        labels: LabelSet,
        execution: &Execution,
    ) -> Result<Vec<f32>> {
        let bins = self.spectrogram.config().bins();
        match execution {
            Execution::Tiled(plan) => self
                .network
                .forward_tiled(spec, bins, frames, labels, plan)
                .map_err(|source| Error::Spill {
                    dir: plan.spill.clone().unwrap_or_default(),
                    source,
                }),
            Execution::Auto | Execution::Whole => {
                Ok(self.network.forward(spec, bins, frames, labels))
            }
        }
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

    /// The precision the 3×3 convolutions actually run in (what was asked for, lowered to
    /// what this CPU offers).
    pub fn precision(&self) -> Precision {
        self.precision
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
        self.pool.current_num_threads()
    }

    /// Validates the audio and picks how to run it.
    fn check(&self, audio: &[f32]) -> Result<Execution> {
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
        if self.execution != Execution::Auto {
            return Ok(self.execution.clone());
        }
        let cfg = self.spectrogram.config();
        let frames = cfg.frames(audio.len()).unwrap_or(0);
        memory::plan(
            &self.network,
            cfg.bins(),
            frames,
            self.max_memory,
            self.spill_dir.as_ref(),
        )
        .map_err(|r| Error::TooLong {
            seconds: audio.len() as f64 / crate::SAMPLE_RATE as f64,
            needed_gb: memory::gb(r.needed),
            limit_gb: memory::gb(r.limit),
        })
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
