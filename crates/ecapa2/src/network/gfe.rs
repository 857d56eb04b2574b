//! Global feature extractor (spec 3.4): 1-D layers over the flattened (channel·frequency, time)
//! map: tdnn_1, the SE-Res2Net block tdnn_2, dense_1.

use super::layers::BatchNorm;
use super::weights::{ConvWeights, Res2Weights};
use crate::backend::{Axis, Backend};
use crate::error::Result;

/// A 1×1 Conv1d whose pre-activation output is a feature tap, then ReLU and an optional BN.
pub(crate) struct TappedConv<B: Backend> {
    /// Conv1d k=1 with bias (so the output is the tap).
    pub conv: B::Pointwise,
    /// BN after the ReLU (`None` for dense_1).
    pub bn: Option<B::Affine>,
    /// Output channels.
    pub cout: usize,
}

impl<B: Backend> TappedConv<B> {
    /// Prepares the conv (bias only in its epilogue) and keeps the BN for [`Self::activate`].
    pub fn new(be: &B, w: &ConvWeights, bn: Option<&BatchNorm>) -> Result<Self> {
        Ok(Self {
            conv: be.prepare_pointwise(w, None)?,
            bn: bn.map(|bn| be.prepare_affine(bn)).transpose()?,
            cout: w.cout,
        })
    }

    /// The pre-activation output `(cout, t)`: the feature tap.
    pub fn conv(&self, be: &B, x: &B::Map) -> Result<B::Map> {
        be.pointwise(&self.conv, x)
    }

    /// ReLU then the optional BN, in place: turns the tap into the layer's output (in place,
    /// so that long inputs hold one copy).
    pub fn activate(&self, be: &B, pre: &mut B::Map) -> Result<()> {
        be.activate(pre, None, self.bn.as_ref())
    }
}

/// tdnn_2: `y = x + SE(B(Res2Net(A(x))))` (spec 3.4).
pub(crate) struct SeRes2Block<B: Backend> {
    /// conv1 → ReLU → bn1; its pre-activation output is the gfe_2 tap.
    pub conv1: TappedConv<B>,
    /// The Res2Net branch convolutions (`scale − 1` of them) and their BNs.
    pub branches: Vec<(B::Dilated, B::Affine)>,
    /// Reflect padding of the branches (the GFE's minimum length depends on it).
    pub padding: usize,
    /// conv2 → ReLU → bn2.
    pub conv2: TappedConv<B>,
    /// 1-D SE on the block output, with the identity residual.
    pub se: B::Se,
}

impl<B: Backend> SeRes2Block<B> {
    /// Prepares the block's layers on `be`.
    pub fn new(be: &B, w: &Res2Weights) -> Result<Self> {
        let branches = w
            .branches
            .iter()
            .map(|(d, bn)| Ok((be.prepare_dilated(d)?, be.prepare_affine(bn)?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            conv1: TappedConv::new(be, &w.conv1.0, Some(&w.conv1.1))?,
            branches,
            padding: w.branches.iter().map(|(d, _)| d.padding).max().unwrap_or(0),
            conv2: TappedConv::new(be, &w.conv2.0, Some(&w.conv2.1))?,
            se: be.prepare_se(&w.se, Axis::Channel)?,
        })
    }

    /// Runs the block from conv1's post-activation output `a`, adding the identity `x`.
    /// Takes both by value so that their memory is reused.
    pub fn finish(&self, be: &B, x: B::Map, mut a: B::Map) -> Result<B::Map> {
        be.res2net(&self.branches, &mut a)?;
        let mut b = self.conv2.conv(be, &a)?;
        be.release(a);
        self.conv2.activate(be, &mut b)?;
        be.se(&self.se, &mut b, Some(&x))?;
        be.release(x);
        Ok(b)
    }
}
