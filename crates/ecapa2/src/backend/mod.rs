//! The backend seam: what a device must provide to run the network.
//!
//! The network ([`crate::network`]) is written once, against [`Backend`]: it holds each layer's
//! weights as the backend prepared them and calls the backend for every operation that touches
//! activations. A backend owns everything about *where and how* the work runs: its device
//! memory and buffers, its threads and scratch, its kernels, the precision they compute in.
//!
//! **A batch.** A [`Backend::Map`] holds a batch of utterances ("rows"), each with its own
//! frame count: `(channels, height, frames_r)` for row `r`. A device may store it padded to the
//! longest row with a mask; every op that reduces over time (SE squeezes, mean/variance, the
//! attentive softmax and statistics) must use each row's own frames only, so a row gives
//! exactly what it gives alone. Per-utterance vectors (statistics, the attention context, the
//! embedding) are maps with one frame per row, and stay on the device.
//!
//! **Fallible.** Every op returns [`Result`]: a device failure is an [`crate::Error`], never a
//! panic. **One synchronisation.** Nothing returns to the host inside a forward: the network
//! ends with one [`Backend::download`] of the requested features.
//!
//! Above the seam, an [`Engine`] is what the model holds: a backend with the network prepared
//! on it, and everything about scheduling a call on that device (memory budget, whole vs tiled,
//! thread pool, kernel report). [`cpu`] is today's implementation.

#[cfg(test)]
mod counting;
pub(crate) mod cpu;
#[cfg(feature = "cuda")]
pub(crate) mod cuda;
mod execution;

use crate::error::Result;
use crate::labels::LabelSet;
use crate::network::layers::{BatchNorm, Linear};
use crate::network::se::SeGate;
use crate::network::weights::{ConvWeights, DilatedWeights, NetworkWeights};
use crate::network::Shape;
use crate::options::Options;
use crate::{Device, Precision};
pub use execution::{Execution, TilePlan};

/// Which axis a squeeze-excitation squeezes to in a `(channels, rows, frames)` map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Axis {
    /// One value per channel (sum over rows and frames).
    Channel,
    /// One value per row, i.e. frequency (sum over channels and frames).
    Row,
}

/// The operations the network needs from a device, on batches (see the module docs).
pub(crate) trait Backend: Send + Sync + Sized {
    /// A batch of activations on this backend.
    type Map: Send;
    /// A 3×3 convolution fused with its ReLU and folded BatchNorm, ready to run.
    type Conv3x3: Send + Sync;
    /// A 1×1 convolution (matrix) with bias and optional folded BatchNorm, ready to run.
    type Pointwise: Send + Sync;
    /// A 1-D dilated convolution with reflect padding (Res2Net branches), ready to run.
    type Dilated: Send + Sync;
    /// A squeeze-excitation layer (squeeze, bottleneck MLP, gate, residual), ready to run.
    type Se: Send + Sync;
    /// A dense layer on per-row vectors (the attention context, the embedding), ready to run.
    type Linear: Send + Sync;
    /// A folded BatchNorm (`x · scale + shift` per channel), ready to run.
    type Affine: Send + Sync;

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
    /// An SE layer squeezing to `axis` with bottleneck `mlp` ([`SeGate::gate`] is the shared
    /// host implementation of the MLP).
    fn prepare_se(&self, mlp: &SeGate, axis: Axis) -> Result<Self::Se>;
    /// A dense layer on vectors.
    fn prepare_linear(&self, w: &Linear) -> Result<Self::Linear>;
    /// A folded BatchNorm applied on its own (after a ReLU, on pooled statistics).
    fn prepare_affine(&self, bn: &BatchNorm) -> Result<Self::Affine>;

    // ---- data ----

    /// A batch from host rows, each `channels · height · frames_r` values (row-major).
    fn upload(&self, rows: Vec<Vec<f32>>, channels: usize, height: usize) -> Result<Self::Map>;
    /// Hands a batch back for reuse.
    fn release(&self, x: Self::Map);
    /// The one synchronisation of a forward: per row, the 1-frame `parts` concatenated in order.
    fn download(&self, parts: Vec<Self::Map>) -> Result<Vec<Vec<f32>>>;

    // ---- operations (each row independently; reductions over each row's own frames) ----

