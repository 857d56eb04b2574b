//! The values the registry takes and gives: model identity, enrollments, listings, decisions.

use crate::digest::ContentDigest;

/// Which embeddings a registry holds: the model (e.g. `sha256:<hex>` of the archive, or a hub
/// revision), the feature label, and the vector length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelIdentity {
    /// The model's identity: archive sha256 or hub revision.
    pub model: String,
    /// The feature label the embeddings were computed with (e.g. `embedding`).
    pub label: String,
    /// Length of each embedding.
    pub dim: usize,
}

/// One embedding to enroll.
#[derive(Debug, Clone, Copy)]
pub struct NewEnrollment<'a> {
    /// Where it came from (a file path, an upload name): at most 1024 bytes, no control
    /// characters.
    pub source: &'a str,
    /// Seconds of audio it was computed from.
    pub duration_s: f64,
    /// The embedding.
    pub embedding: &'a [f32],
    /// What identifies its audio ([`crate::audio_digest`]); `None`: the embedding's bytes do.
    /// An enrollment whose digest the speaker already has is not stored again.
    pub digest: Option<ContentDigest>,
}

impl<'a> NewEnrollment<'a> {
    /// An enrollment from `source` (`duration_s` seconds of audio).
    pub fn new(source: &'a str, duration_s: f64, embedding: &'a [f32]) -> Self {
        Self {
            source,
            duration_s,
            embedding,
            digest: None,
        }
    }

    /// The same, identified by the digest of its audio ([`crate::audio_digest`]).
    pub fn with_digest(self, digest: ContentDigest) -> Self {
        Self {
            digest: Some(digest),
            ..self
        }
    }
}

/// The outcome of one enrollment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enrolled {
    /// The enrollment's id (for `remove_enrollment`).
    pub id: i64,
    /// `false` when the speaker already had this audio (a retried request): nothing was
    /// stored and `id` is the earlier enrollment's.
    pub new: bool,
}

/// A speaker as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeakerInfo {
    /// Speaker name.
    pub name: String,
    /// Number of enrollments.
    pub enrollments: usize,
    /// Seconds of enrolled audio.
    pub duration_s: f64,
    /// When the speaker was first enrolled (UTC, RFC 3339).
    pub created_at: String,
    /// When its enrollments last changed (UTC, RFC 3339).
    pub updated_at: String,
}

/// One stored enrollment.
#[derive(Debug, Clone, PartialEq)]
pub struct EnrollmentInfo {
    /// Its id (for `remove_enrollment`).
    pub id: i64,
    /// Where it came from.
    pub source: String,
    /// Seconds of audio.
    pub duration_s: f64,
    /// When it was enrolled (UTC, RFC 3339).
    pub created_at: String,
}

/// A speaker with its enrollments.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeakerDetail {
    /// The speaker.
    pub info: SpeakerInfo,
    /// Its enrollments, oldest first.
    pub enrollments: Vec<EnrollmentInfo>,
}

/// The decision threshold and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// Accept iff `score >= value`.
    pub value: f64,
    /// How it was chosen (e.g. `EER of dev.scores (2.10 %)`).
    pub source: String,
}

/// The answer to "is this `speaker`?".
#[derive(Debug, Clone, PartialEq)]
pub struct Verification {
    /// The decision score: AS-normalised when the registry has a cohort, else `raw_score`.
    pub score: f32,
    /// Cosine similarity to the speaker's centroid.
    pub raw_score: f32,
    /// Whether `score` is AS-normalised.
    pub normalized: bool,
    /// The registry's threshold, if one is set.
    pub threshold: Option<f64>,
    /// `score >= threshold`, or `None` without a threshold.
    pub accepted: Option<bool>,
}
