//! Squeeze-excitation gates: `x · sigmoid(fc2(BN(ReLU(fc1(squeeze(x))))))`.
//!
//! Note the ReLU-before-BN inside the bottleneck, as in the released model.
//!
//! The SE block is one backend layer ([`crate::backend::Backend::se`]); this is its shared
//! host part: the bottleneck MLP from the squeezed sums to the gate, which a backend may use
//! (the CPU does, so that its time-tiled path sums tile by tile and gets the same gate as the
//! whole-utterance path).

use super::layers::{sigmoid, BatchNorm, Linear};
use super::weights::SeWeights;
use crate::backend::Axis;

/// The bottleneck MLP shared by every SE variant.
#[derive(Debug, Clone)]
pub(crate) struct SeGate {
    /// Squeeze → hidden.
    pub fc1: Linear,
    /// BatchNorm on the hidden units (after the ReLU).
    pub bn: BatchNorm,
    /// Hidden → gate.
    pub fc2: Linear,
}

impl SeGate {
    /// Gate values in (0, 1) for a squeezed vector.
    pub fn gate(&self, squeezed: &[f32]) -> Vec<f32> {
        let mut h = self.fc1.forward(squeezed);
        h.iter_mut().for_each(|v| *v = v.max(0.0));
        self.bn.apply(&mut h);
        let mut g = self.fc2.forward(&h);
        g.iter_mut().for_each(|v| *v = sigmoid(*v));
        g
    }
}

/// An SE layer on the host: which axis it squeezes to, and its MLP.
#[derive(Debug, Clone)]
pub(crate) struct Se2d {
    axis: Axis,
    mlp: SeGate,
}

impl Se2d {
    /// From an axis and its MLP.
    pub fn new(axis: Axis, mlp: SeGate) -> Self {
        Self { axis, mlp }
    }

    /// The axis and MLP of an LFE block's bound SE weights.
    pub fn parts(w: &SeWeights) -> (Axis, &SeGate) {
        match w {
            SeWeights::Channel(g) => (Axis::Channel, g),
            SeWeights::Frequency(g) => (Axis::Row, g),
        }
    }

    /// The squeezed axis.
    pub fn axis(&self) -> Axis {
        self.axis
    }

    /// The gate from f64 sums over all `frames` of a `(c, h, frames)` map: each sum's mean,
    /// rounded to f32, through the MLP.
    pub fn gate(&self, sums: &[f64], (c, h, frames): (usize, usize, usize)) -> Vec<f32> {
        let count = match self.axis {
            Axis::Channel => h * frames,
            Axis::Row => c * frames,
        };
        let z: Vec<f32> = sums.iter().map(|s| (s / count as f64) as f32).collect();
        self.mlp.gate(&z)
    }
}
