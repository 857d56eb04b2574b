//! NME-SC: spectral clustering auto-tuned by the normalised maximum eigengap (Park et al.,
//! "Auto-Tuning Spectral Clustering for Speaker Diarization Using Normalized Maximum Eigengap",
//! 2019), following NeMo's `nmesc` implementation:
//!
//! 1. affinity: cosine similarity of the embeddings, min–max scaled to `[0, 1]`;
//! 2. for each candidate `p` (NeMo's sparse search: `linspace(1, max(⌊N·r⌋, 2), min(that, 30))`
//!    truncated to integers, unique), keep each row's `p` largest entries as 1 (ties to the
//!    lower column), symmetrise `(X + Xᵀ)/2`, take the Laplacian `D - X` (diagonal zeroed);
//! 3. eigenvalues ascending, gaps `λ[i+1] - λ[i]`; `g(p) = (p/N) / (max gap / λ_max)` over the
//!    first `max_speakers` gaps; the `p` with the smallest `g` wins (first on ties, gaps and
//!    `g` within a relative 1e-9 counting as ties so rounding cannot decide);
//! 4. speakers `k` = 1 + the index of the largest gap among those allowed by the bounds;
//! 5. labels: deterministic [k-means](super::kmeans) on the eigenvectors of the `k` smallest
//!    eigenvalues.
//!
//! `reference/diarize_goldens.py` implements these steps in numpy; the tests compare the
//! eigenvalues (1e-6), `p` and `k`.

use super::{canonical, dot, kmeans::kmeans, SpeakerCount};
use crate::error::Result;
use nalgebra::DMatrix;
use serde::{Deserialize, Serialize};

/// NME-SC parameters (NeMo's defaults).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NmescOptions {
    /// Largest `p` as a fraction of the rows (NeMo `max_rp_threshold`).
    pub max_rp_threshold: f64,
    /// How many `p` values to try at most (NeMo `sparse_search_volume`).
    pub sparse_search_volume: usize,
    /// Speaker count bound when none is given (NeMo `max_num_speakers`).
    pub max_speakers: usize,
}

impl Default for NmescOptions {
    fn default() -> Self {
        NmescOptions {
            max_rp_threshold: 0.25,
            sparse_search_volume: 30,
            max_speakers: 8,
        }
    }
}

/// What NME-SC found.
#[derive(Debug, Clone, PartialEq)]
pub struct NmescResult {
    /// Label per row, 0-based in order of first appearance.
    pub labels: Vec<usize>,
    /// The chosen pruning `p`.
    pub p: usize,
    /// The number of speakers.
    pub k: usize,
    /// Eigenvalues (ascending) of the chosen Laplacian.
    pub eigenvalues: Vec<f64>,
}

const PRECISION: f64 = 1e-10;

/// The min–max scaled cosine affinity of unit rows.
pub fn affinity(rows: &[Vec<f64>]) -> DMatrix<f64> {
    let n = rows.len();
    let mut a = DMatrix::from_fn(n, n, |i, j| dot(&rows[i], &rows[j]));
    let (lo, hi) = (a.min(), a.max());
    if hi > lo {
        a.apply(|v| *v = (*v - lo) / (hi - lo));
    } else {
        a.fill(1.0);
    }
    a
}

/// NeMo's candidate `p` values for `n` rows.
pub fn p_values(n: usize, options: &NmescOptions) -> Vec<usize> {
    let max_n = ((n as f64 * options.max_rp_threshold).floor() as usize).max(2);
    let steps = max_n.min(options.sparse_search_volume).max(1);
    let mut out: Vec<usize> = (0..steps)
        .map(|i| {
            if steps == 1 {
                1
            } else {
                (1.0 + i as f64 * (max_n as f64 - 1.0) / (steps as f64 - 1.0)) as usize
            }
        })
        .collect();
    out.dedup();
    out
}

