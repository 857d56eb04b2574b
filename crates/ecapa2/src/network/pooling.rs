//! Channel-dependent attentive statistics pooling (spec 3.5) and the embedding layer.

use super::layers::{BatchNorm, Linear};
use super::stats::row_mean_var;
use ecapa2_kernels::matmul::{matmul, MatRef, Threads};

/// Variance floor inside every square root of the pooling.
const EPS: f64 = 1e-5;

/// pooling_1: attention MLP over [x, mean, std] context, softmax over time, weighted mean ‖ std.
#[derive(Debug, Clone)]
pub struct AttentivePooling {
    /// Conv1d(3C → hidden, k=1), row-major `(hidden, 3C)`.
    pub attention_in: Linear,
    /// BN on the hidden units (after ReLU).
    pub attention_bn: BatchNorm,
    /// Conv1d(hidden → C, k=1), row-major `(C, hidden)`.
    pub attention_out: Linear,
    /// BatchNorm1d(2C) on the pooled statistics.
    pub bn: BatchNorm,
}

impl AttentivePooling {
    /// Returns `[μ ‖ σ]` (the attention tap, before the BN) for a `(c, t)` map.
    pub fn attend(&self, x: &[f32], c: usize, t: usize) -> Vec<f32> {
        let hidden = self.attention_in.out_features();
        let w_in = &self.attention_in.weight;
        // The context is [x; m; s] with m, s constant over time, so W·ctx = W_x·x + (W_m·m + W_s·s + b).
        let (m, s): (Vec<f32>, Vec<f32>) = x
            .chunks_exact(t)
            .map(|row| {
                let (m, v) = row_mean_var(row);
                (m as f32, (v + EPS).sqrt() as f32)
            })
            .unzip();
        let mut ms = Vec::with_capacity(2 * c);
        ms.extend_from_slice(&m);
        ms.extend_from_slice(&s);
        let constant: Vec<f32> = w_in
            .chunks_exact(3 * c)
            .zip(&self.attention_in.bias)
            .map(|(row, &b)| {
                (row[c..]
                    .iter()
                    .zip(&ms)
                    .map(|(&w, &v)| w as f64 * v as f64)
                    .sum::<f64>()
                    + b as f64) as f32
            })
            .collect();
        let mut h = vec![0.0f32; hidden * t];
        let w_x = MatRef {
            data: w_in,
            rows: hidden,
            cols: c,
            row_stride: 3 * c,
        };
        matmul(&mut h, t, w_x, MatRef::new(x, c, t), false, Threads::Pool);
        for (k, row) in h.chunks_exact_mut(t).enumerate() {
            let (b, sc, sh) = (
                constant[k],
                self.attention_bn.scale[k],
                self.attention_bn.shift[k],
            );
            row.iter_mut()
                .for_each(|v| *v = (*v + b).max(0.0) * sc + sh);
        }
        let mut e = vec![0.0f32; c * t];
        let w_out = MatRef::new(&self.attention_out.weight, c, hidden);
        matmul(
            &mut e,
            t,
            w_out,
            MatRef::new(&h, hidden, t),
            false,
            Threads::Pool,
        );
        let mut out = vec![0.0f32; 2 * c];
        for (ch, (logits, xs)) in e.chunks_exact(t).zip(x.chunks_exact(t)).enumerate() {
            let b = self.attention_out.bias[ch] as f64;
            let max = logits.iter().fold(f32::NEG_INFINITY, |a, &v| a.max(v)) as f64;
            let (mut z, mut s1, mut s2) = (0.0f64, 0.0f64, 0.0f64);
            for (&l, &v) in logits.iter().zip(xs) {
                // The bias shifts all logits of a channel equally; keep it for exactness anyway.
                let a = ((l as f64 + b) - (max + b)).exp();
                z += a;
                s1 += a * v as f64;
                s2 += a * (v as f64) * (v as f64);
            }
            let mu = s1 / z;
            out[ch] = mu as f32;
            out[c + ch] = ((s2 / z - mu * mu).abs() + EPS).sqrt() as f32;
        }
        out
    }

    /// The pooled statistics after the BatchNorm.
    pub fn normalise(&self, mut attended: Vec<f32>) -> Vec<f32> {
        self.bn.apply(&mut attended);
        attended
    }
}
