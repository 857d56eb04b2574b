//! ECAPA2 speaker embeddings in pure Rust.
//!
//! Loads the official TorchScript `ecapa2.pt` directly (no conversion, no Python) and computes
//! the same outputs as `torch.jit.load('ecapa2.pt')(audio, label=...)`:
//!
//! ```no_run
//! # fn main() -> Result<(), ecapa2::Error> {
//! let model = ecapa2::Ecapa2::load("ecapa2.pt")?;
//! let audio = vec![0.0f32; 16000]; // 1 s of 16 kHz mono audio
//! let embedding = model.embed(&audio)?; // 192 values
//! let features = model.features(&audio, "gfe_1|pool")?; // 2048 + 3072 values
//! # Ok(()) }
//! ```
//!
//! The crate reads like the specification: [`frontend`] (STFT → log → mean removal),
//! [`network`] (LFE → GFE → pooling → embedding), [`binding`] (archive → network), with the
//! hot kernels in the separate `ecapa2-kernels` crate.

#![warn(missing_docs)]

pub mod binding;
pub mod error;
pub mod frontend;
pub mod labels;
pub mod memory;
pub mod model;
pub mod network;

pub use error::{Error, Result};
pub use labels::{Label, LabelSet};
pub use memory::{Execution, MEMORY_ENV};
pub use model::{Ecapa2, Options, Precision, THREADS_ENV};
pub use network::tiled::TilePlan;

/// Sample rate the network expects.
pub const SAMPLE_RATE: u32 = 16_000;
