//! The database layout, its migrations, and the connection settings every registry connection
//! uses.

use crate::digest::embedding_digest;
use crate::enrollments::update_centroid;
use crate::names::normalize_name;
use crate::RegistryError;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::time::Duration;

/// The layout version this build writes; `open` migrates older ones and refuses newer ones.
pub(crate) const SCHEMA_VERSION: i64 = 2;

/// How long a writer waits for another process's write transaction before giving up with
/// [`RegistryError::Busy`].
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The first layout (version 1); [`migrate`] brings it to [`SCHEMA_VERSION`], for new and
/// old registries alike (one path, so the migration is exercised by every `create`).
///
/// Speakers with their centroid (mean of their L2-normalised enrollments, little-endian f32),
/// enrollments with the model and label they were computed with, and `meta` for the registry's
/// own model identity and decision threshold, and an optional AS-norm cohort (impostor
/// embeddings of the same model and label).
pub(crate) const SCHEMA_V1: &str = "
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE speakers (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    centroid   BLOB NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE TABLE enrollments (
    id         INTEGER PRIMARY KEY,
    speaker_id INTEGER NOT NULL REFERENCES speakers(id) ON DELETE CASCADE,
    source     TEXT NOT NULL,
    duration_s REAL NOT NULL,
    model      TEXT NOT NULL,
    label      TEXT NOT NULL,
    embedding  BLOB NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX enrollments_by_speaker ON enrollments(speaker_id);
CREATE TABLE cohort (
    id         INTEGER PRIMARY KEY,
    source     TEXT NOT NULL,
    embedding  BLOB NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
";

/// Settings needed before the first read: the busy timeout, and write transactions that take
/// the write lock when they begin (`BEGIN IMMEDIATE`). A deferred transaction that reads and
/// then writes fails with SQLITE_BUSY_SNAPSHOT when another process commits in between, which
/// no busy timeout covers; an immediate one waits for the other writer instead.
pub(crate) fn connect(conn: &mut Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_transaction_behavior(TransactionBehavior::Immediate);
    Ok(())
}

/// Settings that change the file, applied only once it is known to be a registry: WAL
/// (readers never block the writer, a killed writer leaves the last committed state),
/// `synchronous=FULL` (a committed enrollment survives power loss, not only a killed process)
/// and foreign keys (removing a speaker removes its enrollments).
pub(crate) fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

/// The `schema` entry of `meta`.
pub(crate) fn version(conn: &Connection) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
        r.get(0)
    })
    .optional()
}

/// Brings a registry to [`SCHEMA_VERSION`] in one immediate transaction (a second process
/// migrating at the same time waits, then finds nothing left to do).
pub(crate) fn migrate(conn: &mut Connection, dim: usize) -> Result<(), RegistryError> {
    let tx = conn.transaction()?;
    if migrate_in(&tx, dim)? {
        tx.commit()?;
    }
    Ok(())
}

/// The migration steps, inside the caller's write transaction; whether there were any.
pub(crate) fn migrate_in(conn: &Connection, dim: usize) -> Result<bool, RegistryError> {
    let from: i64 = version(conn)?.and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut at = from;
    if at == 1 {
        to_v2(conn, dim)?;
        at = 2;
    }
    if at == from {
        return Ok(false);
    }
    conn.execute(
        "UPDATE meta SET value = ?1 WHERE key = 'schema'",
        [at.to_string()],
    )?;
    tracing::info!(from, to = at, "registry layout migrated");
    Ok(true)
}

/// Version 2: a content digest per enrollment (a retried enrollment of the same audio for the
/// same speaker is found instead of stored twice), and speaker names trimmed and in NFC.
/// Existing rows get the digest of their embedding; speakers whose names become equal are
/// merged (their enrollments kept, the centroid recomputed).
fn to_v2(conn: &Connection, dim: usize) -> Result<(), RegistryError> {
    conn.execute_batch(
        "ALTER TABLE enrollments ADD COLUMN content_hash BLOB;
         CREATE INDEX enrollments_by_content ON enrollments(speaker_id, content_hash);",
    )?;
    let rows: Vec<(i64, Vec<u8>)> = conn
        .prepare("SELECT id, embedding FROM enrollments")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, blob) in rows {
        conn.execute(
            "UPDATE enrollments SET content_hash = ?1 WHERE id = ?2",
            params![embedding_digest(&blob).as_slice(), id],
        )?;
    }
    let speakers: Vec<(i64, String)> = conn
        .prepare("SELECT id, name FROM speakers ORDER BY id")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, name) in speakers {
        let Ok(norm) = normalize_name(&name) else {
            tracing::warn!(speaker = %name, "keeping a stored name that is not valid today");
            continue;
        };
        if norm == name {
            continue;
        }
        let existing: Option<i64> = conn
            .query_row("SELECT id FROM speakers WHERE name = ?1", [&norm], |r| {
                r.get(0)
            })
            .optional()?;
        match existing {
            None => {
                conn.execute(
                    "UPDATE speakers SET name = ?1 WHERE id = ?2",
                    params![norm, id],
                )?;
            }
            Some(keep) => {
                tracing::warn!(from = %name, into = %norm, "merging speakers whose names differ only by spaces or Unicode normalisation");
                conn.execute(
                    "UPDATE enrollments SET speaker_id = ?1 WHERE speaker_id = ?2",
                    params![keep, id],
                )?;
                conn.execute("DELETE FROM speakers WHERE id = ?1", [id])?;
                update_centroid(conn, keep, dim)?;
            }
        }
    }
    Ok(())
}
