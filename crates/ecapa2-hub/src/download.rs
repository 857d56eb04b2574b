//! Streams one blob to `blobs/<etag>.incomplete`, resuming a previous partial download with a
//! Range request, hashes it while writing, verifies it, and only then renames it into place.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::cache::{remove_quietly, RepoCache};
use crate::error::HubError;
use crate::fetch::{Expected, Progress};
use crate::remote::{one_line, Metadata, Remote};

const CHUNK: usize = 256 * 1024;

/// Downloads `meta.etag` into the blob store and checks it against `expected`.
/// On a broken transfer the `.incomplete` file stays for the next call to resume; on a
/// failed check it is deleted.
pub(crate) fn download_blob(
    remote: &Remote<'_>,
    cache: &RepoCache,
    meta: &Metadata,
    expected: &Expected,
    filename: &str,
    progress: Option<Progress<'_>>,
) -> Result<(), HubError> {
    let part = cache.incomplete_path(&meta.etag);
    if let Some(dir) = part.parent() {
        fs::create_dir_all(dir).map_err(HubError::io(dir))?;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&part)
        .map_err(HubError::io(&part))?;

    let (done, hasher) = stream(remote, meta, expected.size, &mut file, &part, progress)?;
    drop(file);

    let got_sha = hex(&hasher.finalize());
    if let Err(e) = expected.check(filename, done, &got_sha) {
        remove_quietly(&part);
        return Err(e);
    }
    let blob = cache.blob_path(&meta.etag);
    fs::rename(&part, &blob).map_err(HubError::io(&blob))?;
    tracing::debug!("stored {} ({done} bytes, sha256 {got_sha})", blob.display());
    Ok(())
}

/// Fills `file` up to the end of the remote file; returns its length and running hash.
fn stream(
    remote: &Remote<'_>,
    meta: &Metadata,
    expected_size: Option<u64>,
    file: &mut File,
    part: &Path,
    progress: Option<Progress<'_>>,
) -> Result<(u64, Sha256), HubError> {
    let io_err = |e| HubError::io(part)(e);
    let mut have = file.metadata().map_err(io_err)?.len();
    if expected_size.is_some_and(|size| have > size) {
        tracing::debug!("partial file longer than expected; starting over");
        have = 0;
    }

    // Up to two tries: the second starts from zero when the server refuses the range.
    for _ in 0..2 {
        file.set_len(have).map_err(io_err)?;
        file.seek(SeekFrom::Start(0)).map_err(io_err)?;
        let mut hasher = Sha256::new();
        // The hash must cover the bytes already on disk, so read them back first.
        io::copy(&mut Read::take(&mut *file, have), &mut hasher).map_err(io_err)?;
        if have > 0 && Some(have) == expected_size {
            return Ok((have, hasher));
        }
        if have > 0 {
            tracing::info!("resuming {} from byte {have}", meta.etag);
        }

        let response = remote.get(&meta.location, have)?;
        let status = response.status().as_u16();
        let range = response
            .headers()
            .get("content-range")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_content_range);
        let length = response.body().content_length();
        match status {
            206 if range.map(|r| r.0) == Some(have) => {}
            200 => {
                if have > 0 {
                    tracing::debug!("server ignored the Range request; starting over");
                    have = 0;
                    file.set_len(0).map_err(io_err)?;
                    hasher = Sha256::new();
                }
            }
            _ => {
                // 416, or a 206 for another range: the partial file cannot be trusted.
                tracing::debug!("server answered HTTP {status} to a resume; starting over");
                have = 0;
                continue;
            }
        }
        let total = range
            .and_then(|r| r.1)
            .or(length.map(|l| l + have))
            .or(meta.size)
            .or(expected_size);

        file.seek(SeekFrom::Start(have)).map_err(io_err)?;
        let mut reader = response.into_body().into_reader();
        let mut buf = vec![0u8; CHUNK];
        let mut done = have;
        if let Some(report) = progress {
            report(done, total);
        }
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Keep what arrived: the next call resumes from here.
                    let _ = file.flush();
                    return Err(remote.interrupted(done, read_reason(&e)));
                }
            };
            let chunk = &buf[..n];
            file.write_all(chunk).map_err(io_err)?;
            hasher.update(chunk);
            done += n as u64;
            if let Some(report) = progress {
                report(done, total);
            }
        }
        file.flush().map_err(io_err)?;
        if let Some(total) = total.filter(|&t| done < t) {
            // A clean end of stream before the announced length is a cut connection too.
            return Err(remote.interrupted(
                done,
                format!("connection closed at {done} of {total} bytes"),
            ));
        }
        return Ok((done, hasher));
    }
    Err(remote.interrupted(
        0,
        "server refused to resume the partial download".to_string(),
    ))
}

fn read_reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => "connection closed early".to_string(),
        io::ErrorKind::ConnectionReset => "connection reset".to_string(),
        io::ErrorKind::TimedOut => "timed out".to_string(),
        _ => one_line(&e.to_string()),
    }
}

/// `bytes 100-199/1000` -> `(100, Some(1000))`; `bytes 100-199/*` -> `(100, None)`.
fn parse_content_range(value: &str) -> Option<(u64, Option<u64>)> {
    let rest = value.trim().strip_prefix("bytes")?.trim_start();
    let (span, total) = rest.split_once('/')?;
    let (start, _end) = span.split_once('-')?;
    let start = start.trim().parse().ok()?;
    Some((start, total.trim().parse().ok()))
}

/// Lowercase hex, the form hub etags and our constants use.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range() {
        assert_eq!(
            parse_content_range("bytes 100-199/1000"),
            Some((100, Some(1000)))
        );
        assert_eq!(parse_content_range("bytes 5-9/*"), Some((5, None)));
        assert_eq!(parse_content_range("items 1-2/3"), None);
    }

    #[test]
    fn hex_is_lowercase() {
        assert_eq!(hex(&[0x9b, 0x01]), "9b01");
    }
}
