//! Finding the `fmt ` and `data` chunks of a WAV-family file, trusting the file's real length
//! over size fields that disagree with it.
//!
//! Writers that stream (ffmpeg or sox to a pipe, recorders that lose power) leave the RIFF and
//! `data` sizes at 0, 0xFFFFFFFF or whatever they wrote first. scipy and soundfile read such
//! files, so this walker does too: the RIFF size is only checked, never obeyed, and a `data`
//! size that is a placeholder or runs past the end of the file is replaced by what the file
//! holds. Every such repair is recorded in [`Layout::repairs`] for one warning per file.

use std::io::{Read, Seek, SeekFrom};

use super::container::{le_u64, w64_guid, ByteOrder, Container};
use super::Problem;

/// Most bytes of a `fmt ` chunk kept; the longest known layout (extensible) needs 40, and the
/// rest of an oversized chunk is skipped rather than read into memory.
const FMT_KEEP: u64 = 256;

/// Most `ds64` table entries kept (each names one chunk over 4 GiB; real files have 0 or 1).
const DS64_TABLE_KEEP: u64 = 64;

/// Where the audio is, and what had to be repaired to find it.
#[derive(Debug)]
pub(super) struct Layout {
    /// The `fmt ` chunk's body (at most [`FMT_KEEP`] bytes).
    pub fmt: Vec<u8>,
    /// Offset of the first sample byte.
    pub data_start: u64,
    /// Number of sample bytes, within the file.
    pub data_len: u64,
    /// Header sizes that disagreed with the file, in words, for the warning.
    pub repairs: Vec<String>,
}

/// Walk the chunks of a file whose first bytes [`sniff`](super::container::sniff) accepted as
/// `container`; `file_len` is the file's real length.
pub(super) fn find_chunks<R: Read + Seek>(
    r: &mut R,
    container: Container,
    file_len: u64,
) -> Result<Layout, Problem> {
    match container {
        Container::Wave64 => walk(r, &Wave64, file_len),
        _ => walk(
            r,
            &RiffLike {
                order: container.byte_order(),
                ds64: container.has_ds64(),
            },
            file_len,
        ),
    }
}

/// The header conventions of one wrapper.
trait Dialect {
    /// Size of the file header (id, size, form).
    const FILE_HEADER: u64;
    /// Size of a chunk header (id, size).
    const CHUNK_HEADER: u64;
    /// The file size the header declares (counted from the start of the file), if it is not a
    /// placeholder.
    fn declared_file_len(&self, header: &[u8]) -> Option<u64>;
    /// Split a chunk header into (kind, body size as declared). `None` size: a placeholder.
    fn chunk(&self, header: &[u8], ds64: &Ds64) -> (Kind, Option<u64>);
    /// Offset of the chunk after one whose body starts at `body` and has `len` bytes.
    fn next(&self, body: u64, len: u64) -> Option<u64>;
}

/// The chunks this walker cares about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Fmt,
    Data,
    Ds64,
    /// Any other chunk, with a printable id for messages.
    Other([u8; 4]),
}

impl Kind {
    fn name(self) -> String {
        match self {
            Kind::Fmt => "fmt ".to_owned(),
            Kind::Data => "data".to_owned(),
            Kind::Ds64 => "ds64".to_owned(),
            Kind::Other(id) => String::from_utf8_lossy(&id).escape_debug().to_string(),
        }
    }
}

/// The 64-bit sizes of an RF64/BW64 `ds64` chunk.
#[derive(Debug, Default)]
struct Ds64 {
    riff: Option<u64>,
    data: Option<u64>,
    /// Sizes of other chunks over 4 GiB, by id.
    table: Vec<([u8; 4], u64)>,
}

/// RIFF, RIFX, RF64, BW64: 4-byte ids, 32-bit sizes (0xFFFFFFFF: see `ds64`), 2-byte alignment.
struct RiffLike {
    order: ByteOrder,
    ds64: bool,
}

impl Dialect for RiffLike {
    const FILE_HEADER: u64 = 12;
    const CHUNK_HEADER: u64 = 8;

