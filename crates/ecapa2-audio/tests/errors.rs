//! Bad inputs give the right typed error, naming the file, and never panic.

mod common;

use common::fixture;
use ecapa2_audio::{load, AudioError, ChannelMode, LoadOptions};

/// The released model's shortest input at 16 kHz (what `Ecapa2::min_samples()` says).
const MIN_SAMPLES: usize = 321;

fn load_err(name: &str) -> (String, AudioError) {
    let path = fixture(name);
    let shown = path.display().to_string();
    let err = load(&path, &model_options()).expect_err(name);
    let msg = err.to_string();
    assert!(msg.starts_with(&shown), "message must name the file: {msg}");
    assert!(err.file().starts_with(&shown), "{:?}", err.file());
    println!("{name}: {msg}");
    (msg, err)
}

#[test]
fn too_short_file() {
    // 0.01 s at 16 kHz = 160 samples < MIN_SAMPLES = 321.
    let (msg, err) = load_err("short_10ms.wav");
    assert!(
        matches!(
            err,
            AudioError::TooShort {
                len: 160,
                min: MIN_SAMPLES,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        msg.contains("too short") && msg.contains("160") && msg.contains("321"),
        "{msg}"
    );
    // A lower minimum lets it through.
    let opts = LoadOptions {
        min_samples: 100,
        ..model_options()
    };
    assert_eq!(load(fixture("short_10ms.wav"), &opts).unwrap().len(), 160);
}

#[test]
fn zero_byte_file_is_empty_not_unsupported() {
    let path = std::env::temp_dir().join(format!("ecapa2-zero-{}.wav", std::process::id()));
    std::fs::write(&path, b"").expect("write");
    for err in [
        load(&path, &model_options()).expect_err("file"),
        ecapa2_audio::load_bytes("zero.flac", Vec::new(), &model_options()).expect_err("bytes"),
    ] {
        assert!(matches!(err, AudioError::Empty { .. }), "{err:?}");
        assert!(err.to_string().contains("empty"), "{err}");
    }
    let _ = std::fs::remove_file(&path);
}

#[test]
fn empty_file() {
    let (msg, err) = load_err("empty.wav");
    assert!(matches!(err, AudioError::Empty { .. }), "{err:?}");
    assert!(msg.contains("empty"), "{msg}");
}

#[test]
fn nan_samples_report_the_first_index() {
    // nan_f32.wav: 1000 float samples, NaN at 300, +inf at 700.
    let (msg, err) = load_err("nan_f32.wav");
    assert!(
        matches!(err, AudioError::NonFinite { index: 300, value, .. } if value.is_nan()),
        "{err:?}"
    );
    assert!(msg.contains("index 300"), "{msg}");
    let opts = LoadOptions {
        channels: ChannelMode::Separate,
        ..model_options()
    };
    assert!(matches!(
        load(fixture("nan_f32.wav"), &opts),
        Err(AudioError::NonFinite { index: 300, .. })
    ));
}

#[test]
fn truncated_header_is_corrupt() {
    // First 30 bytes of speech_16k.wav: "RIFF....WAVEfmt " and half a fmt chunk.
    let (msg, err) = load_err("truncated_header.wav");
    assert!(matches!(err, AudioError::Corrupt { .. }), "{err:?}");
    assert!(msg.contains("corrupt"), "{msg}");
}

#[test]
fn text_file_renamed_wav_is_unsupported() {
    let (msg, err) = load_err("not_audio.wav");
    assert!(matches!(err, AudioError::Unsupported { .. }), "{err:?}");
    assert!(msg.contains("unsupported"), "{msg}");
}

#[test]
fn missing_file_is_an_io_error() {
    let (msg, err) = load_err("no_such_file.wav");
    assert!(matches!(err, AudioError::Io { .. }), "{err:?}");
    assert!(msg.contains("cannot read file"), "{msg}");
}

#[test]
fn a_directory_is_an_error_not_a_panic() {
    let err = load(fixture(""), &model_options()).unwrap_err();
    assert!(matches!(err, AudioError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("fixtures/audio"), "{err}");
}

#[test]
fn truncated_data_keeps_what_was_decoded() {
    // A valid header whose data chunk is cut short: decode what is there, like soundfile.
    let bytes = std::fs::read(fixture("speech_16k.wav")).unwrap();
    let dir = std::env::temp_dir().join(format!("ecapa2-audio-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cut.wav");
    std::fs::write(&path, &bytes[..44 + 2 * 20_000 + 1]).unwrap();
    let loaded = load(&path, &model_options());
    std::fs::remove_dir_all(&dir).ok();
    let loaded = loaded.unwrap();
    assert_eq!(loaded.len(), 20_000);
}

/// What the CLI passes for the released model: 16 kHz, at least 321 samples.
fn model_options() -> LoadOptions {
    LoadOptions::for_model(16_000, 321)
}

/// A file too short after resampling says its own duration and rate and the count at the
/// model's rate (it used to say only "160 samples" for a 441-sample 44.1 kHz file).
#[test]
fn too_short_after_resampling_names_the_file_rate() {
    let dir = std::env::temp_dir().join(format!("ecapa2-short-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("short_44k.wav");
    let (frames, rate) = (441u32, 44_100u32);
    let mut wav = Vec::new();
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + 2 * frames).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&rate.to_le_bytes());
    wav.extend_from_slice(&(2 * rate).to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&(2 * frames).to_le_bytes());
    for i in 0..frames {
        wav.extend_from_slice(&((i as i16 % 100) * 100).to_le_bytes());
    }
    std::fs::write(&path, wav).unwrap();
    let msg = load(&path, &model_options()).unwrap_err().to_string();
    assert!(
        msg.contains("0.010 s (441 samples at 44100 Hz) is 160 samples at 16000 Hz")
            && msg.contains("at least 321 are needed (20 ms)"),
        "{msg}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// Fuzzer finding (fuzz target `audio`): a WAV header claiming 4294959424 Hz made the resampler
/// plan a 2.7 GB FFT block and abort out of memory; it is now a resampling error naming the file.
#[test]
fn absurd_sample_rate_is_an_error_not_an_oom() {
    let rate = 0xFFFF_E140u32;
    let mut wav = Vec::new();
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&236u32.to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&[1, 0, 1, 0]); // PCM, mono
    wav.extend_from_slice(&rate.to_le_bytes());
    wav.extend_from_slice(&8000u32.to_le_bytes());
    wav.extend_from_slice(&[1, 0, 8, 0]); // 8-bit
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&200u32.to_le_bytes());
    wav.extend((0..200).map(|i| (128 + (i % 50)) as u8));
    let err = ecapa2_audio::load_bytes("oom.wav", wav, &model_options()).unwrap_err();
    assert!(
        matches!(err, AudioError::Resample { from, to: 16_000, .. } if from == rate),
        "{err:?}"
    );
    assert!(
        err.to_string().starts_with("oom.wav: ") && err.to_string().contains("outside"),
        "{err}"
    );
}

/// Fuzzer finding (fuzz target `audio`): a RIFF header after leading junk bypassed this crate's
/// WAV reader (which wants the magic at byte 0) and reached symphonia's, whose `fmt ` parsing
/// overflowed (`num_channels * bytes`, a panic with overflow checks) on 65535 channels.
/// symphonia no longer reads WAV at all.
#[test]
fn riff_after_leading_junk_is_an_error_not_a_panic() {
    let mut bytes = vec![0u8; 64];
    bytes.extend_from_slice(b"RIFF\x24\0\0\0WAVEfmt \x10\0\0\0");
    bytes.extend_from_slice(&[1, 0, 0xFF, 0xFF]); // PCM, 65535 channels
    bytes.extend_from_slice(&16_000u32.to_le_bytes());
    bytes.extend_from_slice(&0u32.to_le_bytes());
    bytes.extend_from_slice(&[0, 0, 16, 0]); // block align 0, 16 bits
    bytes.extend_from_slice(b"data\0\0\0\0");
    let err = ecapa2_audio::load_bytes("junk.wav", bytes, &model_options()).unwrap_err();
    assert!(matches!(err, AudioError::Unsupported { .. }), "{err:?}");
}

/// Fuzzer finding (fuzz target `audio`): a 16053 Hz float WAV holding -4e37 passed the NaN/Inf
/// check, overflowed to NaN in the resampler's FFT and rubato panicked ("Imaginary part of first
/// value was non-zero"). Such samples are now a corrupt-file error; integer-scaled float files
/// (±32768) still load.
#[test]
fn huge_float_samples_are_corrupt_not_a_panic() {
    let float_wav = |rate: u32, samples: &[f32]| {
        let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        let mut wav = Vec::new();
        wav.extend_from_slice(b"RIFF");
        wav.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
        wav.extend_from_slice(b"WAVEfmt ");
        wav.extend_from_slice(&16u32.to_le_bytes());
        wav.extend_from_slice(&[3, 0, 1, 0]); // IEEE float, mono
        wav.extend_from_slice(&rate.to_le_bytes());
        wav.extend_from_slice(&(4 * rate).to_le_bytes());
        wav.extend_from_slice(&[4, 0, 32, 0]);
        wav.extend_from_slice(b"data");
        wav.extend_from_slice(&(data.len() as u32).to_le_bytes());
        wav.extend_from_slice(&data);
        wav
    };
    // The fuzzer's input itself: 10 float samples at 16053 Hz, several beyond 1e23.
    let err = ecapa2_audio::load_bytes("crash.wav", FUZZ_RUBATO_PANIC.to_vec(), &model_options())
        .unwrap_err();
    assert!(matches!(err, AudioError::Corrupt { .. }), "{err:?}");

    // Built here: without the check, its resampled output (~1e28) was returned as audio.
    let mut samples = vec![0.25f32; 2000];
    samples[5] = -4e37;
    let err = ecapa2_audio::load_bytes("huge.wav", float_wav(16_053, &samples), &model_options())
        .unwrap_err();
    assert!(matches!(err, AudioError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("index 5"), "{err}");

    let int_scaled: Vec<f32> = (0..2000)
        .map(|i| ((i % 200) as f32 - 100.0) * 300.0)
        .collect();
    let loaded = ecapa2_audio::load_bytes(
        "int_scaled.wav",
        float_wav(16_053, &int_scaled),
        &model_options(),
    )
    .unwrap();
    assert_eq!(loaded.sample_rate, 16_000);
}

/// fuzz/artifacts/audio/crash-95a660b04b292d4a1bcf0bdf43adcc9b98b63393
const FUZZ_RUBATO_PANIC: [u8; 93] = [
    0x52, 0x49, 0x46, 0x46, 0x52, 0x03, 0x00, 0x00, 0x57, 0x41, 0x56, 0x45, 0x66, 0x6d, 0x74, 0x20,
    0x12, 0x00, 0x00, 0x00, 0x03, 0x00, 0x01, 0x00, 0xb5, 0x3e, 0x00, 0x00, 0x00, 0xfa, 0x00, 0x00,
    0x04, 0x00, 0x20, 0x00, 0x00, 0x00, 0x66, 0x61, 0x63, 0x74, 0x04, 0x00, 0x00, 0x00, 0xc8, 0x00,
    0x00, 0x00, 0x64, 0x61, 0x74, 0x61, 0x20, 0x03, 0x00, 0x00, 0x00, 0x30, 0x00, 0x00, 0x00, 0x0f,
    0x6f, 0xff, 0xfd, 0xff, 0xf9, 0x00, 0x00, 0x00, 0x09, 0xfc, 0x4f, 0x67, 0xbe, 0x2d, 0x77, 0xfb,
    0xbe, 0x97, 0x59, 0xdd, 0x30, 0xff, 0xf3, 0x46, 0xbe, 0x0f, 0x6f, 0x2d, 0xbe,
];

/// `max_seconds` stops decoding past the limit for every format (WAV by its header, the
/// compressed ones while decoding) and lets shorter audio through.
#[test]
fn audio_longer_than_max_seconds_is_refused() {
    for name in [
        "speech_16k.wav",
        "speech_16k.flac",
        "speech_16k.mp3",
        "speech_16k.ogg",
    ] {
        let opts = LoadOptions {
            max_seconds: Some(1.0),
            ..model_options()
        };
        let err = load(fixture(name), &opts).unwrap_err();
        assert!(matches!(err, AudioError::TooLong { .. }), "{name}: {err:?}");
        assert!(err.to_string().contains("limit of 1 s"), "{err}");
        let bytes = std::fs::read(fixture(name)).unwrap();
        let err = ecapa2_audio::load_bytes(name, bytes, &opts).unwrap_err();
        assert!(matches!(err, AudioError::TooLong { .. }), "{name}: {err:?}");
        let opts = LoadOptions {
            max_seconds: Some(10.0),
            ..model_options()
        };
        assert!(load(fixture(name), &opts).is_ok(), "{name}");
    }
}

/// A compressed file damaged or cut after its header is corrupt, not a shorter file: before,
/// a FLAC with flipped bytes loaded 0.09 s of its 2.9 s and an MP3 cut to a tenth loaded that
/// tenth, both without an error. `keep_partial` keeps what decodes (shorter than the whole).
#[test]
fn damaged_or_cut_compressed_audio_is_corrupt_unless_partial_is_kept() {
    let strict = model_options();
    let lenient = LoadOptions {
        keep_partial: true,
        ..model_options()
    };
    for name in ["speech_16k.flac", "speech_16k.mp3", "speech_16k.ogg"] {
        let bytes = std::fs::read(fixture(name)).unwrap();
        let whole = ecapa2_audio::load_bytes(name, bytes.clone(), &strict)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .len();

        let mut flipped = bytes.clone();
        let at = bytes.len() * 3 / 10;
        for b in &mut flipped[at..at + 64] {
            *b ^= 0xFF;
        }
        let mut cut = bytes.clone();
        cut.truncate(bytes.len() / 10);

        // MP3 frames carry no checksum (decoders conceal damage inside a frame), so only a cut
        // is detectable there; FLAC frames and Ogg pages are checksummed.
        let mut cases = vec![("cut", cut)];
        if !name.ends_with(".mp3") {
            cases.push(("flipped", flipped));
        }
        for (damage, damaged) in cases {
            let err = match ecapa2_audio::load_bytes(name, damaged.clone(), &strict) {
                Ok(a) => panic!(
                    "{name} {damage}: loaded {} of {whole} samples as if whole",
                    a.len()
                ),
                Err(e) => e,
            };
            assert!(
                matches!(err, AudioError::Corrupt { .. }),
                "{name} {damage}: {err:?}"
            );
            assert!(err.to_string().contains(name), "{err}");
            match ecapa2_audio::load_bytes(name, damaged, &lenient) {
                Ok(partial) => assert!(
                    partial.len() < whole,
                    "{name} {damage}: {} of {whole} samples",
                    partial.len()
                ),
                // Too little left to embed is still an error, never a panic.
                Err(e) => assert!(
                    matches!(e, AudioError::TooShort { .. } | AudioError::Corrupt { .. }),
                    "{name} {damage}: {e:?}"
                ),
            }
        }
    }
}
