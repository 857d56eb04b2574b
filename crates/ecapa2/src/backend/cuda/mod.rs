//! The CUDA backend (feature `cuda`, experimental): the network on an NVIDIA GPU, batch-first,
//! fp16 storage with fp32 accumulation (the default) or strict fp32.
//!
//! Built with no CUDA toolkit: the driver, cuBLAS and NVRTC are loaded at run time
//! ([`libraries`]), the kernels ([`kernels.cu`](params)) are compiled by NVRTC for the device at
//! load, the heavy products are cuBLAS GEMMs. Layers:
//! - [`gpu`]: what the backend needs from a device (a trait), implemented by [`driver`] on a real
//!   GPU and, in tests, by the host emulator;
//! - [`backend`]: the seam's operations ([`crate::backend::Backend`]) as GEMMs and kernels;
//! - [`engine`]: batching, memory planning and the load-time self-check against the CPU.
//!
//! The one module of the engine that needs `unsafe`: FFI to the CUDA libraries and raw device
//! addresses. Each block states what it relies on.
#![allow(unsafe_code)]

mod backend;
#[cfg(test)]
mod compile_check;
mod driver;
#[cfg(test)]
mod emulator;
mod engine;
mod gpu;
mod graphs;
mod libraries;
mod memory;
mod nvrtc;
mod ops;
mod pack;
mod params;
mod self_check;
#[cfg(test)]
mod tests;

pub(crate) use engine::engine;

/// The kernel source (also compiled for the host by the test emulator).
pub(crate) const KERNELS: &str = include_str!("kernels.cu");