    fn declared_file_len(&self, header: &[u8]) -> Option<u64> {
        // 0xFFFFFFFF is the "unknown" of streaming writers (ffmpeg to a pipe); 0 is checked.
        match self.order.u32(&header[4..8]) {
            u32::MAX => None,
            size => Some(u64::from(size) + 8),
        }
    }

    fn chunk(&self, header: &[u8], ds64: &Ds64) -> (Kind, Option<u64>) {
        let id = [header[0], header[1], header[2], header[3]];
        let kind = match &id {
            b"fmt " => Kind::Fmt,
            b"data" => Kind::Data,
            b"ds64" if self.ds64 => Kind::Ds64,
            _ => Kind::Other(id),
        };
        let size = self.order.u32(&header[4..8]);
        if size != u32::MAX {
            return (kind, Some(u64::from(size)));
        }
        // 0xFFFFFFFF: the real size is in ds64 (RF64) or unknown (streamed RIFF).
        let real = match kind {
            Kind::Data if self.ds64 => ds64.data,
            Kind::Other(id) if self.ds64 => ds64.table.iter().find(|e| e.0 == id).map(|e| e.1),
            _ => None,
        };
        (kind, real)
    }

    fn next(&self, body: u64, len: u64) -> Option<u64> {
        body.checked_add(len)?.checked_add(len & 1)
    }
}

/// Sony Wave64: 16-byte GUID ids, 64-bit sizes that include the 24-byte chunk header, 8-byte
/// alignment.
struct Wave64;

impl Dialect for Wave64 {
    const FILE_HEADER: u64 = 40;
    const CHUNK_HEADER: u64 = 24;

    fn declared_file_len(&self, header: &[u8]) -> Option<u64> {
        match le_u64(&header[16..24]) {
            u64::MAX => None,
            size => Some(size),
        }
    }

    fn chunk(&self, header: &[u8], _: &Ds64) -> (Kind, Option<u64>) {
        let kind = match &header[..16] {
            g if g == w64_guid::FMT => Kind::Fmt,
            g if g == w64_guid::DATA => Kind::Data,
            // Other GUIDs (levl, bext, summarylist...) are named by their first four bytes.
            g => Kind::Other([g[0], g[1], g[2], g[3]]),
        };
        // A size smaller than the header itself is a placeholder (0 from a streaming writer).
        let size = le_u64(&header[16..24]).checked_sub(Self::CHUNK_HEADER);
        (kind, size)
    }

    fn next(&self, body: u64, len: u64) -> Option<u64> {
        body.checked_add(len)?.checked_next_multiple_of(8)
    }
}

