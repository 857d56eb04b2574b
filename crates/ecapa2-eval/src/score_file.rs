//! Per-trial score files: one `enroll test score [target|nontarget]` line per trial.
//!
//! This is Kaldi's scores layout (`enroll test score`) with an optional fourth column carrying
//! the ground truth, so a score file alone is enough to recompute EER/minDCF. Scores are written
//! in the shortest decimal form that reads back to the same f64 (exponent form, e.g. `1e-30`,
//! only for magnitudes below 1e-4 or from 1e15). On reading, the label column
//! may also be `1`/`0`; blank lines and `#` comments are skipped.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::float_text::f64_text;
use crate::scoring::ScoredTrial;

/// Errors from writing or reading a score file.
#[derive(Debug, thiserror::Error)]
pub enum ScoreFileError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// File concerned.
        path: PathBuf,
        /// Underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Writing to the supplied writer failed.
    #[error("writing scores: {0}")]
    Write(#[from] std::io::Error),
    /// A score to be written is NaN or infinite.
    #[error("trial {trial} ({enroll} {test}): score {score} is not finite")]
    NonFiniteScore {
        /// 0-based trial index.
        trial: usize,
        /// Enrollment key.
        enroll: String,
        /// Test key.
        test: String,
        /// The offending score.
        score: f64,
    },
    /// A key would break the whitespace-separated layout.
    #[error("trial {trial}: key {key:?} is empty or contains whitespace")]
    InvalidKey {
        /// 0-based trial index.
        trial: usize,
        /// The offending key.
        key: String,
    },
    /// A line of a score file is malformed.
    #[error("line {line}: {reason}")]
    Parse {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

/// Writes one line per trial. Fails (before writing that line) on a non-finite score or a key
/// that is empty or contains whitespace.
pub fn write_scores<W: Write>(mut w: W, scored: &[ScoredTrial]) -> Result<(), ScoreFileError> {
    for (i, s) in scored.iter().enumerate() {
        for key in [&s.enroll, &s.test] {
            if key.is_empty() || key.contains(char::is_whitespace) {
                return Err(ScoreFileError::InvalidKey {
                    trial: i,
                    key: key.clone(),
                });
            }
        }
        if !s.score.is_finite() {
            return Err(ScoreFileError::NonFiniteScore {
                trial: i,
                enroll: s.enroll.clone(),
                test: s.test.clone(),
                score: s.score,
            });
        }
        let score = f64_text(s.score);
        match s.label {
            Some(l) => writeln!(
                w,
                "{} {} {score} {}",
                s.enroll,
                s.test,
                if l { "target" } else { "nontarget" }
            )?,
            None => writeln!(w, "{} {} {score}", s.enroll, s.test)?,
        }
    }
    w.flush()?;
    Ok(())
}

/// Writes a score file at `path` (see [`write_scores`]).
pub fn save_scores(path: &Path, scored: &[ScoredTrial]) -> Result<(), ScoreFileError> {
    let io = |source| ScoreFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::create(path).map_err(io)?;
    match write_scores(std::io::BufWriter::new(file), scored) {
        Err(ScoreFileError::Write(e)) => Err(io(e)),
        other => other,
    }
}

/// Parses score-file text.
pub fn parse_scores(text: &str) -> Result<Vec<ScoredTrial>, ScoreFileError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let bad = |reason: String| ScoreFileError::Parse {
            line: line_no,
            reason,
        };
        let f: Vec<&str> = l.split_whitespace().collect();
        if !(3..=4).contains(&f.len()) {
            return Err(bad(format!(
                "expected `enroll test score [label]`, found {} fields",
                f.len()
            )));
        }
        let score: f64 = f[2]
            .parse()
            .map_err(|_| bad(format!("invalid score {:?}", f[2])))?;
        if !score.is_finite() {
            return Err(bad(format!("score {:?} is not finite", f[2])));
        }
        let label = match f.get(3) {
            None => None,
            Some(&("target" | "1")) => Some(true),
            Some(&("nontarget" | "0")) => Some(false),
            Some(other) => {
                return Err(bad(format!(
                    "invalid label {other:?} (expected target/nontarget or 1/0)"
                )))
            }
        };
        out.push(ScoredTrial {
            enroll: f[0].to_string(),
            test: f[1].to_string(),
            score,
            label,
        });
    }
    Ok(out)
}

/// Reads and parses a score file.
pub fn load_scores(path: &Path) -> Result<Vec<ScoredTrial>, ScoreFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| ScoreFileError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_scores(&text)
}
