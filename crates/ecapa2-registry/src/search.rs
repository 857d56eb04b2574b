//! Searching the registry: verify a claimed speaker, identify among all, the AS-norm cohort,
//! and the in-memory index and cohort kept in step with the database (rebuilt after another
//! process's commit, updated in place after this connection's own writes).

use crate::enrollments::data_version;
use crate::index::{Candidate, CentroidIndex};
use crate::names::normalize_name;
use crate::registry::Result;
use crate::vector::{from_blob, normalized, to_blob};
use crate::{ModelIdentity, NewEnrollment, Registry, RegistryError, Verification};
use ecapa2_eval::AsNorm;
use rusqlite::{params, OptionalExtension};

/// How many raw-score candidates `identify` re-ranks with AS-norm (at least `k`).
const ASNORM_CANDIDATES: usize = 100;

/// A change this connection made to one speaker's search row.
pub(crate) enum RowChange {
    /// The speaker (new or not) now has this centroid (not yet normalised).
    Set(String, Vec<f32>),
    /// The speaker is gone.
    Remove(String),
}

impl Registry {
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
        let speaker = normalize_name(speaker)?;
        let centroid =
            normalized(&centroid, self.identity.dim).map_err(|_| corrupt_centroid(&speaker))?;
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
            crate::names::check_source(item.source)?;
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
        self.cohort = None;
        self.cohort_len()
    }

    /// Removes the cohort (scores are raw cosines again); returns how many embeddings went.
    pub fn clear_cohort(&mut self) -> Result<usize> {
        let tx = self.conn.transaction()?;
        let n = tx.execute("DELETE FROM cohort", [])?;
        tx.commit()?;
        self.cohort = None;
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
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO meta(key, value) VALUES ('cohort_top_n', ?1)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [top_n.to_string()],
        )?;
        tx.commit()?;
        self.cohort = None;
        Ok(())
    }

    /// Brings the search index up to date after this connection's write: in place when it
    /// reflected the database as the write found it (`version`, read inside the write
    /// transaction), else dropped, to be rebuilt on next use (another process had written).
    /// The cohort is untouched: speaker writes do not change it.
    pub(crate) fn apply_own_writes(&mut self, version: i64, changes: Vec<RowChange>) {
        let dim = self.identity.dim;
        let Some((at, index)) = &mut self.index else {
            return;
        };
        if *at != version {
            self.index = None;
            return;
        }
        for change in changes {
            match change {
                RowChange::Remove(name) => index.remove(&name),
                RowChange::Set(name, centroid) => match normalized(&centroid, dim) {
                    Ok(unit) => index.upsert(name, &unit),
                    // Unsearchable (a zero mean): the rebuild reports it as build_index does.
                    Err(_) => {
                        self.index = None;
                        return;
                    }
                },
            }
        }
    }

    /// Rebuilds the cohort (and the search index, when `index`) if this connection wrote or
    /// another one committed since they were built: verify never pays for the index.
    fn refresh(&mut self, index: bool) -> Result<()> {
        let version = data_version(&self.conn)?;
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
            index.upsert(name, &unit);
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

pub(crate) fn corrupt_centroid(speaker: &str) -> RegistryError {
    RegistryError::BadEmbedding(format!(
        "the stored centroid of {speaker:?} is unreadable (database damaged?)"
    ))
}

#[cfg(test)]
mod tests {
    use crate::{ModelIdentity, NewEnrollment, Registry};

    /// Own writes keep the built index (updated in place); a write that follows another
    /// connection's commit drops it, to be rebuilt from the file.
    #[test]
    fn own_writes_keep_the_index_and_foreign_commits_drop_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("reg.db");
        let id = ModelIdentity {
            model: "m".into(),
            label: "embedding".into(),
            dim: 3,
        };
        let mut reg = Registry::create(&db, &id).unwrap();
        let enroll = |reg: &mut Registry, name: &str, v: &[f32]| {
            reg.enroll(&id, name, &[NewEnrollment::new("x", 1.0, v)])
                .unwrap();
        };
        enroll(&mut reg, "a", &[1.0, 0.0, 0.0]);
        reg.identify(&id, &[1.0, 0.0, 0.0], 5).unwrap();
        assert!(reg.index.is_some());
        enroll(&mut reg, "b", &[0.0, 1.0, 0.0]);
        enroll(&mut reg, "a", &[0.0, 0.0, 1.0]);
        reg.remove_speaker("b").unwrap();
        let (_, index) = reg.index.as_ref().expect("updated in place, not dropped");
        assert_eq!(index.len(), 1);
        let s = std::f32::consts::FRAC_1_SQRT_2;
        assert!(index
            .row(0)
            .iter()
            .zip([s, 0.0, s])
            .all(|(x, y)| (x - y).abs() < 1e-6));
        let mut other = Registry::open(&db).unwrap();
        enroll(&mut other, "c", &[0.0, 1.0, 0.0]);
        enroll(&mut reg, "d", &[0.0, 1.0, 1.0]);
        assert!(
            reg.index.is_none(),
            "kept an index that misses another process's write"
        );
        let names: Vec<String> = reg
            .identify(&id, &[0.0, 1.0, 0.0], 5)
            .unwrap()
            .into_iter()
            .map(|c| c.speaker)
            .collect();
        assert_eq!(names, ["c", "d", "a"]);
    }
}
