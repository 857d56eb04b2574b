//! The one error type of this crate.
//!
//! Every variant names the file (or, for in-memory signals, the name the caller gave) so that a
//! message printed by the CLI is enough to find the offending input.

use thiserror::Error;

/// Everything that can go wrong while loading, converting or checking audio.
///
/// The `file` field holds the path as given by the caller (or the name passed to
/// [`validate`](crate::validate())); it is part of every message.
#[derive(Debug, Error)]
pub enum AudioError {
    /// The file could not be opened or read (missing, permission denied, I/O failure).
    #[error("{file}: cannot read file: {source}")]
    Io {
        /// The file that could not be read.
        file: String,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The file is not in a container/codec this crate decodes (WAV PCM/float, FLAC, MP3,
    /// Ogg-Vorbis), e.g. a text file renamed `.wav` or an AAC stream.
    #[error("{file}: unsupported audio format: {reason}")]
    Unsupported {
        /// The file that was rejected.
        file: String,
        /// What the decoder could not handle.
        reason: String,
    },

    /// The file looks like a supported format but is damaged: truncated header, malformed
    /// stream, inconsistent channel layout, no decodable packet.
    #[error("{file}: corrupt or malformed audio: {reason}")]
    Corrupt {
        /// The file that could not be decoded.
        file: String,
        /// What was wrong with it.
        reason: String,
    },

    /// The signal has no samples at all.
    #[error("{file}: audio is empty (0 samples)")]
    Empty {
        /// The file (or signal name) that is empty.
        file: String,
    },

    /// The signal is shorter than the minimum the model accepts.
    #[error("{file}: audio too short: {}", too_short(*len, *min, *rate, *original))]
    TooShort {
        /// The file (or signal name) that is too short.
        file: String,
        /// Its length in samples (at the rate it was checked at).
        len: usize,
        /// The minimum number of samples required.
        min: usize,
        /// The rate it was checked at, when known.
        rate: Option<u32>,
        /// The file's own length and rate `(frames, Hz)`, when it was resampled.
        original: Option<(usize, u32)>,
    },

    /// The signal contains a NaN or an infinity.
    #[error("{file}: non-finite sample {value} at index {index}")]
    NonFinite {
        /// The file (or signal name), including the channel where relevant.
        file: String,
        /// Index of the first non-finite sample.
        index: usize,
        /// The offending value (NaN, inf or -inf).
        value: f32,
    },

    /// The audio is longer than the caller's limit ([`LoadOptions::max_seconds`]); decoding
    /// stopped there, so a small compressed file cannot expand into gigabytes of samples.
    ///
    /// [`LoadOptions::max_seconds`]: crate::LoadOptions::max_seconds
    #[error("{file}: audio longer than the limit of {max_seconds:.0} s")]
    TooLong {
        /// The file that was rejected.
        file: String,
        /// The limit in seconds.
        max_seconds: f64,
    },

    /// Resampling could not be set up or failed (e.g. a sample rate of 0).
    #[error("{file}: cannot resample from {from} Hz to {to} Hz: {reason}")]
    Resample {
        /// The file (or signal name) being resampled.
        file: String,
        /// Source rate in Hz.
        from: u32,
        /// Target rate in Hz.
        to: u32,
        /// Why it failed.
        reason: String,
    },
}

impl AudioError {
    /// The file (or signal name) this error is about.
    pub fn file(&self) -> &str {
        match self {
            AudioError::Io { file, .. }
            | AudioError::Unsupported { file, .. }
            | AudioError::Corrupt { file, .. }
            | AudioError::Empty { file }
            | AudioError::TooShort { file, .. }
            | AudioError::NonFinite { file, .. }
            | AudioError::TooLong { file, .. }
            | AudioError::Resample { file, .. } => file,
        }
    }
}

/// The too-short message: the file's own duration and rate (when it was resampled), the count
/// at the model's rate, and what is needed.
fn too_short(len: usize, min: usize, rate: Option<u32>, original: Option<(usize, u32)>) -> String {
    let Some(rate) = rate else {
        return format!("{len} samples, need at least {min}");
    };
    let need = format!(
        "at least {min} are needed ({:.0} ms)",
        min as f64 * 1000.0 / f64::from(rate)
    );
    match original {
        Some((frames, from)) if from != rate => format!(
            "{:.3} s ({frames} samples at {from} Hz) is {len} samples at {rate} Hz; {need}",
            frames as f64 / f64::from(from)
        ),
        _ => format!(
            "{:.3} s ({len} samples at {rate} Hz); {need}",
            len as f64 / f64::from(rate)
        ),
    }
}
