//! Block inputs kept between the passes of the time-tiled path (`tiled.rs`).
//!
//! Stored frame-major (one row of `c·h` floats per frame) so that a time range is one
//! contiguous read, in memory or in an unnamed temporary file that the OS deletes when it is
//! closed. The file is read and written with positioned I/O rather than mapped: its pages
//! stay in the page cache, which the kernel can evict, instead of in this process's RSS.

use super::Planes;
use std::fs::File;
use std::io;
use std::ops::Range;
use std::path::Path;

/// One stored `(c, h, frames)` activation.
#[derive(Debug)]
pub struct Checkpoint {
    c: usize,
    h: usize,
    frames: usize,
    store: Store,
}

#[derive(Debug)]
enum Store {
    Memory(Vec<f32>),
    File(File),
}

impl Checkpoint {
    /// An empty checkpoint, in memory (`spill = None`) or in a temporary file under `spill`.
    pub fn new(c: usize, h: usize, frames: usize, spill: Option<&Path>) -> io::Result<Self> {
        let store = match spill {
            None => Store::Memory(vec![0.0; c * h * frames]),
            Some(dir) => {
                let file = tempfile::tempfile_in(dir)?;
                file.set_len(Self::bytes(c, h, frames) as u64)?;
                Store::File(file)
            }
        };
        Ok(Self {
            c,
            h,
            frames,
            store,
        })
    }

    /// Bytes a `(c, h, frames)` checkpoint takes.
    pub fn bytes(c: usize, h: usize, frames: usize) -> usize {
        c * h * frames * std::mem::size_of::<f32>()
    }

    /// Stores columns `cols` of a `(c, h, ·)` map as frames `t0..`.
    pub fn write(&mut self, t0: usize, x: &Planes, cols: Range<usize>) -> io::Result<()> {
        debug_assert_eq!((x.c, x.h), (self.c, self.h));
        debug_assert!(t0 + cols.len() <= self.frames);
        let width = self.c * self.h;
        let n = cols.len();
        let mut rows = vec![0.0f32; n * width];
        transpose(&x.data[cols.start..], width, n, x.w, &mut rows);
        match &mut self.store {
            Store::Memory(data) => {
                data[t0 * width..(t0 + n) * width].copy_from_slice(&rows);
                Ok(())
            }
            Store::File(file) => write_at(file, bytemuck::cast_slice(&rows), offset(t0, width)),
        }
    }

    /// Frames `range` as a `(c, h, range.len())` map.
    pub fn read(&self, range: Range<usize>) -> io::Result<Planes> {
        debug_assert!(range.end <= self.frames);
        let width = self.c * self.h;
        let n = range.len();
        let owned;
        let rows: &[f32] = match &self.store {
            Store::Memory(data) => &data[range.start * width..range.end * width],
            Store::File(file) => {
                let mut buf = vec![0.0f32; n * width];
                read_at(
                    file,
                    bytemuck::cast_slice_mut(&mut buf),
                    offset(range.start, width),
                )?;
                owned = buf;
                &owned
            }
        };
        let mut data = vec![0.0f32; width * n];
        transpose(rows, n, width, width, &mut data);
        Ok(Planes {
            data,
            c: self.c,
            h: self.h,
            w: n,
        })
    }
}

/// `dst (cols, rows) = srcᵀ` for a `(rows, cols)` matrix whose rows start `stride` apart, in
/// blocks so that both sides stay in cache.
fn transpose(src: &[f32], rows: usize, cols: usize, stride: usize, dst: &mut [f32]) {
    const B: usize = 32;
    for r0 in (0..rows).step_by(B) {
        for c0 in (0..cols).step_by(B) {
            for r in r0..(r0 + B).min(rows) {
                let line = &src[r * stride..];
                for c in c0..(c0 + B).min(cols) {
                    dst[c * rows + r] = line[c];
                }
            }
        }
    }
}

fn offset(frame: usize, width: usize) -> u64 {
    (frame * width * std::mem::size_of::<f32>()) as u64
}

#[cfg(unix)]
fn write_at(file: &File, buf: &[u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, buf, offset)
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn write_at(file: &File, mut buf: &[u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        let n = file.seek_write(buf, offset)?;
        buf = &buf[n..];
        offset += n as u64;
    }
    Ok(())
}

#[cfg(windows)]
fn read_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        let n = file.seek_read(buf, offset)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf = &mut buf[n..];
        offset += n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(c: usize, h: usize, w: usize) -> Planes {
        Planes {
            data: (0..c * h * w).map(|i| i as f32).collect(),
            c,
            h,
            w,
        }
    }

    #[test]
    fn round_trip_in_memory_and_on_disk() {
        let x = ramp(3, 2, 10);
        let dir = std::env::temp_dir();
        for spill in [None, Some(dir.as_path())] {
            let mut cp = Checkpoint::new(3, 2, 10, spill).unwrap();
            // Written in two uneven pieces, read back across their seam.
            cp.write(0, &x, 0..4).unwrap();
            cp.write(4, &x, 4..10).unwrap();
            let y = cp.read(2..7).unwrap();
            for (row, src) in y.data.chunks_exact(5).zip(x.data.chunks_exact(10)) {
                assert_eq!(row, &src[2..7]);
            }
        }
    }
}
