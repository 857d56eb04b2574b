//! Clustering window embeddings into speakers.
//!
//! Both methods start from L2-normalised embeddings and return one label per row, numbered
//! 0, 1, … in order of first appearance (so equal partitions give equal labels).

pub mod ahc;
pub mod kmeans;
pub mod nmesc;

use crate::error::{DiarizeError, Result};
use serde::{Deserialize, Serialize};

/// How many speakers to look for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SpeakerCount {
    /// Exactly this many (overrides the bounds).
    pub num: Option<usize>,
    /// At least this many.
    pub min: Option<usize>,
    /// At most this many.
    pub max: Option<usize>,
}

impl SpeakerCount {
    /// The `[lo, hi]` range of speaker counts allowed for `n` rows, `default_max` bounding
    /// `hi` when no maximum is given. Refuses contradictory or impossible requests.
    pub fn bounds(&self, n: usize, default_max: usize) -> Result<(usize, usize)> {
        if let Some(k) = self.num {
            if k == 0 {
                return Err(DiarizeError::InvalidOptions(
                    "num_speakers must be at least 1".into(),
                ));
            }
            if k > n {
                return Err(DiarizeError::TooFewWindows {
                    asked: k,
                    windows: n,
                });
            }
            return Ok((k, k));
        }
        let lo = self.min.unwrap_or(1);
        let hi = self.max.unwrap_or(default_max.max(lo));
        if lo == 0 || hi == 0 {
            return Err(DiarizeError::InvalidOptions(
                "min_speakers and max_speakers must be at least 1".into(),
            ));
        }
        if lo > hi {
            return Err(DiarizeError::InvalidOptions(format!(
                "min_speakers ({lo}) is larger than max_speakers ({hi})"
            )));
        }
        if lo > n {
            return Err(DiarizeError::TooFewWindows {
                asked: lo,
                windows: n,
            });
        }
        Ok((lo, hi.min(n)))
    }
}

/// The clustering method and its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "lowercase")]
pub enum Clustering {
    /// Auto-tuned spectral clustering (the default).
    Nmesc(nmesc::NmescOptions),
    /// Agglomerative clustering cut at a cosine-distance threshold.
    Ahc(ahc::AhcOptions),
}

impl Default for Clustering {
    fn default() -> Self {
        Clustering::Nmesc(nmesc::NmescOptions::default())
    }
}

impl Clustering {
    /// Labels for the rows of `embeddings` (any scale; they are L2-normalised here).
    pub fn cluster(&self, embeddings: &[Vec<f32>], count: SpeakerCount) -> Result<Vec<usize>> {
        let rows = normalized(embeddings)?;
        match self {
            Clustering::Nmesc(o) => Ok(nmesc::cluster(&rows, o, count)?.labels),
            Clustering::Ahc(o) => ahc::cluster(&rows, o, count),
        }
    }
}

/// Rows as f64, each scaled to unit length. Refuses non-finite values, zero rows and rows of
/// different lengths.
pub fn normalized(embeddings: &[Vec<f32>]) -> Result<Vec<Vec<f64>>> {
    let dim = embeddings.first().map_or(0, Vec::len);
    embeddings
        .iter()
        .enumerate()
        .map(|(index, e)| {
            let bad = |reason: &str| DiarizeError::BadEmbedding {
                index,
                reason: reason.into(),
            };
            if e.len() != dim || dim == 0 {
                return Err(bad("its length differs from the first row's"));
            }
            if e.iter().any(|v| !v.is_finite()) {
                return Err(bad("it holds a non-finite value"));
            }
            let norm = e
                .iter()
                .map(|&v| f64::from(v) * f64::from(v))
                .sum::<f64>()
                .sqrt();
            if norm == 0.0 {
                return Err(bad("it is all zeros"));
            }
            Ok(e.iter().map(|&v| f64::from(v) / norm).collect())
        })
        .collect()
}

/// Dot product.
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Renumbers labels 0, 1, … in order of first appearance.
pub fn canonical(labels: &[usize]) -> Vec<usize> {
    let mut map = std::collections::HashMap::new();
    labels
        .iter()
        .map(|l| {
            let next = map.len();
            *map.entry(*l).or_insert(next)
        })
        .collect()
}
