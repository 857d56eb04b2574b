//! The zip container: locating the archive's top folder and reading entries with size bounds.

use std::io::{Cursor, Read};

use zip::result::ZipError;
use zip::{CompressionMethod, ZipArchive};

use crate::bytes::Bytes;
use crate::error::ArchiveError;

/// Deflate cannot expand more than ~1032:1; a declared size beyond this is a lie.
const MAX_DEFLATE_RATIO: u64 = 1100;
/// Buffers start at most this big and grow with the data actually read.
const INITIAL_CAPACITY: u64 = 16 << 20;

/// An opened TorchScript zip, held in memory, with its top folder resolved.
pub(crate) struct ZipSource {
    zip: ZipArchive<Cursor<Bytes>>,
    /// The whole archive: stored entries are windows on it.
    bytes: Bytes,
    /// Top folder, without the trailing slash (`ecapa2`, `archive`, ...).
    root: String,
}

impl ZipSource {
    /// Opens the zip, finds the single `<root>/data.pkl` and checks `<root>/byteorder`.
    pub(crate) fn new(bytes: Bytes) -> Result<Self, ArchiveError> {
        if let Some(e) = recognise_other(&bytes) {
            return Err(e);
        }
        let zip = ZipArchive::new(Cursor::new(bytes.clone())).map_err(zip_error)?;
        let root = find_root(zip.file_names())?;
        let mut source = Self { zip, bytes, root };
        source.check_byteorder()?;
        Ok(source)
    }

    /// Full entry name of `<root>/<rel>`.
    pub(crate) fn entry_name(&self, rel: &str) -> String {
        format!("{}/{}", self.root, rel)
    }

    /// Reads `<root>/<rel>`; `Ok(None)` when the entry does not exist.
    pub(crate) fn read(&mut self, rel: &str, limit: u64) -> Result<Option<Bytes>, ArchiveError> {
        let name = self.entry_name(rel);
        read_entry(&mut self.zip, &self.bytes, &name, limit)
    }

    fn check_byteorder(&mut self) -> Result<(), ArchiveError> {
        let Some(bytes) = self.read("byteorder", 64)? else {
            // Absent in archives older than torch 2.1: those were always little-endian.
            return Ok(());
        };
        let text = String::from_utf8_lossy(&bytes);
        let text = text.trim();
        if text == "little" {
            Ok(())
        } else {
            Err(ArchiveError::UnsupportedByteOrder {
                entry: self.entry_name("byteorder"),
                found: text.chars().take(32).collect(),
            })
        }
    }
}

/// Files people pass for `ecapa2.pt` that are not zips: a pre-1.6 `torch.save` pickle stream,
/// or a safetensors file. Said by name instead of "not a zip".
fn recognise_other(bytes: &[u8]) -> Option<ArchiveError> {
    // Pickle PROTO opcode (0x80) and a protocol version: the legacy torch.save format starts
    // with a pickled magic number.
    if bytes.len() >= 2 && bytes[0] == 0x80 && (2..=5).contains(&bytes[1]) {
        return Some(ArchiveError::NotTorchScript {
            kind: "a legacy (pre-1.6, non-zip) torch.save pickle stream",
            advice: "it holds no TorchScript code: load the model in PyTorch and save it with \
                     torch.jit.save(torch.jit.script(model), 'ecapa2.pt')",
        });
    }
    // safetensors: an 8-byte little-endian header length, then a JSON header.
    if bytes.len() > 9 && bytes[8] == b'{' {
        let header = u64::from_le_bytes(bytes[..8].try_into().ok()?);
        if header > 1 && header < bytes.len() as u64 {
            return Some(ArchiveError::NotTorchScript {
                kind: "a safetensors file (tensors only: no module tree, no settings)",
                advice: "the engine binds TorchScript archives such as the official ecapa2.pt",
            });
        }
    }
    None
}

fn zip_error(e: ZipError) -> ArchiveError {
    ArchiveError::Zip {
        detail: e.to_string(),
    }
}

