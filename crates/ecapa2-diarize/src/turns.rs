//! Window labels to speaker turns.
//!
//! Each window speaks for its own span (see [`crate::windows`]); consecutive spans of one
//! speaker join. Then per speaker, as pyannote's `Binarize`: gaps shorter than
//! `min_duration_off` are filled, turns shorter than `min_duration_on` dropped. This *regular*
//! output may overlap across speakers (a filled gap can cover another speaker's short turn).
//! The *exclusive* output gives every instant to one speaker: where regular turns overlap, the
//! speaker the windows gave that instant wins; failing that (a filled gap), the turn that began
//! last. Both are sorted by (start, end, speaker), with no empty turn and no duplicate.

use crate::segment::{support, Segment, Turn};
use serde::{Deserialize, Serialize};

/// Post-processing of turns.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct TurnOptions {
    /// Turns shorter than this (seconds) are removed.
    pub min_duration_on: f64,
    /// Same-speaker gaps shorter than this (seconds) are filled.
    pub min_duration_off: f64,
}

/// Turns of one labelled span set: `(span, speaker)`.
pub type Labelled = (Segment, usize);

fn sort(turns: &mut [Labelled]) {
    turns.sort_by(|a, b| {
        a.0.start
            .total_cmp(&b.0.start)
            .then(a.0.end.total_cmp(&b.0.end))
            .then(a.1.cmp(&b.1))
    });
}

/// The regular turns of `pieces` (spans with speaker labels, in any order).
pub fn regular(pieces: &[Labelled], options: &TurnOptions) -> Vec<Labelled> {
    let speakers = pieces.iter().map(|p| p.1).max().map_or(0, |m| m + 1);
    let mut out = Vec::new();
    for s in 0..speakers {
        let mut merged: Vec<Segment> = Vec::new();
        for seg in support(pieces.iter().filter(|p| p.1 == s).map(|p| p.0)) {
            match merged.last_mut() {
                Some(last) if seg.start - last.end < options.min_duration_off => last.end = seg.end,
                _ => merged.push(seg),
            }
        }
        out.extend(
            merged
                .into_iter()
                .filter(|t| t.duration() > 0.0 && t.duration() >= options.min_duration_on)
                .map(|t| (t, s)),
        );
    }
    sort(&mut out);
    out
}

/// One speaker at a time: `turns` (regular) resolved with `pieces` (the windows' own spans).
pub fn exclusive(turns: &[Labelled], pieces: &[Labelled]) -> Vec<Labelled> {
    let mut bounds: Vec<f64> = turns.iter().flat_map(|t| [t.0.start, t.0.end]).collect();
    bounds.sort_by(f64::total_cmp);
    bounds.dedup();
    let mut out: Vec<Labelled> = Vec::new();
    for pair in bounds.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let mid = 0.5 * (a + b);
        let active: Vec<&Labelled> = turns
            .iter()
            .filter(|t| t.0.start <= a && t.0.end >= b)
            .collect();
        let Some(first) = active.first() else {
            continue;
        };
        let windowed = pieces
            .iter()
            .find(|p| p.0.start <= mid && mid < p.0.end && active.iter().any(|t| t.1 == p.1))
            .map(|p| p.1);
        let speaker = windowed.unwrap_or_else(|| {
            active
                .iter()
                .fold(*first, |best, t| {
                    if t.0.start > best.0.start || (t.0.start == best.0.start && t.1 < best.1) {
                        t
                    } else {
                        best
                    }
                })
                .1
        });
        match out.last_mut() {
            Some(last) if last.1 == speaker && last.0.end == a => last.0.end = b,
            _ => out.push((Segment::new(a, b), speaker)),
        }
    }
    out.retain(|t| t.0.end > t.0.start);
    out
}

/// Speaker names for labels: `SPEAKER_00`, `SPEAKER_01`, …
pub fn speaker_name(label: usize) -> String {
    format!("SPEAKER_{label:02}")
}

/// Labelled spans as named turns.
pub fn named(turns: &[Labelled], names: &[String]) -> Vec<Turn> {
    turns
        .iter()
        .map(|(s, l)| Turn {
            start: s.start,
            end: s.end,
            speaker: names.get(*l).cloned().unwrap_or_else(|| speaker_name(*l)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn seg(a: f64, b: f64) -> Segment {
        Segment::new(a, b)
    }

    #[test]
    fn fills_short_gaps_and_drops_short_turns() {
        let pieces = [
            (seg(0.0, 2.0), 0),
            (seg(2.0, 2.2), 1),
            (seg(2.2, 4.0), 0),
            (seg(5.0, 5.1), 1),
        ];
        let o = TurnOptions {
            min_duration_on: 0.15,
            min_duration_off: 0.5,
        };
        let r = regular(&pieces, &o);
        assert_eq!(r, vec![(seg(0.0, 4.0), 0), (seg(2.0, 2.2), 1)]);
        let e = exclusive(&r, &pieces);
        assert_eq!(
            e,
            vec![(seg(0.0, 2.0), 0), (seg(2.0, 2.2), 1), (seg(2.2, 4.0), 0)]
        );
    }

    fn well_formed(t: &[Labelled]) -> bool {
        t.windows(2)
            .all(|w| (w[0].0.start, w[0].0.end, w[0].1) < (w[1].0.start, w[1].0.end, w[1].1))
            && t.iter().all(|x| x.0.end > x.0.start)
    }

    proptest! {
        #[test]
        fn outputs_are_sorted_positive_and_unique(
            raw in proptest::collection::vec((0u32..400, 1u32..40, 0usize..4), 0..40),
            on in 0.0f64..1.0,
            off in 0.0f64..1.0,
        ) {
            let pieces: Vec<Labelled> = raw
                .iter()
                .map(|&(s, d, l)| (seg(f64::from(s) / 10.0, f64::from(s + d) / 10.0), l))
                .collect();
            let o = TurnOptions { min_duration_on: on, min_duration_off: off };
            let r = regular(&pieces, &o);
            prop_assert!(well_formed(&r));
            prop_assert!(r.iter().all(|t| t.0.duration() >= on));
            let e = exclusive(&r, &pieces);
            prop_assert!(well_formed(&e));
            // One speaker at a time, and exactly the time the regular turns cover.
            prop_assert!(e.windows(2).all(|w| w[0].0.end <= w[1].0.start));
            let covered = |t: &[Labelled]| support(t.iter().map(|x| x.0)).iter().map(Segment::duration).sum::<f64>();
            prop_assert!((covered(&r) - covered(&e)).abs() < 1e-9);
        }
    }
}
