//! Sample-rate conversion with rubato's synchronous FFT resampler.
//!
//! The resampler is a linear-phase windowed-sinc low-pass (Blackman-Harris², cut-off just under
//! the lower of the two Nyquist frequencies) applied by FFT overlap-add. Its latency is removed
//! exactly, so output sample `k` is the band-limited input evaluated at time `k / to`; the
//! signal is treated as zero outside `[0, N)`. The output has exactly `round(N * to / from)`
//! samples.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler, WindowFunction};

use crate::error::AudioError;

/// Minimum filter length, in input samples, of the FFT resampler (and, for upsampling, the
/// matching number of output samples). Longer filters give a narrower transition band.
const MIN_FILTER_LEN: usize = 2048;

/// Lowest and highest rates resampled. Every real recording lies between; outside, a corrupt
/// header's rate (the fuzzer found 4294959424 Hz) makes the FFT blocks (`rate / gcd` samples)
/// or the output (`N * to / from` samples) grow without bound.
const RATE_RANGE: std::ops::RangeInclusive<u32> = 1_000..=768_000;

/// Name used in errors from [`resample`], which has no file to name.
const IN_MEMORY: &str = "<in-memory signal>";

/// Number of output samples for `n` input samples: `round(n * to / from)`, halves rounded up.
pub fn resampled_len(n: usize, from: u32, to: u32) -> usize {
    if from == 0 {
        return 0;
    }
    let num = n as u128 * u128::from(to);
    let from = u128::from(from);
    ((2 * num + from) / (2 * from)) as usize
}

/// Resample a mono signal from `from` Hz to `to` Hz.
///
/// Returns exactly [`resampled_len`]`(x.len(), from, to)` samples, aligned with the input (no
/// delay). When `from == to` the input is returned unchanged. Errors if either rate is 0 or,
/// when they differ, outside 1 kHz to 768 kHz.
///
/// Quality: on band-limited content (below ~0.9 of the lower Nyquist frequency) the result
/// matches an ideal resampler to better than -90 dB away from the first/last few milliseconds;
/// see the crate's tests for the measured bounds.
pub fn resample(x: &[f32], from: u32, to: u32) -> Result<Vec<f32>, AudioError> {
    resample_named(IN_MEMORY, x, from, to)
}

/// [`resample`] with a name (usually a file) for the error message.
pub(crate) fn resample_named(
    name: &str,
    x: &[f32],
    from: u32,
    to: u32,
) -> Result<Vec<f32>, AudioError> {
    let fail = |reason: String| AudioError::Resample {
        file: name.to_owned(),
        from,
        to,
        reason,
    };
    if from == 0 || to == 0 {
        return Err(fail("sample rates must be positive".to_owned()));
    }
    if from == to {
        return Ok(x.to_vec());
    }
    if let Some(bad) = [from, to].into_iter().find(|r| !RATE_RANGE.contains(r)) {
        return Err(fail(format!(
            "{bad} Hz is outside the {}-{} Hz this resampler handles (a corrupt header?)",
            RATE_RANGE.start(),
            RATE_RANGE.end()
        )));
    }
    let out_len = resampled_len(x.len(), from, to);
    if x.is_empty() {
        return Ok(Vec::new());
    }

    let (fft_in, fft_out) = fft_block_sizes(from, to);
    tracing::debug!(
        from,
        to,
        fft_in,
        fft_out,
        input = x.len(),
        output = out_len,
        "resampling"
    );
    let mut resampler = Fft::<f32>::new_custom(
        from as usize,
        to as usize,
        fft_in,
        1,
        1,
        WindowFunction::BlackmanHarris2,
        FixedSync::Both,
    )
    .map_err(|e| fail(e.to_string()))?;
    debug_assert_eq!(resampler.input_frames_next(), fft_in);

    let input = InterleavedSlice::new(x, 1, x.len()).map_err(|e| fail(e.to_string()))?;
    let output = resampler
        .process_all(&input, x.len(), None)
        .map_err(|e| fail(e.to_string()))?;
    let mut y = output.take_data();
    // rubato returns ceil(n * ratio) frames; keep round(n * ratio).
    y.resize(out_len, 0.0);
    Ok(y)
}