    /// `conv(x)` for a prepared 3×3 layer.
    fn conv3x3(&self, layer: &Self::Conv3x3, x: &Self::Map) -> Result<Self::Map>;
    /// The 1×1 projection with stride `(stride, 1)` of a `(c, h, w)` map.
    fn project(&self, layer: &Self::Pointwise, x: &Self::Map, stride: usize) -> Result<Self::Map>;
    /// A 1×1 Conv1d over the flattened `(channels·height, frames)` map; output has height 1.
    fn pointwise(&self, layer: &Self::Pointwise, x: &Self::Map) -> Result<Self::Map>;
    /// `x ← relu(x + bias) · scale + shift` per channel, in place; `bias` is a per-row vector
    /// (1 frame per row) broadcast over time; bias and BN optional.
    fn activate(
        &self,
        x: &mut Self::Map,
        bias: Option<&Self::Map>,
        bn: Option<&Self::Affine>,
    ) -> Result<()>;
    /// The SE block in place: squeeze each row over its frames, the bottleneck MLP, then
    /// `x ← x · gate (+ residual)`.
    fn se(&self, layer: &Self::Se, x: &mut Self::Map, residual: Option<&Self::Map>) -> Result<()>;
    /// The Res2Net branches in place on a `(scale · width, 1, t)` map: group 0 passes through;
    /// group g adds group g−1's output, then runs branch g−1 → ReLU → BN.
    fn res2net(&self, branches: &[(Self::Dilated, Self::Affine)], x: &mut Self::Map) -> Result<()>;
    /// Per channel: mean and unbiased variance over frames, `[means…, variances…]` (1 frame).
    fn mean_var(&self, x: &Self::Map) -> Result<Self::Map>;
    /// Per channel: `[means…, sqrt(population variance + eps)…]` (1 frame).
    fn mean_std(&self, x: &Self::Map, eps: f64) -> Result<Self::Map>;
    /// Attentive statistics: per channel, softmax over frames of `logits + bias`, then the
    /// weighted mean and `sqrt(|weighted variance| + eps)` of `x`: `[μ…, σ…]` (1 frame).
    /// `bias` is constant over time, so it cancels in the softmax: a backend may ignore it.
    fn attentive_stats(
        &self,
        logits: &Self::Map,
        bias: &[f32],
        x: &Self::Map,
        eps: f64,
    ) -> Result<Self::Map>;
    /// A dense layer on 1-frame maps.
    fn linear(&self, layer: &Self::Linear, x: &Self::Map) -> Result<Self::Map>;
    /// `x · scale + shift` per channel of a 1-frame map, as a new map.
    fn affine(&self, x: &Self::Map, bn: &Self::Affine) -> Result<Self::Map>;
}

/// One spectrogram to run: `(bins · frames)` values and its frame count.
pub(crate) type SpecRow = (Vec<f32>, usize);

/// A device with the network prepared on it: what a model holds, whatever the device. Every
/// scheduling fact of the device lives behind it.
pub(crate) trait Engine: Send + Sync {
    /// The device it runs on.
    fn device(&self) -> Device;
    /// The precision the heavy products actually run in.
    fn precision(&self) -> Precision;
    /// The network's widths.
    fn shape(&self) -> &Shape;
    /// Which backend runs the model and its kernel path, for logs and benchmark tables.
    fn name(&self) -> String;
    /// Worker threads in use.
    fn threads(&self) -> usize;
    /// Runs `f` where the engine's host work runs (its thread pool).
    fn install(&self, f: &mut (dyn FnMut() + Send));
    /// The execution [`Execution::Auto`] picks for an utterance of `frames` frames, or
    /// [`crate::Error::TooLong`] (`seconds` for the message) when it can never fit.
    fn plan(&self, frames: usize, seconds: f64) -> Result<Execution>;
    /// Runs a batch of spectrograms (`bins` each) for `labels`; one output row per input row.
    /// A failure of one row is [`crate::Error::InBatch`] naming it.
    fn run(&self, rows: Vec<SpecRow>, labels: LabelSet) -> Result<Vec<Vec<f32>>>;
}

/// The engine `options` ask for, with `weights` prepared on it.
pub(crate) fn engine(
    weights: &NetworkWeights,
    bins: usize,
    options: &Options,
) -> Result<Box<dyn Engine>> {
    match options.device {
        Device::Cpu => Ok(Box::new(cpu::CpuEngine::new(weights, bins, options)?)),
        #[cfg(feature = "cuda")]
        Device::Cuda(_) => cuda::engine(weights, bins, options),
        #[cfg(not(feature = "cuda"))]
        Device::Cuda(_) => Err(crate::Error::Device {
            device: options.device.to_string(),
            message: "this build has no CUDA support (built without the `cuda` feature; install \
                      a CUDA wheel or build with `--features cuda`)"
                .into(),
        }),
    }
}
