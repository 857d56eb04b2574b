//! Writing enrollments: enroll (idempotent per speaker and audio), remove a speaker or one
//! enrollment, and the centroid each write keeps current.

use crate::digest::embedding_digest;
use crate::names::{check_source, normalize_name};
use crate::registry::Result;
use crate::search::RowChange;
use crate::vector::{from_blob, mean, normalized, to_blob};
use crate::{Enrolled, ModelIdentity, NewEnrollment, Registry, RegistryError};
use rusqlite::{params, Connection, OptionalExtension};

impl Registry {
    /// Enrolls `items` for `speaker` (created on its first enrollment), all or nothing, and
    /// updates its centroid in the same transaction. An item whose audio the speaker already
    /// has is not stored again (a retried request): its outcome says `new: false`.
    pub fn enroll(
        &mut self,
        caller: &ModelIdentity,
        speaker: &str,
        items: &[NewEnrollment<'_>],
    ) -> Result<Vec<Enrolled>> {
        if items.is_empty() {
            return Err(RegistryError::NothingToEnroll);
        }
        let pairs: Vec<(&str, NewEnrollment<'_>)> = items.iter().map(|&i| (speaker, i)).collect();
        self.enroll_batch(caller, &pairs)
    }

    /// Enrolls many `(speaker, enrollment)` pairs in one transaction (bulk import: one commit,
    /// one sync, instead of one per enrollment), all or nothing. Returns the outcomes in order.
    pub fn enroll_batch(
        &mut self,
        caller: &ModelIdentity,
        items: &[(&str, NewEnrollment<'_>)],
    ) -> Result<Vec<Enrolled>> {
        self.check_model(caller)?;
        if items.is_empty() {
            return Err(RegistryError::NothingToEnroll);
        }
        let dim = self.identity.dim;
        let mut prepared = Vec::with_capacity(items.len());
        for (speaker, item) in items {
            let name = normalize_name(speaker)?;
            check_source(item.source)?;
            normalized(item.embedding, dim)?;
            if !(item.duration_s.is_finite() && item.duration_s >= 0.0) {
                return Err(RegistryError::BadEmbedding(format!(
                    "duration {} s is not a finite non-negative number",
                    item.duration_s
                )));
            }
            let blob = to_blob(item.embedding);
            let digest = item.digest.unwrap_or_else(|| embedding_digest(&blob));
            prepared.push((name, item, blob, digest));
        }
        let tx = self.conn.transaction()?;
        let version = data_version(&tx)?;
        let mut out = Vec::with_capacity(items.len());
        let mut touched: Vec<(i64, String)> = Vec::new();
        {
            let mut find = tx.prepare_cached("SELECT id FROM speakers WHERE name = ?1")?;
            let mut add_speaker =
                tx.prepare_cached("INSERT INTO speakers(name, centroid) VALUES (?1, x'')")?;
            let mut known = tx.prepare_cached(
                "SELECT id FROM enrollments WHERE speaker_id = ?1 AND content_hash = ?2",
            )?;
            let mut add = tx.prepare_cached(
                "INSERT INTO enrollments(speaker_id, source, duration_s, model, label, embedding,
                                         content_hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for (name, item, blob, digest) in &prepared {
                let speaker_id: i64 = match find.query_row([name], |r| r.get(0)).optional()? {
                    Some(id) => id,
                    None => {
                        add_speaker.execute([name])?;
                        tx.last_insert_rowid()
                    }
                };
                let earlier: Option<i64> = known
                    .query_row(params![speaker_id, digest.as_slice()], |r| r.get(0))
                    .optional()?;
                if let Some(id) = earlier {
                    out.push(Enrolled { id, new: false });
                    continue;
                }
                add.execute(params![
                    speaker_id,
                    item.source,
                    item.duration_s,
                    self.identity.model,
                    self.identity.label,
                    blob,
                    digest.as_slice()
                ])?;
                out.push(Enrolled {
                    id: tx.last_insert_rowid(),
                    new: true,
                });
                touched.push((speaker_id, name.clone()));
            }
        }
        touched.sort_unstable();
        touched.dedup();
        let mut changes = Vec::with_capacity(touched.len());
        for (speaker_id, name) in touched {
            changes.push(RowChange::Set(name, update_centroid(&tx, speaker_id, dim)?));
        }
        tx.commit()?;
        self.apply_own_writes(version, changes);
        tracing::debug!(
            enrolled = out.iter().filter(|e| e.new).count(),
            repeated = out.iter().filter(|e| !e.new).count(),
            "enrolled"
        );
        Ok(out)
    }

    /// Removes a speaker and all its enrollments; returns how many enrollments went.
    pub fn remove_speaker(&mut self, speaker: &str) -> Result<usize> {
        let name = normalize_name(speaker)?;
        let tx = self.conn.transaction()?;
        let version = data_version(&tx)?;
        let id = speaker_id(&tx, &name)?;
        let n = tx.execute("DELETE FROM enrollments WHERE speaker_id = ?1", [id])?;
        tx.execute("DELETE FROM speakers WHERE id = ?1", [id])?;
        tx.commit()?;
        self.apply_own_writes(version, vec![RowChange::Remove(name)]);
        Ok(n)
    }

    /// Removes one enrollment; the speaker goes with its last one. Returns the speaker's name.
    pub fn remove_enrollment(&mut self, id: i64) -> Result<String> {
        let tx = self.conn.transaction()?;
        let version = data_version(&tx)?;
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
        let change = if left == 0 {
            tx.execute("DELETE FROM speakers WHERE id = ?1", [speaker_id])?;
            RowChange::Remove(name.clone())
        } else {
            RowChange::Set(
                name.clone(),
                update_centroid(&tx, speaker_id, self.identity.dim)?,
            )
        };
        tx.commit()?;
        self.apply_own_writes(version, vec![change]);
        Ok(name)
    }
}

/// SQLite's `data_version`: moves when another connection commits.
pub(crate) fn data_version(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("PRAGMA data_version", [], |r| r.get(0))?)
}

/// The id of the speaker stored as `name` (already normalised).
pub(crate) fn speaker_id(conn: &Connection, name: &str) -> Result<i64> {
    conn.query_row("SELECT id FROM speakers WHERE name = ?1", [name], |r| {
        r.get(0)
    })
    .optional()?
    .ok_or_else(|| RegistryError::UnknownSpeaker(name.to_string()))
}

/// A speaker's stored embeddings, oldest first.
pub(crate) fn load_embeddings(
    conn: &Connection,
    speaker_id: i64,
    dim: usize,
) -> Result<Vec<(i64, Vec<f32>)>> {
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
/// many enrollments and removals), inside the caller's transaction, and returns it.
pub(crate) fn update_centroid(conn: &Connection, speaker_id: i64, dim: usize) -> Result<Vec<f32>> {
    let units = load_embeddings(conn, speaker_id, dim)?
        .into_iter()
        .map(|(_, v)| normalized(&v, dim))
        .collect::<Result<Vec<_>>>()?;
    let centroid = mean(&units, dim);
    conn.execute(
        "UPDATE speakers SET centroid = ?1,
         updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?2",
        params![to_blob(&centroid), speaker_id],
    )?;
    Ok(centroid)
}
