//! Trial lists: which enrollment/test pairs to score, and (usually) whether they are the same speaker.
//!
//! Three layouts are accepted, detected from the first data line of each file:
//!
//! | format      | line                              | example                          |
//! |-------------|-----------------------------------|----------------------------------|
//! | VoxCeleb    | `label enroll test`, label `1`/`0` | `1 id10270/x.wav id10270/y.wav`  |
//! | Kaldi       | `enroll test target\|nontarget`    | `spk1-utt1 spk2-utt3 nontarget`  |
//! | unlabelled  | `enroll test`                     | `a.wav b.wav`                    |
//!
//! Fields are separated by any run of whitespace; blank lines and lines whose first non-blank
//! character is `#` are skipped. A three-field line whose third field is `target`/`nontarget` is
//! Kaldi even if its first field happens to be `0`/`1` (the label column decides). Every later line
//! must follow the detected layout; a violation is reported with its 1-based line number.

use std::fmt;
use std::path::{Path, PathBuf};

/// Errors from reading or parsing a trial list.
#[derive(Debug, thiserror::Error)]
pub enum TrialsError {
    /// The file could not be read.
    #[error("cannot read trial list {path}: {source}")]
    Io {
        /// File that failed.
        path: PathBuf,
        /// Underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The list contains no trials (only blank or comment lines).
    #[error("trial list is empty")]
    Empty,
    /// The first data line fits none of the known layouts.
    #[error("line {line}: cannot detect trial format from {content:?} (expected `1|0 enroll test`, `enroll test target|nontarget` or `enroll test`)")]
    UnknownFormat {
        /// 1-based line number.
        line: usize,
        /// The offending line, trimmed.
        content: String,
    },
    /// A line has the wrong number of fields for the detected format.
    #[error("line {line}: expected {expected} fields for {format} trials, found {found}")]
    FieldCount {
        /// 1-based line number.
        line: usize,
        /// Format detected for the file.
        format: TrialFormat,
        /// Fields the format needs.
        expected: usize,
        /// Fields present.
        found: usize,
    },
    /// A label field is not one the detected format allows.
    #[error("line {line}: invalid {format} label {found:?} (expected {expected})")]
    BadLabel {
        /// 1-based line number.
        line: usize,
        /// Format detected for the file.
        format: TrialFormat,
        /// The label text found.
        found: String,
        /// Human-readable list of allowed labels.
        expected: &'static str,
    },
}

/// Layout of a trial list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrialFormat {
    /// `label enroll test` with label `1` (same speaker) or `0` (different speakers).
    VoxCeleb,
    /// `enroll test target|nontarget`.
    Kaldi,
    /// `enroll test`, no ground truth (scoring only).
    Unlabeled,
}

impl fmt::Display for TrialFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrialFormat::VoxCeleb => "VoxCeleb",
            TrialFormat::Kaldi => "Kaldi",
            TrialFormat::Unlabeled => "unlabelled",
        })
    }
}

/// One enrollment/test pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trial {
    /// Enrollment key (a path or utterance id, exactly as written in the list).
    pub enroll: String,
    /// Test key.
    pub test: String,
    /// `Some(true)` for a target (same-speaker) trial, `Some(false)` for a non-target,
    /// `None` when the list carries no labels.
    pub label: Option<bool>,
}

/// A parsed trial list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrialList {
    /// Layout the list was written in.
    pub format: TrialFormat,
    /// Trials in file order.
    pub trials: Vec<Trial>,
}

impl TrialList {
    /// Whether every trial has a ground-truth label (true for VoxCeleb and Kaldi lists).
    pub fn is_labeled(&self) -> bool {
        self.format != TrialFormat::Unlabeled
    }

    /// Distinct enrollment and test keys, in first-appearance order (enrollment side first per
    /// trial). This is the set of items to embed, each once.
    pub fn unique_keys(&self) -> Vec<&str> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for t in &self.trials {
            for k in [t.enroll.as_str(), t.test.as_str()] {
                if seen.insert(k) {
                    out.push(k);
                }
            }
        }
        out
    }
}

/// Reads and parses a trial list file, auto-detecting its format.
pub fn read_trials(path: &Path) -> Result<TrialList, TrialsError> {
    let text = std::fs::read_to_string(path).map_err(|source| TrialsError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_trials(&text)
}

/// Parses trial-list text, auto-detecting the format from its first data line.
pub fn parse_trials(text: &str) -> Result<TrialList, TrialsError> {
    let mut lines = data_lines(text).peekable();
    let &(line, ref fields) = lines.peek().ok_or(TrialsError::Empty)?;
    let format = detect(line, fields)?;
    parse_lines(lines, format)
}

/// Parses trial-list text that must be in `format` (no detection).
pub fn parse_trials_as(text: &str, format: TrialFormat) -> Result<TrialList, TrialsError> {
    parse_lines(data_lines(text), format)
}

/// Non-blank, non-comment lines as (1-based line number, whitespace-split fields).
fn data_lines(text: &str) -> impl Iterator<Item = (usize, Vec<&str>)> {
    text.lines().enumerate().filter_map(|(i, l)| {
        let l = l.trim();
        (!l.is_empty() && !l.starts_with('#')).then(|| (i + 1, l.split_whitespace().collect()))
    })
}

fn detect(line: usize, fields: &[&str]) -> Result<TrialFormat, TrialsError> {
    match fields {
        [_, _, lab] if kaldi_label(lab).is_some() => Ok(TrialFormat::Kaldi),
        [lab, _, _] if voxceleb_label(lab).is_some() => Ok(TrialFormat::VoxCeleb),
        [_, _] => Ok(TrialFormat::Unlabeled),
        _ => Err(TrialsError::UnknownFormat {
            line,
            content: fields.join(" "),
        }),
    }
}

fn parse_lines<'a>(
    lines: impl Iterator<Item = (usize, Vec<&'a str>)>,
    format: TrialFormat,
) -> Result<TrialList, TrialsError> {
    let expected = if format == TrialFormat::Unlabeled {
        2
    } else {
        3
    };
    let mut trials = Vec::new();
    for (line, f) in lines {
        if f.len() != expected {
            return Err(TrialsError::FieldCount {
                line,
                format,
                expected,
                found: f.len(),
            });
        }
        let bad = |found: &str, expected| TrialsError::BadLabel {
            line,
            format,
            found: found.to_string(),
            expected,
        };
        let (enroll, test, label) = match format {
            TrialFormat::VoxCeleb => {
                let l = voxceleb_label(f[0]).ok_or_else(|| bad(f[0], "`1` or `0`"))?;
                (f[1], f[2], Some(l))
            }
            TrialFormat::Kaldi => {
                let l = kaldi_label(f[2]).ok_or_else(|| bad(f[2], "`target` or `nontarget`"))?;
                (f[0], f[1], Some(l))
            }
            TrialFormat::Unlabeled => (f[0], f[1], None),
        };
        trials.push(Trial {
            enroll: enroll.to_string(),
            test: test.to_string(),
            label,
        });
    }
    if trials.is_empty() {
        return Err(TrialsError::Empty);
    }
    Ok(TrialList { format, trials })
}

fn voxceleb_label(s: &str) -> Option<bool> {
    match s {
        "1" => Some(true),
        "0" => Some(false),
        _ => None,
    }
}

fn kaldi_label(s: &str) -> Option<bool> {
    match s {
        "target" => Some(true),
        "nontarget" => Some(false),
        _ => None,
    }
}
