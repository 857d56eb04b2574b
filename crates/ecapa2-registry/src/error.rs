//! The registry's error type.

/// What can go wrong with a registry. Messages say what is wrong and, where there is one, what
/// to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// SQLite failed (I/O, a corrupt database).
    #[error("registry database: {0}")]
    Sqlite(rusqlite::Error),
    /// Another process held the database's write lock for longer than the busy timeout.
    #[error(
        "the registry database is busy: another process held its write lock for longer than \
         the busy timeout; nothing was written, retry shortly"
    )]
    Busy,
    /// The file or its folder cannot be read or written (permissions, a read-only folder).
    #[error("{path}: {reason}")]
    Access {
        /// The database file.
        path: String,
        /// What was refused.
        reason: String,
    },
    /// `create` on a file that already holds a registry.
    #[error("{path} already holds a speaker registry")]
    AlreadyExists {
        /// The database file.
        path: String,
    },
    /// `open` on a file that is not a registry (or of a newer schema).
    #[error("{path} is not an ecapa2 speaker registry: {reason}")]
    NotARegistry {
        /// The database file.
        path: String,
        /// What is missing or unexpected.
        reason: String,
    },
    /// An embedding from another model or label than the registry's.
    #[error(
        "this registry holds {registry_label} embeddings of model {registry_model}; refusing \
         {label} embeddings of model {model} (scores across models or labels are meaningless)"
    )]
    ModelMismatch {
        /// The registry's model identity.
        registry_model: String,
        /// The registry's label.
        registry_label: String,
        /// The caller's model identity.
        model: String,
        /// The caller's label.
        label: String,
    },
    /// An embedding of the wrong length, with a NaN/Inf, or all zeros.
    #[error("bad embedding: {0}")]
    BadEmbedding(String),
    /// A speaker name that is empty, too long or has control characters.
    #[error("bad speaker name {name:?}: {reason}")]
    BadName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An enrollment source that is too long or has control characters.
    #[error("bad enrollment source {source_start:?}: {reason}")]
    BadSource {
        /// The start of the source given.
        source_start: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No such speaker.
    #[error("no speaker named {0:?} in the registry")]
    UnknownSpeaker(String),
    /// No such enrollment.
    #[error("no enrollment #{0} in the registry")]
    UnknownEnrollment(i64),
    /// An enrollment call with nothing to enroll.
    #[error("nothing to enroll")]
    NothingToEnroll,
    /// AS-norm could not be applied (cohort too small, zero spread).
    #[error("AS-norm: {0}")]
    AsNorm(#[from] ecapa2_eval::AsNormError),
    /// A threshold that is not a finite number.
    #[error("threshold must be a finite number, got {0}")]
    BadThreshold(f64),
}

impl From<rusqlite::Error> for RegistryError {
    /// SQLITE_BUSY after the busy timeout is [`RegistryError::Busy`] (a caller may retry);
    /// everything else is [`RegistryError::Sqlite`].
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                Self::Busy
            }
            _ => Self::Sqlite(e),
        }
    }
}
