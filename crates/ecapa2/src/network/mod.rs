//! The ECAPA2 network after the front-end, read top to bottom like spec section 3:
//! LFE (20 conv blocks) → flatten → tdnn_1 → tdnn_2 → dense_1 → pooling_1 → dense_2.
//!
//! Written once against the [`Backend`] seam: each layer prepares its weights on the backend
//! beside its forward, and every operation on activations is the backend's.

pub(crate) mod gfe;
pub(crate) mod layers;
pub(crate) mod lfe;
pub(crate) mod pooling;
pub(crate) mod se;
pub(crate) mod weights;

use crate::backend::Backend;
use crate::error::Result;
use crate::labels::{Label, LabelSet};
use gfe::{SeRes2Block, TappedConv};
use lfe::ConvBlock;
use pooling::AttentivePooling;
use weights::NetworkWeights;

/// The network with every layer prepared on backend `B`.
pub(crate) struct Network<B: Backend> {
    /// LFE blocks conv_1..conv_20.
    pub blocks: Vec<ConvBlock<B>>,
    /// tdnn_1: Conv1d k=1 → ReLU → BN (gfe_1 tap before the ReLU).
    pub tdnn_1: TappedConv<B>,
    /// tdnn_2: SE-Res2Net block with identity skip (gfe_2 tap at conv1).
    pub tdnn_2: SeRes2Block<B>,
    /// dense_1: Conv1d k=1 → ReLU (pool tap before the ReLU).
    pub dense_1: TappedConv<B>,
    /// pooling_1 (attention tap before its BN).
    pub pooling: AttentivePooling<B>,
    /// dense_2: the embedding layer (one vector per row).
    pub dense_2: B::Linear,
    /// Embedding width.
    pub embedding: usize,
}

/// Widths and lengths of a network, independent of any backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Shape {
    /// Per LFE block: (input channels, output channels, frequency stride).
    pub blocks: Vec<(usize, usize, usize)>,
    /// tdnn_1 and tdnn_2 width.
    pub tdnn: usize,
    /// dense_1 width (pooling channels).
    pub dense: usize,
    /// Embedding width.
    pub embedding: usize,
    /// Frames the GFE needs: the Res2Net's reflect padding needs more than `padding` frames
    /// and the unbiased variances need two.
    pub min_frames: usize,
}

impl Shape {
    /// Width of a feature.
    pub fn dim(&self, label: Label) -> usize {
        match label {
            Label::Gfe1 | Label::Gfe2 => 2 * self.tdnn,
            Label::Pool | Label::Attention => 2 * self.dense,
            Label::Embedding => self.embedding,
        }
    }

    /// Total width of a label set.
    pub fn dims(&self, labels: LabelSet) -> usize {
        labels.iter().map(|l| self.dim(l)).sum()
    }
}

impl<B: Backend> Network<B> {
    /// Prepares every layer on `be`.
    pub fn new(be: &B, w: &NetworkWeights) -> Result<Self> {
        let blocks = w
            .blocks
            .iter()
            .map(|b| ConvBlock::new(be, b))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            blocks,
            tdnn_1: TappedConv::new(be, &w.tdnn_1.0, Some(&w.tdnn_1.1))?,
            tdnn_2: SeRes2Block::new(be, &w.tdnn_2)?,
            dense_1: TappedConv::new(be, &w.dense_1, None)?,
            pooling: AttentivePooling::new(be, &w.pooling)?,
            dense_2: be.prepare_linear(&w.dense_2)?,
            embedding: w.dense_2.out_features(),
        })
    }

    /// The network's widths.
    pub fn shape(&self) -> Shape {
        Shape {
            blocks: self
                .blocks
                .iter()
                .map(|b| (b.cin, b.cout, b.stride))
                .collect(),
            tdnn: self.tdnn_1.cout,
            dense: self.dense_1.cout,
            embedding: self.embedding,
            min_frames: (self.tdnn_2.padding + 1).max(2),
        }
    }

    /// Runs a batch of normalised log-spectrograms (`bins · frames_r` values each) and returns,
    /// per row, the requested features concatenated in network order. Stops after the deepest
    /// label needed. The only synchronisation with the host is the final download.
    pub fn run(
        &self,
        be: &B,
        specs: Vec<Vec<f32>>,
        bins: usize,
        labels: LabelSet,
    ) -> Result<Vec<Vec<f32>>> {
        if labels.deepest().is_none() {
            return Ok(vec![Vec::new(); specs.len()]);
        }
        let x = be.upload(specs, 1, bins)?;
        let parts = self.forward(be, x, labels)?;
        be.download(parts)
    }

    /// The LFE, then [`Self::gfe`]: the requested features as 1-frame maps, in network order.
    pub fn forward(&self, be: &B, mut x: B::Map, labels: LabelSet) -> Result<Vec<B::Map>> {
        for block in &self.blocks {
            let _span = tracing::trace_span!("lfe", block = %block.name).entered();
            let next = block.forward(be, &x)?;
            be.release(std::mem::replace(&mut x, next));
        }
        // (C, F, T) → (C·F, T): channel-major, which is already the memory order.
        let pre = self.tdnn_1.conv(be, &x)?;
        be.release(x);
        self.gfe(be, pre, labels)
    }

    /// Everything after the LFE, from tdnn_1's pre-activation output `(channels, 1, t)`.
    /// Activations are transformed in place and released as soon as they are used, so a long
    /// input holds at most about three 1024-wide maps at once.
    pub fn gfe(&self, be: &B, mut x: B::Map, labels: LabelSet) -> Result<Vec<B::Map>> {
        let mut out = Vec::new();
        let Some(deepest) = labels.deepest() else {
            be.release(x);
            return Ok(out);
        };
        if labels.contains(Label::Gfe1) {
            out.push(be.mean_var(&x)?);
        }
        if deepest == Label::Gfe1 {
            be.release(x);
            return Ok(out);
        }
        self.tdnn_1.activate(be, &mut x)?;
        let block = &self.tdnn_2;
        let mut a = block.conv1.conv(be, &x)?;
        if labels.contains(Label::Gfe2) {
            out.push(be.mean_var(&a)?);
        }
        if deepest == Label::Gfe2 {
            be.release(a);
            be.release(x);
            return Ok(out);
        }
        block.conv1.activate(be, &mut a)?;
        let x2 = block.finish(be, x, a)?;
        let mut x3 = self.dense_1.conv(be, &x2)?;
        be.release(x2);
        if labels.contains(Label::Pool) {
            out.push(be.mean_var(&x3)?);
        }
        if deepest == Label::Pool {
            be.release(x3);
            return Ok(out);
        }
        self.dense_1.activate(be, &mut x3)?;
        let attended = self.pooling.attend(be, &x3)?;
        be.release(x3);
        let embedding = if labels.contains(Label::Embedding) {
            let normed = self.pooling.normalise(be, &attended)?;
            let e = be.linear(&self.dense_2, &normed)?;
            be.release(normed);
            Some(e)
        } else {
            None
        };
        if labels.contains(Label::Attention) {
            out.push(attended);
        } else {
            be.release(attended);
        }
        out.extend(embedding);
        Ok(out)
    }
}
