//! The engine's error type.

use ecapa2_archive::ArchiveError;

/// Everything that can go wrong between an archive on disk and an embedding. Messages say
/// what is wrong; front-ends add which of their flags fixes it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The archive could not be read.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// The model could not be fetched from the Hugging Face hub.
    #[cfg(feature = "hub")]
    #[error(transparent)]
    Hub(#[from] ecapa2_hub::HubError),
    /// A tensor the network needs is absent.
    #[error("archive has no tensor `{path}` (expected shape {expected})")]
    MissingTensor {
        /// Dotted path that was looked up.
        path: String,
        /// The shape the network expected there.
        expected: String,
    },
    /// A module the network needs is absent.
    #[error("archive has no module `{path}` ({what})")]
    MissingModule {
        /// Dotted path that was looked up.
        path: String,
        /// What the module should have been.
        what: String,
    },
    /// A tensor exists but its shape disagrees with the rest of the network.
    #[error("tensor `{path}` has shape {shape:?}, expected {expected}")]
    ShapeMismatch {
        /// Dotted path of the tensor.
        path: String,
        /// Its shape in the archive.
        shape: Vec<usize>,
        /// What the network expected.
        expected: String,
    },
    /// The archive states a hyper-parameter this engine does not implement.
    #[error("module `{path}`: unsupported {what}")]
    Unsupported {
        /// Dotted path of the module.
        path: String,
        /// What is unsupported, with the stated value.
        what: String,
    },
    /// A label id that the model does not provide.
    #[error("unknown feature label `{label}`; valid labels are {valid}")]
    UnknownLabel {
        /// The offending id.
        label: String,
        /// The valid ids, in network order.
        valid: String,
    },
    /// The audio is too short for the network.
    #[error("audio has {samples} samples; at least {min} are needed ({min_ms:.0} ms at {} kHz)", crate::SAMPLE_RATE / 1000)]
    AudioTooShort {
        /// Samples given.
        samples: usize,
        /// Minimum accepted.
        min: usize,
        /// The minimum in milliseconds.
        min_ms: f64,
    },
    /// The utterance needs more memory than the limit even when run over time tiles.
    #[error(
        "{seconds:.0} s of audio in one call needs at least {needed_gb:.1} GB of activations even \
         when run over time tiles, over the memory limit of {limit_gb:.1} GB; raise the limit or \
         embed the audio in windows"
    )]
    TooLong {
        /// Length of the utterance.
        seconds: f64,
        /// Least activation memory any execution needs.
        needed_gb: f64,
        /// The memory limit in force.
        limit_gb: f64,
    },
    /// A long input's spill file could not be written or read.
    #[error("cannot use a spill file for a long input in {dir}: {source}")]
    Spill {
        /// The spill directory.
        dir: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The audio holds NaN or infinity.
    #[error("audio sample {index} is {value} (not a finite number)")]
    NonFinite {
        /// Index of the first bad sample.
        index: usize,
        /// Its value.
        value: f32,
    },
    /// A sample is finite but far beyond any audio level (samples are expected in [-1, 1]):
    /// it would overflow the front-end's power spectrum and give NaN features.
    #[error("audio sample {index} is {value:e}, beyond ±{max:e}: not audio (samples are expected in [-1, 1])")]
    OutOfRange {
        /// Index of the first such sample.
        index: usize,
        /// Its value.
        value: f32,
        /// The largest magnitude accepted, [`crate::MAX_SAMPLE_MAGNITUDE`].
        max: f32,
    },
    /// One utterance of a batch is unusable (the batch is refused before any work).
    #[error("batch row {row}: {source}")]
    InBatch {
        /// Row index.
        row: usize,
        /// What is wrong with it.
        source: Box<Error>,
    },
    /// The thread pool could not be created.
    #[error("cannot start {threads} worker threads: {message}")]
    Threads {
        /// Requested thread count.
        threads: usize,
        /// The reason.
        message: String,
    },
    /// A device failed while running the network (out of device memory, a failed kernel
    /// launch): the call is abandoned, the model stays usable.
    #[error("{device} backend: {message}")]
    Device {
        /// The device (`cpu`, …).
        device: String,
        /// What failed.
        message: String,
    },
    /// A device's results disagreed with the CPU engine's on the load-time self-check: the
    /// driver/library combination is not trusted (`skip_self_check` overrides).
    #[error("{device} self-check failed: {message}; refusing to load (skip the check only if you have verified this device otherwise)")]
    SelfCheck {
        /// The device.
        device: String,
        /// Which feature disagreed, by how much, and the tolerance.
        message: String,
    },
}

/// Shorthand for results with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
