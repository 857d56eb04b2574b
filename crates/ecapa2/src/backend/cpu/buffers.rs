//! Recycled activation buffers, owned by one CPU backend.
//!
//! The LFE's maps are tens of MB each (164 channels × 256 rows × 300 frames for 3 s is 50 MB);
//! glibc serves anything over 32 MB with a fresh `mmap`, so every call used to page-fault and
//! zero ~300 MB (about a tenth of a 3 s call's time, more on a virtual machine). Buffers handed
//! back here are reused by later layers and later calls instead. The time-tiled path for long
//! inputs, which must stay within a memory limit, first releases them all.

use std::sync::Mutex;

/// Buffers kept at most, and their total size at most: enough for the LFE's working set (input,
/// two maps, a projection), bounded so a one-off long call does not pin its memory forever.
const MAX_KEPT: usize = 6;
const MAX_KEPT_BYTES: usize = 1 << 30;
/// Smaller buffers come from the allocator's own free lists cheaply; not worth keeping.
const MIN_KEPT_BYTES: usize = 1 << 20;

/// A bounded pool of large `f32` buffers (one per backend, shared by its concurrent calls).
#[derive(Debug, Default)]
pub(crate) struct Buffers {
    kept: Mutex<Vec<Vec<f32>>>,
}

impl Buffers {
    /// A buffer of `len` floats. Its contents are unspecified (whatever a previous user left,
    /// or zeros): every caller overwrites all of it.
    pub fn take(&self, len: usize) -> Vec<f32> {
        let reused = {
            let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
            let best = kept
                .iter()
                .enumerate()
                .filter(|(_, v)| v.capacity() >= len)
                .min_by_key(|(_, v)| v.capacity())
                .map(|(i, _)| i);
            best.map(|i| kept.swap_remove(i))
        };
        match reused {
            Some(mut v) => {
                // Within the capacity: no new pages; only a grown length writes (zeros).
                v.resize(len, 0.0);
                v
            }
            None => vec![0.0; len],
        }
    }

    /// Drops every kept buffer (before work that must stay within a memory limit).
    pub fn release_all(&self) {
        self.kept.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Hands a buffer back for reuse (dropped if small, or if the pool is full: then the
    /// smallest buffers go first).
    pub fn recycle(&self, v: Vec<f32>) {
        let bytes = |v: &Vec<f32>| v.capacity() * std::mem::size_of::<f32>();
        if bytes(&v) < MIN_KEPT_BYTES {
            return;
        }
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.push(v);
        kept.sort_unstable_by_key(|v| std::cmp::Reverse(v.capacity()));
        let mut total = 0usize;
        kept.retain(|v| {
            total += bytes(v);
            total <= MAX_KEPT_BYTES
        });
        kept.truncate(MAX_KEPT);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_reused_with_the_asked_length() {
        let pool = Buffers::default();
        let n = (4 << 20) / 4;
        let v = pool.take(n);
        assert_eq!(v.len(), n);
        let ptr = v.as_ptr();
        pool.recycle(v);
        // A smaller request reuses the same allocation (this pool is the test's own).
        let w = pool.take(n / 2);
        assert_eq!(w.len(), n / 2);
        assert_eq!(w.as_ptr(), ptr);
        pool.recycle(w);
        // Small buffers are not kept.
        pool.recycle(vec![0.0; 16]);
        let kept = pool.kept.lock().unwrap();
        assert_eq!(kept.len(), 1);
        assert!(kept.iter().all(|v| v.capacity() * 4 >= MIN_KEPT_BYTES));
    }
}