/// The archive's top folder: the `X` of the one `X/data.pkl` entry (its name is arbitrary).
fn find_root<'a>(names: impl Iterator<Item = &'a str>) -> Result<String, ArchiveError> {
    let mut root: Option<&str> = None;
    for name in names {
        let Some(prefix) = name.strip_suffix("/data.pkl") else {
            continue;
        };
        if prefix.is_empty() || prefix.contains('/') {
            continue;
        }
        match root {
            None => root = Some(prefix),
            Some(r) if r == prefix => {}
            Some(r) => {
                return Err(ArchiveError::AmbiguousRoot {
                    first: r.to_owned(),
                    second: prefix.to_owned(),
                })
            }
        }
    }
    root.map(str::to_owned).ok_or(ArchiveError::NoDataPkl)
}

/// Reads a whole entry, refusing sizes over `limit`, inconsistent declared sizes and CRC
/// mismatches. A stored (uncompressed) entry, which is what `torch.jit.save` writes, is returned
/// as a window on `archive` without a copy; its CRC-32 is checked here.
fn read_entry(
    zip: &mut ZipArchive<Cursor<Bytes>>,
    archive: &Bytes,
    name: &str,
    limit: u64,
) -> Result<Option<Bytes>, ArchiveError> {
    let read_err = |detail: String| ArchiveError::EntryRead {
        entry: name.to_owned(),
        detail,
    };
    let file = match zip.by_name(name) {
        Ok(f) => f,
        Err(ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(read_err(e.to_string())),
    };
    let size = file.size();
    if size > limit {
        return Err(ArchiveError::EntryTooLarge {
            entry: name.to_owned(),
            size,
            limit,
        });
    }
    if file.compression() == CompressionMethod::Stored && !file.encrypted() {
        if file.compressed_size() != size {
            return Err(read_err(format!(
                "stored entry declares {size} bytes but occupies {}",
                file.compressed_size()
            )));
        }
        let window = usize::try_from(file.data_start())
            .ok()
            .zip(usize::try_from(size).ok())
            .and_then(|(start, len)| archive.slice(start, len))
            .ok_or_else(|| {
                read_err(format!(
                    "{size} bytes at offset {} run past the end of the archive",
                    file.data_start()
                ))
            })?;
        let (expected, actual) = (file.crc32(), crc32fast::hash(&window));
        if actual != expected {
            return Err(read_err(format!(
                "CRC-32 mismatch: the entry says {expected:08x}, its bytes give {actual:08x}"
            )));
        }
        return Ok(Some(window));
    }
    if size
        > file
            .compressed_size()
            .saturating_mul(MAX_DEFLATE_RATIO)
            .saturating_add(1024)
    {
        return Err(read_err(format!(
            "declared size {size} is impossible for {} compressed bytes",
            file.compressed_size()
        )));
    }
    // Grow as data really arrives rather than trusting the declared size for the allocation.
    let mut buf = Vec::with_capacity(usize::try_from(size.min(INITIAL_CAPACITY)).unwrap_or(0));
    // Reading to the entry's own end (not just `size` bytes) makes the zip reader check the CRC;
    // the extra byte of allowance catches a declared size that is too small.
    file.take(size.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|e| read_err(e.to_string()))?;
    if buf.len() as u64 != size {
        return Err(read_err(format!(
            "expected {size} bytes, read {}",
            buf.len()
        )));
    }
    Ok(Some(Bytes::from_vec(buf)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_found_whatever_its_name() {
        let names = ["m/version", "m/data.pkl", "m/code/__torch__.py", "m/data/0"];
        assert_eq!(find_root(names.into_iter()).ok().as_deref(), Some("m"));
    }

    #[test]
    fn nested_or_missing_data_pkl_is_not_a_root() {
        let names = ["a/b/data.pkl", "data.pkl", "x/datapkl"];
        assert!(matches!(
            find_root(names.into_iter()),
            Err(ArchiveError::NoDataPkl)
        ));
    }

    #[test]
    fn two_roots_are_ambiguous() {
        let names = ["a/data.pkl", "b/data.pkl"];
        assert!(matches!(
            find_root(names.into_iter()),
            Err(ArchiveError::AmbiguousRoot { .. })
        ));
    }
}
