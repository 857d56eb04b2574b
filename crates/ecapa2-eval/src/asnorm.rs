//! Adaptive symmetric score normalisation (AS-norm) against a cohort of impostor embeddings.
//!
//! For a trial `(e, t)` with raw cosine score `s`, each side is scored against every cohort
//! embedding; the `N` highest of those cohort scores (the cohort members most similar to that
//! side — the "adaptive" part) give a mean `μ` and standard deviation `σ`, and
//!
//! ```text
//! s' = ½ · ((s − μ_e) / σ_e + (s − μ_t) / σ_t)
//! ```
//!
//! `σ` is the population standard deviation (divide by `N`, as `numpy.std` in the WeSpeaker
//! recipe). `N` defaults to [`DEFAULT_TOP_N`] and is capped at the cohort size.

use std::collections::HashMap;

use crate::embeddings::EmbeddingStore;
use crate::scoring::{l2_normalize, ScoredTrial, ScoringError};

/// Default number of top cohort scores per side.
pub const DEFAULT_TOP_N: usize = 300;

/// Errors from AS-norm.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum AsNormError {
    /// The cohort has fewer than two embeddings, so no spread can be estimated.
    #[error("AS-norm cohort needs at least 2 embeddings, got {size}")]
    CohortTooSmall {
        /// Cohort size given.
        size: usize,
    },
    /// `top_n` below 2 (a single score has no spread).
    #[error("AS-norm top-N must be at least 2, got {0}")]
    InvalidTopN(usize),
    /// A cohort embedding cannot be used (zero, non-finite or wrong dimension).
    #[error("cohort embedding #{index}: {source}")]
    BadCohortEmbedding {
        /// 0-based position in the cohort.
        index: usize,
        /// What is wrong with it.
        #[source]
        source: ScoringError,
    },
    /// The top-N cohort scores of one side are all equal, so `σ = 0`.
    #[error("top-{top_n} cohort scores{for_key} have zero spread; AS-norm is undefined (duplicate cohort embeddings?)")]
    ZeroSpread {
        /// The `N` used.
        top_n: usize,
        /// `" for key \"…\""` when known, else empty.
        for_key: String,
    },
    /// A raw trial score is NaN or infinite.
    #[error("trial {trial}: raw score {score} is not finite")]
    NonFiniteScore {
        /// 0-based trial index.
        trial: usize,
        /// The offending score.
        score: f64,
    },
    /// Scoring an embedding against the cohort failed (zero, non-finite, wrong dimension, missing key).
    #[error(transparent)]
    Scoring(#[from] ScoringError),
}

/// Mean and standard deviation of one side's top-N cohort scores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CohortStats {
    /// Mean of the top-N cohort scores.
    pub mean: f64,
    /// Population standard deviation of the top-N cohort scores (> 0).
    pub std: f64,
}

/// A prepared AS-norm cohort.
#[derive(Debug, Clone)]
pub struct AsNorm {
    /// Unit-norm cohort embeddings, row-major `len × dim`.
    cohort: Vec<f32>,
    dim: usize,
    len: usize,
    top_n: usize,
}

impl AsNorm {
    /// Prepares a cohort. `top_n` defaults to [`DEFAULT_TOP_N`] and is capped at the cohort size.
    pub fn new<'a, I>(cohort: I, top_n: Option<usize>) -> Result<Self, AsNormError>
    where
        I: IntoIterator<Item = &'a [f32]>,
    {
        let mut flat = Vec::new();
        let (mut dim, mut len) = (0usize, 0usize);
        for (index, v) in cohort.into_iter().enumerate() {
            let bad = |source| AsNormError::BadCohortEmbedding { index, source };
            if index == 0 {
                dim = v.len();
            } else if v.len() != dim {
                return Err(bad(ScoringError::DimensionMismatch { a: dim, b: v.len() }));
            }
            flat.extend(l2_normalize(v).map_err(bad)?);
            len += 1;
        }
        if len < 2 {
            return Err(AsNormError::CohortTooSmall { size: len });
        }
        let requested = top_n.unwrap_or(DEFAULT_TOP_N);
        if requested < 2 {
            return Err(AsNormError::InvalidTopN(requested));
        }
        Ok(Self {
            cohort: flat,
            dim,
            len,
            top_n: requested.min(len),
        })
    }

