//! 3×3 convolution, zero padding 1, stride (s, 1): the LFE's workhorse.
//!
//! Baseline algorithm: tiled im2col + one GEMM per tile (K = 9·Cin), tiles spread over the rayon
//! pool, the epilogue applied while the tile is still in cache. Memory stays bounded for any
//! input length: the im2col buffer holds one tile, never the whole image.

use crate::epilogue::Epilogue;
use crate::matmul::{matmul, MatRef, Threads};
use rayon::prelude::*;

/// Target number of output columns (pixels) per tile: large enough for an efficient GEMM,
/// small enough that the im2col tile (9·Cin × this) stays in L2.
const TILE_COLUMNS: usize = 256;

/// A 3×3 convolution with its weights laid out for the kernel and its epilogue.
#[derive(Debug, Clone)]
pub struct Conv3x3 {
    cin: usize,
    cout: usize,
    stride_h: usize,
    /// `(cout, cin·9)`, i.e. the PyTorch layout flattened.
    weight: Vec<f32>,
    epilogue: Epilogue,
}

/// One output tile: either part of a single row, or several whole rows. Either way its
/// columns are contiguous inside each output channel plane.
#[derive(Debug, Clone, Copy)]
struct Tile {
    row0: usize,
    rows: usize,
    t0: usize,
    cols: usize,
}

impl Conv3x3 {
    /// Builds the kernel from a PyTorch `(cout, cin, 3, 3)` weight.
    ///
    /// # Panics
    /// If the weight or epilogue lengths disagree with `cout`/`cin` (the binder checks shapes
    /// first, so this is a programming error).
    pub fn new(weight: &[f32], cout: usize, cin: usize, stride_h: usize, epilogue: Epilogue) -> Self {
        assert_eq!(weight.len(), cout * cin * 9, "Conv3x3: weight length");
        assert!(epilogue.check(cout), "Conv3x3: epilogue length");
        assert!(stride_h >= 1, "Conv3x3: stride");
        Self { cin, cout, stride_h, weight: weight.to_vec(), epilogue }
    }

    /// Input channels.
    pub fn in_channels(&self) -> usize {
        self.cin
    }

    /// Output channels.
    pub fn out_channels(&self) -> usize {
        self.cout
    }

    /// Output height for input height `h` (padding 1, kernel 3).
    pub fn out_height(&self, h: usize) -> usize {
        (h - 1) / self.stride_h + 1
    }

    /// Convolves one `(cin, h, w)` image into `out` = `(cout, out_height(h), w)`.
    ///
    /// # Panics
    /// If the slices do not have the sizes above.
    pub fn forward(&self, input: &[f32], h: usize, w: usize, out: &mut [f32]) {
        let ho = self.out_height(h);
        assert_eq!(input.len(), self.cin * h * w, "Conv3x3: input length");
        assert_eq!(out.len(), self.cout * ho * w, "Conv3x3: output length");
        if w == 0 || ho == 0 {
            return;
        }
        let tiles = plan_tiles(ho, w);
        let plane = ho * w;
        let out_ptr = SharedOut(out.as_mut_ptr(), out.len());
        let k = self.cin * 9;
        tiles.par_iter().for_each_init(Vec::new, |col, tile| {
            let n = tile.rows * tile.cols;
            col.resize(k * n, 0.0);
            self.im2col(input, h, w, tile, col);
            let start = tile.row0 * w + tile.t0;
            // SAFETY: tiles partition every channel plane into disjoint column ranges
            // [start, start + n), so concurrent tiles never write the same element, and
            // `(cout - 1) * plane + start + n <= out.len()` by construction of the plan.
            let dst = unsafe { out_ptr.slice_from(start) };
            matmul(
                dst,
                plane,
                MatRef::new(&self.weight, self.cout, k),
                MatRef::new(col, k, n),
                false,
                Threads::Single,
            );
            for c in 0..self.cout {
                self.epilogue.apply(c, &mut dst[c * plane..c * plane + n]);
            }
        });
    }