/// The Laplacian `D - X` of the p-pruned, symmetrised affinity.
pub fn pruned_laplacian(a: &DMatrix<f64>, p: usize) -> DMatrix<f64> {
    let n = a.nrows();
    let mut x = DMatrix::<f64>::zeros(n, n);
    for i in 0..n {
        let mut order: Vec<usize> = (0..n).collect();
        // Stable sort, descending: ties keep the lower column first.
        order.sort_by(|&u, &v| a[(i, v)].total_cmp(&a[(i, u)]));
        for &j in order.iter().take(p) {
            x[(i, j)] = 1.0;
        }
    }
    let mut x = (&x + x.transpose()) * 0.5;
    x.fill_diagonal(0.0);
    let degrees: Vec<f64> = (0..n)
        .map(|i| x.row(i).iter().map(|v| v.abs()).sum())
        .collect();
    let mut l = -x;
    for (i, d) in degrees.into_iter().enumerate() {
        l[(i, i)] = d;
    }
    l
}

fn sorted_eigenvalues(l: &DMatrix<f64>) -> Vec<f64> {
    let mut v: Vec<f64> = l.symmetric_eigenvalues().iter().copied().collect();
    v.sort_by(f64::total_cmp);
    v
}

/// Relative margin under which two eigengaps (or two `g(p)`) count as equal: eigenvalues of
/// equal exact value come out of any solver a few ulps apart, and a tie must not be decided
/// by rounding noise (here the first wins, as in the numpy reference).
const TIE: f64 = 1e-9;

/// Index of the largest gap in `gaps[lo..hi]` (first on ties), as an index into `gaps`.
fn argmax_gap(gaps: &[f64], lo: usize, hi: usize, scale: f64) -> usize {
    let hi = hi.min(gaps.len());
    let mut best = lo;
    for i in lo..hi {
        if gaps[i] > gaps[best] + TIE * scale {
            best = i;
        }
    }
    best
}

/// NME-SC on unit rows.
pub fn cluster(
    rows: &[Vec<f64>],
    options: &NmescOptions,
    count: SpeakerCount,
) -> Result<NmescResult> {
    let n = rows.len();
    let (lo, hi) = count.bounds(n, options.max_speakers)?;
    if n < 2 {
        return Ok(NmescResult {
            labels: vec![0; n],
            p: 0,
            k: n,
            eigenvalues: vec![0.0; n],
        });
    }
    let a = affinity(rows);
    let mut best: Option<(f64, usize, Vec<f64>)> = None;
    for p in p_values(n, options) {
        let lambdas = sorted_eigenvalues(&pruned_laplacian(&a, p));
        let gaps: Vec<f64> = lambdas.windows(2).map(|w| w[1] - w[0]).collect();
        let lambda_max = lambdas.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let key = argmax_gap(&gaps, 0, hi, lambda_max.max(1.0));
        let max_gap = gaps.get(key).copied().unwrap_or(0.0) / (lambda_max + PRECISION);
        let g = (p as f64 / n as f64) / (max_gap + PRECISION);
        if best.as_ref().is_none_or(|b| g < b.0 * (1.0 - TIE)) {
            best = Some((g, p, lambdas));
        }
    }
    let (_, p, eigenvalues) = best.expect("p_values is never empty");
    let gaps: Vec<f64> = eigenvalues.windows(2).map(|w| w[1] - w[0]).collect();
    let k = if lo == hi {
        lo
    } else {
        let scale = eigenvalues.last().copied().unwrap_or(1.0).max(1.0);
        argmax_gap(&gaps, lo - 1, hi, scale) + 1
    };
    let labels = if k == 1 {
        vec![0; n]
    } else {
        let eig = nalgebra::SymmetricEigen::new(pruned_laplacian(&a, p));
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&i, &j| eig.eigenvalues[i].total_cmp(&eig.eigenvalues[j]));
        let spectral: Vec<Vec<f64>> = (0..n)
            .map(|r| {
                order[..k]
                    .iter()
                    .map(|&c| eig.eigenvectors[(r, c)])
                    .collect()
            })
            .collect();
        kmeans(&spectral, k)
    };
    Ok(NmescResult {
        labels: canonical(&labels),
        p,
        k,
        eigenvalues,
    })
}
