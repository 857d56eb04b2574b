//! Shared helpers: the committed fixture archive and a zip rewriter for building broken copies.
#![allow(dead_code)]

use std::io::{Cursor, Read, Write};
use std::path::PathBuf;

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

/// `tests/data/<name>`.
pub fn data_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("data")
        .join(name)
}

/// The fixture written by `tests/data/make_fixture.py` with torch.
pub fn tiny_pt() -> Vec<u8> {
    std::fs::read(data_path("tiny.pt")).expect("tests/data/tiny.pt is committed")
}

/// The fixture's `data.pkl`.
pub fn tiny_data_pkl() -> Vec<u8> {
    let mut zip = ZipArchive::new(Cursor::new(tiny_pt())).expect("fixture is a zip");
    let mut f = zip.by_name("tiny/data.pkl").expect("fixture has data.pkl");
    let mut out = Vec::new();
    f.read_to_end(&mut out).expect("readable");
    out
}

/// Copies a zip entry by entry; `edit(name, bytes)` returns the new bytes, or `None` to drop
/// the entry. `extra` entries are appended.
pub fn rewrite_zip(
    original: &[u8],
    edit: impl Fn(&str, Vec<u8>) -> Option<Vec<u8>>,
    extra: &[(&str, &[u8])],
) -> Vec<u8> {
    let mut zip = ZipArchive::new(Cursor::new(original)).expect("original is a zip");
    let mut out = ZipWriter::new(Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).expect("entry");
        let name = f.name().to_owned();
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).expect("readable entry");
        if let Some(new) = edit(&name, bytes) {
            out.start_file(name, opts).expect("start entry");
            out.write_all(&new).expect("write entry");
        }
    }
    for (name, bytes) in extra {
        out.start_file(*name, opts).expect("start entry");
        out.write_all(bytes).expect("write entry");
    }
    out.finish().expect("finish zip").into_inner()
}

/// The fixture with `data.pkl` replaced.
pub fn with_data_pkl(pkl: Vec<u8>) -> Vec<u8> {
    rewrite_zip(
        &tiny_pt(),
        |name, b| {
            Some(if name == "tiny/data.pkl" {
                pkl.clone()
            } else {
                b
            })
        },
        &[],
    )
}

/// Replaces the first occurrence of `from` with `to` (panics if absent: the fixture changed).
pub fn patch(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .unwrap_or_else(|| {
            panic!("pattern {from:?} not in fixture; regenerate the test's patterns")
        });
    let mut out = bytes[..at].to_vec();
    out.extend_from_slice(to);
    out.extend_from_slice(&bytes[at + from.len()..]);
    out
}