/// FFT block sizes `(input, output)` for a rate pair.
///
/// Both are the same even multiple `k` of the minimal block (`rate / gcd`), so the filter's
/// centre (`input / 2`) maps exactly onto the delay rubato trims (`output / 2`): an odd `k`
/// would leave a half-sample shift. `k` is the smallest even number making both blocks at least
/// [`MIN_FILTER_LEN`] long.
fn fft_block_sizes(from: u32, to: u32) -> (usize, usize) {
    let g = gcd(from, to);
    let (min_in, min_out) = ((from / g) as usize, (to / g) as usize);
    let smaller = min_in.min(min_out);
    let mut k = MIN_FILTER_LEN.div_ceil(smaller).max(2);
    if k % 2 == 1 {
        k += 1;
    }
    (k * min_in, k * min_out)
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_half_up() {
        assert_eq!(resampled_len(44100, 44100, 16000), 16000);
        assert_eq!(resampled_len(441, 44100, 16000), 160);
        // 100 * 16000 / 44100 = 36.28 -> 36
        assert_eq!(resampled_len(100, 44100, 16000), 36);
        // 3 * 16000 / 48000 = 1.0 ; 5 * 1/3 = 1.67 -> 2 ; 1 * 1/2 = 0.5 -> 1
        assert_eq!(resampled_len(5, 48000, 16000), 2);
        assert_eq!(resampled_len(1, 32000, 16000), 1);
        assert_eq!(resampled_len(7, 8000, 16000), 14);
    }

    #[test]
    fn block_sizes_are_even_multiples() {
        assert_eq!(fft_block_sizes(44100, 16000), (441 * 14, 160 * 14));
        assert_eq!(fft_block_sizes(48000, 16000), (3 * 2048, 2048));
        assert_eq!(fft_block_sizes(8000, 16000), (2048, 4096));
        let (i, o) = fft_block_sizes(22050, 16000);
        assert!(i % 2 == 0 && o % 2 == 0 && i >= MIN_FILTER_LEN && o >= MIN_FILTER_LEN);
    }

    #[test]
    fn identity_empty_and_bad_rates() {
        assert_eq!(
            resample(&[0.5, -0.25], 16000, 16000).unwrap(),
            vec![0.5, -0.25]
        );
        assert!(resample(&[], 44100, 16000).unwrap().is_empty());
        let err = resample(&[0.0; 10], 0, 16000).unwrap_err();
        assert!(matches!(err, AudioError::Resample { from: 0, .. }), "{err}");
    }

    #[test]
    fn absurd_rates_are_refused_before_planning_ffts() {
        // Fuzzer finding: a WAV header saying 4294959424 Hz made the FFT block 2.7 GB.
        for (from, to) in [
            (4_294_959_424, 16_000),
            (1, 16_000),
            (16_000, 999),
            (16_000, 768_001),
        ] {
            let err = resample(&[0.0; 10], from, to).unwrap_err();
            assert!(
                err.to_string().contains("outside the 1000-768000 Hz"),
                "{err}"
            );
        }
        assert_eq!(resample(&[0.5; 10], 1, 1).unwrap(), vec![0.5; 10]);
        assert_eq!(resample(&[0.0; 768], 768_000, 1_000).unwrap().len(), 1);
    }

    #[test]
    fn output_length_is_rounded_ratio() {
        for (n, from, to) in [
            (1000, 44100, 16000),
            (12345, 48000, 16000),
            (999, 8000, 16000),
        ] {
            let y = resample(&vec![0.1; n], from, to).unwrap();
            assert_eq!(y.len(), resampled_len(n, from, to), "{n} {from}->{to}");
        }
    }
}
