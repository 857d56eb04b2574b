//! Speaker-verification evaluation for ECAPA2 embeddings.
//!
//! The pieces the `ecapa2` CLI's `eval`/`score` commands are built from:
//!
//! - [`trials`]: VoxCeleb (`1 enroll test`) and Kaldi (`enroll test target`) trial lists,
//!   auto-detected, with line-numbered errors.
//! - [`embeddings`]: an [`EmbeddingStore`] (key → vector, also the embedding cache) that reads
//!   and writes `.npy` + keys, JSON Lines and Kaldi text `.ark`/`.scp`.
//! - [`scoring`]: cosine similarity and per-trial scoring.
//! - [`asnorm`]: adaptive symmetric score normalisation against a cohort.
//! - [`metrics`]: EER and minDCF (conventions documented there).
//! - [`det`]: the DET curve on normal-deviate axes (probit, axis ticks, a thinned polyline).
//! - `det_plot` (feature `plot`): DET plots to SVG/PNG with the EER and minDCF marked.
//! - [`score_file`]: `enroll test score [label]` files.
//!
//! No function panics on malformed input; every failure is a typed error.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod asnorm;
pub mod det;
#[cfg(feature = "plot")]
pub mod det_plot;
pub mod embeddings;
mod float_text;
pub mod metrics;
pub mod score_file;
pub mod scoring;
pub mod trials;

pub use asnorm::{AsNorm, AsNormError, CohortStats, DEFAULT_TOP_N};
pub use embeddings::{EmbeddingError, EmbeddingFormat, EmbeddingStore};
pub use metrics::{
    compute_eer, compute_metrics, compute_min_dcf, DcfParams, DetCurve, Eer, Metrics, MetricsError,
    MinDcf, OperatingPoint, STANDARD_P_TARGETS,
};
pub use score_file::{load_scores, parse_scores, save_scores, write_scores, ScoreFileError};
pub use scoring::{
    cosine_similarity, l2_normalize, label_from_trials, score_trials, split_by_label, ScoredTrial,
    ScoringError,
};
pub use trials::{
    parse_trials, parse_trials_as, read_trials, Trial, TrialFormat, TrialList, TrialsError,
};
