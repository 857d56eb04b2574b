//! Small dense layers: eval-mode BatchNorm and Linear on vectors.

/// Eval-mode BatchNorm folded to `y = x · scale + shift` (computed in f64 so folding adds no
/// error beyond the final rounding).
#[derive(Debug, Clone)]
pub struct BatchNorm {
    /// γ / sqrt(var + eps).
    pub scale: Vec<f32>,
    /// β − mean · scale.
    pub shift: Vec<f32>,
}

impl BatchNorm {
    /// Folds running statistics and affine parameters.
    pub fn fold(weight: &[f32], bias: &[f32], mean: &[f32], var: &[f32], eps: f64) -> Self {
        let (scale, shift) = weight
            .iter()
            .zip(bias)
            .zip(mean.iter().zip(var))
            .map(|((&g, &b), (&m, &v))| {
                let s = g as f64 / (v as f64 + eps).sqrt();
                (s as f32, (b as f64 - m as f64 * s) as f32)
            })
            .unzip();
        Self { scale, shift }
    }

    /// Applies to one vector in place.
    pub fn apply(&self, x: &mut [f32]) {
        for ((v, s), t) in x.iter_mut().zip(&self.scale).zip(&self.shift) {
            *v = *v * s + t;
        }
    }

    /// The pair the kernels' epilogue takes.
    pub fn affine(&self) -> (Vec<f32>, Vec<f32>) {
        (self.scale.clone(), self.shift.clone())
    }
}

/// `y = W x + b` for one vector, `W` row-major `(out, in)`.
#[derive(Debug, Clone)]
pub struct Linear {
    /// Row-major `(out, in)`.
    pub weight: Vec<f32>,
    /// Length `out` (zeros when the layer has no bias).
    pub bias: Vec<f32>,
    /// Input width.
    pub in_features: usize,
}

impl Linear {
    /// Output width.
    pub fn out_features(&self) -> usize {
        self.bias.len()
    }

    /// Applies to one vector (accumulating in f64: these layers are tiny).
    pub fn forward(&self, x: &[f32]) -> Vec<f32> {
        self.weight
            .chunks_exact(self.in_features)
            .zip(&self.bias)
            .map(|(row, &b)| {
                (row.iter()
                    .zip(x)
                    .map(|(&w, &v)| w as f64 * v as f64)
                    .sum::<f64>()
                    + b as f64) as f32
            })
            .collect()
    }
}

/// Logistic sigmoid.
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}
