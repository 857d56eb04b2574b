//! WAV-family files that are valid but were refused: RF64, BW64, Wave64, RIFX, 12-in-16 and
//! 20-in-24-bit PCM, A-law/µ-law with a 20-byte `fmt ` chunk; and clear messages for what
//! stays unsupported.
//!
//! Expected values are computed here from the integers written (exact in f32, so compared
//! exactly) or, for A-law/µ-law, taken from CPython's `audioop` (an independent G.711
//! implementation).

mod common;

use common::wav_bytes::{
    fmt_body, pcm16_bytes, pcm16_signal, rf64, riff_file, sized_chunk, w64_chunk, w64_file, wav,
    W64_DATA, W64_FMT,
};
use ecapa2_audio::{decode, decode_bytes, AudioError, Decoded};

fn decode_ok(name: &str, bytes: Vec<u8>) -> Decoded {
    decode_bytes(name, bytes).unwrap_or_else(|e| panic!("{e}"))
}

/// Planar expected values of interleaved integers divided by `scale`.
fn planar(interleaved: &[i32], channels: usize, scale: f64) -> Vec<Vec<f32>> {
    (0..channels)
        .map(|c| {
            interleaved[c..]
                .iter()
                .step_by(channels)
                .map(|&v| (f64::from(v) / scale) as f32)
                .collect()
        })
        .collect()
}

fn stereo16() -> (Vec<u8>, Vec<i16>) {
    (
        fmt_body(1, 2, 44_100, 4, 16, &[], false),
        pcm16_signal(2 * 600),
    )
}

fn widen(s: &[i16]) -> Vec<i32> {
    s.iter().map(|&v| i32::from(v)).collect()
}

#[test]
fn pcm_12_in_16_bits_scales_by_the_container() {
    // Non-extensible header: bits_per_sample 12, block_align 2 per channel. The 12 valid bits
    // are the top ones of each 16-bit word (low 4 bits zero), as a 12-bit ADC writes them.
    let values: Vec<i32> = (0..2 * 400).map(|i| ((i * 37) % 4096) - 2048).collect();
    let words: Vec<i16> = values.iter().map(|&v| (v << 4) as i16).collect();
    let fmt = fmt_body(1, 2, 8000, 4, 12, &[], false);
    let d = decode_ok("x.wav", wav(&fmt, &pcm16_bytes(&words, false)));
    assert_eq!(d.codec, "PCM12 WAV");
    // v << 4 over 2^15 is v over 2^11: full scale of the 12-bit value.
    assert_eq!(d.channels, planar(&values, 2, 2048.0));
}

#[test]
fn pcm_20_in_24_bits_scales_by_the_container() {
    let values: Vec<i32> = (0..3 * 300)
        .map(|i| ((i * 7919) % (1 << 20)) - (1 << 19))
        .collect();
    let data: Vec<u8> = values
        .iter()
        .flat_map(|&v| (v << 4).to_le_bytes()[..3].to_vec())
        .collect();
    let fmt = fmt_body(1, 3, 48_000, 9, 20, &[], false);
    let d = decode_ok("x.wav", wav(&fmt, &data));
    assert_eq!(d.codec, "PCM20 WAV");
    assert_eq!(d.channels, planar(&values, 3, f64::from(1 << 19)));
}

/// CPython 3.11 `audioop.ulaw2lin(bytes(range(256)), 2)`.
const ULAW_AUDIOOP: [i16; 256] = [
    -32124, -31100, -30076, -29052, -28028, -27004, -25980, -24956, -23932, -22908, -21884, -20860,
    -19836, -18812, -17788, -16764, -15996, -15484, -14972, -14460, -13948, -13436, -12924, -12412,
    -11900, -11388, -10876, -10364, -9852, -9340, -8828, -8316, -7932, -7676, -7420, -7164, -6908,
    -6652, -6396, -6140, -5884, -5628, -5372, -5116, -4860, -4604, -4348, -4092, -3900, -3772,
    -3644, -3516, -3388, -3260, -3132, -3004, -2876, -2748, -2620, -2492, -2364, -2236, -2108,
    -1980, -1884, -1820, -1756, -1692, -1628, -1564, -1500, -1436, -1372, -1308, -1244, -1180,
    -1116, -1052, -988, -924, -876, -844, -812, -780, -748, -716, -684, -652, -620, -588, -556,
    -524, -492, -460, -428, -396, -372, -356, -340, -324, -308, -292, -276, -260, -244, -228, -212,
    -196, -180, -164, -148, -132, -120, -112, -104, -96, -88, -80, -72, -64, -56, -48, -40, -32,
    -24, -16, -8, 0, 32124, 31100, 30076, 29052, 28028, 27004, 25980, 24956, 23932, 22908, 21884,
    20860, 19836, 18812, 17788, 16764, 15996, 15484, 14972, 14460, 13948, 13436, 12924, 12412,
    11900, 11388, 10876, 10364, 9852, 9340, 8828, 8316, 7932, 7676, 7420, 7164, 6908, 6652, 6396,
    6140, 5884, 5628, 5372, 5116, 4860, 4604, 4348, 4092, 3900, 3772, 3644, 3516, 3388, 3260, 3132,
    3004, 2876, 2748, 2620, 2492, 2364, 2236, 2108, 1980, 1884, 1820, 1756, 1692, 1628, 1564, 1500,
    1436, 1372, 1308, 1244, 1180, 1116, 1052, 988, 924, 876, 844, 812, 780, 748, 716, 684, 652,
    620, 588, 556, 524, 492, 460, 428, 396, 372, 356, 340, 324, 308, 292, 276, 260, 244, 228, 212,
    196, 180, 164, 148, 132, 120, 112, 104, 96, 88, 80, 72, 64, 56, 48, 40, 32, 24, 16, 8, 0,
];

