//! Per-thread scratch buffers, reused across calls so the hot loops never allocate.
//!
//! Each rayon worker (and the calling thread) keeps one 64-byte-aligned buffer that only grows;
//! a kernel borrows it for the duration of one work item. The buffers live as long as their
//! thread (the engine's pool), which bounds them by the largest layer the thread has run.

use std::cell::RefCell;

#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([f32; 16]);

thread_local! {
    static SCRATCH: RefCell<Vec<Line>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with a zero-initialised-once, 64-byte-aligned scratch slice of at least `len` floats
/// (its contents are whatever the thread's previous user left).
pub(crate) fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    let lines = len.div_ceil(16);
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.len() < lines {
                buf.resize(lines, Line([0.0; 16]));
            }
            // SAFETY: `Line` is 16 plain f32s with no padding, so `lines` lines are
            // `16 * lines >= len` valid, initialised floats.
            let floats =
                unsafe { std::slice::from_raw_parts_mut(buf.as_mut_ptr() as *mut f32, len) };
            f(floats)
        }
        // Re-entered on the same thread (a kernel nested in another's work item): use a
        // temporary buffer rather than fail.
        Err(_) => {
            let mut tmp = vec![Line([0.0; 16]); lines];
            // SAFETY: as above.
            let floats =
                unsafe { std::slice::from_raw_parts_mut(tmp.as_mut_ptr() as *mut f32, len) };
            f(floats)
        }
    })
}
