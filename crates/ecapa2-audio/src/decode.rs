//! Decoding a file to planar `f32` samples.
//!
//! Supported: the WAV family (RIFF WAV, RIFX, RF64, BW64 and Sony Wave64, each with PCM 8 to
//! 32-bit integer including 12-in-16 and 20-in-24, 32/64-bit float, A-law or µ-law), FLAC,
//! MP3 and Ogg-Vorbis. Integer PCM is scaled exactly as torchaudio does: `x / 2^(bits-1)` of
//! its container (so PCM16 is `x / 32768`, 8-bit unsigned is `(x - 128) / 128`). Encoder delay
//! and padding of MP3 (LAME/Xing tag) and Vorbis (granule positions) are trimmed, so lossy
//! files line up with their source.
//!
//! The first bytes decide the decoder: the WAV family goes to this crate's own reader (see
//! `wav`), which tolerates the size fields streaming writers leave wrong; everything else goes
//! to symphonia.

use std::fs::File;
use std::io::{BufReader, ErrorKind, SeekFrom};
use std::path::Path;

use symphonia::core::io::MediaSource;

use crate::error::AudioError;
use crate::wav::container::{sniff, Sniffed, SNIFF_LEN};
use crate::wav::read_full;

/// Buffer of the WAV reader: chunk headers are read a few bytes at a time.
const WAV_BUFFER: usize = 1 << 16;

/// Raw decoded audio, before any channel mixing or resampling.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded {
    /// One vector per channel, all the same length, values in `[-1, 1]` for integer PCM.
    pub channels: Vec<Vec<f32>>,
    /// Sample rate of the file in Hz.
    pub sample_rate: u32,
    /// Human-readable codec and container, e.g. `"PCM16 WAV"`, `"PCM24 RF64 WAV"`,
    /// `"float32 Wave64"`, `"FLAC"`, `"MP3"`, `"Ogg Vorbis"`.
    pub codec: String,
}

impl Decoded {
    /// Number of frames (samples per channel).
    pub fn frames(&self) -> usize {
        self.channels.first().map_or(0, Vec::len)
    }
}

/// Decode the first audio track of `path` into planar `f32`.
///
/// Errors: [`AudioError::Io`] if the file cannot be opened, [`AudioError::Unsupported`] for an
/// unknown container or codec (the message says what the file is and how to convert it),
/// [`AudioError::Corrupt`] for a damaged file. WAV size fields that disagree with the file
/// (streaming writers, truncation) are repaired from the file's real length with one warning.
/// A compressed stream that cannot be decoded to its end (a packet that fails to decode, a
/// demuxer error, a file that ends inside a packet, or fewer samples than its header declares)
/// is corrupt: a partial result would be embedded as if it were the whole file. Use
/// [`LoadOptions::keep_partial`](crate::LoadOptions::keep_partial) to keep what decodes instead. A file with a valid
/// header and no samples decodes to zero frames (rejected later by
/// [`validate`](crate::validate())).
pub fn decode(path: impl AsRef<Path>) -> Result<Decoded, AudioError> {
    decode_with(path.as_ref(), DecodeOptions::default())
}

/// What decoding may accept; [`LoadOptions`](crate::LoadOptions) carries both fields.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct DecodeOptions {
    /// Stop with [`AudioError::TooLong`] past this many seconds.
    pub max_seconds: Option<f64>,
    /// Keep what decodes of a damaged compressed stream (with a warning) instead of refusing it.
    pub keep_partial: bool,
}

/// [`decode`] with limits.
pub(crate) fn decode_with(path: &Path, opts: DecodeOptions) -> Result<Decoded, AudioError> {
    let file_name = path.display().to_string();
    let io_error = |source| AudioError::Io {
        file: file_name.clone(),
        source,
    };
    let file = File::open(path).map_err(io_error)?;
    if file.metadata().map_err(io_error)?.is_dir() {
        return Err(io_error(std::io::Error::new(
            ErrorKind::IsADirectory,
            "is a directory",
        )));
    }
    let ext = path.extension().and_then(|e| e.to_str());
    decode_source(&file_name, file, ext, opts)
}

/// [`decode`] for a file already in memory (as `ray.data.read_binary_files` gives it): `name`
/// is used in errors and its extension, if any, as a format hint.
pub fn decode_bytes(name: &str, bytes: Vec<u8>) -> Result<Decoded, AudioError> {
    decode_bytes_with(name, bytes, DecodeOptions::default())
}

/// [`decode_bytes`] with limits.
pub(crate) fn decode_bytes_with(
    name: &str,
    bytes: Vec<u8>,
    opts: DecodeOptions,
) -> Result<Decoded, AudioError> {
    let ext = Path::new(name).extension().and_then(|e| e.to_str());
    decode_source(name, std::io::Cursor::new(bytes), ext, opts)
}

/// `Err(TooLong)` when `frames` at `rate` are longer than `max_seconds` (no limit: `None`).
pub(crate) fn check_length(
    file: &str,
    frames: usize,
    rate: u32,
    max_seconds: Option<f64>,
) -> Result<(), AudioError> {
    match max_seconds {
        Some(max) if frames as f64 > max * f64::from(rate) => Err(AudioError::TooLong {
            file: file.to_owned(),
            max_seconds: max,
        }),
        _ => Ok(()),
    }
}

/// Route `source` to the WAV reader or to symphonia by its first bytes.
fn decode_source<S: MediaSource + 'static>(
    file_name: &str,
    mut source: S,
    ext: Option<&str>,
    opts: DecodeOptions,
) -> Result<Decoded, AudioError> {
    let io_error = |source| AudioError::Io {
        file: file_name.to_owned(),
        source,
    };
    let mut head = [0u8; SNIFF_LEN];
    let n = read_full(&mut source, &mut head).map_err(io_error)?;
    if n == 0 {
        // A 0-byte file holds no audio; say so rather than "unsupported format".
        return Err(AudioError::Empty {
            file: file_name.to_owned(),
        });
    }
    source.seek(SeekFrom::Start(0)).map_err(io_error)?;
    match sniff(&head[..n]) {
        Sniffed::Wav(container) => crate::wav::decode(
            file_name,
            container,
            BufReader::with_capacity(WAV_BUFFER, source),
            opts.max_seconds,
        ),
        Sniffed::Truncated => Err(AudioError::Corrupt {
            file: file_name.to_owned(),
            reason: "file ends inside its header (truncated)".to_owned(),
        }),
        Sniffed::NotWave(what) => Err(AudioError::Unsupported {
            file: file_name.to_owned(),
            reason: format!(
                "{what}; extract its audio to WAV or FLAC, e.g. `ffmpeg -i in out.flac`"
            ),
        }),
        Sniffed::Other => crate::symphonia_decode::decode(file_name, Box::new(source), ext, opts),
    }
}
