//! Reading the `data` chunk block by block into planar `f32`, scaled as torchaudio does.
//!
//! Integer samples are divided by 2^(container bits - 1), so PCM16 is `x / 32768` and a
//! 20-in-24 sample is `x24 / 2^23` (valid bits are MSB-aligned, as ffmpeg and libsndfile read
//! them); 8-bit is `(x - 128) / 128`; A-law and µ-law are expanded to 16 bits, then `/ 32768`.

use std::io::Read;

use super::container::ByteOrder;
use super::format::{Encoding, SampleFormat};
use super::g711::{alaw_to_i16, mulaw_to_i16};
use super::{read_full, Problem};

/// Bytes read per block: small enough to keep the copy of the file in memory short, large
/// enough that per-read overhead does not matter.
const BLOCK_BYTES: usize = 1 << 16;

/// The samples of the `data_len` bytes at the reader's position, one vector per channel.
/// Only whole frames are kept. Returns whether the file ended early (it shrank while read).
pub(super) fn read_planar<R: Read>(
    r: &mut R,
    format: &SampleFormat,
    data_len: u64,
) -> Result<(Vec<Vec<f32>>, bool), Problem> {
    let frame_bytes = format.frame_bytes();
    let frames = usize::try_from(data_len / frame_bytes as u64).unwrap_or(usize::MAX);
    // data_len was bounded by the file's real length, so this reserves at most 4x the file.
    let mut channels: Vec<Vec<f32>> = (0..format.channels)
        .map(|_| Vec::with_capacity(frames))
        .collect();

    let frames_per_block = (BLOCK_BYTES / frame_bytes).max(1);
    let mut block = vec![0u8; frames_per_block * frame_bytes];
    let mut left = frames;
    while left > 0 {
        let want = left.min(frames_per_block) * frame_bytes;
        let got = read_full(r, &mut block[..want])?;
        let whole = got - got % frame_bytes;
        deinterleave(&block[..whole], format, &mut channels);
        if got < want {
            return Ok((channels, true));
        }
        left -= want / frame_bytes;
    }
    Ok((channels, false))
}

/// Append the frames of `block` (whole frames only) to `channels`.
fn deinterleave(block: &[u8], format: &SampleFormat, channels: &mut [Vec<f32>]) {
    let w = format.width;
    let big = format.order == ByteOrder::Big;
    match (format.encoding, w) {
        (Encoding::Int, 1) => split(block, w, channels, |s| (f32::from(s[0]) - 128.0) / 128.0),
        (Encoding::Int, _) => split(block, w, channels, |s| {
            // Left-justify into an i32, so every width scales by the same 2^-31.
            let mut b = [0u8; 4];
            let v = if big {
                b[..w].copy_from_slice(s);
                i32::from_be_bytes(b)
            } else {
                b[4 - w..].copy_from_slice(s);
                i32::from_le_bytes(b)
            };
            v as f32 * (1.0 / 2_147_483_648.0)
        }),
        (Encoding::Float, 4) => split(block, w, channels, |s| {
            let b = [s[0], s[1], s[2], s[3]];
            if big {
                f32::from_be_bytes(b)
            } else {
                f32::from_le_bytes(b)
            }
        }),
        (Encoding::Float, _) => split(block, w, channels, |s| {
            let b = [s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]];
            (if big {
                f64::from_be_bytes(b)
            } else {
                f64::from_le_bytes(b)
            }) as f32
        }),
        (Encoding::ALaw, _) => split(block, w, channels, |s| {
            f32::from(alaw_to_i16(s[0])) / 32768.0
        }),
        (Encoding::MuLaw, _) => split(block, w, channels, |s| {
            f32::from(mulaw_to_i16(s[0])) / 32768.0
        }),
    }
}

/// Convert every `width`-byte sample of `block` with `convert`, channel by channel.
fn split(block: &[u8], width: usize, channels: &mut [Vec<f32>], convert: impl Fn(&[u8]) -> f32) {
    let frame = width * channels.len();
    for (c, out) in channels.iter_mut().enumerate() {
        let at = c * width;
        out.extend(
            block
                .chunks_exact(frame)
                .map(|f| convert(&f[at..at + width])),
        );
    }
}
