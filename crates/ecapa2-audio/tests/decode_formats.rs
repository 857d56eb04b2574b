//! Each supported format decodes to the expected rate, length and values.
//!
//! `speech_16k.wav` (16 kHz mono PCM16, 46536 samples) is the ground truth; every other
//! `speech_16k*` fixture was made from it (see tests/fixtures/audio/README.md).

mod common;

use common::{fixture, snr_db, RawWav};
use ecapa2_audio::{load, LoadOptions};

const SPEECH_LEN: usize = 46_536;

fn pcm16_truth() -> Vec<f32> {
    let raw = RawWav::read("speech_16k.wav");
    assert_eq!(
        (raw.format_tag, raw.channels, raw.rate, raw.bits),
        (1, 1, 16_000, 16)
    );
    // Independent of the scaling helper: integer / 32768 straight from the bytes.
    raw.data
        .chunks_exact(2)
        .map(|c| f32::from(i16::from_le_bytes([c[0], c[1]])) / 32768.0)
        .collect()
}

fn load_default(name: &str) -> ecapa2_audio::Loaded {
    load(fixture(name), &model_options()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn pcm16_wav_is_exactly_x_over_32768() {
    let truth = pcm16_truth();
    assert_eq!(truth.len(), SPEECH_LEN);
    let loaded = load_default("speech_16k.wav");
    assert_eq!(loaded.signals.len(), 1);
    assert_eq!(loaded.signals[0], truth, "bit-exact PCM16 scaling");
    assert_eq!(loaded.sample_rate, 16_000);
    assert_eq!(loaded.source_rate, 16_000);
    assert_eq!(loaded.source_channels, 1);
    assert!(!loaded.resampled && !loaded.mixed_down);
    assert_eq!(loaded.codec, "PCM16 WAV");
    assert!((loaded.duration_s - SPEECH_LEN as f64 / 16_000.0).abs() < 1e-12);
    assert_eq!(
        loaded.summary(),
        "16000 Hz mono PCM16 WAV (2.91 s), used as is"
    );
    // A few spot values, to show the scale: the extremes of the file.
    let peak = truth.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(peak > 0.1 && peak <= 1.0, "peak {peak}");
}

#[test]
fn second_speech_fixture_is_a_different_signal() {
    let a = load_default("speech_16k.wav");
    let b = load_default("speech2_16k.wav");
    assert_eq!(b.len(), 56_533);
    assert_eq!(b.signals[0], RawWav::read("speech2_16k.wav").samples());
    assert_ne!(a.signals[0][..1000], b.signals[0][..1000]);
}

#[test]
fn flac_is_lossless() {
    let loaded = load_default("speech_16k.flac");
    assert_eq!(loaded.codec, "FLAC");
    assert_eq!((loaded.sample_rate, loaded.source_rate), (16_000, 16_000));
    assert_eq!(loaded.signals[0], pcm16_truth());
}

#[test]
fn float32_wav_matches_its_bytes_and_the_pcm16_source() {
    let loaded = load_default("speech_16k_f32.wav");
    assert_eq!(loaded.codec, "float32 WAV");
    let raw = RawWav::read("speech_16k_f32.wav");
    assert_eq!((raw.format_tag, raw.bits), (3, 32));
    assert_eq!(loaded.signals[0], raw.samples());
    // sox converted x/32768 exactly, so the float file holds the PCM16 values.
    assert_eq!(loaded.signals[0], pcm16_truth());
}

#[test]
fn pcm24_and_pcm32_wav_scale_by_full_range() {
    for (name, codec) in [
        ("speech_16k_s24.wav", "PCM24 WAV"),
        ("speech_16k_s32.wav", "PCM32 WAV"),
    ] {
        let loaded = load_default(name);
        assert_eq!(loaded.codec, codec);
        assert_eq!(
            loaded.signals[0],
            RawWav::read(name).samples(),
            "{name} vs its bytes"
        );
        // Widened from 16 bits (x << 8, x << 16): same values as the PCM16 file.
        assert_eq!(loaded.signals[0], pcm16_truth(), "{name} vs PCM16");
    }
}

#[test]
fn pcm8_wav_is_unsigned_offset_128() {
    let loaded = load_default("speech_16k_u8.wav");
    assert_eq!(loaded.codec, "PCM8 WAV");
    assert_eq!(
        loaded.signals[0],
        RawWav::read("speech_16k_u8.wav").samples()
    );
    // 8-bit quantisation of the PCM16 file: within one 8-bit step.
    let truth = pcm16_truth();
    let worst = loaded.signals[0]
        .iter()
        .zip(&truth)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst <= 1.0 / 128.0, "max |u8 - pcm16| = {worst}");
}

/// Lag (in samples, within ±max_lag) that maximises the cross-correlation of `x` with `truth`.
fn best_lag(truth: &[f32], x: &[f32], max_lag: i64) -> i64 {
    let corr = |lag: i64| -> f64 {
        (0..truth.len() as i64)
            .filter_map(|i| {
                let j = i + lag;
                (j >= 0 && (j as usize) < x.len())
                    .then(|| f64::from(truth[i as usize]) * f64::from(x[j as usize]))
            })
            .sum()
    };
    (-max_lag..=max_lag)
        .max_by(|&a, &b| corr(a).total_cmp(&corr(b)))
        .unwrap()
}

/// Lossy codecs: same length as the source (encoder delay/padding trimmed), aligned (best
/// cross-correlation lag 0), and an SNR above the stated bound.
fn check_lossy(name: &str, codec: &str, min_snr_db: f64) {
    let loaded = load_default(name);
    assert_eq!(loaded.codec, codec);
    assert_eq!((loaded.sample_rate, loaded.source_rate), (16_000, 16_000));
    assert!(!loaded.resampled);
    let x = &loaded.signals[0];
    let truth = pcm16_truth();
    assert_eq!(
        x.len(),
        SPEECH_LEN,
        "{name}: encoder delay/padding must be trimmed"
    );
    assert_eq!(
        best_lag(&truth, x, 1200),
        0,
        "{name}: decoded audio is shifted"
    );
    let snr = snr_db(&truth, x, 0..SPEECH_LEN);
    println!("{name}: SNR vs PCM16 = {snr:.1} dB");
    assert!(
        snr > min_snr_db,
        "{name}: SNR {snr:.1} dB <= {min_snr_db} dB"
    );
}

#[test]
fn mp3_decodes_aligned_with_bounded_error() {
    // 64 kbit/s LAME; ffmpeg 5.1 decodes this file to the same 23.6 dB.
    check_lossy("speech_16k.mp3", "MP3", 20.0);
}

#[test]
fn ogg_vorbis_decodes_aligned_with_bounded_error() {
    // oggenc -q 4; ffmpeg 5.1 decodes this file to the same 21.7 dB.
    check_lossy("speech_16k.ogg", "Ogg Vorbis", 18.0);
}

/// What the CLI passes for the released model: 16 kHz, at least 321 samples.
fn model_options() -> LoadOptions {
    LoadOptions::for_model(16_000, 321)
}
