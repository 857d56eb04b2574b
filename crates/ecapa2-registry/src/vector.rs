//! Embeddings as SQLite blobs (little-endian f32) and the little vector maths the registry needs.

use crate::RegistryError;

/// Little-endian f32 bytes: the blob layout of every stored vector.
pub(crate) fn to_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The vector a blob holds; `None` when its length is not `4 * dim`.
pub(crate) fn from_blob(blob: &[u8], dim: usize) -> Option<Vec<f32>> {
    (blob.len() == 4 * dim).then(|| {
        blob.chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    })
}

/// `v / |v|`, refusing a wrong length, non-finite values and the zero vector (the checks and
/// the normalisation are `ecapa2_eval::l2_normalize`'s; the length is the registry's own).
pub(crate) fn normalized(v: &[f32], dim: usize) -> Result<Vec<f32>, RegistryError> {
    if v.len() != dim {
        return Err(RegistryError::BadEmbedding(format!(
            "{} values, the registry's embeddings have {dim}",
            v.len()
        )));
    }
    ecapa2_eval::l2_normalize(v).map_err(|e| RegistryError::BadEmbedding(e.to_string()))
}

/// The mean of L2-normalised vectors: a speaker's centroid.
pub(crate) fn mean(vectors: &[Vec<f32>], dim: usize) -> Vec<f32> {
    let mut sum = vec![0f64; dim];
    for v in vectors {
        for (s, &x) in sum.iter_mut().zip(v) {
            *s += f64::from(x);
        }
    }
    let n = vectors.len().max(1) as f64;
    sum.into_iter().map(|s| (s / n) as f32).collect()
}

/// Dot product with eight independent partial sums, so the compiler vectorises it (a single
/// running sum is a serial dependency chain it may not reorder).
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_round_trip_and_length_check() {
        let v = vec![1.5f32, -0.25, 3.0e-8];
        assert_eq!(from_blob(&to_blob(&v), 3), Some(v));
        assert_eq!(from_blob(&[0u8; 7], 2), None);
    }

    #[test]
    fn dot_matches_f64_sum() {
        let a: Vec<f32> = (0..203)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0)
            .collect();
        let b: Vec<f32> = (0..203)
            .map(|i| ((i * 53 % 97) as f32 - 48.0) / 48.0)
            .collect();
        let exact: f64 = a
            .iter()
            .zip(&b)
            .map(|(&x, &y)| f64::from(x) * f64::from(y))
            .sum();
        assert!(
            (f64::from(dot(&a, &b)) - exact).abs() < 1e-4,
            "{} vs {exact}",
            dot(&a, &b)
        );
    }

    #[test]
    fn normalized_refuses_bad_vectors() {
        assert!(normalized(&[0.0, 0.0], 2).is_err());
        assert!(normalized(&[f32::NAN, 1.0], 2).is_err());
        assert!(normalized(&[1.0], 2).is_err());
        let n = normalized(&[3.0, 4.0], 2).unwrap();
        assert!((n[0] - 0.6).abs() < 1e-7 && (n[1] - 0.8).abs() < 1e-7);
    }
}
