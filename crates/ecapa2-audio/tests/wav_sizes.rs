//! WAV size fields that disagree with the file (streaming writers, truncation) are repaired
//! from the file's real length, with one warning, as scipy and soundfile do.
//!
//! Expected samples are the PCM16 values written, divided by 32768: exact in f32, so the
//! comparisons are exact (tolerance 0).

mod common;

use std::sync::{Arc, Mutex};

use common::wav_bytes::{
    chunk, fmt_body, pcm16_bytes, pcm16_signal, riff_file, sized_chunk, w64_chunk, w64_chunk_sized,
    w64_file, W64_DATA, W64_FMT,
};
use ecapa2_audio::{decode_bytes, AudioError, Decoded};

const RATE: u32 = 16_000;

/// Mono PCM16 `fmt ` body.
fn mono16() -> Vec<u8> {
    fmt_body(1, 1, RATE, 2, 16, &[], false)
}

fn expected(samples: &[i16]) -> Vec<f32> {
    samples.iter().map(|&s| f32::from(s) / 32768.0).collect()
}

/// Decode `bytes`, returning the result and every line logged at WARN or above.
fn decode_logged(bytes: Vec<u8>) -> (Result<Decoded, AudioError>, Vec<String>) {
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let sink = Sink::default();
    let writer = sink.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let result = tracing::subscriber::with_default(subscriber, || decode_bytes("t.wav", bytes));
    let log = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    (result, log.lines().map(str::to_owned).collect())
}

fn decode_ok(bytes: Vec<u8>) -> (Decoded, Vec<String>) {
    let (result, warnings) = decode_logged(bytes);
    (result.unwrap_or_else(|e| panic!("{e}")), warnings)
}

#[test]
fn riff_size_smaller_than_the_audio_is_ignored() {
    // A streaming writer's header: RIFF size 36 (fmt + empty data), then the data size
    // patched, but never the RIFF size. symphonia: "chunk length exceeds parent chunk length".
    let samples = pcm16_signal(1000);
    let data = pcm16_bytes(&samples, false);
    let chunks = [
        sized_chunk(b"fmt ", &mono16(), false),
        sized_chunk(b"data", &data, false),
    ];
    let (d, warnings) = decode_ok(riff_file(b"RIFF", 36, &chunks, false));
    assert_eq!(d.channels, vec![expected(&samples)]);
    assert_eq!((d.sample_rate, d.codec.as_str()), (RATE, "PCM16 WAV"));
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("file header says 44 bytes"),
        "{warnings:?}"
    );
}

#[test]
fn data_size_zero_from_a_streaming_writer_reads_to_the_end() {
    // Both sizes left at their initial values (RIFF 36, data 0) with the audio appended.
    let samples = pcm16_signal(999);
    let chunks = [
        sized_chunk(b"fmt ", &mono16(), false),
        chunk(b"data", 0, &[], false),
    ];
    let mut bytes = riff_file(b"RIFF", 36, &chunks, false);
    bytes.extend_from_slice(&pcm16_bytes(&samples, false));
    let (d, warnings) = decode_ok(bytes);
    assert_eq!(d.channels, vec![expected(&samples)]);
    assert_eq!(warnings.len(), 1, "one warning per file: {warnings:?}");
    assert!(
        warnings[0].contains("data size is 0") && warnings[0].contains("t.wav"),
        "{warnings:?}"
    );
}

#[test]
fn unknown_sizes_read_to_the_end() {
    // RIFF size 0 and data size 0xFFFFFFFF (ffmpeg's "unknown" for pipes); an odd trailing
    // byte (half a sample) is dropped.
    let samples = pcm16_signal(500);
    let chunks = [
        sized_chunk(b"fmt ", &mono16(), false),
        chunk(b"data", u32::MAX, &pcm16_bytes(&samples, false), false),
    ];
    let mut bytes = riff_file(b"RIFF", 0, &chunks, false);
    bytes.push(0x7F);
    let (d, warnings) = decode_ok(bytes);
    assert_eq!(d.channels, vec![expected(&samples)]);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("data size is unknown"), "{warnings:?}");
}

#[test]
fn data_size_past_the_end_keeps_what_is_there() {
    let samples = pcm16_signal(300);
    let chunks = [
        sized_chunk(b"fmt ", &mono16(), false),
        chunk(b"data", 1_000_000, &pcm16_bytes(&samples, false), false),
    ];
    let (d, warnings) = decode_ok(riff_file(b"RIFF", 1_000_036, &chunks, false));
    assert_eq!(d.channels, vec![expected(&samples)]);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("truncated"), "{warnings:?}");
}

#[test]
fn an_empty_data_chunk_followed_by_another_chunk_stays_empty() {
    // Size 0 is only a placeholder when no chunk follows it: this file really has no audio.
    let list = sized_chunk(b"LIST", b"INFOISFT\x04\0\0\0test", false);
    let chunks = [
        sized_chunk(b"fmt ", &mono16(), false),
        chunk(b"data", 0, &[], false),
        list,
    ];
    let len = 4 + chunks.iter().map(Vec::len).sum::<usize>();
    let (d, warnings) = decode_ok(riff_file(b"RIFF", len as u32, &chunks, false));
    assert_eq!((d.channels.len(), d.frames()), (1, 0));
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[test]
fn a_consistent_file_gives_no_warning() {
    let samples = pcm16_signal(64);
    let (d, warnings) = decode_ok(common::wav_bytes::wav(
        &mono16(),
        &pcm16_bytes(&samples, false),
    ));
    assert_eq!(d.channels, vec![expected(&samples)]);
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[test]
fn wave64_data_size_placeholder_reads_to_the_end() {
    let samples = pcm16_signal(700);
    let mut bytes = w64_file(&[
        w64_chunk(&W64_FMT, &mono16()),
        w64_chunk_sized(&W64_DATA, 0, &[]),
    ]);
    bytes.extend_from_slice(&pcm16_bytes(&samples, false));
    let (d, warnings) = decode_ok(bytes);
    assert_eq!(d.channels, vec![expected(&samples)]);
    assert_eq!(d.codec, "PCM16 Wave64");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
}

#[test]
fn a_chunk_running_past_the_end_before_the_audio_is_corrupt() {
    let chunks = [
        sized_chunk(b"fmt ", &mono16(), false),
        chunk(b"LIST", 5000, b"INFO", false),
    ];
    let (result, _) = decode_logged(riff_file(b"RIFF", 5036, &chunks, false));
    let err = result.unwrap_err();
    assert!(matches!(err, AudioError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("'LIST' chunk"), "{err}");
}
