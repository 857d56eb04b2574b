//! Speaker diarization ("who spoke when") on ECAPA2 embeddings.
//!
//! The pipeline reads like the task: speech regions (from any [`SpeechDetector`], e.g. the
//! Silero VAD the CLI adapts) → fixed [windows](windows) inside them → embeddings from an
//! [`EmbeddingSource`] (the engine's batched API, or oracle vectors in tests) → clustering
//! ([AHC](cluster::ahc) with scipy's semantics, or [NME-SC](cluster::nmesc), Park et al. 2019)
//! → [turns] → [RTTM](rttm) or JSON. [`der`] scores a hypothesis against a reference (DER with
//! its parts, and JER) as pyannote.metrics does.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod cluster;
pub mod der;
mod embedder;
mod error;
mod pipeline;
pub mod rttm;
mod segment;
#[cfg(feature = "silero")]
mod silero;
pub mod turns;
pub mod windows;

pub use cluster::{Clustering, SpeakerCount};
pub use embedder::{EmbeddingSource, SpeechDetector};
pub use error::{DiarizeError, Result};
pub use pipeline::{Diarization, DiarizeOptions, Diarizer, Speaker};
pub use segment::{Segment, Turn};
#[cfg(feature = "silero")]
pub use silero::SileroDetector;
