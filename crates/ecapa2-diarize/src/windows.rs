//! Fixed windows over audio and over speech regions.
//!
//! [`plan`] cuts `n` samples into windows starting at 0, hop, 2·hop, … while they fit, plus one
//! window ending exactly at the end when samples remain (every sample covered, every window the
//! same length); input shorter than one window gives one window over all of it.
//!
//! [`over_speech`] plans windows inside each speech region. A region shorter than a window gets
//! **one window centred on it, widened to the full window length and clamped to the audio**:
//! ECAPA2 embeddings of sub-second input are noisy, and a short region (a back-channel "yes")
//! is better described with its context than dropped; the region alone still decides the
//! turn's time span. Each window *speaks for* the part of its region nearest to its centre
//! (boundaries at the midpoints between consecutive centres), so a region's windows partition
//! it exactly.

use crate::segment::Segment;

/// One window: sample range `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// First sample.
    pub start: usize,
    /// One past the last sample.
    pub end: usize,
}

/// Plans windows of `window` samples every `hop` samples over `n` samples.
pub fn plan(n: usize, window: usize, hop: usize) -> Vec<Window> {
    if n <= window || window == 0 || hop == 0 {
        return vec![Window { start: 0, end: n }];
    }
    let mut out: Vec<Window> = (0..)
        .map(|k| k * hop)
        .take_while(|s| s + window <= n)
        .map(|start| Window {
            start,
            end: start + window,
        })
        .collect();
    if out.last().is_some_and(|w| w.end < n) {
        out.push(Window {
            start: n - window,
            end: n,
        });
    }
    out
}

/// A window over speech and the span of its region it speaks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpeechWindow {
    /// The samples to embed.
    pub window: Window,
    /// Seconds of speech this window's label is given to.
    pub own: Segment,
    /// Index of the speech region it lies in.
    pub region: usize,
}

/// Windows of `window`/`hop` samples inside `regions` (seconds) of `n` samples at `rate` Hz.
/// Regions are clamped to the audio; empty ones are skipped.
pub fn over_speech(
    regions: &[Segment],
    n: usize,
    rate: u32,
    window: usize,
    hop: usize,
) -> Vec<SpeechWindow> {
    let rate_f = f64::from(rate);
    let to_sample = |t: f64| ((t.max(0.0) * rate_f).round() as usize).min(n);
    let mut out = Vec::new();
    for (r, region) in regions.iter().enumerate() {
        let (s, e) = (to_sample(region.start), to_sample(region.end));
        if e <= s {
            continue;
        }
        let span = Segment::new(s as f64 / rate_f, e as f64 / rate_f);
        let windows: Vec<Window> = if e - s >= window {
            plan(e - s, window, hop)
                .into_iter()
                .map(|w| Window {
                    start: w.start + s,
                    end: w.end + s,
                })
                .collect()
        } else {
            // Centred on the region, widened to a full window, clamped to the audio.
            let len = window.min(n);
            let centre = (s + e) / 2;
            let start = centre.saturating_sub(len / 2).min(n - len);
            vec![Window {
                start,
                end: start + len,
            }]
        };
        let centres: Vec<f64> = windows
            .iter()
            .map(|w| (w.start + w.end) as f64 / 2.0 / rate_f)
            .collect();
        for (i, w) in windows.iter().enumerate() {
            let from = if i == 0 {
                span.start
            } else {
                (centres[i - 1] + centres[i]) / 2.0
            };
            let to = if i + 1 == windows.len() {
                span.end
            } else {
                (centres[i] + centres[i + 1]) / 2.0
            };
            out.push(SpeechWindow {
                window: *w,
                own: Segment::new(from.max(span.start), to.min(span.end)),
                region: r,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covers_the_tail_with_an_end_aligned_window() {
        // 10 s at 16 kHz, 3 s windows every 2 s: starts 0,2,4,6 s, then 7–10 s.
        let w = plan(160_000, 48_000, 32_000);
        let starts: Vec<usize> = w.iter().map(|w| w.start / 16_000).collect();
        assert_eq!(starts, vec![0, 2, 4, 6, 7]);
        assert!(w.iter().all(|w| w.end - w.start == 48_000));
        assert_eq!(w.last().map(|w| w.end), Some(160_000));
    }

    #[test]
    fn exact_fit_adds_nothing_and_short_input_is_one_window() {
        assert_eq!(plan(96_000, 48_000, 48_000).len(), 2);
        assert_eq!(
            plan(1000, 48_000, 16_000),
            vec![Window {
                start: 0,
                end: 1000
            }]
        );
    }

    #[test]
    fn windows_partition_each_region() {
        // Regions of 4 s and 0.5 s in 10 s of audio; 1.5 s / 0.75 s windows.
        let regions = [Segment::new(1.0, 5.0), Segment::new(9.8, 10.3)];
        let w = over_speech(&regions, 160_000, 16_000, 24_000, 12_000);
        let first: Vec<&SpeechWindow> = w.iter().filter(|w| w.region == 0).collect();
        assert_eq!(first.first().map(|w| w.own.start), Some(1.0));
        assert_eq!(first.last().map(|w| w.own.end), Some(5.0));
        for pair in first.windows(2) {
            assert_eq!(pair[0].own.end, pair[1].own.start);
        }
        // The short region, clamped to the audio's end, gets one full window ending there.
        let last = w.iter().find(|w| w.region == 1).expect("one window");
        assert_eq!(
            last.window,
            Window {
                start: 136_000,
                end: 160_000
            }
        );
        assert_eq!(last.own, Segment::new(9.8, 10.0));
    }
}
