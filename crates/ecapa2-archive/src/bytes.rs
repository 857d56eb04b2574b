//! Shared, immutable byte ranges: the archive is read into memory once and every stored entry
//! (and every tensor that is a dense run of its storage) is a window on that one buffer, so
//! loading copies the weights once instead of once per layer of readers.

use std::io::Read;
use std::ops::{Deref, Range};
use std::path::Path;
use std::sync::Arc;

use crate::error::ArchiveError;

/// A cheaply clonable window on a shared buffer.
#[derive(Clone)]
pub(crate) struct Bytes {
    buf: Arc<Buffer>,
    range: Range<usize>,
}

/// Where the bytes live.
enum Buffer {
    Heap(Vec<u8>),
    /// A file read into anonymous memory, advised to use transparent huge pages: a model of
    /// ~100 MB then costs a few dozen page faults instead of ~25 000.
    #[cfg(unix)]
    Anon(memmap2::MmapMut),
    /// Bytes owned by the caller (e.g. a read-only file mapping).
    Shared(std::sync::Arc<dyn AsRef<[u8]> + Send + Sync>),
}

impl Deref for Buffer {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Buffer::Heap(v) => v,
            #[cfg(unix)]
            Buffer::Anon(m) => m,
            Buffer::Shared(b) => (**b).as_ref(),
        }
    }
}

impl Bytes {
    /// The whole of `v`.
    pub(crate) fn from_vec(v: Vec<u8>) -> Self {
        Self {
            range: 0..v.len(),
            buf: Arc::new(Buffer::Heap(v)),
        }
    }

    /// All of a caller-owned buffer, shared without a copy.
    pub(crate) fn from_shared(owner: std::sync::Arc<dyn AsRef<[u8]> + Send + Sync>) -> Self {
        Self {
            range: 0..(*owner).as_ref().len(),
            buf: Arc::new(Buffer::Shared(owner)),
        }
    }

    /// Reads a whole file.
    pub(crate) fn read_file(path: &Path) -> Result<Self, ArchiveError> {
        let io = |source| ArchiveError::Io {
            path: path.to_owned(),
            source,
        };
        let mut file = std::fs::File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        #[cfg(unix)]
        if let Some(mut map) = usize::try_from(len)
            .ok()
            .filter(|&n| n > 0)
            .and_then(|n| memmap2::MmapOptions::new().len(n).map_anon().ok())
        {
            // Advice only: where the kernel has no transparent huge pages this fails harmlessly.
            #[cfg(target_os = "linux")]
            let _ = map.advise(memmap2::Advice::HugePage);
            read_parallel(&file, &mut map).map_err(io)?;
            return Ok(Self {
                range: 0..map.len(),
                buf: Arc::new(Buffer::Anon(map)),
            });
        }
        let mut v = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        file.read_to_end(&mut v).map_err(io)?;
        Ok(Self::from_vec(v))
    }

    /// The sub-window `start..start + len` of this window, if it lies inside it.
    pub(crate) fn slice(&self, start: usize, len: usize) -> Option<Self> {
        let begin = self.range.start.checked_add(start)?;
        let end = begin.checked_add(len).filter(|&e| e <= self.range.end)?;
        Some(Self {
            buf: Arc::clone(&self.buf),
            range: begin..end,
        })
    }

    /// Whether both are the same window on the same buffer (tests).
    #[cfg(test)]
    pub(crate) fn ptr_eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.buf, &other.buf) && self.range == other.range
    }
}

/// Fills `buf` from the start of `file`, in a few parallel parts when it is large: copying a
/// model out of the page cache into fresh memory is bound by page faults, which proceed in
/// parallel on separate cores.
#[cfg(unix)]
fn read_parallel(file: &std::fs::File, buf: &mut [u8]) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    /// Parts smaller than this are not worth a thread.
    const MIN_PART: usize = 16 << 20;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let parts = (buf.len() / MIN_PART).clamp(1, threads);
    if parts == 1 {
        return file.read_exact_at(buf, 0);
    }
    let part = buf.len().div_ceil(parts);
    std::thread::scope(|scope| {
        let workers: Vec<_> = buf
            .chunks_mut(part)
            .enumerate()
            .map(|(i, chunk)| scope.spawn(move || file.read_exact_at(chunk, (i * part) as u64)))
            .collect();
        workers.into_iter().try_for_each(|w| {
            w.join()
                .unwrap_or_else(|_| Err(std::io::Error::other("reader thread panicked")))
        })
    })
}

impl Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // The range is checked against the buffer when the window is made.
        &self.buf[self.range.clone()]
    }
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl PartialEq for Bytes {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{} bytes>", self.len())
    }
}
