//! Exact nearest-speaker search: every centroid, L2-normalised, in one contiguous row-major
//! matrix; a query is one matrix-vector product and a partial sort.
//!
//! Exact search is the right tool up to a few hundred thousand speakers: at 192 dimensions,
//! 100 000 speakers are 77 MB of f32 and one query reads them once (a few milliseconds, see
//! `docs/BENCHMARKS.md`). Past that, an approximate index (HNSW, e.g. `usearch` with f16/i8
//! vectors) trades a little recall for sub-millisecond queries and smaller memory; see
//! `docs/DESIGN.md`.

use crate::vector::dot;
use std::collections::HashMap;

/// One speaker found by `identify`.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// Speaker name.
    pub speaker: String,
    /// The decision score: AS-normalised when the registry has a cohort, else `raw_score`.
    pub score: f32,
    /// Cosine similarity between the query and the speaker's centroid.
    pub raw_score: f32,
    /// `score >= threshold`, or `None` when the registry has no threshold yet.
    pub accepted: Option<bool>,
}

/// The centroids of every speaker, ready to search.
#[derive(Debug, Default)]
pub(crate) struct CentroidIndex {
    dim: usize,
    names: Vec<String>,
    /// The row of each name.
    rows: HashMap<String, usize>,
    /// `names.len() × dim`, each row of unit length.
    matrix: Vec<f32>,
}

impl CentroidIndex {
    pub(crate) fn new(dim: usize) -> Self {
        Self {
            dim,
            names: Vec::new(),
            rows: HashMap::new(),
            matrix: Vec::new(),
        }
    }

    /// Adds a speaker, or replaces its centroid; `unit_centroid` is of unit length.
    pub(crate) fn upsert(&mut self, name: String, unit_centroid: &[f32]) {
        debug_assert_eq!(unit_centroid.len(), self.dim);
        if let Some(&row) = self.rows.get(&name) {
            self.matrix[row * self.dim..(row + 1) * self.dim].copy_from_slice(unit_centroid);
            return;
        }
        self.rows.insert(name.clone(), self.names.len());
        self.names.push(name);
        self.matrix.extend_from_slice(unit_centroid);
    }

    /// Removes a speaker (the last row takes its place: order does not matter to search).
    pub(crate) fn remove(&mut self, name: &str) {
        let Some(row) = self.rows.remove(name) else {
            return;
        };
        let last = self.names.len() - 1;
        if row != last {
            self.matrix
                .copy_within(last * self.dim..(last + 1) * self.dim, row * self.dim);
            self.names.swap(row, last);
            self.rows.insert(self.names[row].clone(), row);
        }
        self.names.pop();
        self.matrix.truncate(last * self.dim);
    }

    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }

    /// The `k` best `(row, score)` for a unit-length query, best first (ties by name).
    pub(crate) fn search(&self, query: &[f32], k: usize) -> Vec<(usize, f32)> {
        if self.dim == 0 || k == 0 {
            return Vec::new();
        }
        let mut scored: Vec<(usize, f32)> = self
            .matrix
            .chunks_exact(self.dim)
            .map(|row| dot(row, query))
            .enumerate()
            .collect();
        let order = |a: &(usize, f32), b: &(usize, f32)| {
            b.1.total_cmp(&a.1)
                .then_with(|| self.names[a.0].cmp(&self.names[b.0]))
        };
        if k < scored.len() {
            scored.select_nth_unstable_by(k - 1, order);
            scored.truncate(k);
        }
        scored.sort_by(order);
        scored
    }

    pub(crate) fn name(&self, row: usize) -> &str {
        &self.names[row]
    }

    /// The unit-length centroid of `row`.
    pub(crate) fn row(&self, row: usize) -> &[f32] {
        &self.matrix[row * self.dim..(row + 1) * self.dim]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_returns_best_first_against_a_full_sort() {
        let dim = 16;
        let mut index = CentroidIndex::new(dim);
        let mut rows = Vec::new();
        for s in 0..500u32 {
            let v: Vec<f32> = (0..dim)
                .map(|i| (((s * 7919 + i as u32 * 104_729) % 1000) as f32 / 500.0) - 1.0)
                .collect();
            let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            let v: Vec<f32> = v.iter().map(|x| x / n).collect();
            index.upsert(format!("s{s}"), &v);
            rows.push(v);
        }
        let q = rows[123].clone();
        let got = index.search(&q, 10);
        let mut all: Vec<(usize, f64)> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                (
                    i,
                    r.iter()
                        .zip(&q)
                        .map(|(&a, &b)| f64::from(a) * f64::from(b))
                        .sum(),
                )
            })
            .collect();
        all.sort_by(|a, b| b.1.total_cmp(&a.1));
        assert_eq!(got[0].0, 123);
        for (g, e) in got.iter().zip(&all) {
            assert!((f64::from(g.1) - e.1).abs() < 1e-5);
        }
        assert_eq!(got.len(), 10);
        assert!(index.search(&q, 0).is_empty());
        assert_eq!(index.search(&q, 10_000).len(), 500);
    }
}
