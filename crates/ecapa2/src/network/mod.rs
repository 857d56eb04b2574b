//! The ECAPA2 network after the front-end, read top to bottom like spec section 3:
//! LFE (20 conv blocks) → flatten → tdnn_1 → tdnn_2 → dense_1 → pooling_1 → dense_2.

pub mod buffers;
pub mod checkpoint;
pub mod gfe;
pub mod layers;
pub mod lfe;
pub mod pooling;
pub mod se;
pub mod stats;
pub mod tiled;

use crate::labels::{Label, LabelSet};
use gfe::{SeRes2Block, TappedConv};
use layers::Linear;
use lfe::{ConvBlock, Planes};
use pooling::AttentivePooling;

/// The bound network: every layer with its weights in kernel layout.
#[derive(Debug, Clone)]
pub struct Network {
    /// LFE blocks conv_1..conv_20.
    pub blocks: Vec<ConvBlock>,
    /// tdnn_1: Conv1d k=1 → ReLU → BN (gfe_1 tap before the ReLU).
    pub tdnn_1: TappedConv,
    /// tdnn_2: SE-Res2Net block with identity skip (gfe_2 tap at conv1).
    pub tdnn_2: SeRes2Block,
    /// dense_1: Conv1d k=1 → ReLU (pool tap before the ReLU).
    pub dense_1: TappedConv,
    /// pooling_1 (attention tap before its BN).
    pub pooling: AttentivePooling,
    /// dense_2: the embedding layer.
    pub dense_2: Linear,
}

impl Network {
    /// Width of a feature.
    pub fn dim(&self, label: Label) -> usize {
        match label {
            Label::Gfe1 => 2 * self.tdnn_1.conv.out_channels(),
            Label::Gfe2 => 2 * self.tdnn_2.conv1.conv.out_channels(),
            Label::Pool | Label::Attention => 2 * self.dense_1.conv.out_channels(),
            Label::Embedding => self.dense_2.out_features(),
        }
    }

    /// Total width of a label set.
    pub fn dims(&self, labels: LabelSet) -> usize {
        labels.iter().map(|l| self.dim(l)).sum()
    }

    /// The reduced precision some 3×3 convolution computes in, if any, else `F32` (the
    /// convolutions too small for Winograd always run fp32).
    pub fn precision(&self) -> ecapa2_kernels::Precision {
        self.blocks
            .iter()
            .flat_map(|b| [&b.conv1, &b.conv2, &b.conv3])
            .map(|c| c.precision())
            .find(|&p| p != ecapa2_kernels::Precision::F32)
            .unwrap_or_default()
    }

    /// Frames the GFE needs: the Res2Net's reflect padding needs more than `padding` frames and
    /// the unbiased variances need two.
    pub fn min_frames(&self) -> usize {
        let pad = self
            .tdnn_2
            .convs
            .iter()
            .map(|(c, _)| c.padding)
            .max()
            .unwrap_or(0);
        (pad + 1).max(2)
    }

    /// Peak bytes of activations for one utterance of `frames` frames: the largest block holds
    /// its input and two full-size working maps.
    pub fn activation_bytes(&self, bins: usize, frames: usize) -> usize {
        let mut h = bins;
        let mut peak = 0usize;
        for b in &self.blocks {
            let ho = b.conv1.out_height(h);
            let planes = b.conv1.in_channels() * h + 2 * b.conv1.out_channels() * ho;
            peak = peak.max(planes.saturating_mul(frames).saturating_mul(4));
            h = ho;
        }
        peak
    }

    /// Runs one utterance from its normalised log-spectrogram `(bins, frames)` and returns the
    /// requested features concatenated in network order. Stops after the deepest label needed.
    pub fn forward(
        &self,
        spec: Vec<f32>,
        bins: usize,
        frames: usize,
        labels: LabelSet,
    ) -> Vec<f32> {
        if labels.deepest().is_none() {
            return Vec::new();
        }
        let mut x = Planes {
            data: spec,
            c: 1,
            h: bins,
            w: frames,
        };
        for block in &self.blocks {
            let _span = tracing::trace_span!("lfe", block = %block.name).entered();
            let next = block.forward(&x);
            buffers::recycle(std::mem::replace(&mut x, next).data);
        }
        // (C, F, T) → (C·F, T): channel-major, which is already the memory order.
        let pre = self.tdnn_1.conv(&x.data, frames);
        buffers::recycle(x.data);
        self.gfe(pre, frames, labels)
    }

    /// Everything after the LFE, from tdnn_1's pre-activation output `(channels, t)`.
    /// Activations are transformed in place and dropped as soon as they are used, so a long
    /// input holds at most about three 1024-wide maps at once.
    pub fn gfe(&self, mut x: Vec<f32>, t: usize, labels: LabelSet) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.dims(labels));
        let Some(deepest) = labels.deepest() else {
            return out;
        };
        if labels.contains(Label::Gfe1) {
            out.extend(stats::mean_var(&x, self.tdnn_1.conv.out_channels(), t));
        }
        if deepest == Label::Gfe1 {
            return out;
        }
        self.tdnn_1.activate(&mut x, t);
        let block = &self.tdnn_2;
        let mut a = block.conv1.conv(&x, t);
        if labels.contains(Label::Gfe2) {
            out.extend(stats::mean_var(&a, block.conv1.conv.out_channels(), t));
        }
        if deepest == Label::Gfe2 {
            return out;
        }
        block.conv1.activate(&mut a, t);
        let x2 = block.finish(x, a, t);
        let mut x3 = self.dense_1.conv(&x2, t);
        drop(x2);
        let c = self.dense_1.conv.out_channels();
        if labels.contains(Label::Pool) {
            out.extend(stats::mean_var(&x3, c, t));
        }
        if deepest == Label::Pool {
            return out;
        }
        self.dense_1.activate(&mut x3, t);
        let attended = self.pooling.attend(&x3, c, t);
        if labels.contains(Label::Attention) {
            out.extend_from_slice(&attended);
        }
        if labels.contains(Label::Embedding) {
            out.extend(self.dense_2.forward(&self.pooling.normalise(attended)));
        }
        out
    }
}
