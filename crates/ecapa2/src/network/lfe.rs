//! Local feature extractor (spec 3.1–3.2): 20 convolution blocks over the (frequency, time)
//! plane, each Conv3×3 → ReLU → BN three times, a squeeze-excitation gate, and a residual.

use super::buffers;
use super::se::Se2d;
use ecapa2_kernels::{Conv3x3, Pointwise};

/// The residual path of a block, added after the SE gate with no activation afterwards.
#[derive(Debug, Clone)]
pub enum Residual {
    /// No residual (the first block, and the block that widens 164 → 192 channels).
    None,
    /// `x` itself (same width, stride 1).
    Identity,
    /// `downsample_k`: Conv2d 1×1 with the block's stride, no bias, then BN (folded).
    Projection(Pointwise),
}

/// One LFE block ("ECAPA2ConvBlock").
#[derive(Debug, Clone)]
pub struct ConvBlock {
    /// Module name in the archive (`conv_4`), for logs and reports.
    pub name: String,
    /// Conv3×3 (stride (s, 1)) → ReLU → BN.
    pub conv1: Conv3x3,
    /// Conv3×3 → ReLU → BN.
    pub conv2: Conv3x3,
    /// Conv3×3 → ReLU → BN.
    pub conv3: Conv3x3,
    /// Squeeze-excitation.
    pub se: Se2d,
    /// Residual path.
    pub residual: Residual,
    /// Frequency stride of conv1 (and of the projection).
    pub stride: usize,
}

/// A `(channels, height, width)` activation for one utterance.
#[derive(Debug, Clone)]
pub struct Planes {
    /// Row-major data.
    pub data: Vec<f32>,
    /// Channels.
    pub c: usize,
    /// Frequency rows.
    pub h: usize,
    /// Time frames.
    pub w: usize,
}

impl Planes {
    /// The time frames `range` of every row.
    pub fn crop(&self, range: std::ops::Range<usize>) -> Planes {
        let data = self
            .data
            .chunks_exact(self.w)
            .flat_map(|row| &row[range.clone()])
            .copied()
            .collect();
        Planes {
            data,
            c: self.c,
            h: self.h,
            w: range.len(),
        }
    }
}

impl ConvBlock {
    /// Runs the block on a whole utterance.
    pub fn forward(&self, x: &Planes) -> Planes {
        let p = self.pre_se(x);
        let gate = self.se.squeeze_gate(&p.data, p.c, p.h, p.w);
        self.finish(p, x, &gate)
    }

    /// The three Conv → ReLU → BN layers: the map the SE squeezes.
    pub fn pre_se(&self, x: &Planes) -> Planes {
        let (h, w) = (x.h, x.w);
        let ho = self.conv1.out_height(h);
        let c = self.conv1.out_channels();
        let mut a = buffers::take(c * ho * w);
        self.conv1.forward(&x.data, h, w, &mut a);
        let mut b = buffers::take(c * ho * w);
        self.conv2.forward(&a, ho, w, &mut b);
        self.conv3.forward(&b, ho, w, &mut a);
        buffers::recycle(b);
        Planes {
            data: a,
            c,
            h: ho,
            w,
        }
    }

    /// Completes the block from its pre-SE map `p` and input `x`: the SE gate, then the
    /// residual.
    pub fn finish(&self, mut p: Planes, x: &Planes, gate: &[f32]) -> Planes {
        match &self.residual {
            Residual::None => self.se.apply(&mut p.data, gate, p.h, p.w, None),
            Residual::Identity => self.se.apply(&mut p.data, gate, p.h, p.w, Some(&x.data)),
            Residual::Projection(proj) => {
                let mut r = buffers::take(p.data.len());
                proj.forward_strided_rows(&x.data, x.h, x.w, self.stride, &mut r);
                self.se.apply(&mut p.data, gate, p.h, p.w, Some(&r));
                buffers::recycle(r);
            }
        }
        p
    }

    /// Runs the block with a gate computed beforehand (the tiled path's recomputation).
    pub fn forward_with_gate(&self, x: &Planes, gate: &[f32]) -> Planes {
        let p = self.pre_se(x);
        self.finish(p, x, gate)
    }
}
