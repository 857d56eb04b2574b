//! Speech probabilities to speech segments, exactly as silero-vad's
//! `get_speech_timestamps_from_probs` (6.2.3) does it: hysteresis between `threshold` and
//! `neg_threshold`, silences shorter than `min_silence_duration_ms` bridged, segments shorter
//! than `min_speech_duration_ms` dropped, long segments cut at their longest inner silence,
//! then padding by `speech_pad_ms` (halving the gap when neighbours are closer than twice it).
//!
//! Thresholds are compared in f64 as Python does, with each f32 option taken at its shortest
//! decimal value (0.3f32 means 0.3), so a probability on the boundary falls on the same side.

use crate::network::{CHUNK_SAMPLES, SAMPLE_RATE};
use crate::VadError;

/// Options of the segmentation; [`Default`] gives `get_speech_timestamps`' defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VadOptions {
    /// A chunk with probability at or above this is speech (default 0.5).
    pub threshold: f32,
    /// While in speech, a chunk below this is silence; `None` means
    /// `max(threshold − 0.15, 0.01)` (the default).
    pub neg_threshold: Option<f32>,
    /// Segments not longer than this are dropped (default 250 ms).
    pub min_speech_duration_ms: u32,
    /// Segments longer than this are cut (default infinity: never).
    pub max_speech_duration_s: f32,
    /// Silence must last this long to end a segment (default 100 ms).
    pub min_silence_duration_ms: u32,
    /// Padding added on each side of a segment (default 30 ms).
    pub speech_pad_ms: u32,
    /// Silences inside a too-long segment count as cut points only when longer than this
    /// (default 98 ms; silero's `min_silence_at_max_speech`).
    pub min_silence_at_max_speech_ms: u32,
    /// Cut a too-long segment at its longest inner silence (default `true`); `false` cuts at
    /// the last one (silero's `use_max_poss_sil_at_max_speech`).
    pub use_max_poss_sil_at_max_speech: bool,
}

impl Default for VadOptions {
    fn default() -> Self {
        Self {
            threshold: 0.5,
            neg_threshold: None,
            min_speech_duration_ms: 250,
            max_speech_duration_s: f32::INFINITY,
            min_silence_duration_ms: 100,
            speech_pad_ms: 30,
            min_silence_at_max_speech_ms: 98,
            use_max_poss_sil_at_max_speech: true,
        }
    }
}

impl VadOptions {
    /// Errors unless the thresholds are finite and the maximum duration is positive.
    pub fn validate(&self) -> Result<(), VadError> {
        let bad = |name, value: f32, reason| VadError::BadOption {
            name,
            value: value.to_string(),
            reason,
        };
        if !self.threshold.is_finite() {
            return Err(bad("threshold", self.threshold, "must be a finite number"));
        }
        if let Some(neg) = self.neg_threshold.filter(|n| !n.is_finite()) {
            return Err(bad("neg_threshold", neg, "must be a finite number"));
        }
        if self.max_speech_duration_s.is_nan() || self.max_speech_duration_s <= 0.0 {
            return Err(bad(
                "max_speech_duration_s",
                self.max_speech_duration_s,
                "must be positive (infinity for no limit)",
            ));
        }
        Ok(())
    }
}

/// A speech segment in samples at 16 kHz: `start..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpeechSegment {
    /// First sample of speech.
    pub start: usize,
    /// One past the last sample of speech.
    pub end: usize,
}

impl SpeechSegment {
    /// Start in seconds.
    pub fn start_seconds(&self) -> f64 {
        self.start as f64 / f64::from(SAMPLE_RATE)
    }

    /// End in seconds.
    pub fn end_seconds(&self) -> f64 {
        self.end as f64 / f64::from(SAMPLE_RATE)
    }
}

/// The f64 nearest the shortest decimal that reads back as `x` (what a user typing `0.3` into
/// Python gets).
fn decimal(x: f32) -> f64 {
    x.to_string().parse().unwrap_or(f64::from(x))
}

