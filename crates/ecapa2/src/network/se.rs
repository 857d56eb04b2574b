//! Squeeze-excitation gates: `x · sigmoid(fc2(BN(ReLU(fc1(squeeze(x))))))`.
//!
//! Note the ReLU-before-BN inside the bottleneck, as in the released model.
//!
//! The squeeze is split into the backend's sums (over any slice of time) and [`Se2d::gate`]
//! (host code, the same on every backend), so that the time-tiled path sums tile by tile and
//! gets the same gate as the whole-utterance path.

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

/// An LFE block's SE: which axis it squeezes to, and its MLP.
#[derive(Debug, Clone)]
pub(crate) struct Se2d {
    axis: Axis,
    mlp: SeGate,
}

impl Se2d {
    /// From the bound weights.
    pub fn new(w: &SeWeights) -> Self {
        match w {
            SeWeights::Channel(g) => Self {
                axis: Axis::Channel,
                mlp: g.clone(),
            },
            SeWeights::Frequency(g) => Self {
                axis: Axis::Row,
                mlp: g.clone(),
            },
        }
    }

    /// The squeezed axis.
    pub fn axis(&self) -> Axis {
        self.axis
    }

    /// The gate from sums over all `frames` of a `(c, h, frames)` map.
    pub fn gate(&self, sums: &[f64], (c, h, frames): (usize, usize, usize)) -> Vec<f32> {
        let count = match self.axis {
            Axis::Channel => h * frames,
            Axis::Row => c * frames,
        };
        let z: Vec<f32> = sums.iter().map(|s| (s / count as f64) as f32).collect();
        self.mlp.gate(&z)
    }
}
