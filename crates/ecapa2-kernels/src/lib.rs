//! CPU kernels for the ECAPA2 network, kept apart from the network code.
//!
//! Activations are row-major `(C, H, W)` planes (`W` = time, contiguous) for one utterance;
//! every kernel works on one utterance and spreads its own work over the current rayon pool,
//! so callers control the thread count by installing a pool (no oversubscription: the GEMMs
//! called from inside a parallel tile loop run single-threaded).

#![warn(missing_docs)]

mod amx;
pub mod conv3x3;
pub mod cpu;
mod direct;
pub mod epilogue;
pub mod matmul;
mod memory;
pub mod naive;
pub mod pointwise;
mod precision;
mod scratch;
mod simd;
mod winograd;

pub use conv3x3::{Algorithm, Conv3x3};
pub use cpu::SimdLevel;
pub use epilogue::Epilogue;
pub use pointwise::Pointwise;
pub use precision::Precision;
