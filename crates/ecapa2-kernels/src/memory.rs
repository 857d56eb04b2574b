//! Large, long-lived buffers (packed weights) backed by transparent huge pages where possible.
//!
//! Packing the full model's weights fills ~300 MB of fresh memory; with 4 KiB pages that is
//! ~75 000 page faults, a good part of the load time (and far more on a virtual machine, where
//! each first touch can also fault in the hypervisor). In their own 2 MiB-aligned mapping,
//! advised to use huge pages, the same buffers take ~150 faults, and the kernels streaming the
//! weights take fewer TLB misses.

use std::ops::{Deref, DerefMut};

/// Transparent huge page size on x86-64 and (4 KiB-granule) aarch64 Linux.
#[cfg(all(target_os = "linux", not(miri)))]
const HUGE_PAGE: usize = 2 << 20;

/// A zeroed, fixed-length `f32` buffer. On Linux, one of at least a huge page gets its own
/// anonymous mapping, 2 MiB-aligned and advised to use transparent huge pages; otherwise (and
/// if mapping fails) it is an ordinary `Vec`.
pub(crate) struct LargeBuf {
    len: usize,
    store: Store,
}

enum Store {
    Heap(Vec<f32>),
    /// `len` floats at byte `offset` of `map` (never made under Miri, which cannot map).
    #[cfg(target_os = "linux")]
    #[cfg_attr(miri, allow(dead_code))]
    Mapped {
        map: memmap2::MmapMut,
        offset: usize,
    },
}

impl LargeBuf {
    /// `len` zeros.
    pub(crate) fn zeroed(len: usize) -> Self {
        // Miri cannot map memory: the heap store is the portable path it checks.
        #[cfg(all(target_os = "linux", not(miri)))]
        if let Some(store) = mapped(len) {
            return Self { len, store };
        }
        Self {
            len,
            store: Store::Heap(vec![0.0; len]),
        }
    }
}

/// A mapping for `len` floats, or `None` when too small to gain or when mapping fails.
#[cfg(all(target_os = "linux", not(miri)))]
fn mapped(len: usize) -> Option<Store> {
    let bytes = len.checked_mul(std::mem::size_of::<f32>())?;
    if bytes < HUGE_PAGE {
        return None;
    }
    // Huge pages over the whole buffer, the last one included unless most of it would be
    // unused (a touched huge page is resident in full); the rest of the tail uses small pages.
    let whole = bytes.next_multiple_of(HUGE_PAGE);
    let huge = if whole - bytes <= bytes / 8 {
        whole
    } else {
        bytes / HUGE_PAGE * HUGE_PAGE
    };
    // One spare huge page of address space to align the start; never touched, never resident.
    let map = memmap2::MmapOptions::new()
        .len(whole + HUGE_PAGE)
        .map_anon()
        .ok()?;
    let offset = map.as_ptr().align_offset(HUGE_PAGE);
    // Advice only: without transparent huge pages this fails and small pages are used.
    let _ = map.advise_range(memmap2::Advice::HugePage, offset, huge);
    Some(Store::Mapped { map, offset })
}

impl Deref for LargeBuf {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        match &self.store {
            Store::Heap(v) => v,
            #[cfg(target_os = "linux")]
            // SAFETY: the mapping holds `offset + 4 · len` bytes (see `mapped`), zero-filled
            // by the OS or written as f32 since; it is page-aligned, so `offset` (a multiple
            // of the huge page size) keeps f32 alignment; it lives as long as `self`.
            Store::Mapped { map, offset } => unsafe {
                std::slice::from_raw_parts(map.as_ptr().add(*offset).cast::<f32>(), self.len)
            },
        }
    }
}

impl DerefMut for LargeBuf {
    fn deref_mut(&mut self) -> &mut [f32] {
        match &mut self.store {
            Store::Heap(v) => v,
            #[cfg(target_os = "linux")]
            // SAFETY: as in `deref`, and `&mut self` makes the access exclusive.
            Store::Mapped { map, offset } => unsafe {
                std::slice::from_raw_parts_mut(
                    map.as_mut_ptr().add(*offset).cast::<f32>(),
                    self.len,
                )
            },
        }
    }
}

impl Clone for LargeBuf {
    fn clone(&self) -> Self {
        let mut copy = Self::zeroed(self.len);
        copy.copy_from_slice(self);
        copy
    }
}

impl std::fmt::Debug for LargeBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LargeBuf({} floats)", self.len)
    }
}

impl From<&[f32]> for LargeBuf {
    fn from(values: &[f32]) -> Self {
        let mut buf = Self::zeroed(values.len());
        buf.copy_from_slice(values);
        buf
    }
}

#[cfg(test)]
mod tests {
    use super::LargeBuf;

    #[test]
    fn buffers_are_zeroed_writable_and_clonable() {
        // Below a huge page, just over one (tail kept small), and 3.9 huge pages (tail huge).
        for len in [0, 1, 1000, (2 << 20) / 4 + 5, (8 << 20) / 4 - 100_000] {
            let mut v = LargeBuf::zeroed(len);
            assert_eq!(v.len(), len);
            assert!(v.iter().all(|&x| x == 0.0));
            for (i, x) in v.iter_mut().enumerate() {
                *x = i as f32;
            }
            let c = v.clone();
            assert!(c.iter().enumerate().all(|(i, &x)| x == i as f32));
            assert_eq!(LargeBuf::from(&c[..]).len(), len);
        }
    }
}
