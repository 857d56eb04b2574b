//! Which member of the WAV family a file is, from its first bytes.
//!
//! RIFF (the ordinary WAV), RIFX (big-endian RIFF), RF64 and BW64 (EBU/ITU 64-bit RIFF) and
//! Sony Wave64 (GUID chunk ids, 64-bit sizes) share the `fmt `/`data` model and the same
//! sample encodings; only the outer wrapper and the size fields differ.

/// Bytes needed to recognise every wrapper (Wave64: 16-byte GUID, 8-byte size, 16-byte GUID).
pub(crate) const SNIFF_LEN: usize = 40;

/// Wave64 chunk ids. They are Microsoft GUIDs as stored on disk (first three fields
/// little-endian), which is how libsndfile and ffmpeg write them.
pub(super) mod w64_guid {
    /// The outer `riff` chunk.
    pub const RIFF: [u8; 16] = [
        0x72, 0x69, 0x66, 0x66, 0x2E, 0x91, 0xCF, 0x11, 0xA5, 0xD6, 0x28, 0xDB, 0x04, 0xC1, 0x00,
        0x00,
    ];
    /// The `wave` form type.
    pub const WAVE: [u8; 16] = [
        0x77, 0x61, 0x76, 0x65, 0xF3, 0xAC, 0xD3, 0x11, 0x8C, 0xD1, 0x00, 0xC0, 0x4F, 0x8E, 0xDB,
        0x8A,
    ];
    /// The `fmt ` chunk.
    pub const FMT: [u8; 16] = [
        0x66, 0x6D, 0x74, 0x20, 0xF3, 0xAC, 0xD3, 0x11, 0x8C, 0xD1, 0x00, 0xC0, 0x4F, 0x8E, 0xDB,
        0x8A,
    ];
    /// The `data` chunk.
    pub const DATA: [u8; 16] = [
        0x64, 0x61, 0x74, 0x61, 0xF3, 0xAC, 0xD3, 0x11, 0x8C, 0xD1, 0x00, 0xC0, 0x4F, 0x8E, 0xDB,
        0x8A,
    ];
}

/// Byte order of the header fields and of multi-byte samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ByteOrder {
    /// RIFF, RF64, BW64, Wave64.
    Little,
    /// RIFX.
    Big,
}

impl ByteOrder {
    /// `b[..2]` as a `u16`. Callers slice exactly.
    pub(super) fn u16(self, b: &[u8]) -> u16 {
        let b = [b[0], b[1]];
        match self {
            ByteOrder::Little => u16::from_le_bytes(b),
            ByteOrder::Big => u16::from_be_bytes(b),
        }
    }

    /// `b[..4]` as a `u32`.
    pub(super) fn u32(self, b: &[u8]) -> u32 {
        let b = [b[0], b[1], b[2], b[3]];
        match self {
            ByteOrder::Little => u32::from_le_bytes(b),
            ByteOrder::Big => u32::from_be_bytes(b),
        }
    }
}

/// `b[..8]` as a little-endian `u64` (the 64-bit sizes of RF64 and Wave64 are always
/// little-endian).
pub(super) fn le_u64(b: &[u8]) -> u64 {
    u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

/// A WAV-family wrapper.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Container {
    /// `RIFF....WAVE`: the ordinary WAV.
    Riff,
    /// `RIFX....WAVE`: RIFF with big-endian fields and samples.
    Rifx,
    /// `RF64....WAVE` (EBU Tech 3306): sizes over 4 GiB in a `ds64` chunk.
    Rf64,
    /// `BW64....WAVE` (ITU-R BS.2088): RF64 under another name.
    Bw64,
    /// Sony Wave64: GUID chunk ids and 64-bit sizes throughout.
    Wave64,
}

impl Container {
    /// Byte order of the header fields and samples.
    pub(super) fn byte_order(self) -> ByteOrder {
        match self {
            Container::Rifx => ByteOrder::Big,
            _ => ByteOrder::Little,
        }
    }

