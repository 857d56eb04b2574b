//! Shared test helpers: fixture paths, an independent RIFF/WAV reader and signal metrics.
#![allow(dead_code)]

pub mod wav_bytes;

use std::path::PathBuf;

/// Path of a file in `tests/fixtures/audio/` at the workspace root.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/audio")
        .join(name)
}

/// A WAV file parsed by hand (no symphonia), to check the decoder against.
pub struct RawWav {
    /// `wFormatTag` (1 = PCM, 3 = IEEE float, 0xFFFE = extensible).
    pub format_tag: u16,
    pub channels: usize,
    pub rate: u32,
    pub bits: u16,
    pub data: Vec<u8>,
}

impl RawWav {
    pub fn read(name: &str) -> RawWav {
        let bytes = std::fs::read(fixture(name)).unwrap();
        assert_eq!(&bytes[0..4], b"RIFF");
        assert_eq!(&bytes[8..12], b"WAVE");
        let mut pos = 12;
        let mut fmt = None;
        let mut data = None;
        while pos + 8 <= bytes.len() {
            let id = &bytes[pos..pos + 4];
            let len = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().unwrap()) as usize;
            let body = &bytes[pos + 8..(pos + 8 + len).min(bytes.len())];
            match id {
                b"fmt " => fmt = Some(body.to_vec()),
                b"data" => data = Some(body.to_vec()),
                _ => {}
            }
            pos += 8 + len + (len & 1);
        }
        let fmt = fmt.expect("fmt chunk");
        let u16_at = |i: usize| u16::from_le_bytes([fmt[i], fmt[i + 1]]);
        RawWav {
            format_tag: u16_at(0),
            channels: u16_at(2) as usize,
            rate: u32::from_le_bytes(fmt[4..8].try_into().unwrap()),
            bits: u16_at(14),
            data: data.expect("data chunk"),
        }
    }

    /// Interleaved samples scaled like torchaudio: signed ints by 2^(bits-1), u8 as
    /// (x - 128) / 128, float32 as is. Computed in f64, rounded once to f32.
    pub fn samples(&self) -> Vec<f32> {
        let d = &self.data;
        match self.bits {
            8 => d
                .iter()
                .map(|&b| ((f64::from(b) - 128.0) / 128.0) as f32)
                .collect(),
            16 => d
                .chunks_exact(2)
                .map(|c| (f64::from(i16::from_le_bytes([c[0], c[1]])) / 32768.0) as f32)
                .collect(),
            24 => d
                .chunks_exact(3)
                .map(|c| {
                    let v = i32::from_le_bytes([0, c[0], c[1], c[2]]) >> 8;
                    (f64::from(v) / 8_388_608.0) as f32
                })
                .collect(),
            32 if self.is_float() => d
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect(),
            32 => d
                .chunks_exact(4)
                .map(|c| {
                    (f64::from(i32::from_le_bytes(c.try_into().unwrap())) / 2_147_483_648.0) as f32
                })
                .collect(),
            b => panic!("unhandled bit depth {b}"),
        }
    }

    /// Planar samples, one vector per channel.
    pub fn planar(&self) -> Vec<Vec<f32>> {
        let inter = self.samples();
        (0..self.channels)
            .map(|c| {
                inter
                    .iter()
                    .skip(c)
                    .step_by(self.channels)
                    .copied()
                    .collect()
            })
            .collect()
    }

    fn is_float(&self) -> bool {
        // Extensible headers carry the subformat GUID; our float fixtures use tag 3.
        self.format_tag == 3
    }
}

/// Signal-to-error ratio in dB of `test` against `reference` over `range`.
pub fn snr_db(reference: &[f32], test: &[f32], range: std::ops::Range<usize>) -> f64 {
    let (mut sig, mut err) = (0.0f64, 0.0f64);
    for i in range {
        let r = f64::from(reference[i]);
        sig += r * r;
        err += (r - f64::from(test[i])).powi(2);
    }
    10.0 * (sig / err.max(1e-300)).log10()
}

/// Largest absolute difference over `range`.
pub fn max_abs_err(a: &[f32], b: &[f32], range: std::ops::Range<usize>) -> f64 {
    range
        .map(|i| (f64::from(a[i]) - f64::from(b[i])).abs())
        .fold(0.0, f64::max)
}

/// Read a raw little-endian float32 file from the fixtures.
pub fn read_f32_raw(name: &str) -> Vec<f32> {
    std::fs::read(fixture(name))
        .unwrap()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}
