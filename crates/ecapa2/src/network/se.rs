//! Squeeze-excitation gates: `x · sigmoid(fc2(BN(ReLU(fc1(squeeze(x))))))`.
//!
//! Note the ReLU-before-BN inside the bottleneck, as in the released model.
//!
//! The squeeze is split into [`Se2d::accumulate`] (f64 sums over any slice of time) and
//! [`Se2d::gate`] so that the time-tiled path (`tiled.rs`) sums tile by tile and gets the same
//! gate as the whole-utterance path.

use super::layers::{sigmoid, BatchNorm, Linear};
use rayon::prelude::*;

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

/// A `(·, h, w)` map of which only the time columns `cols` count (a tile's core).
#[derive(Debug, Clone)]
pub struct MapView<'a> {
    /// Row-major data.
    pub data: &'a [f32],
    /// Frequency rows.
    pub h: usize,
    /// Time frames stored per row.
    pub w: usize,
    /// The columns that belong to the squeeze.
    pub cols: std::ops::Range<usize>,
}

impl Se2d {
    /// Length of the squeezed vector for a `(c, h, ·)` map.
    pub fn squeeze_len(&self, c: usize, h: usize) -> usize {
        match self {
            Se2d::Channel(_) => c,
            Se2d::Frequency(_) => h,
        }
    }

    /// Adds the map's sums along the squeezed axes to `sums` (length [`Se2d::squeeze_len`]).
    /// Row sums run in parallel; they are added in row order, so the result does not depend
    /// on the thread count.
    pub fn accumulate(&self, x: MapView<'_>, sums: &mut [f64]) {
        let row_sums: Vec<f64> = x
            .data
            .par_chunks_exact(x.w)
            .with_min_len(64)
            .map(|row| super::stats::sum_f64(&row[x.cols.clone()]))
            .collect();
        let rows = row_sums.into_iter();
        match self {
            Se2d::Channel(_) => {
                for (i, s) in rows.enumerate() {
                    sums[i / x.h] += s;
                }
            }
            Se2d::Frequency(_) => {
                for (i, s) in rows.enumerate() {
                    sums[i % x.h] += s;
                }
            }
        }
    }

    /// The gate from sums over `frames` time frames of a `(c, h, ·)` map.
    pub fn gate(&self, sums: &[f64], c: usize, h: usize, frames: usize) -> Vec<f32> {
        let (gate, count) = match self {
            Se2d::Channel(g) => (g, h * frames),
            Se2d::Frequency(g) => (g, c * frames),
        };
        let z: Vec<f32> = sums.iter().map(|s| (s / count as f64) as f32).collect();
        gate.gate(&z)
    }

    /// Multiplies a `(c, h, w)` map by its gate in place, then adds `residual` (same shape)
    /// if given: one parallel pass over the channels, each value rounded as `x · g`, then
    /// `+ r`, exactly as in two passes.
    pub fn apply(&self, x: &mut [f32], gate: &[f32], h: usize, w: usize, residual: Option<&[f32]>) {
        let plane = h * w;
        let gated = |c: usize, p: &mut [f32], r: Option<&[f32]>| {
            for (row, chunk) in p.chunks_exact_mut(w).enumerate() {
                let g = match self {
                    Se2d::Channel(_) => gate[c],
                    Se2d::Frequency(_) => gate[row],
                };
                match r {
                    Some(r) => chunk
                        .iter_mut()
                        .zip(&r[row * w..(row + 1) * w])
                        .for_each(|(v, &r)| *v = *v * g + r),
                    None => chunk.iter_mut().for_each(|v| *v *= g),
                }
            }
        };
        match residual {
            Some(res) => x
                .par_chunks_exact_mut(plane)
                .zip(res.par_chunks_exact(plane))
                .enumerate()
                .for_each(|(c, (p, r))| gated(c, p, Some(r))),
            None => x
                .par_chunks_exact_mut(plane)
                .enumerate()
                .for_each(|(c, p)| gated(c, p, None)),
        }
    }

    /// The gate of a whole `(c, h, w)` map.
    pub fn squeeze_gate(&self, x: &[f32], c: usize, h: usize, w: usize) -> Vec<f32> {
        let mut sums = vec![0.0f64; self.squeeze_len(c, h)];
        let view = MapView {
            data: x,
            h,
            w,
            cols: 0..w,
        };
        self.accumulate(view, &mut sums);
        self.gate(&sums, c, h, w)
    }
}

/// Mean of a slice, accumulated in f64.
pub fn mean(x: &[f32]) -> f32 {
    (super::stats::sum_f64(x) / x.len() as f64) as f32
}
