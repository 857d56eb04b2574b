//! What the registry's integration tests share: a model identity, deterministic vectors, and
//! f64 reference maths.

#![allow(dead_code)] // each test binary uses part of it

use ecapa2_registry::ModelIdentity;

pub const DIM: usize = 24;

pub fn identity() -> ModelIdentity {
    ModelIdentity {
        model: "sha256:test".into(),
        label: "embedding".into(),
        dim: DIM,
    }
}

/// A deterministic pseudo-random vector per seed.
pub fn vector(seed: u64) -> Vec<f32> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..DIM)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((x >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        })
        .collect()
}

pub fn unit64(v: &[f32]) -> Vec<f64> {
    let n = v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
    v.iter().map(|&x| f64::from(x) / n).collect()
}

pub fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    dot / (a.iter().map(|x| x * x).sum::<f64>().sqrt()
        * b.iter().map(|x| x * x).sum::<f64>().sqrt())
}
