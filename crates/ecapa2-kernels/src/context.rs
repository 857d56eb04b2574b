//! The CPU compute context: the thread pool every kernel runs on and each worker's scratch.
//!
//! Nothing here is global. A model owns one context; two models with different thread counts
//! in one process never share workers or scratch, and every kernel takes the context it runs
//! in as an argument (as ggml passes `n_threads`), so the thread count flows one way: from
//! the caller's options into the pool, and from the pool into every parallel loop.

use std::sync::Mutex;

/// One 64-byte line of scratch (alignment for the SIMD loads).
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([f32; 16]);

/// A rayon pool plus one reusable, 64-byte-aligned scratch buffer per worker.
pub struct CpuContext {
    pool: rayon::ThreadPool,
    /// Indexed by the worker's index in `pool`; each grows to the largest work item its
    /// worker has run and is reused by later calls (no allocation in the hot loops).
    scratch: Box<[Mutex<Vec<Line>>]>,
}

impl std::fmt::Debug for CpuContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CpuContext")
            .field("threads", &self.threads())
            .finish()
    }
}

impl CpuContext {
    /// A context with `threads` workers (at least one), named `ecapa2-<i>`.
    pub fn new(threads: usize) -> Result<Self, rayon::ThreadPoolBuildError> {
        let threads = threads.max(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("ecapa2-{i}"))
            .build()?;
        let scratch = (0..threads).map(|_| Mutex::new(Vec::new())).collect();
        Ok(Self { pool, scratch })
    }

    /// Worker threads.
    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// Runs `f` on this context's pool: every rayon parallel loop inside it uses these
    /// workers (a call from one of them runs `f` directly).
    pub fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        self.pool.install(f)
    }

    /// Runs `f` with a scratch slice of `len` floats, 64-byte aligned; its contents are
    /// whatever the worker's previous user left. On one of this pool's workers the slice is
    /// that worker's own buffer; elsewhere, or re-entered on the same worker (a kernel nested
    /// in another's work item), a temporary one.
    pub(crate) fn with_scratch<R>(&self, len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
        let lines = len.div_ceil(16);
        let slot = self
            .pool
            .current_thread_index()
            .and_then(|i| self.scratch.get(i))
            .and_then(|m| m.try_lock().ok());
        let mut temporary = Vec::new();
        let mut guard = slot;
        let buf: &mut Vec<Line> = match guard.as_deref_mut() {
            Some(buf) => buf,
            None => &mut temporary,
        };
        if buf.len() < lines {
            buf.resize(lines, Line([0.0; 16]));
        }
        // SAFETY: `Line` is 16 plain f32s with no padding, so the first `lines` lines are
        // `16 * lines >= len` valid, initialised floats, borrowed mutably for `f` only.
        let floats = unsafe { std::slice::from_raw_parts_mut(buf.as_mut_ptr().cast::<f32>(), len) };
        f(floats)
    }
}

/// A raw pointer that parallel work items share to write disjoint parts of one buffer.
///
/// It never becomes a `&mut` slice wider than the part an item owns: items build their own
/// element ranges from it, so no two threads ever hold overlapping `&mut` borrows.
#[derive(Clone, Copy)]
pub(crate) struct SendPtr<T>(pub(crate) *mut T);
// SAFETY: the pointer is only dereferenced within the disjoint ranges each user documents.
unsafe impl<T> Send for SendPtr<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for SendPtr<T> {}

impl<T> SendPtr<T> {
    /// The pointer (a method, so closures capture the `Send` wrapper, not the field).
    pub(crate) fn get(self) -> *mut T {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::CpuContext;

    #[test]
    fn scratch_is_per_worker_and_reentrant() {
        let ctx = CpuContext::new(2).unwrap();
        assert_eq!(ctx.threads(), 2);
        ctx.install(|| {
            ctx.with_scratch(100, |a| {
                a.fill(1.0);
                assert_eq!(a.as_ptr() as usize % 64, 0);
                // Nested on the same worker: a distinct temporary buffer.
                ctx.with_scratch(10, |b| {
                    b.fill(2.0);
                    assert_ne!(a.as_ptr(), b.as_ptr());
                });
                assert!(a.iter().all(|&v| v == 1.0));
            })
        });
        // Outside the pool: a temporary buffer, still usable.
        ctx.with_scratch(5, |a| assert_eq!(a.len(), 5));
    }
}
