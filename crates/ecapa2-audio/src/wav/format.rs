//! The `fmt ` chunk: how the samples are encoded.
//!
//! Accepted as real writers produce it, not only as the spec draws it: integer PCM whose
//! `bits_per_sample` is below its container (12 bits in 16, 20 in 24, 24 in 32: the container
//! comes from `block_align`, samples are MSB-aligned), and A-law/µ-law `fmt ` chunks of any
//! length with any `cbSize`.

use super::container::ByteOrder;
use super::Problem;

/// What to do about a format this crate does not decode.
pub(super) const CONVERT_HINT: &str =
    "convert it to PCM WAV or FLAC first, e.g. `ffmpeg -i in.wav out.flac`";

/// How one sample is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Encoding {
    /// Integer PCM: unsigned with offset 128 in 1-byte containers, two's complement in 2 to 4.
    Int,
    /// IEEE float, 4 or 8 bytes.
    Float,
    /// G.711 A-law, 1 byte.
    ALaw,
    /// G.711 µ-law, 1 byte.
    MuLaw,
}

/// The decoded `fmt ` chunk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct SampleFormat {
    /// How each sample is stored.
    pub encoding: Encoding,
    /// Bytes per sample (the container, not the valid bits).
    pub width: usize,
    /// Interleaved channels per frame (at least 1).
    pub channels: usize,
    /// Frames per second (at least 1).
    pub sample_rate: u32,
    /// Byte order of multi-byte samples.
    pub order: ByteOrder,
    /// Codec name for [`Decoded::codec`](crate::Decoded), e.g. "PCM16", "PCM20", "mu-law".
    pub name: String,
}

impl SampleFormat {
    /// Bytes per frame (one sample of every channel).
    pub fn frame_bytes(&self) -> usize {
        self.width * self.channels
    }
}

const TAG_PCM: u16 = 0x0001;
const TAG_FLOAT: u16 = 0x0003;
const TAG_ALAW: u16 = 0x0006;
const TAG_MULAW: u16 = 0x0007;
const TAG_EXTENSIBLE: u16 = 0xFFFE;

/// Parse a `fmt ` chunk body. Fields that disagree but can be worked around (a `block_align`
/// that does not fit the sample size) are noted in `repairs`.
pub(super) fn parse_fmt(
    body: &[u8],
    order: ByteOrder,
    repairs: &mut Vec<String>,
) -> Result<SampleFormat, Problem> {
    if body.len() < 16 {
        return Err(Problem::Corrupt(format!(
            "'fmt ' chunk is {} bytes, needs at least 16",
            body.len()
        )));
    }
    let tag = order.u16(&body[0..2]);
    let channels = usize::from(order.u16(&body[2..4]));
    let sample_rate = order.u32(&body[4..8]);
    let block_align = usize::from(order.u16(&body[12..14]));
    let bits = order.u16(&body[14..16]);
    if channels == 0 {
        return Err(Problem::Corrupt("the header says 0 channels".to_owned()));
    }
    if sample_rate == 0 {
        return Err(Problem::Corrupt("sample rate is missing or 0".to_owned()));
    }

    let (tag, valid_bits) = if tag == TAG_EXTENSIBLE {
        if body.len() < 40 {
            return Err(Problem::Corrupt(format!(
                "extensible 'fmt ' chunk is {} bytes, needs 40",
                body.len()
            )));
        }
        let valid = order.u16(&body[18..20]);
        let Some(sub) = extensible_subformat(&body[24..40], order) else {
            return Err(Problem::Unsupported(format!(
                "WAV with an unknown extensible sub-format ({}); {CONVERT_HINT}",
                hex(&body[24..40])
            )));
        };
        // 0 means "all of them" to some writers; more than the container is a writer's slip.
        (
            sub,
            if valid == 0 || valid > bits {
                bits
            } else {
                valid
            },
        )
    } else {
        (tag, bits)
    };

    let (encoding, width, name) = match tag {
        TAG_PCM => {
            if bits == 0 || bits > 32 {
                return Err(Problem::Unsupported(format!(
                    "{bits}-bit integer PCM is not supported; {CONVERT_HINT}"
                )));
            }
            let min_width = usize::from(bits.div_ceil(8));
            let width = container_width(block_align, channels, min_width, 4, bits, repairs);
            (Encoding::Int, width, format!("PCM{valid_bits}"))
        }
        TAG_FLOAT => {
            let width = match bits {
                32 => 4,
                64 => 8,
                _ => {
                    return Err(Problem::Unsupported(format!(
                        "{bits}-bit float WAV is not supported; {CONVERT_HINT}"
                    )))
                }
            };
            let width = container_width(block_align, channels, width, width, bits, repairs);
            (Encoding::Float, width, format!("float{bits}"))
        }
        TAG_ALAW => (Encoding::ALaw, 1, "A-law".to_owned()),
        TAG_MULAW => (Encoding::MuLaw, 1, "mu-law".to_owned()),
        other => {
            return Err(Problem::Unsupported(format!(
                "WAV with {} audio (format tag 0x{other:04X}) is not supported; {CONVERT_HINT}",
                codec_name(other)
            )))
        }
    };
    Ok(SampleFormat {
        encoding,
        width,
        channels,
        sample_rate,
        order,
        name,
    })
}

