//! ECAPA2 speaker embeddings in pure Rust.
//!
//! Loads the official TorchScript `ecapa2.pt` directly (no conversion, no Python) and computes
//! the same outputs as `torch.jit.load('ecapa2.pt')(audio, label=...)`:
//!
//! ```no_run
//! # fn main() -> Result<(), ecapa2::Error> {
//! use ecapa2::{Ecapa2, Label, Options};
//! let model = Ecapa2::load_with("ecapa2.pt", Options::new().threads(2))?;
//! let audio = vec![0.0f32; 16000]; // 1 s of 16 kHz mono audio
//! let embedding = model.embed(&audio)?; // 192 values
//! let features = model.features(&audio, "gfe_1|pool".parse()?)?; // 2048 + 3072 values
//! let pool = features.get(0, Label::Pool); // the 3072 pool values of row 0
//! # Ok(()) }
//! ```
//!
//! Inside, the crate reads like the specification: the front-end (STFT → log → mean
//! removal), the network (LFE → GFE → pooling → embedding) written once against a backend
//! seam, binding (archive → backend-neutral weights), and the CPU backend over the kernels of
//! the separate `ecapa2-kernels` crate. `docs/DESIGN.md` describes the seam.

#![warn(missing_docs)]
// One `unsafe` block in the whole crate: mapping the archive read-only (`model.rs`); the
// kernels' unsafe code lives in `ecapa2-kernels`.
#![deny(unsafe_code)]

mod backend;
mod binding;
mod error;
mod features;
mod frontend;
mod labels;
mod model;
mod network;
mod options;
mod precision;
mod stats;

pub use error::{Error, Result};
pub use features::Features;
pub use labels::{Label, LabelSet};
pub use model::Ecapa2;
pub use options::{parse_size, Options};
#[doc(hidden)]
pub use options::{Execution, TilePlan};
pub use precision::{Device, Precision, UnknownDevice, UnknownPrecision};

/// Sample rate the network expects.
pub const SAMPLE_RATE: u32 = 16_000;

/// Largest sample magnitude the engine accepts: 10^12, 240 dB above full scale. Larger finite
/// values are not audio and overflow the front-end's power spectrum (NaN features); every input
/// door (files, arrays, JSON, Python) is refused past it with [`Error::OutOfRange`].
pub const MAX_SAMPLE_MAGNITUDE: f32 = 1e12;
