//! A speaker registry for ECAPA2 embeddings, stored in SQLite: enroll speakers from one or more
//! embeddings, remove a speaker or one enrollment, list them, verify a claimed identity and
//! identify an unknown voice among every enrolled speaker.
//!
//! ```no_run
//! use ecapa2_registry::{ModelIdentity, NewEnrollment, Registry};
//! let id = ModelIdentity { model: "sha256:…".into(), label: "embedding".into(), dim: 192 };
//! let mut reg = Registry::create("speakers.db", &id)?;
//! # let (emb_a, emb_b, query) = (vec![0.1f32; 192], vec![0.2f32; 192], vec![0.1f32; 192]);
//! reg.enroll(&id, "alice", &[NewEnrollment::new("alice1.wav", 4.2, &emb_a)])?;
//! reg.set_threshold(0.35, "manual")?;
//! let v = reg.verify(&id, "alice", &query)?;          // score, threshold, accepted
//! let top = reg.identify(&id, &query, 5)?;            // best 5 speakers, best first
//! # Ok::<(), ecapa2_registry::RegistryError>(())
//! ```
//!
//! Files: [`Registry::create`] takes a new or empty file; [`Registry::open`] refuses a
//! missing, empty or foreign file without changing it and migrates older layouts. Writers in
//! several processes wait for each other (`BEGIN IMMEDIATE`, a 10 s busy timeout, then
//! [`RegistryError::Busy`]). Speaker names are trimmed and in Unicode NFC; an enrollment of
//! audio the speaker already has is not stored twice.
//!
//! Every enrollment records the model (archive sha256 or hub revision) and the feature label it
//! was computed with; a registry refuses embeddings from another model or label. Scores are
//! cosine similarities between the query and the speaker's centroid (the mean of its
//! L2-normalised enrollments), searched exactly over every speaker (see [`index`]).

#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod digest;
mod enrollments;
mod error;
mod files;
pub mod index;
mod names;
mod registry;
mod schema;
mod search;
mod speakers;
mod types;
mod vector;

pub use digest::{audio_digest, ContentDigest};
pub use error::RegistryError;
pub use index::Candidate;
pub use names::{check_source, normalize_name, MAX_SOURCE};
pub use registry::Registry;
pub use types::{
    Enrolled, EnrollmentInfo, ModelIdentity, NewEnrollment, SpeakerDetail, SpeakerInfo, Threshold,
    Verification,
};