    /// Prepares a cohort from every embedding of `store`.
    pub fn from_store(store: &EmbeddingStore, top_n: Option<usize>) -> Result<Self, AsNormError> {
        Self::new(store.iter().map(|(_, v)| v), top_n)
    }

    /// The `N` in use (after capping at the cohort size).
    pub fn top_n(&self) -> usize {
        self.top_n
    }

    /// Number of cohort embeddings.
    pub fn cohort_len(&self) -> usize {
        self.len
    }

    /// Embedding dimension of the cohort.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Statistics of the top-N cosine scores of `embedding` against the cohort.
    pub fn cohort_stats(&self, embedding: &[f32]) -> Result<CohortStats, AsNormError> {
        if embedding.len() != self.dim {
            return Err(ScoringError::DimensionMismatch {
                a: embedding.len(),
                b: self.dim,
            }
            .into());
        }
        let e = l2_normalize(embedding)?;
        let mut scores: Vec<f64> = self
            .cohort
            .chunks_exact(self.dim)
            .map(|c| c.iter().zip(&e).map(|(&a, &b)| a as f64 * b as f64).sum())
            .collect();
        // Partition so the N largest come first; their order does not matter for mean/std.
        let n = self.top_n;
        if n < scores.len() {
            scores.select_nth_unstable_by(n - 1, |a, b| b.total_cmp(a));
        }
        let top = &scores[..n];
        let mean = top.iter().sum::<f64>() / n as f64;
        let var = top.iter().map(|s| (s - mean) * (s - mean)).sum::<f64>() / n as f64;
        let std = var.sqrt();
        if std.is_nan() || std <= 0.0 {
            return Err(AsNormError::ZeroSpread {
                top_n: n,
                for_key: String::new(),
            });
        }
        Ok(CohortStats { mean, std })
    }

    /// The AS-norm formula for a raw score given both sides' statistics.
    pub fn normalize(score: f64, enroll: &CohortStats, test: &CohortStats) -> f64 {
        0.5 * ((score - enroll.mean) / enroll.std + (score - test.mean) / test.std)
    }

    /// AS-normalised cosine score of one pair of embeddings.
    pub fn score(&self, enroll: &[f32], test: &[f32]) -> Result<f64, AsNormError> {
        let raw = crate::scoring::cosine_similarity(enroll, test)?;
        Ok(Self::normalize(
            raw,
            &self.cohort_stats(enroll)?,
            &self.cohort_stats(test)?,
        ))
    }

    /// Normalises already-scored trials, looking embeddings up in `store`. Cohort statistics are
    /// computed once per distinct key, so the cost is `O(keys × cohort × dim)`, not per trial.
    pub fn normalize_trials(
        &self,
        scored: &[ScoredTrial],
        store: &EmbeddingStore,
    ) -> Result<Vec<ScoredTrial>, AsNormError> {
        let mut cache: HashMap<String, CohortStats> = HashMap::new();
        let mut stats = |trial: usize, key: &str| -> Result<CohortStats, AsNormError> {
            if let Some(s) = cache.get(key) {
                return Ok(*s);
            }
            let emb = store
                .get(key)
                .ok_or_else(|| ScoringError::MissingEmbedding {
                    trial,
                    key: key.to_string(),
                })?;
            let s = self.cohort_stats(emb).map_err(|e| match e {
                AsNormError::ZeroSpread { top_n, .. } => AsNormError::ZeroSpread {
                    top_n,
                    for_key: format!(" for key {key:?}"),
                },
                other => other,
            })?;
            cache.insert(key.to_string(), s);
            Ok(s)
        };
        scored
            .iter()
            .enumerate()
            .map(|(i, t)| {
                if !t.score.is_finite() {
                    return Err(AsNormError::NonFiniteScore {
                        trial: i,
                        score: t.score,
                    });
                }
                let (e, te) = (stats(i, &t.enroll)?, stats(i, &t.test)?);
                Ok(ScoredTrial {
                    score: Self::normalize(t.score, &e, &te),
                    ..t.clone()
                })
            })
            .collect()
    }
}
