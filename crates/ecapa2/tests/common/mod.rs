//! Fixture access shared by the integration tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// `tests/fixtures/<name>` at the workspace root.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(name)
}

/// A golden `.npy` as (rows, cols, values).
pub fn npy(path: &Path) -> (usize, usize, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let m = ecapa2_eval::embeddings::npy::read_f32_matrix(&bytes)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (m.rows, m.cols, m.data)
}

/// ‖a − b‖ / ‖b‖, in f64.
pub fn rel_l2(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    let num: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 - *y as f64).powi(2))
        .sum();
    let den: f64 = b.iter().map(|y| (*y as f64).powi(2)).sum();
    (num / den.max(1e-30)).sqrt()
}
