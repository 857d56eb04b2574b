//! The resampler against references.
//!
//! 1. Analytic: a sum of sines sampled at the source rate, resampled, must equal the same sum
//!    sampled at the target rate (the ideal band-limited answer), away from the edges where
//!    the finite signal is implicitly zero-padded.
//! 2. soxr: `stereo_44k.wav`'s channel mean resampled 44100 -> 16000 Hz by soxr at its highest
//!    quality (VHQ), computed once in Python by `make_python_fixtures.py` and committed as
//!    `stereo_44k_mix_16k_soxr.f32`.

mod common;

use common::{max_abs_err, read_f32_raw, snr_db, RawWav};
use ecapa2_audio::{mix_down, resample, resampled_len};

/// Tones (Hz, amplitude, phase) all below 0.85 x the lower Nyquist frequency of every pair
/// tested (4 kHz for 8 kHz input): the passband, where a good resampler is exact.
const TONES: [(f64, f64, f64); 5] = [
    (97.0, 0.3, 0.1),
    (440.0, 0.2, 1.3),
    (1234.5, 0.15, 2.0),
    (2500.0, 0.1, 0.7),
    (3300.0, 0.1, 4.0),
];

fn tones_at(rate: u32, n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            TONES
                .iter()
                .map(|&(f, a, p)| a * (2.0 * std::f64::consts::PI * f * t + p).sin())
                .sum::<f64>() as f32
        })
        .collect()
}

/// Error of resampling the tones `from -> to` against the analytic answer, ignoring
/// `margin_s` seconds at each end. Returns (SNR dB, max abs error).
fn analytic_error(from: u32, to: u32, margin_s: f64) -> (f64, f64) {
    let n_in = from as usize * 2; // 2 s
    let y = resample(&tones_at(from, n_in), from, to).unwrap();
    assert_eq!(y.len(), resampled_len(n_in, from, to));
    let truth = tones_at(to, y.len());
    let m = (margin_s * f64::from(to)) as usize;
    let range = m..y.len() - m;
    (
        snr_db(&truth, &y, range.clone()),
        max_abs_err(&truth, &y, range),
    )
}

/// Bound: away from the first/last 100 ms, resampled tones match the analytic signal with
/// SNR > 90 dB and max abs error < 1e-4 (peak amplitude 0.85), for down- and up-sampling,
/// integer and fractional ratios. Measured: 114 dB (44.1 -> 16 kHz) to 127 dB, max abs error
/// 1.4e-6 or less. A half-sample misalignment at 44.1 kHz would give ~22 dB here.
#[test]
fn tones_match_the_analytic_signal() {
    for (from, to) in [
        (44_100, 16_000),
        (48_000, 16_000),
        (22_050, 16_000),
        (8_000, 16_000),
        (16_000, 44_100),
        (32_000, 16_000),
        (11_025, 16_000),
    ] {
        let (snr, max_err) = analytic_error(from, to, 0.1);
        println!("{from} -> {to}: SNR {snr:.1} dB, max abs err {max_err:.2e}");
        assert!(snr > 90.0, "{from} -> {to}: SNR {snr:.1} dB");
        assert!(max_err < 1e-4, "{from} -> {to}: max abs err {max_err:.2e}");
    }
}

/// Bound: against soxr VHQ on the (band-limited < 7 kHz) stereo fixture's mix, away from the
/// first/last 16 ms: SNR > 80 dB and max abs error < 2e-4. Measured: 96.8 dB, 1.8e-5 (the
/// whole signal including the edges: 69.7 dB, the two resamplers pad the ends differently).
#[test]
fn stereo_mix_matches_soxr_reference() {
    let raw = RawWav::read("stereo_44k.wav");
    assert_eq!((raw.rate, raw.channels), (44_100, 2));
    let mix = mix_down(&raw.planar());
    let ours = resample(&mix, 44_100, 16_000).unwrap();
    let reference = read_f32_raw("stereo_44k_mix_16k_soxr.f32");
    assert_eq!(ours.len(), reference.len());
    assert_eq!(ours.len(), 16_000);
    let m = 256;
    let range = m..ours.len() - m;
    let snr = snr_db(&reference, &ours, range.clone());
    let max_err = max_abs_err(&reference, &ours, range);
    let whole = snr_db(&reference, &ours, 0..ours.len());
    println!("vs soxr VHQ: SNR {snr:.1} dB, max abs err {max_err:.2e} (whole signal incl. edges: {whole:.1} dB)");
    assert!(snr > 80.0, "SNR {snr:.1} dB");
    assert!(max_err < 2e-4, "max abs err {max_err:.2e}");
}
