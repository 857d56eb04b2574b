//! Reading speakers and their enrollments, and the decision threshold.

use crate::enrollments::{load_embeddings, speaker_id};
use crate::names::normalize_name;
use crate::registry::Result;
use crate::search::corrupt_centroid;
use crate::vector::from_blob;
use crate::{EnrollmentInfo, Registry, RegistryError, SpeakerDetail, SpeakerInfo, Threshold};
use rusqlite::{params, OptionalExtension};

impl Registry {
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
        let speaker = normalize_name(speaker)?;
        let info = self
            .conn
            .query_row(
                "SELECT s.name, count(e.id), coalesce(sum(e.duration_s), 0), s.created_at, s.updated_at
                 FROM speakers s LEFT JOIN enrollments e ON e.speaker_id = s.id
                 WHERE s.name = ?1 GROUP BY s.id",
                [&speaker],
                speaker_info,
            )
            .optional()?
            .ok_or_else(|| RegistryError::UnknownSpeaker(speaker.clone()))?;
        let mut stmt = self.conn.prepare(
            "SELECT e.id, e.source, e.duration_s, e.created_at FROM enrollments e
             JOIN speakers s ON s.id = e.speaker_id WHERE s.name = ?1 ORDER BY e.id",
        )?;
        let enrollments = stmt
            .query_map([&speaker], |r| {
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
        let id = speaker_id(&self.conn, &normalize_name(speaker)?)?;
        load_embeddings(&self.conn, id, self.identity.dim)
    }

    /// The stored centroid of one speaker (mean of its L2-normalised enrollments).
    pub fn centroid(&self, speaker: &str) -> Result<Vec<f32>> {
        let speaker = normalize_name(speaker)?;
        let blob: Vec<u8> = self
            .conn
            .query_row(
                "SELECT centroid FROM speakers WHERE name = ?1",
                [&speaker],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| RegistryError::UnknownSpeaker(speaker.clone()))?;
        from_blob(&blob, self.identity.dim).ok_or_else(|| corrupt_centroid(&speaker))
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
