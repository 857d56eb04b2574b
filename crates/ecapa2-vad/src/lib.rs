//! Voice activity detection for ECAPA2: Silero VAD v6 (16 kHz) run natively in Rust, with the
//! segmentation of silero's `get_speech_timestamps`.
//!
//! The weights of the model that silero-vad 6.2.3's `silero_vad.onnx` / `silero_vad.jit` run
//! (MIT, Silero Team) are embedded, so VAD works offline; any safetensors file with the tensor
//! names of the wheel's `silero_vad_16k.safetensors` can replace them.
//!
//! ```
//! # fn main() -> Result<(), ecapa2_vad::VadError> {
//! use ecapa2_vad::{SileroVad, VadOptions};
//! let vad = SileroVad::embedded()?;
//! let audio = vec![0.0f32; 16_000]; // one second of silence at 16 kHz
//! assert_eq!(vad.probabilities(&audio)?.len(), 32); // one per 512 samples, last one padded
//! assert!(vad.speech_timestamps(&audio, &VadOptions::default())?.is_empty());
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod conv;
mod error;
mod network;
mod timestamps;
mod weights;

pub use error::VadError;
pub use network::{SileroVad, CHUNK_SAMPLES, CONTEXT_SAMPLES, SAMPLE_RATE};
pub use timestamps::{speech_timestamps_from_probabilities, SpeechSegment, VadOptions};
