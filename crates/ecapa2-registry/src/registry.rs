//! The registry handle: one SQLite file, one connection, and the in-memory search state kept
//! in step with it. Creating and opening live here; what a registry does is in
//! [`crate::enrollments`], [`crate::speakers`] and [`crate::search`].

use crate::files::{examine, open_error, FileState};
use crate::index::CentroidIndex;
use crate::schema::{self, SCHEMA_V1, SCHEMA_VERSION};
use crate::{ModelIdentity, RegistryError};
use ecapa2_eval::AsNorm;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use std::path::{Path, PathBuf};

pub(crate) type Result<T> = std::result::Result<T, RegistryError>;

/// A speaker registry in one SQLite file. Not `Sync` (one connection); share it behind a
/// mutex, or open one per thread or process: write transactions take the write lock when
/// they begin, and a writer waits for another up to the busy timeout
/// ([`Registry::set_busy_timeout`], 10 s by default; [`RegistryError::Busy`] after).
pub struct Registry {
    pub(crate) conn: Connection,
    pub(crate) path: PathBuf,
    pub(crate) identity: ModelIdentity,
    /// The search index and the `data_version` it reflects (`None`: build on next use).
    /// This connection's own writes update it in place; another's commit rebuilds it.
    pub(crate) index: Option<(i64, CentroidIndex)>,
    /// The AS-norm cohort (`None` inside: no cohort) and its `data_version`.
    pub(crate) cohort: Option<(i64, Option<AsNorm>)>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("path", &self.path)
            .field("identity", &self.identity)
            .finish()
    }
}

