//! The registry: one SQLite file, one connection, an in-memory search index kept in step with
//! the database (also with writes by other processes, through SQLite's `data_version`).

use crate::index::{Candidate, CentroidIndex};
use crate::schema::{configure, SCHEMA, SCHEMA_VERSION};
use crate::vector::{from_blob, mean, normalized, to_blob};
use crate::RegistryError;
use ecapa2_eval::AsNorm;
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use std::path::{Path, PathBuf};

type Result<T> = std::result::Result<T, RegistryError>;

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
    /// Where it came from (a file path, an upload name).
    pub source: &'a str,
    /// Seconds of audio it was computed from.
    pub duration_s: f64,
    /// The embedding.
    pub embedding: &'a [f32],
}

impl<'a> NewEnrollment<'a> {
    /// An enrollment from `source` (`duration_s` seconds of audio).
    pub fn new(source: &'a str, duration_s: f64, embedding: &'a [f32]) -> Self {
        Self {
            source,
            duration_s,
            embedding,
        }
    }
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

/// A speaker registry in one SQLite file. Not `Sync` (one connection); share it behind a
/// mutex, or open one per thread or process: SQLite serialises the writers.
pub struct Registry {
    conn: Connection,
    path: PathBuf,
    identity: ModelIdentity,
    /// The search index and the `data_version` it was built at (`None`: rebuild). Only
    /// `identify` needs it.
    index: Option<(i64, CentroidIndex)>,
    /// The AS-norm cohort (`None` inside: no cohort) and its `data_version`.
    cohort: Option<(i64, Option<AsNorm>)>,
}

/// How many raw-score candidates `identify` re-ranks with AS-norm (at least `k`).
const ASNORM_CANDIDATES: usize = 100;

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("path", &self.path)
            .field("identity", &self.identity)
            .finish()
    }
}

/// The longest accepted speaker name, in bytes.
const MAX_NAME: usize = 256;

fn check_name(name: &str) -> Result<()> {
    let reason = if name.trim().is_empty() {
        "empty"
    } else if name.len() > MAX_NAME {
        "longer than 256 bytes"
    } else if name.chars().any(char::is_control) {
        "has control characters"
    } else {
        return Ok(());
    };
    Err(RegistryError::BadName {
        name: name.chars().take(80).collect(),
        reason,
    })
}