/// Speech segments from per-chunk probabilities (one per 512 samples, as
/// [`crate::SileroVad::probabilities`] returns them) of audio `audio_len` samples long:
/// silero's `get_speech_timestamps_from_probs` at 16 kHz, sample for sample.
pub fn speech_timestamps_from_probabilities(
    probs: &[f32],
    audio_len: usize,
    opts: &VadOptions,
) -> Result<Vec<SpeechSegment>, VadError> {
    opts.validate()?;
    let sr = f64::from(SAMPLE_RATE);
    let window = CHUNK_SAMPLES as i64;
    let ms = |v: u32| sr * f64::from(v) / 1000.0;
    let min_speech = ms(opts.min_speech_duration_ms);
    let pad = ms(opts.speech_pad_ms);
    let max_speech = sr * decimal(opts.max_speech_duration_s) - window as f64 - 2.0 * pad;
    let min_silence = ms(opts.min_silence_duration_ms);
    let min_silence_at_max = ms(opts.min_silence_at_max_speech_ms);
    let threshold = decimal(opts.threshold);
    let neg_threshold = opts
        .neg_threshold
        .map(decimal)
        .unwrap_or_else(|| (threshold - 0.15).max(0.01));
    let use_max_poss = opts.use_max_poss_sil_at_max_speech;

    // Names and zero-as-unset conventions follow the reference so the two read side by side.
    let mut triggered = false;
    let mut speeches: Vec<(i64, i64)> = Vec::new();
    let mut current: Option<i64> = None;
    let (mut temp_end, mut prev_end, mut next_start) = (0i64, 0i64, 0i64);
    let mut possible_ends: Vec<(i64, i64)> = Vec::new();

    for (i, &p) in probs.iter().enumerate() {
        let p = f64::from(p);
        let cur = window * i as i64;

        if p >= threshold && temp_end != 0 {
            let sil = cur - temp_end;
            if sil as f64 > min_silence_at_max {
                possible_ends.push((temp_end, sil));
            }
            temp_end = 0;
            if next_start < prev_end {
                next_start = cur;
            }
        }

        if p >= threshold && !triggered {
            triggered = true;
            current = Some(cur);
            continue;
        }

        if let Some(start) = current.filter(|&s| triggered && (cur - s) as f64 > max_speech) {
            if use_max_poss && !possible_ends.is_empty() {
                // The first longest silence, as Python's max() picks on ties.
                let (end, dur) = possible_ends
                    .iter()
                    .copied()
                    .fold(possible_ends[0], |a, b| if b.1 > a.1 { b } else { a });
                speeches.push((start, end));
                next_start = end + dur;
                if next_start < end + cur {
                    current = Some(next_start);
                } else {
                    current = None;
                    triggered = false;
                }
            } else if prev_end != 0 {
                speeches.push((start, prev_end));
                if next_start < prev_end {
                    current = None;
                    triggered = false;
                } else {
                    current = Some(next_start);
                }
            } else {
                speeches.push((start, cur));
                current = None;
                (prev_end, next_start, temp_end) = (0, 0, 0);
                triggered = false;
                possible_ends.clear();
                continue;
            }
            (prev_end, next_start, temp_end) = (0, 0, 0);
            possible_ends.clear();
        }

        if p < neg_threshold && triggered {
            if temp_end == 0 {
                temp_end = cur;
            }
            let sil_now = cur - temp_end;
            if !use_max_poss && sil_now as f64 > min_silence_at_max {
                prev_end = temp_end;
            }
            if (sil_now as f64) < min_silence {
                continue;
            }
            if let Some(start) = current {
                if (temp_end - start) as f64 > min_speech {
                    speeches.push((start, temp_end));
                }
            }
            current = None;
            (prev_end, next_start, temp_end) = (0, 0, 0);
            triggered = false;
            possible_ends.clear();
        }
    }

    let len = audio_len as i64;
    if let Some(start) = current {
        if (len - start) as f64 > min_speech {
            speeches.push((start, len));
        }
    }

    // Padding: `int(...)` of a float truncates, `//` floors.
    let n = speeches.len();
    for i in 0..n {
        if i == 0 {
            speeches[0].0 = (speeches[0].0 as f64 - pad).max(0.0) as i64;
        }
        if i + 1 < n {
            let gap = speeches[i + 1].0 - speeches[i].1;
            if (gap as f64) < 2.0 * pad {
                speeches[i].1 += gap.div_euclid(2);
                speeches[i + 1].0 = (speeches[i + 1].0 - gap.div_euclid(2)).max(0);
            } else {
                speeches[i].1 = (len as f64).min(speeches[i].1 as f64 + pad) as i64;
                speeches[i + 1].0 = (speeches[i + 1].0 as f64 - pad).max(0.0) as i64;
            }
        } else {
            speeches[i].1 = (len as f64).min(speeches[i].1 as f64 + pad) as i64;
        }
    }

    Ok(speeches
        .into_iter()
        .map(|(s, e)| SpeechSegment {
            start: usize::try_from(s).unwrap_or(0),
            end: usize::try_from(e).unwrap_or(0),
        })
        .collect())
}
