//! RTTM and UEM files: reading and writing speaker turns.
//!
//! RTTM lines: `SPEAKER <uri> <channel> <start> <duration> <NA> <NA> <speaker> <NA> <NA>`;
//! other line types, blank lines and `;;` comments are skipped. UEM lines:
//! `<uri> <channel> <start> <end>`.

use crate::error::{DiarizeError, Result};
use crate::segment::{Segment, Turn};
use std::collections::BTreeMap;
use std::path::Path;

/// Turns per recording (`uri`), in file order.
pub type ByUri<T> = BTreeMap<String, Vec<T>>;

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| DiarizeError::Io {
        path: path.display().to_string(),
        source,
    })
}

fn number(field: &str, what: &str, path: &str, line: usize) -> Result<f64> {
    field
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| DiarizeError::Parse {
            path: path.into(),
            line,
            reason: format!("{what} {field:?} is not a finite number"),
        })
}

/// Parses RTTM text (`path` only names it in errors).
pub fn parse(text: &str, path: &str) -> Result<ByUri<Turn>> {
    let mut out: ByUri<Turn> = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() || fields[0].starts_with(";;") || fields[0] != "SPEAKER" {
            continue;
        }
        let bad = |reason: String| DiarizeError::Parse {
            path: path.into(),
            line: i + 1,
            reason,
        };
        if fields.len() < 8 {
            return Err(bad(format!(
                "a SPEAKER line has 10 fields, this one {}",
                fields.len()
            )));
        }
        let start = number(fields[3], "start", path, i + 1)?;
        let duration = number(fields[4], "duration", path, i + 1)?;
        if duration < 0.0 {
            return Err(bad(format!("negative duration {duration}")));
        }
        out.entry(fields[1].to_string()).or_default().push(Turn {
            start,
            end: start + duration,
            speaker: fields[7].to_string(),
        });
    }
    Ok(out)
}

/// Reads an RTTM file.
pub fn read_rttm(path: &Path) -> Result<ByUri<Turn>> {
    parse(&read(path)?, &path.display().to_string())
}

/// Reads a UEM file: scored regions per recording.
pub fn read_uem(path: &Path) -> Result<ByUri<Segment>> {
    let text = read(path)?;
    let name = path.display().to_string();
    let mut out: ByUri<Segment> = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() || fields[0].starts_with(";;") {
            continue;
        }
        if fields.len() < 4 {
            return Err(DiarizeError::Parse {
                path: name.clone(),
                line: i + 1,
                reason: "a UEM line is <uri> <channel> <start> <end>".into(),
            });
        }
        let start = number(fields[2], "start", &name, i + 1)?;
        let end = number(fields[3], "end", &name, i + 1)?;
        out.entry(fields[0].to_string())
            .or_default()
            .push(Segment::new(start, end));
    }
    Ok(out)
}

/// RTTM lines for `turns` of recording `uri` (times to the millisecond).
pub fn write(uri: &str, turns: &[Turn]) -> String {
    // RTTM fields are whitespace-separated: a name with spaces would shift the columns.
    let uri: String = uri
        .chars()
        .map(|c| if c.is_whitespace() { '_' } else { c })
        .collect();
    turns
        .iter()
        .map(|t| {
            format!(
                "SPEAKER {uri} 1 {:.3} {:.3} <NA> <NA> {} <NA> <NA>\n",
                t.start,
                t.end - t.start,
                t.speaker.replace(char::is_whitespace, "_")
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_names_bad_lines() {
        let turns = vec![Turn {
            start: 1.5,
            end: 2.25,
            speaker: "A".into(),
        }];
        let text = write("my file", &turns);
        assert_eq!(
            text,
            "SPEAKER my_file 1 1.500 0.750 <NA> <NA> A <NA> <NA>\n"
        );
        let back = parse(&text, "x").expect("parses");
        assert_eq!(back["my_file"], turns);
        let err = parse("SPEAKER f 1 zero 1 <NA> <NA> A <NA> <NA>\n", "bad.rttm").unwrap_err();
        assert_eq!(
            err.to_string(),
            "bad.rttm:1: start \"zero\" is not a finite number"
        );
    }
}