impl Registry {
    /// Creates a registry for `identity`'s embeddings in a new (or empty) database file.
    pub fn create(path: impl AsRef<Path>, identity: &ModelIdentity) -> Result<Self> {
        let path = path.as_ref();
        let mut conn = Connection::open(path)?;
        configure(&conn)?;
        let tx = conn.transaction()?;
        let has_tables: i64 = tx.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
            [],
            |r| r.get(0),
        )?;
        if has_tables > 0 {
            return Err(RegistryError::AlreadyExists {
                path: path.display().to_string(),
            });
        }
        tx.execute_batch(SCHEMA)?;
        for (key, value) in [
            ("schema", SCHEMA_VERSION.to_string()),
            ("model", identity.model.clone()),
            ("label", identity.label.clone()),
            ("dim", identity.dim.to_string()),
        ] {
            tx.execute(
                "INSERT INTO meta(key, value) VALUES (?1, ?2)",
                params![key, value],
            )?;
        }
        tx.commit()?;
        tracing::info!(path = %path.display(), model = %identity.model, label = %identity.label, "registry created");
        Ok(Self {
            conn,
            path: path.to_path_buf(),
            identity: identity.clone(),
            index: None,
            cohort: None,
        })
    }

    /// Opens an existing registry.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let not_registry = |reason: String| RegistryError::NotARegistry {
            path: path.display().to_string(),
            reason,
        };
        if !path.is_file() {
            return Err(not_registry(
                "no such file (create one with `ecapa2 registry create`)".into(),
            ));
        }
        let conn = Connection::open(path)?;
        configure(&conn).map_err(|e| not_registry(e.to_string()))?;
        let meta = |key: &str| -> Result<String> {
            conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()
                .map_err(|e| not_registry(e.to_string()))?
                .ok_or_else(|| not_registry(format!("no `{key}` entry")))
        };
        let version = meta("schema")?;
        if version != SCHEMA_VERSION.to_string() {
            return Err(not_registry(format!(
                "schema version {version}, this build reads {SCHEMA_VERSION}"
            )));
        }
        let identity = ModelIdentity {
            model: meta("model")?,
            label: meta("label")?,
            dim: meta("dim")?
                .parse()
                .map_err(|_| not_registry("unreadable `dim`".into()))?,
        };
        Ok(Self {
            conn,
            path: path.to_path_buf(),
            identity,
            index: None,
            cohort: None,
        })
    }

    /// Checkpoints the write-ahead log into the database file and closes the connection
    /// (what a graceful shutdown does; dropping the registry also leaves a consistent file).
    pub fn close(self) -> Result<()> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        self.conn.close().map_err(|(_, e)| RegistryError::Sqlite(e))
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

    /// Enrolls `items` for `speaker` (created on its first enrollment), all or nothing, and
    /// updates its centroid in the same transaction. Returns the new enrollments' ids.
    pub fn enroll(
        &mut self,
        caller: &ModelIdentity,
        speaker: &str,
        items: &[NewEnrollment<'_>],
    ) -> Result<Vec<i64>> {
        if items.is_empty() {
            return Err(RegistryError::NothingToEnroll);
        }
        let pairs: Vec<(&str, NewEnrollment<'_>)> = items.iter().map(|&i| (speaker, i)).collect();
        self.enroll_batch(caller, &pairs)
    }

    /// Enrolls many `(speaker, enrollment)` pairs in one transaction (bulk import: one commit,
    /// one sync, instead of one per enrollment), all or nothing. Returns the ids in order.
    pub fn enroll_batch(
        &mut self,
        caller: &ModelIdentity,
        items: &[(&str, NewEnrollment<'_>)],
    ) -> Result<Vec<i64>> {
        self.check_model(caller)?;
        if items.is_empty() {
            return Err(RegistryError::NothingToEnroll);
        }
        let dim = self.identity.dim;
        for (speaker, item) in items {
            check_name(speaker)?;
            normalized(item.embedding, dim)?;
            if !(item.duration_s.is_finite() && item.duration_s >= 0.0) {
                return Err(RegistryError::BadEmbedding(format!(
                    "duration {} s is not a finite non-negative number",
                    item.duration_s
                )));
            }
        }
        let tx = self.conn.transaction()?;
        let mut ids = Vec::with_capacity(items.len());
        let mut touched = Vec::new();
        {
            let mut find = tx.prepare_cached("SELECT id FROM speakers WHERE name = ?1")?;
            let mut add_speaker =
                tx.prepare_cached("INSERT INTO speakers(name, centroid) VALUES (?1, x'')")?;
            let mut add = tx.prepare_cached(
                "INSERT INTO enrollments(speaker_id, source, duration_s, model, label, embedding)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for (speaker, item) in items {
                let speaker_id: i64 = match find.query_row([speaker], |r| r.get(0)).optional()? {
                    Some(id) => id,
                    None => {
                        add_speaker.execute([speaker])?;
                        tx.last_insert_rowid()
                    }
                };
                add.execute(params![
                    speaker_id,
                    item.source,
                    item.duration_s,
                    self.identity.model,
                    self.identity.label,
                    to_blob(item.embedding)
                ])?;
                ids.push(tx.last_insert_rowid());
                touched.push(speaker_id);
            }
        }
        touched.sort_unstable();
        touched.dedup();
        for speaker_id in touched {
            update_centroid(&tx, speaker_id, dim)?;
        }
        tx.commit()?;
        self.invalidate();
        tracing::debug!(enrolled = ids.len(), "enrolled");
        Ok(ids)
    }

    /// Removes a speaker and all its enrollments; returns how many enrollments went.
    pub fn remove_speaker(&mut self, speaker: &str) -> Result<usize> {
        let tx = self.conn.transaction()?;
        let id = speaker_id(&tx, speaker)?;
        let n = tx.execute("DELETE FROM enrollments WHERE speaker_id = ?1", [id])?;
        tx.execute("DELETE FROM speakers WHERE id = ?1", [id])?;
        tx.commit()?;
        self.invalidate();
        Ok(n)
    }

    /// Removes one enrollment; the speaker goes with its last one. Returns the speaker's name.
    pub fn remove_enrollment(&mut self, id: i64) -> Result<String> {
        let tx = self.conn.transaction()?;
        let (speaker_id, name): (i64, String) = tx
            .query_row(
                "SELECT s.id, s.name FROM enrollments e JOIN speakers s ON s.id = e.speaker_id
                 WHERE e.id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?
            .ok_or(RegistryError::UnknownEnrollment(id))?;
        tx.execute("DELETE FROM enrollments WHERE id = ?1", [id])?;
        let left: i64 = tx.query_row(
            "SELECT count(*) FROM enrollments WHERE speaker_id = ?1",
            [speaker_id],
            |r| r.get(0),
        )?;
        if left == 0 {
            tx.execute("DELETE FROM speakers WHERE id = ?1", [speaker_id])?;
        } else {
            update_centroid(&tx, speaker_id, self.identity.dim)?;
        }
        tx.commit()?;
        self.invalidate();
        Ok(name)
    }

    /// Every speaker, by name.
    pub fn speakers(&self) -> Result<Vec<SpeakerInfo>> {
        let mut stmt = self.conn.prepare(
            "SELECT s.name, count(e.id), coalesce(sum(e.duration_s), 0), s.created_at, s.updated_at
             FROM speakers s LEFT JOIN enrollments e ON e.speaker_id = s.id
             GROUP BY s.id ORDER BY s.name",
        )?;
        let rows = stmt.query_map([], speaker_info)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Number of speakers.
    pub fn len(&self) -> Result<usize> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM speakers", [], |r| r.get(0))?;
        Ok(n as usize)
    }

    /// Whether the registry has no speakers.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// One speaker with its enrollments.
    pub fn speaker(&self, speaker: &str) -> Result<SpeakerDetail> {
        let info = self
            .conn
            .query_row(
                "SELECT s.name, count(e.id), coalesce(sum(e.duration_s), 0), s.created_at, s.updated_at
                 FROM speakers s LEFT JOIN enrollments e ON e.speaker_id = s.id
                 WHERE s.name = ?1 GROUP BY s.id",
                [speaker],
                speaker_info,
            )
            .optional()?
            .ok_or_else(|| RegistryError::UnknownSpeaker(speaker.to_string()))?;
        let mut stmt = self.conn.prepare(
            "SELECT e.id, e.source, e.duration_s, e.created_at FROM enrollments e
             JOIN speakers s ON s.id = e.speaker_id WHERE s.name = ?1 ORDER BY e.id",
        )?;
        let enrollments = stmt
            .query_map([speaker], |r| {
                Ok(EnrollmentInfo {
                    id: r.get(0)?,
                    source: r.get(1)?,
                    duration_s: r.get(2)?,
                    created_at: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(SpeakerDetail { info, enrollments })
    }

    /// The stored embeddings of one speaker, oldest first (for export and checks).
    pub fn embeddings(&self, speaker: &str) -> Result<Vec<(i64, Vec<f32>)>> {
        let id = speaker_id(&self.conn, speaker)?;
        load_embeddings(&self.conn, id, self.identity.dim)
    }

    /// The stored centroid of one speaker (mean of its L2-normalised enrollments).
    pub fn centroid(&self, speaker: &str) -> Result<Vec<f32>> {
        let blob: Vec<u8> = self
            .conn
            .query_row(
                "SELECT centroid FROM speakers WHERE name = ?1",
                [speaker],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| RegistryError::UnknownSpeaker(speaker.to_string()))?;
        from_blob(&blob, self.identity.dim).ok_or_else(|| corrupt_centroid(speaker))
    }

    /// Sets the decision threshold (accept iff `score >= value`) and records where it came
    /// from.
    pub fn set_threshold(&mut self, value: f64, source: &str) -> Result<()> {
        if !value.is_finite() {
            return Err(RegistryError::BadThreshold(value));
        }
        let tx = self.conn.transaction()?;
        for (key, v) in [
            ("threshold", value.to_string()),
            ("threshold_source", source.into()),
        ] {
            tx.execute(
                "INSERT INTO meta(key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![key, v],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The decision threshold, if one was set.
    pub fn threshold(&self) -> Result<Option<Threshold>> {
        let get = |key: &str| -> Result<Option<String>> {
            Ok(self
                .conn
                .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()?)
        };
        let Some(value) = get("threshold")? else {
            return Ok(None);
        };
        let value = value.parse().map_err(|_| RegistryError::NotARegistry {
            path: self.path.display().to_string(),
            reason: format!("unreadable threshold {value:?}"),
        })?;
        Ok(Some(Threshold {
            value,
            source: get("threshold_source")?.unwrap_or_default(),
        }))
    }

    /// Scores `embedding` against `speaker`'s centroid (AS-normalised when the registry has a
    /// cohort) and decides with the threshold.
    pub fn verify(
        &mut self,
        caller: &ModelIdentity,
        speaker: &str,
        embedding: &[f32],
    ) -> Result<Verification> {
        self.check_model(caller)?;
        let query = normalized(embedding, self.identity.dim)?;
        let centroid = self.centroid(speaker)?;
        let centroid =
            normalized(&centroid, self.identity.dim).map_err(|_| corrupt_centroid(speaker))?;
        let raw = crate::vector::dot(&centroid, &query);
        let threshold = self.threshold()?.map(|t| t.value);
        self.refresh(false)?;
        let asnorm = self.cohort.as_ref().and_then(|(_, c)| c.as_ref());
        let score = match asnorm {
            Some(norm) => AsNorm::normalize(
                f64::from(raw),
                &norm.cohort_stats(&centroid)?,
                &norm.cohort_stats(&query)?,
            ) as f32,
            None => raw,
        };
        Ok(Verification {
            score,
            raw_score: raw,
            normalized: asnorm.is_some(),
            threshold,
            accepted: threshold.map(|t| f64::from(score) >= t),
        })
    }

    /// The `k` speakers closest to `embedding`, best first, each with its decision. With a
    /// cohort, the best raw-score candidates (at least 100) are AS-normalised and re-ranked.
    pub fn identify(
        &mut self,
        caller: &ModelIdentity,
        embedding: &[f32],
        k: usize,
    ) -> Result<Vec<Candidate>> {
        self.check_model(caller)?;
        let query = normalized(embedding, self.identity.dim)?;
        let threshold = self.threshold()?.map(|t| t.value);
        self.refresh(true)?;
        let (Some((_, index)), Some((_, asnorm))) = (&self.index, &self.cohort) else {
            unreachable!("refreshed above");
        };
        let decide = |score: f32| threshold.map(|t| f64::from(score) >= t);
        let Some(norm) = asnorm else {
            return Ok(index
                .search(&query, k)
                .into_iter()
                .map(|(row, score)| Candidate {
                    speaker: index.name(row).to_string(),
                    score,
                    raw_score: score,
                    accepted: decide(score),
                })
                .collect());
        };
        let test = norm.cohort_stats(&query)?;
        let mut out = index
            .search(&query, k.max(ASNORM_CANDIDATES))
            .into_iter()
            .map(|(row, raw)| {
                let enroll = norm.cohort_stats(index.row(row))?;
                let score = AsNorm::normalize(f64::from(raw), &enroll, &test) as f32;
                Ok(Candidate {
                    speaker: index.name(row).to_string(),
                    score,
                    raw_score: raw,
                    accepted: decide(score),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        out.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.speaker.cmp(&b.speaker))
        });
        out.truncate(k);
        Ok(out)
    }

    /// Adds AS-norm cohort embeddings (impostors: speakers who will not be enrolled) of this
    /// registry's model and label; returns the cohort size. From then on, verify and identify
    /// scores are AS-normalised: set the threshold from an `eval --cohort` run.
    pub fn add_cohort(
        &mut self,
        caller: &ModelIdentity,
        items: &[NewEnrollment<'_>],
    ) -> Result<usize> {
        self.check_model(caller)?;
        if items.is_empty() {
            return Err(RegistryError::NothingToEnroll);
        }
        for item in items {
            normalized(item.embedding, self.identity.dim)?;
        }
        let tx = self.conn.transaction()?;
        for item in items {
            tx.execute(
                "INSERT INTO cohort(source, embedding) VALUES (?1, ?2)",
                params![item.source, to_blob(item.embedding)],
            )?;
        }
        tx.commit()?;
        self.invalidate();
        self.cohort_len()
    }

    /// Removes the cohort (scores are raw cosines again); returns how many embeddings went.
    pub fn clear_cohort(&mut self) -> Result<usize> {
        let n = self.conn.execute("DELETE FROM cohort", [])?;
        self.invalidate();
        Ok(n)
    }

    /// Number of cohort embeddings (AS-norm is on when there are at least two).
    pub fn cohort_len(&self) -> Result<usize> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM cohort", [], |r| r.get(0))?;
        Ok(n as usize)
    }

    /// Sets AS-norm's top-N (default 300, capped at the cohort size).
    pub fn set_cohort_top_n(&mut self, top_n: usize) -> Result<()> {
        if top_n < 2 {
            return Err(ecapa2_eval::AsNormError::InvalidTopN(top_n).into());
        }
        self.conn.execute(
            "INSERT INTO meta(key, value) VALUES ('cohort_top_n', ?1)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [top_n.to_string()],
        )?;
        self.invalidate();
        Ok(())
    }

    /// Drops the cached index and cohort after a write by this connection.
    fn invalidate(&mut self) {
        self.index = None;
        self.cohort = None;
    }

    /// Rebuilds the cohort (and the search index, when `index`) if this connection wrote or
    /// another one committed since they were built: verify never pays for the index.
    fn refresh(&mut self, index: bool) -> Result<()> {
        let version: i64 = self
            .conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))?;
        if index && !matches!(&self.index, Some((v, _)) if *v == version) {
            self.index = Some((version, self.build_index()?));
        }
        if !matches!(&self.cohort, Some((v, _)) if *v == version) {
            self.cohort = Some((version, self.build_cohort()?));
        }
        Ok(())
    }

    fn build_index(&self) -> Result<CentroidIndex> {
        let dim = self.identity.dim;
        let mut index = CentroidIndex::new(dim);
        let mut stmt = self
            .conn
            .prepare("SELECT name, centroid FROM speakers ORDER BY id")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let name: String = row.get(0)?;
            let blob: Vec<u8> = row.get(1)?;
            let unit = from_blob(&blob, dim)
                .and_then(|c| normalized(&c, dim).ok())
                .ok_or_else(|| corrupt_centroid(&name))?;
            index.push(name, &unit);
        }
        tracing::debug!(speakers = index.len(), "search index built");
        Ok(index)
    }

    /// The AS-norm cohort, or `None` with fewer than two embeddings.
    fn build_cohort(&self) -> Result<Option<AsNorm>> {
        let dim = self.identity.dim;
        let mut stmt = self
            .conn
            .prepare("SELECT embedding FROM cohort ORDER BY id")?;
        let cohort: Vec<Vec<f32>> = stmt
            .query_map([], |r| r.get::<_, Vec<u8>>(0))?
            .map(|b| Ok(from_blob(&b?, dim)))
            .collect::<rusqlite::Result<Vec<_>>>()?
            .into_iter()
            .flatten()
            .collect();
        if cohort.len() < 2 {
            return Ok(None);
        }
        let top_n: Option<usize> = self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'cohort_top_n'",
                [],
                |r| r.get::<_, String>(0),
            )
            .optional()?
            .and_then(|v| v.parse().ok());
        Ok(Some(AsNorm::new(cohort.iter().map(Vec::as_slice), top_n)?))
    }
}

fn corrupt_centroid(speaker: &str) -> RegistryError {
    RegistryError::BadEmbedding(format!(
        "the stored centroid of {speaker:?} is unreadable (database damaged?)"
    ))
}

fn speaker_info(r: &rusqlite::Row<'_>) -> rusqlite::Result<SpeakerInfo> {
    Ok(SpeakerInfo {
        name: r.get(0)?,
        enrollments: r.get::<_, i64>(1)? as usize,
        duration_s: r.get(2)?,
        created_at: r.get(3)?,
        updated_at: r.get(4)?,
    })
}

fn speaker_id(conn: &Connection, speaker: &str) -> Result<i64> {
    conn.query_row("SELECT id FROM speakers WHERE name = ?1", [speaker], |r| {
        r.get(0)
    })
    .optional()?
    .ok_or_else(|| RegistryError::UnknownSpeaker(speaker.to_string()))
}

fn load_embeddings(conn: &Connection, speaker_id: i64, dim: usize) -> Result<Vec<(i64, Vec<f32>)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, embedding FROM enrollments WHERE speaker_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([speaker_id], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, blob) = row?;
        let v = from_blob(&blob, dim).ok_or_else(|| {
            RegistryError::BadEmbedding(format!("stored enrollment #{id} is unreadable"))
        })?;
        out.push((id, v));
    }
    Ok(out)
}

/// Recomputes a speaker's centroid from all its enrollments (not incrementally: no drift after
/// many enrollments and removals), inside the caller's transaction.
fn update_centroid(tx: &Transaction<'_>, speaker_id: i64, dim: usize) -> Result<()> {
    let units = load_embeddings(tx, speaker_id, dim)?
        .into_iter()
        .map(|(_, v)| normalized(&v, dim))
        .collect::<Result<Vec<_>>>()?;
    tx.execute(
        "UPDATE speakers SET centroid = ?1,
         updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?2",
        params![to_blob(&mean(&units, dim)), speaker_id],
    )?;
    Ok(())
}