/// CPython 3.11 `audioop.alaw2lin(bytes(range(256)), 2)`.
const ALAW_AUDIOOP: [i16; 256] = [
    -5504, -5248, -6016, -5760, -4480, -4224, -4992, -4736, -7552, -7296, -8064, -7808, -6528,
    -6272, -7040, -6784, -2752, -2624, -3008, -2880, -2240, -2112, -2496, -2368, -3776, -3648,
    -4032, -3904, -3264, -3136, -3520, -3392, -22016, -20992, -24064, -23040, -17920, -16896,
    -19968, -18944, -30208, -29184, -32256, -31232, -26112, -25088, -28160, -27136, -11008, -10496,
    -12032, -11520, -8960, -8448, -9984, -9472, -15104, -14592, -16128, -15616, -13056, -12544,
    -14080, -13568, -344, -328, -376, -360, -280, -264, -312, -296, -472, -456, -504, -488, -408,
    -392, -440, -424, -88, -72, -120, -104, -24, -8, -56, -40, -216, -200, -248, -232, -152, -136,
    -184, -168, -1376, -1312, -1504, -1440, -1120, -1056, -1248, -1184, -1888, -1824, -2016, -1952,
    -1632, -1568, -1760, -1696, -688, -656, -752, -720, -560, -528, -624, -592, -944, -912, -1008,
    -976, -816, -784, -880, -848, 5504, 5248, 6016, 5760, 4480, 4224, 4992, 4736, 7552, 7296, 8064,
    7808, 6528, 6272, 7040, 6784, 2752, 2624, 3008, 2880, 2240, 2112, 2496, 2368, 3776, 3648, 4032,
    3904, 3264, 3136, 3520, 3392, 22016, 20992, 24064, 23040, 17920, 16896, 19968, 18944, 30208,
    29184, 32256, 31232, 26112, 25088, 28160, 27136, 11008, 10496, 12032, 11520, 8960, 8448, 9984,
    9472, 15104, 14592, 16128, 15616, 13056, 12544, 14080, 13568, 344, 328, 376, 360, 280, 264,
    312, 296, 472, 456, 504, 488, 408, 392, 440, 424, 88, 72, 120, 104, 24, 8, 56, 40, 216, 200,
    248, 232, 152, 136, 184, 168, 1376, 1312, 1504, 1440, 1120, 1056, 1248, 1184, 1888, 1824, 2016,
    1952, 1632, 1568, 1760, 1696, 688, 656, 752, 720, 560, 528, 624, 592, 944, 912, 1008, 976, 816,
    784, 880, 848,
];

#[test]
fn mulaw_and_alaw_with_a_20_byte_fmt_match_the_g711_tables() {
    // WAVEFORMATEX with cbSize = 2 and two extra bytes (samples per block), as some Windows
    // tools write it; symphonia accepted only an 18-byte chunk.
    let data: Vec<u8> = (0..=255u8).collect();
    for (tag, table, codec) in [
        (7u16, &ULAW_AUDIOOP, "mu-law WAV"),
        (6, &ALAW_AUDIOOP, "A-law WAV"),
    ] {
        let fmt = fmt_body(tag, 1, 8000, 1, 8, &[2, 0, 1, 0], false);
        assert_eq!(fmt.len(), 20);
        let d = decode_ok("x.wav", wav(&fmt, &data));
        assert_eq!(d.codec, codec);
        let expected: Vec<f32> = table.iter().map(|&v| f32::from(v) / 32768.0).collect();
        assert_eq!(d.channels, vec![expected], "{codec}");
    }
}