/// Bytes per sample: `block_align / channels` when that holds the stated bits (this is what
/// makes 12-in-16 and 20-in-24 files work), else the smallest container of the bits.
fn container_width(
    block_align: usize,
    channels: usize,
    min_width: usize,
    max_width: usize,
    bits: u16,
    repairs: &mut Vec<String>,
) -> usize {
    if block_align.is_multiple_of(channels)
        && (min_width..=max_width).contains(&(block_align / channels))
    {
        return block_align / channels;
    }
    repairs.push(format!(
        "block align {block_align} does not fit {channels} channel(s) of {bits}-bit samples; reading {min_width}-byte samples"
    ));
    min_width
}

/// The format tag inside a `KSDATAFORMAT_SUBTYPE_*` GUID (`{0000tttt-0000-0010-8000-00aa00389b71}`
/// or the ambisonic B-format family), read in the file's byte order.
fn extensible_subformat(guid: &[u8], order: ByteOrder) -> Option<u16> {
    const KS_TAIL: [u8; 8] = [0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71];
    const AMBISONIC_TAIL: [u8; 8] = [0x86, 0x44, 0xC8, 0xC1, 0xCA, 0x00, 0x00, 0x00];
    let data1 = order.u32(&guid[0..4]);
    let (data2, data3) = (order.u16(&guid[4..6]), order.u16(&guid[6..8]));
    let tag = u16::try_from(data1).ok()?;
    match (data2, data3, &guid[8..16]) {
        (0x0000, 0x0010, tail) if tail == KS_TAIL => Some(tag),
        (0x0721, 0x11D3, tail) if tail == AMBISONIC_TAIL && matches!(tag, TAG_PCM | TAG_FLOAT) => {
            Some(tag)
        }
        _ => None,
    }
}

/// Name of a WAV format tag this crate does not decode.
fn codec_name(tag: u16) -> &'static str {
    match tag {
        0x0000 => "unknown-codec",
        0x0002 => "Microsoft ADPCM",
        0x0011 => "IMA ADPCM",
        0x0022 => "TrueSpeech",
        0x0031 => "GSM 6.10",
        0x0040 | 0x0064 => "G.721/G.726 ADPCM",
        0x0050 => "MPEG",
        0x0055 => "MP3",
        0x0092 | 0x2000 => "AC-3",
        0x00FF | 0x1610 | 0x4143 => "AAC",
        0x0160..=0x0163 => "WMA",
        0xF1AC => "FLAC",
        _ => "compressed",
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 16-byte `fmt ` body (plus `extra`), little-endian.
    fn fmt(tag: u16, channels: u16, block_align: u16, bits: u16, extra: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&tag.to_le_bytes());
        b.extend_from_slice(&channels.to_le_bytes());
        b.extend_from_slice(&8000u32.to_le_bytes());
        b.extend_from_slice(&(8000 * u32::from(block_align)).to_le_bytes());
        b.extend_from_slice(&block_align.to_le_bytes());
        b.extend_from_slice(&bits.to_le_bytes());
        b.extend_from_slice(extra);
        b
    }

    fn parse(body: &[u8]) -> (Result<SampleFormat, Problem>, Vec<String>) {
        let mut repairs = Vec::new();
        (parse_fmt(body, ByteOrder::Little, &mut repairs), repairs)
    }

    #[test]
    fn container_comes_from_block_align_when_it_holds_the_bits() {
        let (f, r) = parse(&fmt(TAG_PCM, 2, 4, 12, &[]));
        let f = f.unwrap();
        assert_eq!(
            (f.encoding, f.width, f.name.as_str()),
            (Encoding::Int, 2, "PCM12")
        );
        assert!(r.is_empty());
        let (f, _) = parse(&fmt(TAG_PCM, 1, 3, 20, &[]));
        assert_eq!(f.unwrap().width, 3);
        // A block align too small for the bits: the bits win, with a note.
        let (f, r) = parse(&fmt(TAG_PCM, 2, 2, 16, &[]));
        assert_eq!(f.unwrap().width, 2);
        assert_eq!(r.len(), 1, "{r:?}");
    }

    #[test]
    fn unsupported_codecs_are_named_with_a_fix() {
        let (f, _) = parse(&fmt(0x0011, 1, 256, 4, &[2, 0, 0xF9, 0x01]));
        let Err(Problem::Unsupported(msg)) = f else {
            panic!("{f:?}")
        };
        assert!(
            msg.contains("IMA ADPCM") && msg.contains("0x0011") && msg.contains("ffmpeg"),
            "{msg}"
        );
        let (f, _) = parse(&fmt(TAG_PCM, 1, 8, 64, &[]));
        assert!(matches!(f, Err(Problem::Unsupported(m)) if m.contains("64-bit integer")));
        assert!(matches!(
            parse(&fmt(TAG_PCM, 0, 2, 16, &[])).0,
            Err(Problem::Corrupt(_))
        ));
        assert!(matches!(parse(&[1, 0, 1, 0]).0, Err(Problem::Corrupt(_))));
    }
}