fn walk<R: Read + Seek, D: Dialect>(r: &mut R, d: &D, file_len: u64) -> Result<Layout, Problem> {
    let mut header = [0u8; 40];
    let file_header = &mut header[..D::FILE_HEADER as usize];
    r.seek(SeekFrom::Start(0))?;
    r.read_exact(file_header)?;
    let mut declared_len = d.declared_file_len(file_header);

    let mut ds64 = Ds64::default();
    let mut fmt: Option<Vec<u8>> = None;
    let mut data: Option<(u64, u64)> = None;
    let mut repairs = Vec::new();
    let mut pos = D::FILE_HEADER;

    while fmt.is_none() || data.is_none() {
        let Some(body) = pos.checked_add(D::CHUNK_HEADER).filter(|&b| b <= file_len) else {
            break;
        };
        let chunk_header = &mut header[..D::CHUNK_HEADER as usize];
        r.seek(SeekFrom::Start(pos))?;
        r.read_exact(chunk_header)?;
        let (kind, size) = d.chunk(chunk_header, &ds64);
        let avail = file_len - body;

        if kind == Kind::Data {
            let len = match size {
                Some(0) if avail > 0 && !next_is_chunk(r, d, body, file_len)? => {
                    repairs.push("data size is 0 (left unset by a streaming writer)".to_owned());
                    avail
                }
                Some(len) if len > avail => {
                    repairs.push(format!(
                        "data chunk declares {len} bytes but the file holds {avail} (truncated?)"
                    ));
                    avail
                }
                Some(len) => len,
                None => {
                    repairs
                        .push("data size is unknown (left unset by a streaming writer)".to_owned());
                    avail
                }
            };
            data.get_or_insert((body, len));
            if len == avail {
                break; // The audio runs to the end of the file: nothing can follow it.
            }
            pos = d.next(body, len).unwrap_or(u64::MAX);
            continue;
        }

        let size = match size {
            Some(size) if size <= avail => size,
            Some(size) => {
                return Err(Problem::Corrupt(format!(
                    "file ends inside its '{}' chunk ({size} bytes declared, {avail} present): truncated, or a wrong chunk size",
                    kind.name()
                )))
            }
            None => {
                return Err(Problem::Corrupt(format!(
                    "'{}' chunk has no valid size",
                    kind.name()
                )))
            }
        };
        match kind {
            Kind::Fmt if fmt.is_none() => {
                let mut body = vec![0u8; size.min(FMT_KEEP) as usize];
                r.read_exact(&mut body)?;
                fmt = Some(body);
            }
            Kind::Ds64 if pos == D::FILE_HEADER => {
                ds64 = read_ds64(r, size)?;
                declared_len = ds64.riff.map(|s| s.saturating_add(8));
            }
            _ => {}
        }
        pos = d.next(body, size).unwrap_or(u64::MAX);
    }

    let Some(fmt) = fmt else {
        return Err(Problem::Corrupt(if data.is_some() {
            "no 'fmt ' chunk before the audio".to_owned()
        } else {
            "no 'fmt ' chunk (truncated header?)".to_owned()
        }));
    };
    let Some((data_start, data_len)) = data else {
        return Err(Problem::Corrupt(
            "no 'data' chunk (truncated file?)".to_owned(),
        ));
    };
    let data_end = data_start + data_len;
    if let Some(declared) = declared_len.filter(|&l| l < data_end) {
        repairs.push(format!(
            "file header says {declared} bytes but the audio runs to byte {data_end} of {file_len}"
        ));
    }
    Ok(Layout {
        fmt,
        data_start,
        data_len,
        repairs,
    })
}

/// Whether a chunk header plausibly starts at `at` (a printable id whose declared size fits
/// the file): tells a genuinely empty `data` chunk followed by more chunks from a placeholder
/// size 0 with the audio right after it.
fn next_is_chunk<R: Read + Seek, D: Dialect>(
    r: &mut R,
    d: &D,
    at: u64,
    file_len: u64,
) -> Result<bool, Problem> {
    let Some(body) = at.checked_add(D::CHUNK_HEADER).filter(|&b| b <= file_len) else {
        return Ok(false);
    };
    let mut header = [0u8; 24];
    let header = &mut header[..D::CHUNK_HEADER as usize];
    r.seek(SeekFrom::Start(at))?;
    r.read_exact(header)?;
    let (kind, size) = d.chunk(header, &Ds64::default());
    let printable = match kind {
        Kind::Other(id) => id.iter().all(|b| (0x20..0x7f).contains(b)),
        _ => true,
    };
    Ok(printable && size.is_some_and(|s| s <= file_len - body))
}

/// Parse an RF64/BW64 `ds64` chunk body of `size` bytes (the reader is at its start).
fn read_ds64<R: Read>(r: &mut R, size: u64) -> Result<Ds64, Problem> {
    if size < 28 {
        return Err(Problem::Corrupt(format!(
            "'ds64' chunk is {size} bytes, needs at least 28"
        )));
    }
    let mut fixed = [0u8; 28];
    r.read_exact(&mut fixed)?;
    let nonzero = |v: u64| (v != 0).then_some(v);
    let mut ds64 = Ds64 {
        riff: nonzero(le_u64(&fixed[0..8])),
        data: Some(le_u64(&fixed[8..16])),
        table: Vec::new(),
    };
    let entries = u64::from(ByteOrder::Little.u32(&fixed[24..28]))
        .min((size - 28) / 12)
        .min(DS64_TABLE_KEEP);
    for _ in 0..entries {
        let mut entry = [0u8; 12];
        r.read_exact(&mut entry)?;
        ds64.table.push((
            [entry[0], entry[1], entry[2], entry[3]],
            le_u64(&entry[4..12]),
        ));
    }
    Ok(ds64)
}
