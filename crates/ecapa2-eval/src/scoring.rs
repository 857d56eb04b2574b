//! Cosine scoring of trials against stored embeddings.

use std::collections::HashMap;

use crate::embeddings::EmbeddingStore;
use crate::trials::{Trial, TrialList};

/// Errors from scoring.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum ScoringError {
    /// The two vectors differ in length.
    #[error("cannot compare vectors of dimension {a} and {b}")]
    DimensionMismatch {
        /// Length of the first vector.
        a: usize,
        /// Length of the second vector.
        b: usize,
    },
    /// A vector is empty or all zeros, so its direction (and the cosine) is undefined.
    #[error("vector has zero norm; cosine similarity is undefined")]
    ZeroNorm,
    /// A vector contains NaN or infinity.
    #[error("vector has a non-finite value at index {index}")]
    NonFinite {
        /// Index of the first bad element.
        index: usize,
    },
    /// A trial names a key with no stored embedding.
    #[error("trial {trial}: no embedding for key {key:?}")]
    MissingEmbedding {
        /// 0-based trial index.
        trial: usize,
        /// The missing key.
        key: String,
    },
    /// A trial without a label was given where labels are needed.
    #[error("trial {trial} ({enroll} {test}) has no target/nontarget label")]
    Unlabeled {
        /// 0-based trial index.
        trial: usize,
        /// Its enrollment key.
        enroll: String,
        /// Its test key.
        test: String,
    },
    /// Labels were to come from a trial list that has none.
    #[error("the trial list has no target/nontarget labels")]
    UnlabeledTrialList,
    /// A scored pair is not in the trial list its labels come from.
    #[error("trial {trial} ({enroll} {test}) is not in the trial list")]
    NotInTrials {
        /// 0-based index of the scored trial.
        trial: usize,
        /// Its enrollment key.
        enroll: String,
        /// Its test key.
        test: String,
    },
    /// The trial list gives one pair both labels.
    #[error("the trial list labels ({enroll} {test}) both target and nontarget")]
    ConflictingLabels {
        /// Enrollment key.
        enroll: String,
        /// Test key.
        test: String,
    },
}

/// A trial with its score.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredTrial {
    /// Enrollment key.
    pub enroll: String,
    /// Test key.
    pub test: String,
    /// Similarity score (higher = more likely the same speaker).
    pub score: f64,
    /// Ground truth, when known: `true` = target.
    pub label: Option<bool>,
}

/// Cosine similarity `a·b / (|a| |b|)` in [-1, 1], accumulated in f64.
pub fn cosine_similarity(a: &[f32], b: &[f32]) -> Result<f64, ScoringError> {
    if a.len() != b.len() {
        return Err(ScoringError::DimensionMismatch {
            a: a.len(),
            b: b.len(),
        });
    }
    check_finite(a)?;
    check_finite(b)?;
    let (mut dot, mut na, mut nb) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (x as f64, y as f64);
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        return Err(ScoringError::ZeroNorm);
    }
    // Rounding can push |cos| a hair past 1 for (anti-)parallel vectors.
    Ok((dot / (na.sqrt() * nb.sqrt())).clamp(-1.0, 1.0))
}

/// `v / |v|` in f32 (norm accumulated in f64), so later cosines are plain dot products.
pub fn l2_normalize(v: &[f32]) -> Result<Vec<f32>, ScoringError> {
    check_finite(v)?;
    let norm = v
        .iter()
        .map(|&x| (x as f64) * (x as f64))
        .sum::<f64>()
        .sqrt();
    if norm == 0.0 {
        return Err(ScoringError::ZeroNorm);
    }
    Ok(v.iter().map(|&x| (x as f64 / norm) as f32).collect())
}

/// Cosine-scores every trial with the embeddings in `store`, keeping trial order and labels.
pub fn score_trials(
    trials: &[Trial],
    store: &EmbeddingStore,
) -> Result<Vec<ScoredTrial>, ScoringError> {
    trials
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let get = |key: &str| {
                store
                    .get(key)
                    .ok_or_else(|| ScoringError::MissingEmbedding {
                        trial: i,
                        key: key.to_string(),
                    })
            };
            Ok(ScoredTrial {
                enroll: t.enroll.clone(),
                test: t.test.clone(),
                score: cosine_similarity(get(&t.enroll)?, get(&t.test)?)?,
                label: t.label,
            })
        })
        .collect()
}

/// Splits scores into `(target, nontarget)` for the metrics; every trial must be labelled.
pub fn split_by_label(scored: &[ScoredTrial]) -> Result<(Vec<f64>, Vec<f64>), ScoringError> {
    let (mut tgt, mut non) = (Vec::new(), Vec::new());
    for (i, s) in scored.iter().enumerate() {
        match s.label {
            Some(true) => tgt.push(s.score),
            Some(false) => non.push(s.score),
            None => {
                return Err(ScoringError::Unlabeled {
                    trial: i,
                    enroll: s.enroll.clone(),
                    test: s.test.clone(),
                })
            }
        }
    }
    Ok((tgt, non))
}

/// Sets every score's label from the trial list's `(enroll, test)` pair, replacing any label
/// it had: for score files without a label column (Kaldi's `enroll test score`). Fails, with
/// nothing changed, on an unlabelled list, a pair given both labels, or a scored pair the
/// list lacks.
pub fn label_from_trials(
    scored: &mut [ScoredTrial],
    trials: &TrialList,
) -> Result<(), ScoringError> {
    if !trials.is_labeled() {
        return Err(ScoringError::UnlabeledTrialList);
    }
    let mut labels: HashMap<(&str, &str), bool> = HashMap::with_capacity(trials.trials.len());
    for t in &trials.trials {
        // A labelled list gives every trial a label.
        let Some(label) = t.label else {
            return Err(ScoringError::UnlabeledTrialList);
        };
        if *labels.entry((&t.enroll, &t.test)).or_insert(label) != label {
            return Err(ScoringError::ConflictingLabels {
                enroll: t.enroll.clone(),
                test: t.test.clone(),
            });
        }
    }
    let found = scored
        .iter()
        .enumerate()
        .map(|(i, s)| {
            labels
                .get(&(s.enroll.as_str(), s.test.as_str()))
                .copied()
                .ok_or_else(|| ScoringError::NotInTrials {
                    trial: i,
                    enroll: s.enroll.clone(),
                    test: s.test.clone(),
                })
        })
        .collect::<Result<Vec<bool>, _>>()?;
    for (s, label) in scored.iter_mut().zip(found) {
        s.label = Some(label);
    }
    Ok(())
}

fn check_finite(v: &[f32]) -> Result<(), ScoringError> {
    match v.iter().position(|x| !x.is_finite()) {
        Some(index) => Err(ScoringError::NonFinite { index }),
        None => Ok(()),
    }
}
