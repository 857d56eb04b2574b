//! Fixed windows over long recordings, for diarization and search.
//!
//! Windows start at 0, hop, 2·hop, … while they fit. If samples remain after the last full
//! window, one more window is added that ends exactly at the end of the recording (so every
//! sample is covered and every window has the same length). A recording shorter than one
//! window gives a single window over the whole recording.

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
}