#[test]
fn rf64_and_bw64_take_their_sizes_from_ds64() {
    let (fmt, samples) = stereo16();
    let data = pcm16_bytes(&samples, false);
    for (magic, codec) in [(b"RF64", "PCM16 RF64 WAV"), (b"BW64", "PCM16 BW64 WAV")] {
        let mut bytes = rf64(magic, &fmt, &data);
        // Bytes after the data chunk that ds64 does not count are not audio.
        bytes.extend_from_slice(&[0x55; 64]);
        let d = decode_ok("x.rf64", bytes);
        assert_eq!(d.codec, codec);
        assert_eq!(d.sample_rate, 44_100);
        assert_eq!(d.channels, planar(&widen(&samples), 2, 32768.0));
    }
}

#[test]
fn wave64_pcm16_and_float32() {
    let (fmt, samples) = stereo16();
    let junk = w64_chunk(&[0xAB; 16], b"a chunk this reader does not know");
    let bytes = w64_file(&[
        w64_chunk(&W64_FMT, &fmt),
        junk,
        w64_chunk(&W64_DATA, &pcm16_bytes(&samples, false)),
    ]);
    let d = decode_ok("x.w64", bytes);
    assert_eq!(d.codec, "PCM16 Wave64");
    assert_eq!(d.channels, planar(&widen(&samples), 2, 32768.0));

    let floats = [0.5f32, -0.25, 1.0, -1.0, 1e-6, 0.0];
    let data: Vec<u8> = floats.iter().flat_map(|f| f.to_le_bytes()).collect();
    let fmt = fmt_body(3, 1, 16_000, 4, 32, &[], false);
    let d = decode_ok(
        "x.w64",
        w64_file(&[w64_chunk(&W64_FMT, &fmt), w64_chunk(&W64_DATA, &data)]),
    );
    assert_eq!(d.codec, "float32 Wave64");
    assert_eq!(d.channels, vec![floats.to_vec()]);
}

#[test]
fn rifx_big_endian_pcm16_and_float64() {
    let (_, samples) = stereo16();
    let fmt = fmt_body(1, 2, 22_050, 4, 16, &[], true);
    let chunks = [
        sized_chunk(b"fmt ", &fmt, true),
        sized_chunk(b"data", &pcm16_bytes(&samples, true), true),
    ];
    let len = 4 + chunks.iter().map(Vec::len).sum::<usize>();
    let d = decode_ok("x.wav", riff_file(b"RIFX", len as u32, &chunks, true));
    assert_eq!(
        (d.codec.as_str(), d.sample_rate),
        ("PCM16 RIFX WAV", 22_050)
    );
    assert_eq!(d.channels, planar(&widen(&samples), 2, 32768.0));

    let values = [0.125f64, -0.75, 0.1];
    let data: Vec<u8> = values.iter().flat_map(|v| v.to_be_bytes()).collect();
    let fmt = fmt_body(3, 1, 8000, 8, 64, &[], true);
    let chunks = [
        sized_chunk(b"fmt ", &fmt, true),
        sized_chunk(b"data", &data, true),
    ];
    let len = 4 + chunks.iter().map(Vec::len).sum::<usize>();
    let d = decode_ok("x.wav", riff_file(b"RIFX", len as u32, &chunks, true));
    assert_eq!(d.codec, "float64 RIFX WAV");
    // f64 -> f32 rounds once (0.1 is not exact in either).
    assert_eq!(d.channels, vec![values.map(|v| v as f32).to_vec()]);
}

