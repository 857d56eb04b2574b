//! Diarization error rate (DER, with missed speech, false alarm and confusion) and Jaccard
//! error rate (JER), computed as pyannote.metrics computes them.
//!
//! **Collar convention**: [`DerOptions::collar`] is pyannote.metrics' *total width*: around
//! every reference boundary `t`, `[t - collar/2, t + collar/2]` is not scored. md-eval's `-c`
//! counts ± seconds, so md-eval `-c 0.25` equals `collar = 0.5` here.
//!
//! Steps: the scored region is the UEM (or, without one, the span from the earliest to the
//! latest turn of either side), minus the collars and, with `skip_overlap`, the reference's
//! overlapping speech. Both sides are cropped to it. Hypothesis speakers are mapped one-to-one
//! to reference speakers maximising their total overlap (Hungarian algorithm); then, on every
//! stretch between boundaries, with `r` reference and `h` hypothesis speakers active and `c`
//! of them matched: missed `max(r-h, 0)`, false alarm `max(h-r, 0)`, confusion `min(r, h) - c`,
//! each times the stretch's duration. DER = (missed + false alarm + confusion) / total
//! reference speech.

use crate::segment::{difference, support, Segment, Turn};
use pathfinding::prelude::{kuhn_munkres, Matrix};
use serde::Serialize;

/// Scoring options.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DerOptions {
    /// Unscored width around each reference boundary, in seconds, *total* (pyannote).
    pub collar: f64,
    /// Do not score where reference speakers overlap.
    pub skip_overlap: bool,
}

/// The parts of DER and JER, in seconds (summable over files).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct DerReport {
    /// Scored reference speech (speaker-weighted).
    pub total: f64,
    /// Reference speech with no hypothesis speaker.
    pub missed: f64,
    /// Hypothesis speech with no reference speaker.
    pub false_alarm: f64,
    /// Speech given to the wrong speaker.
    pub confusion: f64,
    /// Reference speakers (JER's denominator).
    pub jer_speakers: f64,
    /// Sum of the reference speakers' Jaccard errors.
    pub jer_error: f64,
}

impl DerReport {
    /// DER: errors over total (0 when nothing was to score and nothing was said, else 1).
    pub fn der(&self) -> f64 {
        let errors = self.missed + self.false_alarm + self.confusion;
        if self.total == 0.0 {
            return if errors == 0.0 { 0.0 } else { 1.0 };
        }
        errors / self.total
    }

    /// JER: the mean of the reference speakers' Jaccard errors (1 without speakers, as pyannote).
    pub fn jer(&self) -> f64 {
        if self.jer_speakers > 0.0 {
            self.jer_error / self.jer_speakers
        } else {
            1.0
        }
    }

    /// Adds another file's parts.
    pub fn add(&mut self, other: &DerReport) {
        self.total += other.total;
        self.missed += other.missed;
        self.false_alarm += other.false_alarm;
        self.confusion += other.confusion;
        self.jer_speakers += other.jer_speakers;
        self.jer_error += other.jer_error;
    }
}

/// Labels of `turns` in order of first appearance, and each turn's label index.
fn index_labels(turns: &[Turn]) -> (Vec<String>, Vec<usize>) {
    let mut names: Vec<String> = Vec::new();
    let ids = turns
        .iter()
        .map(|t| match names.iter().position(|n| *n == t.speaker) {
            Some(i) => i,
            None => {
                names.push(t.speaker.clone());
                names.len() - 1
            }
        })
        .collect();
    (names, ids)
}

/// `turns` cut to the scored region, as (segment, label index).
fn crop(turns: &[Turn], ids: &[usize], region: &[Segment]) -> Vec<(Segment, usize)> {
    let mut out = Vec::new();
    for (t, &id) in turns.iter().zip(ids) {
        for r in region {
            if let Some(s) = t.segment().intersect(r) {
                out.push((s, id));
            }
        }
    }
    out
}

fn duration(segments: &[Segment]) -> f64 {
    support(segments.iter().copied())
        .iter()
        .map(Segment::duration)
        .sum()
}

fn intersection(a: &[Segment], b: &[Segment]) -> f64 {
    let (a, b) = (support(a.iter().copied()), support(b.iter().copied()));
    a.iter()
        .flat_map(|x| b.iter().filter_map(move |y| x.intersect(y)))
        .map(|s| s.duration())
        .sum()
}

