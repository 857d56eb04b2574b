//! Time spans in seconds.

use serde::{Deserialize, Serialize};

/// A span of time `[start, end)` in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    /// Start in seconds.
    pub start: f64,
    /// End in seconds (after `start`).
    pub end: f64,
}

impl Segment {
    /// A segment from `start` to `end` seconds.
    pub fn new(start: f64, end: f64) -> Self {
        Segment { start, end }
    }

    /// Its length in seconds (0 if empty).
    pub fn duration(&self) -> f64 {
        (self.end - self.start).max(0.0)
    }

    /// The overlap with `other`, if it has a positive length.
    pub fn intersect(&self, other: &Segment) -> Option<Segment> {
        let s = Segment::new(self.start.max(other.start), self.end.min(other.end));
        (s.end > s.start).then_some(s)
    }
}

/// One speaker's turn: `speaker` spoke from `start` to `end` seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    /// Start in seconds.
    pub start: f64,
    /// End in seconds.
    pub end: f64,
    /// The speaker's label.
    pub speaker: String,
}

impl Turn {
    /// The turn's time span.
    pub fn segment(&self) -> Segment {
        Segment::new(self.start, self.end)
    }
}

/// The union of `segments` as sorted, disjoint segments (touching ones merged).
pub fn support(segments: impl IntoIterator<Item = Segment>) -> Vec<Segment> {
    let mut all: Vec<Segment> = segments.into_iter().filter(|s| s.end > s.start).collect();
    all.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.end.total_cmp(&b.end)));
    let mut out: Vec<Segment> = Vec::with_capacity(all.len());
    for s in all {
        match out.last_mut() {
            Some(last) if s.start <= last.end => last.end = last.end.max(s.end),
            _ => out.push(s),
        }
    }
    out
}

/// `within` minus `removed` (both as supports), sorted and disjoint.
pub fn difference(within: &[Segment], removed: &[Segment]) -> Vec<Segment> {
    let removed = support(removed.iter().copied());
    let mut out = Vec::new();
    for w in support(within.iter().copied()) {
        let mut cursor = w.start;
        for r in removed
            .iter()
            .filter(|r| r.end > w.start && r.start < w.end)
        {
            if r.start > cursor {
                out.push(Segment::new(cursor, r.start));
            }
            cursor = cursor.max(r.end);
        }
        if w.end > cursor {
            out.push(Segment::new(cursor, w.end));
        }
    }
    out
}
