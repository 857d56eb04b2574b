//! Building WAV-family files byte by byte, with every size field under the test's control.
#![allow(dead_code)]

/// A `fmt ` body: tag, channels, rate, byte rate, block align, bits, then `extra` verbatim
/// (cbSize and extension, if any). Little-endian unless `big`.
pub fn fmt_body(
    tag: u16,
    channels: u16,
    rate: u32,
    block_align: u16,
    bits: u16,
    extra: &[u8],
    big: bool,
) -> Vec<u8> {
    let mut b = Vec::new();
    put16(&mut b, tag, big);
    put16(&mut b, channels, big);
    put32(&mut b, rate, big);
    put32(&mut b, rate * u32::from(block_align), big);
    put16(&mut b, block_align, big);
    put16(&mut b, bits, big);
    b.extend_from_slice(extra);
    b
}

/// A RIFF-style chunk: id, the given size field (not necessarily the body's length), body,
/// pad byte if the body is odd.
pub fn chunk(id: &[u8; 4], size: u32, body: &[u8], big: bool) -> Vec<u8> {
    let mut b = id.to_vec();
    put32(&mut b, size, big);
    b.extend_from_slice(body);
    if body.len() % 2 == 1 {
        b.push(0);
    }
    b
}

/// A chunk whose size field is its body's length.
pub fn sized_chunk(id: &[u8; 4], body: &[u8], big: bool) -> Vec<u8> {
    chunk(id, body.len() as u32, body, big)
}

/// `magic` (RIFF, RIFX, RF64, BW64), the given size field, "WAVE", then the chunks.
pub fn riff_file(magic: &[u8; 4], size: u32, chunks: &[Vec<u8>], big: bool) -> Vec<u8> {
    let mut b = magic.to_vec();
    put32(&mut b, size, big);
    b.extend_from_slice(b"WAVE");
    for c in chunks {
        b.extend_from_slice(c);
    }
    b
}

/// A well-formed little-endian RIFF WAV with these `fmt ` and `data` bodies.
pub fn wav(fmt: &[u8], data: &[u8]) -> Vec<u8> {
    let chunks = [
        sized_chunk(b"fmt ", fmt, false),
        sized_chunk(b"data", data, false),
    ];
    let len: usize = 4 + chunks.iter().map(Vec::len).sum::<usize>();
    riff_file(b"RIFF", len as u32, &chunks, false)
}

/// An RF64 (or BW64, by `magic`) file: 32-bit sizes all 0xFFFFFFFF, the real ones in `ds64`.
pub fn rf64(magic: &[u8; 4], fmt: &[u8], data: &[u8]) -> Vec<u8> {
    let fmt_chunk = sized_chunk(b"fmt ", fmt, false);
    let data_chunk = chunk(b"data", u32::MAX, data, false);
    let ds64_len = 8 + 28;
    let riff_size = (4 + ds64_len + fmt_chunk.len() + data_chunk.len()) as u64;
    let mut ds64 = Vec::new();
    ds64.extend_from_slice(&riff_size.to_le_bytes());
    ds64.extend_from_slice(&(data.len() as u64).to_le_bytes());
    ds64.extend_from_slice(&0u64.to_le_bytes()); // sample count: only for non-PCM
    ds64.extend_from_slice(&0u32.to_le_bytes()); // no table
    let chunks = [sized_chunk(b"ds64", &ds64, false), fmt_chunk, data_chunk];
    riff_file(magic, u32::MAX, &chunks, false)
}

/// Sony Wave64 GUIDs as stored on disk.
pub const W64_RIFF: [u8; 16] = guid(
    *b"riff",
    [
        0x2E, 0x91, 0xCF, 0x11, 0xA5, 0xD6, 0x28, 0xDB, 0x04, 0xC1, 0x00, 0x00,
    ],
);
pub const W64_WAVE: [u8; 16] = guid(*b"wave", W64_TAIL);
pub const W64_FMT: [u8; 16] = guid(*b"fmt ", W64_TAIL);
pub const W64_DATA: [u8; 16] = guid(*b"data", W64_TAIL);
const W64_TAIL: [u8; 12] = [
    0xF3, 0xAC, 0xD3, 0x11, 0x8C, 0xD1, 0x00, 0xC0, 0x4F, 0x8E, 0xDB, 0x8A,
];

const fn guid(head: [u8; 4], tail: [u8; 12]) -> [u8; 16] {
    let mut g = [0u8; 16];
    let mut i = 0;
    while i < 16 {
        g[i] = if i < 4 { head[i] } else { tail[i - 4] };
        i += 1;
    }
    g
}

/// A Wave64 chunk: GUID, 64-bit size including the 24-byte header, body, padding to 8 bytes.
pub fn w64_chunk(guid: &[u8; 16], body: &[u8]) -> Vec<u8> {
    w64_chunk_sized(guid, 24 + body.len() as u64, body)
}

/// A Wave64 chunk with the given size field.
pub fn w64_chunk_sized(guid: &[u8; 16], size: u64, body: &[u8]) -> Vec<u8> {
    let mut b = guid.to_vec();
    b.extend_from_slice(&size.to_le_bytes());
    b.extend_from_slice(body);
    while !b.len().is_multiple_of(8) {
        b.push(0);
    }
    b
}

/// A Wave64 file holding `chunks`, its size field the real length.
pub fn w64_file(chunks: &[Vec<u8>]) -> Vec<u8> {
    let body: Vec<u8> = chunks.concat();
    let mut b = W64_RIFF.to_vec();
    b.extend_from_slice(&(40 + body.len() as u64).to_le_bytes());
    b.extend_from_slice(&W64_WAVE);
    b.extend_from_slice(&body);
    b
}

/// Interleaved 16-bit samples as bytes.
pub fn pcm16_bytes(samples: &[i16], big: bool) -> Vec<u8> {
    samples
        .iter()
        .flat_map(|s| {
            if big {
                s.to_be_bytes()
            } else {
                s.to_le_bytes()
            }
        })
        .collect()
}

/// A deterministic test signal covering the whole 16-bit range, extremes included.
pub fn pcm16_signal(n: usize) -> Vec<i16> {
    (0..n)
        .map(|i| match i {
            0 => i16::MIN,
            1 => i16::MAX,
            _ => ((i as u32).wrapping_mul(2_654_435_761) >> 16) as u16 as i16,
        })
        .collect()
}

fn put16(b: &mut Vec<u8>, v: u16, big: bool) {
    b.extend_from_slice(&if big {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    });
}

fn put32(b: &mut Vec<u8>, v: u32, big: bool) {
    b.extend_from_slice(&if big {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    });
}