// Written by soundfile 0.14 / libsndfile 1.2.2, an independent writer of these containers:
//   x = np.arange(6, dtype=np.int16).reshape(3, 2) * 1000
//   sf.write("a.w64", x, 8000, format="W64", subtype="PCM_16")
//   sf.write("a.rf64", x, 8000, format="RF64", subtype="PCM_16")  # extensible fmt, ds64
//   sf.write("a_rifx.wav", x, 8000, format="WAV", subtype="PCM_16", endian="BIG")
const LIBSNDFILE_W64: [u8; 116] = [
    0x72, 0x69, 0x66, 0x66, 0x2e, 0x91, 0xcf, 0x11, 0xa5, 0xd6, 0x28, 0xdb, 0x04, 0xc1, 0x00, 0x00,
    0x74, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x77, 0x61, 0x76, 0x65, 0xf3, 0xac, 0xd3, 0x11,
    0x8c, 0xd1, 0x00, 0xc0, 0x4f, 0x8e, 0xdb, 0x8a, 0x66, 0x6d, 0x74, 0x20, 0xf3, 0xac, 0xd3, 0x11,
    0x8c, 0xd1, 0x00, 0xc0, 0x4f, 0x8e, 0xdb, 0x8a, 0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x02, 0x00, 0x40, 0x1f, 0x00, 0x00, 0x00, 0x7d, 0x00, 0x00, 0x04, 0x00, 0x10, 0x00,
    0x64, 0x61, 0x74, 0x61, 0xf3, 0xac, 0xd3, 0x11, 0x8c, 0xd1, 0x00, 0xc0, 0x4f, 0x8e, 0xdb, 0x8a,
    0x24, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xe8, 0x03, 0xd0, 0x07, 0xb8, 0x0b,
    0xa0, 0x0f, 0x88, 0x13,
];
const LIBSNDFILE_RF64: [u8; 116] = [
    0x52, 0x46, 0x36, 0x34, 0xff, 0xff, 0xff, 0xff, 0x57, 0x41, 0x56, 0x45, 0x64, 0x73, 0x36, 0x34,
    0x1c, 0x00, 0x00, 0x00, 0x6c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x66, 0x6d, 0x74, 0x20, 0x28, 0x00, 0x00, 0x00, 0xfe, 0xff, 0x02, 0x00, 0x40, 0x1f, 0x00, 0x00,
    0x00, 0x7d, 0x00, 0x00, 0x04, 0x00, 0x10, 0x00, 0x16, 0x00, 0x10, 0x00, 0x03, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71,
    0x64, 0x61, 0x74, 0x61, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0xe8, 0x03, 0xd0, 0x07, 0xb8, 0x0b,
    0xa0, 0x0f, 0x88, 0x13,
];
const LIBSNDFILE_RIFX: [u8; 56] = [
    0x52, 0x49, 0x46, 0x58, 0x00, 0x00, 0x00, 0x30, 0x57, 0x41, 0x56, 0x45, 0x66, 0x6d, 0x74, 0x20,
    0x00, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x1f, 0x40, 0x00, 0x00, 0x7d, 0x00,
    0x00, 0x04, 0x00, 0x10, 0x64, 0x61, 0x74, 0x61, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x03, 0xe8,
    0x07, 0xd0, 0x0b, 0xb8, 0x0f, 0xa0, 0x13, 0x88,
];

#[test]
fn files_written_by_libsndfile_decode() {
    // soundfile reads all three as [[0, 1000], [2000, 3000], [4000, 5000]] / 32768.
    let expected = planar(&[0, 1000, 2000, 3000, 4000, 5000], 2, 32768.0);
    for (name, bytes, codec) in [
        ("a.w64", &LIBSNDFILE_W64[..], "PCM16 Wave64"),
        ("a.rf64", &LIBSNDFILE_RF64[..], "PCM16 RF64 WAV"),
        ("a_rifx.wav", &LIBSNDFILE_RIFX[..], "PCM16 RIFX WAV"),
    ] {
        let d = decode_ok(name, bytes.to_vec());
        assert_eq!((d.codec.as_str(), d.sample_rate), (codec, 8000), "{name}");
        assert_eq!(d.channels, expected, "{name}");
    }
}

#[test]
fn a_long_wave64_file_streams_from_disk_like_from_memory() {
    // 3 s of stereo 48 kHz PCM16 (576 KB): many read blocks, a partial one at the end.
    let samples = pcm16_signal(2 * 144_001);
    let fmt = fmt_body(1, 2, 48_000, 4, 16, &[], false);
    let bytes = w64_file(&[
        w64_chunk(&W64_FMT, &fmt),
        w64_chunk(&W64_DATA, &pcm16_bytes(&samples, false)),
    ]);
    let dir = std::env::temp_dir().join(format!("ecapa2-w64-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("long.w64");
    std::fs::write(&path, &bytes).unwrap();
    let from_disk = decode(&path);
    std::fs::remove_dir_all(&dir).ok();
    let from_disk = from_disk.unwrap();
    assert_eq!(from_disk.frames(), 144_001);
    assert_eq!(from_disk.channels, planar(&widen(&samples), 2, 32768.0));
    assert_eq!(from_disk, decode_ok("long.w64", bytes));
}

#[test]
fn an_unsupported_wav_codec_says_what_it_is_and_how_to_convert() {
    // IMA ADPCM, 4 bits, cbSize 2 + samples per block.
    let fmt = fmt_body(0x0011, 1, 8000, 256, 4, &[2, 0, 0xF9, 0x01], false);
    let err = decode_bytes("adpcm.wav", wav(&fmt, &[0; 256])).unwrap_err();
    assert!(matches!(err, AudioError::Unsupported { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.starts_with("adpcm.wav: ")
            && msg.contains("IMA ADPCM")
            && msg.contains("ffmpeg -i in.wav out.flac"),
        "{msg}"
    );
}

#[test]
fn a_riff_file_that_is_not_wave_says_what_it_is() {
    let avi = riff_file(b"RIFF", 16, &[sized_chunk(b"LIST", b"hdrl", false)], false);
    let bytes = [&avi[..8], b"AVI ", &avi[12..]].concat();
    let err = decode_bytes("clip.wav", bytes).unwrap_err();
    assert!(matches!(err, AudioError::Unsupported { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("AVI video") && msg.contains("ffmpeg"), "{msg}");
}
