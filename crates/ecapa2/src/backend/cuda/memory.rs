//! Device buffers: a caching pool (a forward frees and re-allocates maps of the same few sizes
//! over and over; `cuMemAlloc`/`cuMemFree` synchronise the device) and an RAII handle that
//! returns its memory to the pool when dropped, so an error path leaks nothing.

use super::gpu::Gpu;
use super::params::Ptr;
use crate::error::Result;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Free device buffers by size class, and the bytes in use and cached.
#[derive(Default)]
struct Cache {
    free: HashMap<usize, Vec<Ptr>>,
    in_use: usize,
    peak: usize,
    cached: usize,
}

/// Bytes a pool's buffers hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Usage {
    /// Handed out and not yet returned (weights included).
    pub in_use: usize,
    /// The most ever in use since the last [`Pool::reset_peak`].
    pub peak: usize,
    /// Returned and kept for reuse.
    pub cached: usize,
}

/// A caching allocator over a [`Gpu`].
pub(crate) struct Pool<G: Gpu> {
    gpu: Arc<G>,
    cache: Mutex<Cache>,
}

impl<G: Gpu> Pool<G> {
    /// A pool on `gpu`.
    pub fn new(gpu: Arc<G>) -> Arc<Self> {
        Arc::new(Self {
            gpu,
            cache: Mutex::default(),
        })
    }

    /// The device.
    pub fn gpu(&self) -> &G {
        &self.gpu
    }

    /// The device, shared.
    pub fn gpu_arc(&self) -> &Arc<G> {
        &self.gpu
    }

    /// A buffer of at least `bytes` (contents undefined).
    pub fn take(self: &Arc<Self>, bytes: usize) -> Result<Buf<G>> {
        let size = self.gpu.size_class(bytes);
        let reused = self.lock().free.get_mut(&size).and_then(Vec::pop);
        let ptr = match reused {
            Some(p) => p,
            None => match self.gpu.alloc(size) {
                Ok(p) => p,
                // Out of memory with buffers cached: give them back and try once more.
                Err(_) if self.trim() > 0 => self.gpu.alloc(size)?,
                Err(e) => return Err(e),
            },
        };
        {
            let mut c = self.lock();
            if reused.is_some() {
                c.cached -= size;
            }
            c.in_use += size;
            c.peak = c.peak.max(c.in_use);
        }
        Ok(Buf {
            ptr,
            size,
            pool: Arc::clone(self),
        })
    }

    /// A buffer holding `data`.
    pub fn upload<T: bytemuck::Pod>(self: &Arc<Self>, data: &[T]) -> Result<Buf<G>> {
        let bytes: &[u8] = bytemuck::cast_slice(data);
        let buf = self.take(bytes.len())?;
        self.gpu.upload(buf.ptr, bytes)?;
        Ok(buf)
    }

    /// Frees every cached buffer; returns the bytes freed.
    pub fn trim(&self) -> usize {
        let free: Vec<(usize, Vec<Ptr>)> = self.lock().free.drain().collect();
        let mut freed = 0;
        for (size, ptrs) in free {
            for p in ptrs {
                self.gpu.free(p);
                freed += size;
            }
        }
        self.lock().cached -= freed;
        freed
    }

    /// What the buffers hold now.
    pub fn usage(&self) -> Usage {
        let c = self.lock();
        Usage {
            in_use: c.in_use,
            peak: c.peak,
            cached: c.cached,
        }
    }

    /// Starts a new peak measurement from what is in use now.
    #[cfg(test)]
    pub fn reset_peak(&self) {
        let mut c = self.lock();
        c.peak = c.in_use;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        // A panic while holding the lock cannot leave the map inconsistent (single inserts).
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<G: Gpu> Drop for Pool<G> {
    fn drop(&mut self) {
        self.trim();
    }
}

/// A device buffer that goes back to its pool when dropped.
pub(crate) struct Buf<G: Gpu> {
    ptr: Ptr,
    size: usize,
    pool: Arc<Pool<G>>,
}

impl<G: Gpu> Buf<G> {
    /// Its device address.
    pub fn ptr(&self) -> Ptr {
        self.ptr
    }
}

impl<G: Gpu> Drop for Buf<G> {
    fn drop(&mut self) {
        let mut c = self.pool.lock();
        c.in_use -= self.size;
        c.cached += self.size;
        c.free.entry(self.size).or_default().push(self.ptr);
    }
}
