//! CPU kernels for the ECAPA2 network, kept apart from the network code.
//!
//! Activations are row-major `(C, H, W)` planes (`W` = time, contiguous) for one utterance;
//! every kernel works on one utterance and spreads its own work over the [`CpuContext`] it is
//! given (its pool and per-worker scratch): no global pool, no thread-local state. The GEMMs
//! called from inside a parallel tile loop run single-threaded (no oversubscription).

#![warn(missing_docs)]

// First: its `per_level!` macro is used by the kernels below.
#[macro_use]
mod simd;
mod amx;
mod context;
pub mod conv3x3;
pub mod cpu;
mod direct;
pub mod epilogue;
pub mod matmul;
mod memory;
pub mod naive;
pub mod pointwise;
mod precision;
mod winograd;

pub use context::CpuContext;
pub use conv3x3::{Algorithm, Conv3x3};
pub use cpu::SimdLevel;
pub use epilogue::Epilogue;
pub use pointwise::Pointwise;
pub use precision::Precision;
