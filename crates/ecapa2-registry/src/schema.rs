//! The database layout and the connection settings every registry connection uses.

use rusqlite::Connection;

/// Version of the layout below; `open` refuses any other.
pub(crate) const SCHEMA_VERSION: i64 = 1;

/// Speakers with their centroid (mean of their L2-normalised enrollments, little-endian f32),
/// enrollments with the model and label they were computed with, and `meta` for the registry's
/// own model identity and decision threshold, and an optional AS-norm cohort (impostor
/// embeddings of the same model and label).
pub(crate) const SCHEMA: &str = "
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

/// Settings for every connection: WAL (readers never block the writer, a killed writer leaves
/// the last committed state), `synchronous=FULL` (a committed enrollment survives power loss,
/// not only a killed process), foreign keys (removing a speaker removes its enrollments), and
/// a busy timeout so that two processes on one file wait for each other instead of failing.
pub(crate) fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}
