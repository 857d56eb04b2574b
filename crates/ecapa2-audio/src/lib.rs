//! Audio input for ECAPA2: turn a file into 16 kHz mono `f32` samples the model accepts.
//!
//! ```no_run
//! let loaded = ecapa2_audio::load("speech.flac", &ecapa2_audio::LoadOptions::for_model(16_000, 321))?;
//! println!("{}", loaded.summary()); // e.g. "44100 Hz stereo FLAC (2.91 s) -> resampled to 16000 Hz, mixed to mono"
//! let samples: &[f32] = &loaded.signals[0];
//! # Ok::<(), ecapa2_audio::AudioError>(())
//! ```
//!
//! - [`decode()`](decode::decode): the WAV family (RIFF, RIFX, RF64, BW64, Wave64; PCM 8 to 32
//!   bits, float, A-law, µ-law) by this crate's own lenient reader, FLAC, MP3 and Ogg-Vorbis via
//!   symphonia; PCM16 becomes `x / 32768` exactly as in torchaudio.
//! - [`ChannelMode`]: average the channels (default) or keep them as separate signals.
//! - [`resample()`](resample::resample): rubato FFT resampler, no delay, `round(N * to / from)`
//!   samples.
//! - [`validate()`](validate::validate): empty, too short (the model's `min_samples`) and NaN/Inf checks.
//! - [`inputs::expand`]: files, folders and `@list` files to the audio files they name, the one
//!   listing the CLI, Python and the Ray program share.
//!
//! Every error is an [`AudioError`] naming the file; nothing in this crate panics on bad input.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod channels;
pub mod decode;
pub mod error;
pub mod inputs;
pub mod load;
pub mod resample;
mod symphonia_decode;
pub mod validate;
mod wav;

pub use channels::{mix_down, ChannelMode};
pub use decode::{decode, decode_bytes, Decoded};
pub use error::AudioError;
pub use load::{load, load_bytes, LoadOptions, Loaded};
pub use resample::{resample, resampled_len};
pub use validate::validate;
