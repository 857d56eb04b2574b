//! The one error type of the crate: bad weights, bad audio, bad options.

use std::path::PathBuf;

/// Errors from loading Silero VAD weights or running it. Nothing in this crate panics on user
/// input; every malformed weights file, audio buffer or option maps to one of these.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VadError {
    /// The weights file could not be read or is not a valid safetensors file.
    #[error("cannot read VAD weights {path}: {source}")]
    Weights {
        /// The file (`<embedded>` or `<bytes>` for in-memory weights).
        path: PathBuf,
        /// What the safetensors reader reported (boxed: it is large and this path is cold).
        #[source]
        source: Box<ecapa2_archive::ArchiveError>,
    },
    /// The weights file is a zip archive (TorchScript `.jit`/`.pt`), not safetensors.
    #[error(
        "cannot read VAD weights {path}: this is a zip (TorchScript) archive, not safetensors; \
         export the tensors with reference/make_vad_weights.py"
    )]
    NotSafetensors {
        /// The file.
        path: PathBuf,
    },
    /// A tensor the network needs is not in the weights file.
    #[error("VAD weights lack tensor `{name}` (is this a Silero VAD v6 16 kHz safetensors file?)")]
    MissingTensor {
        /// The tensor name, as in the silero-vad wheel's `silero_vad_16k.safetensors`.
        name: &'static str,
    },
    /// A tensor has another shape than Silero VAD v6 16 kHz.
    #[error("VAD weights tensor `{name}` has shape {found:?}, expected {expected:?}")]
    WrongShape {
        /// The tensor name.
        name: &'static str,
        /// The shape the network needs.
        expected: &'static [usize],
        /// The shape in the file.
        found: Vec<usize>,
    },
    /// A tensor holds a NaN or an infinity.
    #[error("VAD weights tensor `{name}` holds a non-finite value at element {index}")]
    NonFiniteWeight {
        /// The tensor name.
        name: &'static str,
        /// Flat index of the first non-finite element.
        index: usize,
    },
    /// The audio holds a NaN or an infinity.
    #[error("audio sample {index} is not finite ({value})")]
    NonFiniteAudio {
        /// Index of the first non-finite sample.
        index: usize,
        /// Its value.
        value: f32,
    },
    /// A sample's magnitude is beyond [`ecapa2::MAX_SAMPLE_MAGNITUDE`] (not audio; it would
    /// overflow the power spectrum).
    #[error("audio sample {index} is {value:e}, beyond ±{max:e}: not audio")]
    OutOfRange {
        /// Index of the first such sample.
        index: usize,
        /// Its value.
        value: f32,
        /// The largest magnitude accepted.
        max: f32,
    },
    /// An option is outside what the segmentation accepts.
    #[error("VAD option {name} = {value} is invalid: {reason}")]
    BadOption {
        /// The option's field name in [`crate::VadOptions`].
        name: &'static str,
        /// The value given, as text.
        value: String,
        /// What the option must be.
        reason: &'static str,
    },
}
