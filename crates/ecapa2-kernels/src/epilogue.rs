//! The per-output-channel tail fused into every convolution: `affine(act(acc + bias))`.

/// What follows the accumulation for output channel `c`:
/// `y = relu?(acc + bias[c]) * scale[c] + shift[c]`.
///
/// ECAPA2 orders its layers Conv → ReLU → BatchNorm, so an eval-mode BatchNorm cannot be folded
/// into the conv weights (the ReLU sits between); it becomes the `scale`/`shift` pair here.
#[derive(Debug, Clone, Default)]
pub struct Epilogue {
    /// Conv bias (length = output channels), if any.
    pub bias: Option<Vec<f32>>,
    /// Apply ReLU after the bias.
    pub relu: bool,
    /// BatchNorm folded to `(scale, shift)`, applied after the ReLU.
    pub affine: Option<(Vec<f32>, Vec<f32>)>,
}

impl Epilogue {
    /// Applies the epilogue in place to a run of values that all belong to channel `c`.
    #[inline]
    pub fn apply(&self, c: usize, values: &mut [f32]) {
        let b = self.bias.as_ref().map_or(0.0, |b| b[c]);
        match (&self.affine, self.relu) {
            (Some((scale, shift)), true) => {
                let (s, t) = (scale[c], shift[c]);
                for v in values {
                    *v = (*v + b).max(0.0) * s + t;
                }
            }
            (Some((scale, shift)), false) => {
                let (s, t) = (scale[c], shift[c]);
                for v in values {
                    *v = (*v + b) * s + t;
                }
            }
            (None, true) => {
                for v in values {
                    *v = (*v + b).max(0.0);
                }
            }
            (None, false) => {
                if b != 0.0 {
                    for v in values {
                        *v += b;
                    }
                }
            }
        }
    }

    /// Checks that every per-channel vector has `channels` entries.
    pub fn check(&self, channels: usize) -> bool {
        self.bias.as_ref().is_none_or(|b| b.len() == channels)
            && self
                .affine
                .as_ref()
                .is_none_or(|(s, t)| s.len() == channels && t.len() == channels)
    }
}