    /// Whether sizes of 0xFFFFFFFF are looked up in a `ds64` chunk.
    pub(super) fn has_ds64(self) -> bool {
        matches!(self, Container::Rf64 | Container::Bw64)
    }

    /// Name used after the codec in [`Decoded::codec`](crate::Decoded), e.g. "PCM16 WAV".
    pub(super) fn label(self) -> &'static str {
        match self {
            Container::Riff => "WAV",
            Container::Rifx => "RIFX WAV",
            Container::Rf64 => "RF64 WAV",
            Container::Bw64 => "BW64 WAV",
            Container::Wave64 => "Wave64",
        }
    }
}

/// What the first bytes of a file say.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Sniffed {
    /// A WAV-family file: parse it here.
    Wav(Container),
    /// Starts like a WAV-family file but ends before its form type.
    Truncated,
    /// A RIFF/Wave64 container of something other than audio, with what it is.
    NotWave(String),
    /// Anything else: for symphonia (FLAC, MP3, Ogg) or unrecognised.
    Other,
}

/// Classify a file from its first [`SNIFF_LEN`] bytes (fewer if the file is shorter).
pub(crate) fn sniff(head: &[u8]) -> Sniffed {
    if head.len() >= 16 && head[..16] == w64_guid::RIFF {
        return match head.get(24..40) {
            None => Sniffed::Truncated,
            Some(form) if form == w64_guid::WAVE => Sniffed::Wav(Container::Wave64),
            Some(_) => Sniffed::NotWave("a Sony Wave64 container without a WAVE form".to_owned()),
        };
    }
    let container = match head.get(..4) {
        Some(b"RIFF") => Container::Riff,
        Some(b"RIFX") => Container::Rifx,
        Some(b"RF64") => Container::Rf64,
        Some(b"BW64") => Container::Bw64,
        _ => return Sniffed::Other,
    };
    match head.get(8..12) {
        None => Sniffed::Truncated,
        Some(b"WAVE") => Sniffed::Wav(container),
        Some(form) => Sniffed::NotWave(riff_form_name(form)),
    }
}

/// What a RIFF file of form `form` is, for the "not a WAV" message.
fn riff_form_name(form: &[u8]) -> String {
    let what = match form {
        b"AVI " | b"AVIX" => " (AVI video)",
        b"RMID" => " (MIDI)",
        b"WEBP" => " (WebP image)",
        b"CDXA" => " (CD-XA track)",
        b"RMP3" => " (MP3 in RIFF)",
        _ => "",
    };
    format!(
        "a RIFF '{}' file{what}, not a WAV",
        String::from_utf8_lossy(form).escape_debug()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_each_wrapper_and_nothing_else() {
        assert_eq!(
            sniff(b"RIFF\0\0\0\0WAVEfmt "),
            Sniffed::Wav(Container::Riff)
        );
        assert_eq!(
            sniff(b"RIFX\0\0\0\0WAVEfmt "),
            Sniffed::Wav(Container::Rifx)
        );
        assert_eq!(
            sniff(b"RF64\xff\xff\xff\xffWAVE"),
            Sniffed::Wav(Container::Rf64)
        );
        assert_eq!(
            sniff(b"BW64\xff\xff\xff\xffWAVE"),
            Sniffed::Wav(Container::Bw64)
        );
        let mut w64 = w64_guid::RIFF.to_vec();
        w64.extend_from_slice(&[0; 8]);
        w64.extend_from_slice(&w64_guid::WAVE);
        assert_eq!(sniff(&w64), Sniffed::Wav(Container::Wave64));
        assert_eq!(sniff(&w64[..30]), Sniffed::Truncated);
        assert_eq!(sniff(b"RIFF\0\0"), Sniffed::Truncated);
        assert!(
            matches!(sniff(b"RIFF\0\0\0\0AVI LIST"), Sniffed::NotWave(m) if m.contains("AVI video"))
        );
        assert_eq!(sniff(b"fLaC\0\0\0\x22"), Sniffed::Other);
        assert_eq!(sniff(b""), Sniffed::Other);
    }
}
