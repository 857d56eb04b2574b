//! Shared, immutable byte ranges: the archive is held in memory once and every stored entry
//! (and every tensor that is a dense run of its storage) is a window on that one buffer, so
//! loading copies the weights once instead of once per layer of readers.

use std::ops::{Deref, Range};
use std::sync::Arc;

/// A cheaply clonable window on a shared buffer: a `Vec` read here, or bytes the caller owns
/// (the engine passes a read-only mapping of the file).
#[derive(Clone)]
pub(crate) struct Bytes {
    buf: Arc<dyn AsRef<[u8]> + Send + Sync>,
    range: Range<usize>,
}

impl Bytes {
    /// The whole of `v`.
    pub(crate) fn from_vec(v: Vec<u8>) -> Self {
        Self::from_shared(Arc::new(v))
    }

    /// All of a caller-owned buffer, shared without a copy.
    pub(crate) fn from_shared(owner: Arc<dyn AsRef<[u8]> + Send + Sync>) -> Self {
        Self {
            range: 0..(*owner).as_ref().len(),
            buf: owner,
        }
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

impl Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // The range is checked against the buffer when the window is made.
        &(*self.buf).as_ref()[self.range.clone()]
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
