//! Backend-neutral weights: what binding reads from the archive, in PyTorch's own layouts,
//! before any backend prepares them (Winograd packing, fp16 casts, device upload).
//!
//! Tensors are borrowed from the mapped archive where possible (`Cow`): they live only until
//! the backend has prepared its own copies, so loading never holds two full copies.

use super::layers::{BatchNorm, Linear};
use super::se::SeGate;
use std::borrow::Cow;

/// A convolution weight with its stated geometry (Conv2d k×k or Conv1d k=1).
#[derive(Debug, Clone)]
pub(crate) struct ConvWeights<'a> {
    /// Flattened PyTorch layout `(cout, cin, k, k)` or `(cout, cin[, 1])`.
    pub weight: Cow<'a, [f32]>,
    /// Bias, if the module has one.
    pub bias: Option<Vec<f32>>,
    /// Output channels.
    pub cout: usize,
    /// Input channels.
    pub cin: usize,
    /// Stride along the first spatial axis (frequency); time is never strided.
    pub stride: usize,
}

/// A Conv1d with kernel > 1, dilation and reflect padding (the Res2Net branch convs).
#[derive(Debug, Clone)]
pub(crate) struct DilatedWeights<'a> {
    /// `(cout, cin, k)`.
    pub weight: Cow<'a, [f32]>,
    /// Bias (zeros when the module has none).
    pub bias: Vec<f32>,
    /// Output channels.
    pub cout: usize,
    /// Input channels.
    pub cin: usize,
    /// Kernel taps.
    pub k: usize,
    /// Dilation.
    pub dilation: usize,
    /// Reflect padding on each side (`dilation · (k − 1) / 2`: length-preserving).
    pub padding: usize,
}

/// The squeeze-excitation of an LFE block.
#[derive(Debug, Clone)]
pub(crate) enum SeWeights {
    /// Channel-wise (the default, spec U1).
    Channel(SeGate),
    /// Frequency-wise (fwSE).
    Frequency(SeGate),
}

/// The residual path of an LFE block.
#[derive(Debug, Clone)]
pub(crate) enum ResidualWeights<'a> {
    /// None (the first block, and the block that widens the channels).
    None,
    /// The input itself.
    Identity,
    /// A strided 1×1 projection (no bias) and its BN.
    Projection(ConvWeights<'a>, BatchNorm),
}

/// One LFE block: three Conv 3×3 → ReLU → BN, an SE, a residual.
#[derive(Debug, Clone)]
pub(crate) struct BlockWeights<'a> {
    /// Module path in the archive.
    pub name: String,
    /// conv1..conv3 with their BNs.
    pub convs: [(ConvWeights<'a>, BatchNorm); 3],
    /// The SE.
    pub se: SeWeights,
    /// The residual.
    pub residual: ResidualWeights<'a>,
}

/// tdnn_2, the SE-Res2Net block.
#[derive(Debug, Clone)]
pub(crate) struct Res2Weights<'a> {
    /// conv1 (k=1) and bn1.
    pub conv1: (ConvWeights<'a>, BatchNorm),
    /// The branch convs and their BNs.
    pub branches: Vec<(DilatedWeights<'a>, BatchNorm)>,
    /// conv2 (k=1) and bn2.
    pub conv2: (ConvWeights<'a>, BatchNorm),
    /// The 1-D SE.
    pub se: SeGate,
}

/// pooling_1.
#[derive(Debug, Clone)]
pub(crate) struct PoolingWeights {
    /// Conv1d(3C → hidden, k=1) as a matrix `(hidden, 3C)`.
    pub attention_in: Linear,
    /// BN after its ReLU.
    pub attention_bn: BatchNorm,
    /// Conv1d(hidden → C, k=1) as a matrix `(C, hidden)`.
    pub attention_out: Linear,
    /// BatchNorm1d(2C) on the pooled statistics.
    pub bn: BatchNorm,
}

/// The whole network after the front-end, as stated by the archive.
#[derive(Debug, Clone)]
pub(crate) struct NetworkWeights<'a> {
    /// LFE blocks in order.
    pub blocks: Vec<BlockWeights<'a>>,
    /// tdnn_1: Conv1d k=1 and the BN after its ReLU.
    pub tdnn_1: (ConvWeights<'a>, BatchNorm),
    /// tdnn_2.
    pub tdnn_2: Res2Weights<'a>,
    /// dense_1: Conv1d k=1 (ReLU after, no BN).
    pub dense_1: ConvWeights<'a>,
    /// pooling_1.
    pub pooling: PoolingWeights,
    /// dense_2.
    pub dense_2: Linear,
}
