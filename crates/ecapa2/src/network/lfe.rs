//! Local feature extractor (spec 3.1–3.2): 20 convolution blocks over the (frequency, time)
//! plane, each Conv3×3 → ReLU → BN three times, a squeeze-excitation gate, and a residual.

use super::se::Se2d;
use super::weights::{BlockWeights, ResidualWeights};
use crate::backend::Backend;
use crate::error::Result;

/// The residual path of a block, added after the SE gate with no activation afterwards.
pub(crate) enum Residual<B: Backend> {
    /// No residual (the first block, and the block that widens 164 → 192 channels).
    None,
    /// `x` itself (same width, stride 1).
    Identity,
    /// `downsample_k`: Conv2d 1×1 with the block's stride, no bias, then BN (folded).
    Projection(B::Pointwise),
}

/// One LFE block ("ECAPA2ConvBlock").
pub(crate) struct ConvBlock<B: Backend> {
    /// Module name in the archive (`conv_4`), for logs.
    pub name: String,
    /// Conv3×3 (stride (s, 1)) → ReLU → BN, then twice more at stride 1.
    pub convs: [B::Conv3x3; 3],
    /// Squeeze-excitation (with the residual: the block's last layer).
    pub se: B::Se,
    /// Residual path.
    pub residual: Residual<B>,
    /// Frequency stride of conv1 (and of the projection).
    pub stride: usize,
    /// Input and output channels.
    pub cin: usize,
    /// Output channels.
    pub cout: usize,
}

impl<B: Backend> ConvBlock<B> {
    /// Prepares the block's layers on `be`.
    pub fn new(be: &B, w: &BlockWeights) -> Result<Self> {
        let [c1, c2, c3] = &w.convs;
        let convs = [
            be.prepare_conv3x3(&c1.0, &c1.1)?,
            be.prepare_conv3x3(&c2.0, &c2.1)?,
            be.prepare_conv3x3(&c3.0, &c3.1)?,
        ];
        let residual = match &w.residual {
            ResidualWeights::None => Residual::None,
            ResidualWeights::Identity => Residual::Identity,
            ResidualWeights::Projection(p, bn) => {
                Residual::Projection(be.prepare_pointwise(p, Some(bn))?)
            }
        };
        let (axis, mlp) = Se2d::parts(&w.se);
        Ok(Self {
            name: w.name.clone(),
            convs,
            se: be.prepare_se(mlp, axis)?,
            residual,
            stride: c1.0.stride,
            cin: c1.0.cin,
            cout: c1.0.cout,
        })
    }

    /// Output rows for `h` input rows (padding 1, kernel 3, stride (s, 1)).
    pub fn out_height(&self, h: usize) -> usize {
        (h - 1) / self.stride + 1
    }

    /// Runs the block on a batch.
    pub fn forward(&self, be: &B, x: &B::Map) -> Result<B::Map> {
        let mut p = self.pre_se(be, x)?;
        self.with_residual(be, x, |r| be.se(&self.se, &mut p, r))?;
        Ok(p)
    }

    /// The three Conv → ReLU → BN layers: the map the SE squeezes.
    pub fn pre_se(&self, be: &B, x: &B::Map) -> Result<B::Map> {
        let a = be.conv3x3(&self.convs[0], x)?;
        let b = be.conv3x3(&self.convs[1], &a)?;
        be.release(a);
        let c = be.conv3x3(&self.convs[2], &b)?;
        be.release(b);
        Ok(c)
    }

    /// Runs `f` with the residual of input `x` (none, `x` itself, or its projection), which
    /// the SE gate adds.
    pub fn with_residual<R>(
        &self,
        be: &B,
        x: &B::Map,
        f: impl FnOnce(Option<&B::Map>) -> Result<R>,
    ) -> Result<R> {
        match &self.residual {
            Residual::None => f(None),
            Residual::Identity => f(Some(x)),
            Residual::Projection(proj) => {
                let r = be.project(proj, x, self.stride)?;
                let out = f(Some(&r));
                be.release(r);
                out
            }
        }
    }
}
