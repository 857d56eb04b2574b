//! The WAV family (RIFF, RIFX, RF64, BW64, Sony Wave64) parsed and decoded here rather than by
//! symphonia.
//!
//! symphonia 0.6 refuses what scipy and soundfile read: RF64, BW64 and Wave64 (the formats
//! recorders switch to past 4 GiB), RIFX, size fields left unset by streaming writers
//! ("chunk length exceeds parent (list) chunk length"), 12-in-16 and 20-in-24-bit PCM, and
//! µ-law/A-law `fmt ` chunks longer than 18 bytes. The family's uncompressed encodings are
//! simple enough that a small front end reading the chunk sizes leniently and the samples
//! directly is less code than working around those checks. The data chunk is streamed in
//! fixed-size blocks, so a multi-GB file is never held in memory as bytes.

mod chunks;
pub(crate) mod container;
mod format;
mod g711;
mod samples;

use std::io::{ErrorKind, Read, Seek, SeekFrom};

use crate::decode::Decoded;
use crate::error::AudioError;
use container::Container;

/// A failure before the file name is attached.
#[derive(Debug)]
pub(crate) enum Problem {
    /// Damaged or inconsistent beyond repair.
    Corrupt(String),
    /// Valid, but an encoding this crate does not decode.
    Unsupported(String),
    /// The reader failed.
    Io(std::io::Error),
}

impl From<std::io::Error> for Problem {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == ErrorKind::UnexpectedEof {
            Problem::Corrupt("file ends inside its header (truncated)".to_owned())
        } else {
            Problem::Io(e)
        }
    }
}

impl Problem {
    fn into_error(self, file: &str) -> AudioError {
        let file = file.to_owned();
        match self {
            Problem::Corrupt(reason) => AudioError::Corrupt { file, reason },
            Problem::Unsupported(reason) => AudioError::Unsupported { file, reason },
            Problem::Io(source) => AudioError::Io { file, source },
        }
    }
}

/// Fill `buf` as far as the reader allows; fewer bytes only at the end of the file.
pub(crate) fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Decode a file that [`container::sniff`] recognised as `container`.
pub(crate) fn decode<R: Read + Seek>(
    file: &str,
    container: Container,
    mut r: R,
    max_seconds: Option<f64>,
) -> Result<Decoded, AudioError> {
    decode_inner(file, container, &mut r, max_seconds)
}

fn decode_inner<R: Read + Seek>(
    file: &str,
    container: Container,
    r: &mut R,
    max_seconds: Option<f64>,
) -> Result<Decoded, AudioError> {
    let fail = |p: Problem| p.into_error(file);
    let file_len = r.seek(SeekFrom::End(0)).map_err(|e| fail(e.into()))?;
    let layout = chunks::find_chunks(r, container, file_len).map_err(fail)?;
    let mut repairs = layout.repairs;
    let format =
        format::parse_fmt(&layout.fmt, container.byte_order(), &mut repairs).map_err(fail)?;
    // The length is known from the header (bounded by the file's size): refuse before reading.
    let frames =
        usize::try_from(layout.data_len / format.frame_bytes().max(1) as u64).unwrap_or(usize::MAX);
    crate::decode::check_length(file, frames, format.sample_rate, max_seconds)?;
    read_samples(
        file,
        container,
        r,
        layout.data_start,
        layout.data_len,
        &format,
        repairs,
    )
    .map_err(fail)
}

fn read_samples<R: Read + Seek>(
    file: &str,
    container: Container,
    r: &mut R,
    data_start: u64,
    data_len: u64,
    format: &format::SampleFormat,
    repairs: Vec<String>,
) -> Result<Decoded, Problem> {
    if !repairs.is_empty() {
        // One warning per file: the header is wrong, the audio is still read.
        tracing::warn!(
            file,
            "inconsistent WAV header, decoding what the file holds: {}",
            repairs.join("; ")
        );
    }

    r.seek(SeekFrom::Start(data_start))?;
    let (channels, ended_early) = samples::read_planar(r, format, data_len)?;
    if ended_early {
        tracing::warn!(
            file,
            "file ended while its audio was read (still being written?); keeping what was decoded"
        );
    }
    let decoded = Decoded {
        channels,
        sample_rate: format.sample_rate,
        codec: format!("{} {}", format.name, container.label()),
    };
    tracing::debug!(
        file,
        codec = %decoded.codec,
        sample_rate = decoded.sample_rate,
        channels = decoded.channels.len(),
        frames = decoded.frames(),
        "decoded"
    );
    Ok(decoded)
}