    /// Gathers the 3×3 neighbourhoods of one tile: row `ci·9 + dy·3 + dx`, column = pixel.
    fn im2col(&self, input: &[f32], h: usize, w: usize, tile: &Tile, col: &mut [f32]) {
        let n = tile.rows * tile.cols;
        for ci in 0..self.cin {
            let image = &input[ci * h * w..(ci + 1) * h * w];
            for dy in 0..3 {
                for dx in 0..3 {
                    let row = &mut col[((ci * 3 + dy) * 3 + dx) * n..][..n];
                    for r in 0..tile.rows {
                        let dst = &mut row[r * tile.cols..(r + 1) * tile.cols];
                        let iy = ((tile.row0 + r) * self.stride_h + dy) as isize - 1;
                        if iy < 0 || iy >= h as isize {
                            dst.fill(0.0);
                            continue;
                        }
                        let src = &image[iy as usize * w..(iy as usize + 1) * w];
                        // Output column t reads input column t + dx - 1.
                        for (j, d) in dst.iter_mut().enumerate() {
                            let ix = (tile.t0 + j + dx) as isize - 1;
                            *d = if ix < 0 || ix >= w as isize { 0.0 } else { src[ix as usize] };
                        }
                    }
                }
            }
        }
    }
}

fn plan_tiles(ho: usize, w: usize) -> Vec<Tile> {
    let mut tiles = Vec::new();
    if w >= TILE_COLUMNS {
        for row0 in 0..ho {
            let mut t0 = 0;
            while t0 < w {
                let cols = TILE_COLUMNS.min(w - t0);
                tiles.push(Tile { row0, rows: 1, t0, cols });
                t0 += cols;
            }
        }
    } else {
        let rows_per_tile = (TILE_COLUMNS / w).max(1);
        let mut row0 = 0;
        while row0 < ho {
            let rows = rows_per_tile.min(ho - row0);
            tiles.push(Tile { row0, rows, t0: 0, cols: w });
            row0 += rows;
        }
    }
    tiles
}

/// An output buffer shared by tiles that write disjoint ranges.
#[derive(Clone, Copy)]
struct SharedOut(*mut f32, usize);
// SAFETY: only used for disjoint writes, see `Conv3x3::forward`.
unsafe impl Send for SharedOut {}
unsafe impl Sync for SharedOut {}

impl SharedOut {
    /// # Safety
    /// The caller must only touch elements no other thread touches concurrently.
    unsafe fn slice_from(&self, start: usize) -> &mut [f32] {
        std::slice::from_raw_parts_mut(self.0.add(start), self.1 - start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::naive;

    fn pseudo_random(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((s >> 33) as f32 / (1u64 << 31) as f32) - 0.5
            })
            .collect()
    }

    fn check(cin: usize, cout: usize, h: usize, w: usize, stride: usize) {
        let x = pseudo_random(cin * h * w, 1);
        let wt = pseudo_random(cout * cin * 9, 2);
        let b = pseudo_random(cout, 3);
        let conv = Conv3x3::new(
            &wt,
            cout,
            cin,
            stride,
            Epilogue { bias: Some(b.clone()), relu: false, affine: None },
        );
        let ho = conv.out_height(h);
        let mut y = vec![0.0; cout * ho * w];
        conv.forward(&x, h, w, &mut y);
        let (r, rh, rw) = naive::conv2d(&x, (cin, h, w), &wt, (cout, 3, 3), Some(&b), (stride, 1), (1, 1));
        assert_eq!((rh, rw), (ho, w));
        let err = y.iter().zip(&r).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(err < 1e-4, "max abs err {err} (cin {cin} h {h} w {w} s {stride})");
    }

    #[test]
    fn matches_direct_convolution() {
        check(3, 5, 7, 9, 1);
        check(4, 6, 8, 300, 1); // time tiles within a row
        check(4, 6, 9, 5, 2); // odd height, stride 2
        check(1, 4, 16, 3, 1);
        check(5, 3, 2, 600, 2);
    }
}
