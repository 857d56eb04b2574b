//! The backend seam: what a device must provide to run the network.
//!
//! The network ([`crate::network`]) is written once, against this trait: it holds each layer's
//! weights as the backend prepared them and calls the backend for every operation that touches
//! activations. A backend owns everything about *where and how* the work runs: its device
//! memory and buffers, its threads and scratch, its kernels, the precision they compute in,
//! and how an utterance is scheduled (whole, or over time tiles when memory is short).
//!
//! [`cpu::Cpu`] is today's implementation (Winograd / direct / im2col kernels on a rayon pool
//! the backend owns). A CUDA backend implements the same trait: its `Map` lives in device
//! memory, its prepared layers hold fp16 weights, and the network code above stays as is.
//!
//! Small per-utterance vectors (squeeze-excitation sums and gates, pooled statistics) cross
//! the seam as host `Vec`s: they are a few hundred values, and the SE bottleneck MLPs that turn
//! sums into gates are host code shared by every backend.

pub(crate) mod cpu;

use crate::error::Result;
use crate::network::layers::BatchNorm;
use crate::network::weights::{ConvWeights, DilatedWeights};
use crate::Precision;
use std::ops::Range;

/// Which axis a squeeze-excitation squeezes to in a `(channels, rows, frames)` map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Axis {
    /// One value per channel (sum over rows and frames).
    Channel,
    /// One value per row, i.e. frequency (sum over channels and frames).
    Row,
}

/// The operations the network needs from a device. Activations are `Map`s of one utterance,
/// shaped `(channels, rows, frames)`; 1-D maps (after the LFE) have one row per channel.
pub(crate) trait Backend: Send + Sync + Sized {
    /// One utterance's activation on this backend.
    type Map: Send;
    /// A 3×3 convolution fused with its ReLU and folded BatchNorm, ready to run.
    type Conv3x3: Send + Sync;
    /// A 1×1 convolution (matrix) with bias and optional folded BatchNorm, ready to run.
    type Pointwise: Send + Sync;
    /// A 1-D dilated convolution with reflect padding (Res2Net branches), ready to run.
    type Dilated: Send + Sync;

    /// The precision this backend's heavy products compute in, resolved once when the backend
    /// was made (what was asked for, or what the device offers).
    fn precision(&self) -> Precision;

    // ---- preparation (at load): backend-neutral weights → the backend's layout ----

    /// Conv 3×3 (stride (s, 1), zero padding 1) → ReLU → BN.
    fn prepare_conv3x3(&self, w: &ConvWeights, bn: &BatchNorm) -> Result<Self::Conv3x3>;
    /// Conv 1×1 → optional BN (no activation).
    fn prepare_pointwise(&self, w: &ConvWeights, bn: Option<&BatchNorm>)
        -> Result<Self::Pointwise>;
    /// A dilated Conv1d with reflect padding.
    fn prepare_dilated(&self, w: &DilatedWeights) -> Result<Self::Dilated>;

    // ---- data ----

    /// A `(channels, rows, frames)` map from host data.
    fn upload(&self, data: Vec<f32>, channels: usize, rows: usize, frames: usize) -> Self::Map;
    /// `(channels, rows, frames)` of a map.
    fn shape(&self, x: &Self::Map) -> (usize, usize, usize);
    /// Hands a map back for reuse.
    fn release(&self, x: Self::Map);

    // ---- operations ----

    /// `conv(x)` for a prepared 3×3 layer.
    fn conv3x3(&self, layer: &Self::Conv3x3, x: &Self::Map) -> Self::Map;
    /// The 1×1 projection with stride `(stride, 1)` of a `(c, h, w)` map.
    fn project(&self, layer: &Self::Pointwise, x: &Self::Map, stride: usize) -> Self::Map;
    /// A 1×1 Conv1d over the flattened `(channels·rows, frames)` map; output has one row.
    fn pointwise(&self, layer: &Self::Pointwise, x: &Self::Map) -> Self::Map;
    /// `x ← relu(x + bias) · scale + shift` per channel (bias and BN optional), in place.
    fn activate(&self, x: &mut Self::Map, bias: Option<&[f32]>, bn: Option<&BatchNorm>);
    /// f64 sums of `x` over the squeezed axes, counting only the frames `cols`.
    fn squeeze_sums(&self, x: &Self::Map, axis: Axis, cols: Range<usize>) -> Vec<f64>;
    /// `x ← x · gate (+ residual)`, the gate broadcast along `axis`, in place.
    fn gate(&self, x: &mut Self::Map, gate: &[f32], axis: Axis, residual: Option<&Self::Map>);
    /// The Res2Net branches in place on a `(scale · width, 1, t)` map: group 0 passes through;
    /// group g adds group g−1's output, then runs branch g−1 → ReLU → BN.
    fn res2net(&self, branches: &[(Self::Dilated, BatchNorm)], x: &mut Self::Map);
    /// Per channel: mean and unbiased variance over frames, `[means…, variances…]`.
    fn mean_var(&self, x: &Self::Map) -> Vec<f32>;
    /// Per channel: mean and `sqrt(population variance + eps)` over frames.
    fn mean_std(&self, x: &Self::Map, eps: f64) -> (Vec<f32>, Vec<f32>);
    /// Attentive statistics: per channel, softmax over frames of `logits + bias`, then the
    /// weighted mean and `sqrt(|weighted variance| + eps)` of `x`: `[μ…, σ…]`.
    fn attentive_stats(
        &self,
        logits: &Self::Map,
        bias: &[f32],
        x: &Self::Map,
        eps: f64,
    ) -> Vec<f32>;
}
