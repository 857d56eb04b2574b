//! `stereo_44k.wav`: 44.1 kHz stereo PCM16, 1 s; left = speech (low-passed < 7 kHz), right =
//! a 440 Hz tone at 0.25. Documented behaviour:
//! - `Mix` (default): one signal = resample(mean(left, right)), 16000 samples at 16 kHz.
//! - `Separate`: two signals, resample(left) and resample(right).
//! - `target_rate: None`: no resampling, the mean itself (exact).

mod common;

use common::{fixture, RawWav};
use ecapa2_audio::{load, resample, ChannelMode, LoadOptions};

fn raw_channels() -> (Vec<f32>, Vec<f32>) {
    let raw = RawWav::read("stereo_44k.wav");
    assert_eq!(
        (raw.format_tag, raw.channels, raw.rate, raw.bits),
        (1, 2, 44_100, 16)
    );
    let mut planar = raw.planar();
    let right = planar.pop().unwrap();
    let left = planar.pop().unwrap();
    assert_eq!(left.len(), 44_100);
    (left, right)
}

fn mean(l: &[f32], r: &[f32]) -> Vec<f32> {
    l.iter().zip(r).map(|(a, b)| (a + b) / 2.0).collect()
}

#[test]
fn mix_is_the_channel_mean_then_resampled() {
    let (left, right) = raw_channels();
    let loaded = load(fixture("stereo_44k.wav"), &model_options()).unwrap();
    assert_eq!(loaded.signals.len(), 1);
    assert_eq!(loaded.len(), 16_000, "round(44100 * 16000 / 44100)");
    assert_eq!(
        (
            loaded.sample_rate,
            loaded.source_rate,
            loaded.source_channels
        ),
        (16_000, 44_100, 2)
    );
    assert!(loaded.resampled && loaded.mixed_down);
    assert_eq!(loaded.codec, "PCM16 WAV");
    assert!((loaded.duration_s - 1.0).abs() < 1e-12);
    assert_eq!(
        loaded.summary(),
        "44100 Hz stereo PCM16 WAV (1.00 s) -> resampled to 16000 Hz, mixed to mono"
    );
    let expected = resample(&mean(&left, &right), 44_100, 16_000).unwrap();
    assert_eq!(loaded.signals[0], expected);
}

#[test]
fn separate_keeps_one_resampled_signal_per_channel() {
    let (left, right) = raw_channels();
    let opts = LoadOptions {
        channels: ChannelMode::Separate,
        ..model_options()
    };
    let loaded = load(fixture("stereo_44k.wav"), &opts).unwrap();
    assert_eq!(loaded.signals.len(), 2);
    assert!(loaded.resampled && !loaded.mixed_down);
    assert_eq!(loaded.signals[0], resample(&left, 44_100, 16_000).unwrap());
    assert_eq!(loaded.signals[1], resample(&right, 44_100, 16_000).unwrap());
    assert_eq!(
        loaded.summary(),
        "44100 Hz stereo PCM16 WAV (1.00 s) -> resampled to 16000 Hz, 2 channels kept separate"
    );
    // The channels really differ: the right one is a pure 0.25 tone.
    let peak_right = loaded.signals[1][1000..15000]
        .iter()
        .fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(
        (peak_right - 0.25).abs() < 0.01,
        "right channel peak {peak_right}"
    );
    // Mixing is linear: mean of the separately resampled channels ~ the mixed signal.
    let mixed = load(fixture("stereo_44k.wav"), &model_options()).unwrap();
    let recombined = mean(&loaded.signals[0], &loaded.signals[1]);
    let worst = recombined
        .iter()
        .zip(&mixed.signals[0])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(
        worst < 1e-6,
        "mix-then-resample vs resample-then-mix: {worst}"
    );
}

#[test]
fn without_target_rate_the_mix_is_exact() {
    let (left, right) = raw_channels();
    let opts = LoadOptions {
        target_rate: None,
        ..model_options()
    };
    let loaded = load(fixture("stereo_44k.wav"), &opts).unwrap();
    assert_eq!((loaded.sample_rate, loaded.source_rate), (44_100, 44_100));
    assert!(!loaded.resampled && loaded.mixed_down);
    assert_eq!(loaded.signals, vec![mean(&left, &right)]);
    assert_eq!(
        loaded.summary(),
        "44100 Hz stereo PCM16 WAV (1.00 s) -> mixed to mono"
    );
}

#[test]
fn mono_file_upsampled_to_another_rate() {
    let opts = LoadOptions {
        target_rate: Some(44_100),
        ..model_options()
    };
    let loaded = load(fixture("speech_16k.wav"), &opts).unwrap();
    assert_eq!(
        loaded.len(),
        128_265,
        "round(46536 * 44100 / 16000) = round(128264.85)"
    );
    assert!(loaded.resampled && !loaded.mixed_down);
    assert_eq!(
        loaded.summary(),
        "16000 Hz mono PCM16 WAV (2.91 s) -> resampled to 44100 Hz"
    );
}

/// What the CLI passes for the released model: 16 kHz, at least 321 samples.
fn model_options() -> LoadOptions {
    LoadOptions::for_model(16_000, 321)
}
