//! Channel-dependent attentive statistics pooling (spec 3.5) and the embedding layer.

use super::layers::Linear;
use super::weights::{ConvWeights, PoolingWeights};
use crate::backend::Backend;
use crate::error::Result;
use std::borrow::Cow;

/// Variance floor inside every square root of the pooling.
const EPS: f64 = 1e-5;

/// pooling_1: attention MLP over [x, mean, std] context, softmax over time, weighted mean ‖ std.
pub(crate) struct AttentivePooling<B: Backend> {
    /// The `x` part of Conv1d(3C → hidden, k=1): `W[:, :C]`, no bias.
    attention_x: B::Pointwise,
    /// The `[m, s]` part of the same layer, `W[:, C:]`, with its bias: one vector per row,
    /// constant over time.
    context: B::Linear,
    /// BN on the hidden units (after ReLU).
    attention_bn: B::Affine,
    /// Conv1d(hidden → C, k=1) without its bias (added inside the softmax).
    attention_out: B::Pointwise,
    /// The bias of the second layer.
    out_bias: Vec<f32>,
    /// BatchNorm1d(2C) on the pooled statistics.
    bn: B::Affine,
}

impl<B: Backend> AttentivePooling<B> {
    /// Prepares the attention convolutions on `be`.
    pub fn new(be: &B, w: &PoolingWeights) -> Result<Self> {
        let (hidden, c3) = (w.attention_in.out_features(), w.attention_in.in_features);
        let c = c3 / 3;
        let columns = |range: std::ops::Range<usize>| -> Vec<f32> {
            w.attention_in
                .weight
                .chunks_exact(c3)
                .flat_map(|row| &row[range.clone()])
                .copied()
                .collect()
        };
        let x_part = columns(0..c);
        let matrix = |weight: Vec<f32>, cout, cin| ConvWeights {
            weight: Cow::Owned(weight),
            bias: None,
            cout,
            cin,
            stride: 1,
        };
        let out = &w.attention_out;
        Ok(Self {
            attention_x: be.prepare_pointwise(&matrix(x_part, hidden, c), None)?,
            context: be.prepare_linear(&Linear {
                weight: columns(c..c3),
                bias: w.attention_in.bias.clone(),
                in_features: 2 * c,
            })?,
            attention_bn: be.prepare_affine(&w.attention_bn)?,
            attention_out: be.prepare_pointwise(
                &matrix(out.weight.clone(), out.out_features(), hidden),
                None,
            )?,
            out_bias: out.bias.clone(),
            bn: be.prepare_affine(&w.bn)?,
        })
    }

    /// Returns `[μ ‖ σ]` (the attention tap, before the BN) for a `(c, 1, t)` batch.
    pub fn attend(&self, be: &B, x: &B::Map) -> Result<B::Map> {
        // The context is [x; m; s] with m, s constant over time, so
        // W·ctx = W_x·x + (W_m·m + W_s·s + b): the constant is one vector per row.
        let ms = be.mean_std(x, EPS)?;
        let constant = be.linear(&self.context, &ms)?;
        be.release(ms);
        let mut h = be.pointwise(&self.attention_x, x)?;
        be.activate(&mut h, Some(&constant), Some(&self.attention_bn))?;
        be.release(constant);
        let e = be.pointwise(&self.attention_out, &h)?;
        be.release(h);
        let out = be.attentive_stats(&e, &self.out_bias, x, EPS)?;
        be.release(e);
        Ok(out)
    }

    /// The pooled statistics after the BatchNorm, as a new map.
    pub fn normalise(&self, be: &B, attended: &B::Map) -> Result<B::Map> {
        be.affine(attended, &self.bn)
    }
}
