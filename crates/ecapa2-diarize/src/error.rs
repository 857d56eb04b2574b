//! Typed errors of the diarization crate.

/// What can go wrong while diarizing or scoring.
#[derive(Debug, thiserror::Error)]
pub enum DiarizeError {
    /// An option out of its range (e.g. `min_speakers > max_speakers`, a zero window).
    #[error("invalid option: {0}")]
    InvalidOptions(String),
    /// More speakers asked for than there are windows to cluster.
    #[error("{asked} speakers asked for, but only {windows} windows of speech to cluster")]
    TooFewWindows {
        /// The requested number of speakers.
        asked: usize,
        /// The windows available.
        windows: usize,
    },
    /// The embedding source failed (the engine's error, as text with its source).
    #[error("embedding failed: {0}")]
    Embedding(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The speech detector failed.
    #[error("speech detection failed: {0}")]
    Detection(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// An embedding with a non-finite value or the wrong length.
    #[error("embedding {index} is invalid: {reason}")]
    BadEmbedding {
        /// Row of the embedding.
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// A malformed RTTM or UEM line.
    #[error("{path}:{line}: {reason}")]
    Parse {
        /// The file (or `<string>`).
        path: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// Reading a file failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Result with [`DiarizeError`].
pub type Result<T, E = DiarizeError> = std::result::Result<T, E>;