fn not_registry(path: &Path, reason: impl Into<String>) -> RegistryError {
    RegistryError::NotARegistry {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

/// Opens an existing file for reading and writing without creating it.
fn connect_existing(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags)
        .map_err(|e| open_error(path, e, RegistryError::from))?;
    schema::connect(&mut conn).map_err(|e| open_error(path, e, RegistryError::from))?;
    Ok(conn)
}

/// Refuses a database that already has tables (a registry or anything else), reading only.
fn check_blank(conn: &Connection, path: &Path) -> Result<()> {
    let tables = |filter: &str| -> Result<i64> {
        conn.query_row(
            &format!("SELECT count(*) FROM sqlite_master WHERE type = 'table'{filter}"),
            [],
            |r| r.get(0),
        )
        .map_err(|e| open_error(path, e, |e| not_registry(path, e.to_string())))
    };
    if tables(" AND name = 'meta'")? > 0 {
        return Err(RegistryError::AlreadyExists {
            path: path.display().to_string(),
        });
    }
    if tables("")? > 0 {
        return Err(not_registry(
            path,
            "it holds another SQLite database; refusing to add a registry to it",
        ));
    }
    Ok(())
}

/// The registry's identity from `meta`, refusing any other database, reading only (a file
/// refused here is left exactly as it was).
fn read_identity(conn: &Connection, path: &Path) -> Result<ModelIdentity> {
    let sql = |e: rusqlite::Error| open_error(path, e, |e| not_registry(path, e.to_string()));
    let meta = |key: &str| -> Result<String> {
        conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(sql)?
            .ok_or_else(|| not_registry(path, format!("no `{key}` entry")))
    };
    let version = meta("schema")?;
    if !matches!(version.parse::<i64>(), Ok(v) if (1..=SCHEMA_VERSION).contains(&v)) {
        return Err(not_registry(
            path,
            format!("schema version {version}, this build reads 1 to {SCHEMA_VERSION}"),
        ));
    }
    Ok(ModelIdentity {
        model: meta("model")?,
        label: meta("label")?,
        dim: meta("dim")?
            .parse()
            .map_err(|_| not_registry(path, "unreadable `dim`"))?,
    })
}

impl Registry {
    fn with(conn: Connection, path: &Path, identity: ModelIdentity) -> Self {
        Self {
            conn,
            path: path.to_path_buf(),
            identity,
            index: None,
            cohort: None,
        }
    }

    /// Creates a registry for `identity`'s embeddings in a new or empty file. Refuses a
    /// registry ([`RegistryError::AlreadyExists`]) and any other database, unchanged.
    pub fn create(path: impl AsRef<Path>, identity: &ModelIdentity) -> Result<Self> {
        let path = path.as_ref();
        if examine(path)? == FileState::Content {
            check_blank(&connect_existing(path)?, path)?;
        }
        let mut conn =
            Connection::open(path).map_err(|e| open_error(path, e, RegistryError::from))?;
        schema::connect(&mut conn).map_err(|e| open_error(path, e, RegistryError::from))?;
        check_blank(&conn, path)?;
        schema::configure(&conn).map_err(|e| open_error(path, e, RegistryError::from))?;
        let tx = conn.transaction()?;
        // Again inside the write lock: another process may have created it meanwhile.
        check_blank(&tx, path)?;
        tx.execute_batch(SCHEMA_V1)?;
        for (key, value) in [
            ("schema", "1".to_string()),
            ("model", identity.model.clone()),
            ("label", identity.label.clone()),
            ("dim", identity.dim.to_string()),
        ] {
            tx.execute(
                "INSERT INTO meta(key, value) VALUES (?1, ?2)",
                params![key, value],
            )?;
        }
        schema::migrate_in(&tx, identity.dim)?;
        tx.commit()?;
        tracing::info!(path = %path.display(), model = %identity.model, label = %identity.label, "registry created");
        Ok(Self::with(conn, path, identity.clone()))
    }

    /// Opens an existing registry, migrating an older layout. A file that is missing, empty,
    /// a directory, not a registry or of a newer layout is refused without being changed.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        match examine(path)? {
            FileState::Missing => {
                return Err(not_registry(
                    path,
                    "no such file (create one with `ecapa2 registry create`)",
                ))
            }
            FileState::Empty => {
                return Err(not_registry(
                    path,
                    "an empty file, not yet a registry (`ecapa2 registry create` or \
                     `ecapa2 serve --db` initialises it)",
                ))
            }
            FileState::Content => {}
        }
        let mut conn = connect_existing(path)?;
        let identity = read_identity(&conn, path)?;
        schema::configure(&conn).map_err(|e| open_error(path, e, RegistryError::from))?;
        schema::migrate(&mut conn, identity.dim)?;
        Ok(Self::with(conn, path, identity))
    }

    /// Opens the registry at `path`, or creates one for `identity` when the file is missing
    /// or empty (what `ecapa2 serve --db` does; a second process creating it at the same
    /// moment opens the first one's). Whether an opened registry holds the caller's model is
    /// the caller's check ([`Registry::check_model`]).
    pub fn open_or_create(path: impl AsRef<Path>, identity: &ModelIdentity) -> Result<Self> {
        let path = path.as_ref();
        if examine(path)? == FileState::Content {
            return Self::open(path);
        }
        match Self::create(path, identity) {
            Err(RegistryError::AlreadyExists { .. }) => Self::open(path),
            other => other,
        }
    }

    /// Checkpoints the write-ahead log into the database file and closes the connection
    /// (what a graceful shutdown does; dropping the registry also leaves a consistent file).
    pub fn close(self) -> Result<()> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        self.conn.close().map_err(|(_, e)| RegistryError::from(e))
    }

    /// How long a write waits for another process's write transaction before failing with
    /// [`RegistryError::Busy`] (10 s unless set).
    pub fn set_busy_timeout(&mut self, timeout: std::time::Duration) -> Result<()> {
        Ok(self.conn.busy_timeout(timeout)?)
    }

    /// The model and label whose embeddings this registry holds.
    pub fn identity(&self) -> &ModelIdentity {
        &self.identity
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Refuses a caller whose model or label differs from the registry's.
    pub fn check_model(&self, caller: &ModelIdentity) -> Result<()> {
        if caller.model != self.identity.model || caller.label != self.identity.label {
            return Err(RegistryError::ModelMismatch {
                registry_model: self.identity.model.clone(),
                registry_label: self.identity.label.clone(),
                model: caller.model.clone(),
                label: caller.label.clone(),
            });
        }
        Ok(())
    }
}