/// The optimal one-to-one mapping `reference label -> hypothesis label` by total overlap;
/// only pairs that overlap at all are kept (as pyannote's `HungarianMapper`).
fn mapping(cooc: &[Vec<f64>], n_ref: usize, n_hyp: usize) -> Vec<Option<usize>> {
    let mut out = vec![None; n_ref];
    if n_ref == 0 || n_hyp == 0 {
        return out;
    }
    // kuhn_munkres wants integer weights and rows <= columns: nanoseconds, transposed if needed.
    let ns = |v: f64| (v * 1e9).round() as i64;
    if n_ref <= n_hyp {
        let m = Matrix::from_fn(n_ref, n_hyp, |(r, h)| ns(cooc[r][h]));
        let (_, assign) = kuhn_munkres(&m);
        for (r, h) in assign.into_iter().enumerate() {
            if cooc[r][h] > 0.0 {
                out[r] = Some(h);
            }
        }
    } else {
        let m = Matrix::from_fn(n_hyp, n_ref, |(h, r)| ns(cooc[r][h]));
        let (_, assign) = kuhn_munkres(&m);
        for (h, r) in assign.into_iter().enumerate() {
            if cooc[r][h] > 0.0 {
                out[r] = Some(h);
            }
        }
    }
    out
}

/// Scores `hypothesis` against `reference` (one recording).
pub fn score(
    reference: &[Turn],
    hypothesis: &[Turn],
    uem: Option<&[Segment]>,
    options: &DerOptions,
) -> DerReport {
    let extent = |t: &[Turn]| -> Option<Segment> {
        let start = t.iter().map(|x| x.start).fold(f64::INFINITY, f64::min);
        let end = t.iter().map(|x| x.end).fold(f64::NEG_INFINITY, f64::max);
        (end > start).then(|| Segment::new(start, end))
    };
    let mut region = match uem {
        Some(u) => support(u.iter().copied()),
        None => match (extent(reference), extent(hypothesis)) {
            (Some(a), Some(b)) => vec![Segment::new(a.start.min(b.start), a.end.max(b.end))],
            (Some(a), None) | (None, Some(a)) => vec![a],
            (None, None) => Vec::new(),
        },
    };
    let mut removed = Vec::new();
    if options.collar > 0.0 {
        let half = 0.5 * options.collar;
        for t in reference {
            for b in [t.start, t.end] {
                removed.push(Segment::new(b - half, b + half));
            }
        }
    }
    if options.skip_overlap {
        for (i, a) in reference.iter().enumerate() {
            for b in &reference[i + 1..] {
                if let Some(s) = a.segment().intersect(&b.segment()) {
                    removed.push(s);
                }
            }
        }
    }
    if !removed.is_empty() {
        region = difference(&region, &removed);
    }
    let (ref_names, ref_ids) = index_labels(reference);
    let (hyp_names, hyp_ids) = index_labels(hypothesis);
    let r = crop(reference, &ref_ids, &region);
    let h = crop(hypothesis, &hyp_ids, &region);

    let mut cooc = vec![vec![0.0; hyp_names.len()]; ref_names.len()];
    for (rs, rl) in &r {
        for (hs, hl) in &h {
            if let Some(s) = rs.intersect(hs) {
                cooc[*rl][*hl] += s.duration();
            }
        }
    }
    let map = mapping(&cooc, ref_names.len(), hyp_names.len());

    let mut report = DerReport::default();
    let mut bounds: Vec<f64> = r
        .iter()
        .chain(&h)
        .flat_map(|(s, _)| [s.start, s.end])
        .collect();
    bounds.sort_by(f64::total_cmp);
    bounds.dedup();
    for pair in bounds.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let d = b - a;
        let active = |set: &[(Segment, usize)]| -> Vec<usize> {
            set.iter()
                .filter(|(s, _)| s.start <= a && s.end >= b)
                .map(|(_, l)| *l)
                .collect()
        };
        let ra = active(&r);
        let mut ha = active(&h);
        let (nr, nh) = (ra.len(), ha.len());
        let mut correct = 0;
        for rl in &ra {
            if let Some(hl) = map[*rl] {
                if let Some(pos) = ha.iter().position(|x| *x == hl) {
                    ha.swap_remove(pos);
                    correct += 1;
                }
            }
        }
        report.total += d * nr as f64;
        report.missed += d * nr.saturating_sub(nh) as f64;
        report.false_alarm += d * nh.saturating_sub(nr) as f64;
        report.confusion += d * (nr.min(nh) - correct) as f64;
    }

    for (rl, mapped) in map.iter().enumerate() {
        // Speakers cropped away entirely are not scored (pyannote counts the cropped labels).
        if !r.iter().any(|x| x.1 == rl) {
            continue;
        }
        report.jer_speakers += 1.0;
        let Some(hl) = mapped else {
            report.jer_error += 1.0;
            continue;
        };
        let rseg: Vec<Segment> = r.iter().filter(|x| x.1 == rl).map(|x| x.0).collect();
        let hseg: Vec<Segment> = h.iter().filter(|x| x.1 == *hl).map(|x| x.0).collect();
        let union = duration(&[rseg.clone(), hseg.clone()].concat());
        let both = intersection(&rseg, &hseg);
        let fa = duration(&hseg) - both;
        let miss = duration(&rseg) - both;
        report.jer_error += (fa + miss) / union;
    }
    report
}
