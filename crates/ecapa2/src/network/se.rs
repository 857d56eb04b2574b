//! Squeeze-excitation gates: `x · sigmoid(fc2(BN(ReLU(fc1(squeeze(x))))))`.
//!
//! Note the ReLU-before-BN inside the bottleneck, as in the released model.

use super::layers::{sigmoid, BatchNorm, Linear};

/// The bottleneck MLP shared by every SE variant.
#[derive(Debug, Clone)]
pub struct SeGate {
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

/// Which axis an LFE block's SE squeezes to.
#[derive(Debug, Clone)]
pub enum Se2d {
    /// Channel-wise SE: mean over frequency and time, one gate per channel (the default, U1).
    Channel(SeGate),
    /// Frequency-wise SE (fwSE): mean over channels and time, one gate per frequency row.
    Frequency(SeGate),
}

impl Se2d {
    /// Gates a `(c, h, w)` map in place.
    pub fn forward(&self, x: &mut [f32], c: usize, h: usize, w: usize) {
        match self {
            Se2d::Channel(gate) => {
                let plane = h * w;
                let z: Vec<f32> = x.chunks_exact(plane).map(mean).collect();
                let g = gate.gate(&z);
                for (p, g) in x.chunks_exact_mut(plane).zip(g) {
                    p.iter_mut().for_each(|v| *v *= g);
                }
            }
            Se2d::Frequency(gate) => {
                let mut z = vec![0.0f64; h];
                for ch in x.chunks_exact(h * w) {
                    for (zr, row) in z.iter_mut().zip(ch.chunks_exact(w)) {
                        *zr += row.iter().map(|&v| v as f64).sum::<f64>();
                    }
                }
                let z: Vec<f32> = z.iter().map(|s| (s / (c * w) as f64) as f32).collect();
                let g = gate.gate(&z);
                for ch in x.chunks_exact_mut(h * w) {
                    for (row, &g) in ch.chunks_exact_mut(w).zip(&g) {
                        row.iter_mut().for_each(|v| *v *= g);
                    }
                }
            }
        }
    }
}

/// Mean of a slice, accumulated in f64.
pub fn mean(x: &[f32]) -> f32 {
    (x.iter().map(|&v| v as f64).sum::<f64>() / x.len() as f64) as f32
}
