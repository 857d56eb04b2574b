//! 3×3 convolution, zero padding 1, stride (s, 1): the LFE's workhorse.
//!
//! Three algorithms, picked per layer at construction ([`Algorithm::Auto`]) from the shape and
//! the CPU's features:
//!
//! * [`Algorithm::Winograd`] — Winograd F(4×4, 3×3) (see `winograd.rs`): 36 GEMMs on
//!   transformed tiles, 4× fewer multiplications; used when `Cin ≥ 16` and stride ≤ 2 (a
//!   stride-2 layer is computed at full resolution and decimated, still 2× fewer).
//! * [`Algorithm::Direct`] — direct convolution vectorised over time for `Cin ≤ 4` (the 1→164
//!   stem), where a GEMM's K = 9·Cin is too small to pay.
//! * [`Algorithm::Im2col`] — tiled im2col + one `gemm`-crate GEMM per tile (K = 9·Cin), tiles
//!   spread over the rayon pool, the epilogue applied while the tile is in cache. Any shape.
//!
//! All of them keep memory bounded for any input length (per-thread scratch of one tile or
//! block, reused across calls) and apply the epilogue before the output leaves cache.

use crate::context::{CpuContext, SendPtr};
use crate::cpu::SimdLevel;
use crate::direct::{self, Direct};
use crate::epilogue::Epilogue;
use crate::matmul::{matmul_to_ptr, MatRef, Threads};
use crate::precision::Precision;
use crate::winograd::Winograd;
use rayon::prelude::*;

/// Which algorithm a [`Conv3x3`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// Choose from the shape (the default; see the module documentation).
    Auto,
    /// Tiled im2col + GEMM.
    Im2col,
    /// Direct convolution (only for `Cin ≤ 4`; otherwise falls back to `Auto`'s choice).
    Direct,
    /// Winograd F(4×4, 3×3) at the given SIMD level (lowered to what the CPU runs).
    Winograd(SimdLevel),
}

impl Algorithm {
    /// What `Auto` picks for a layer.
    pub fn auto(cin: usize, stride_h: usize) -> Self {
        if cin <= direct::MAX_CIN {
            Algorithm::Direct
        } else if cin >= 16 && stride_h <= 2 {
            Algorithm::Winograd(SimdLevel::best())
        } else {
            Algorithm::Im2col
        }
    }

    /// A short name for tables and logs.
    pub fn name(&self) -> String {
        match self {
            Algorithm::Auto => "auto".into(),
            Algorithm::Im2col => "im2col".into(),
            Algorithm::Direct => "direct".into(),
            Algorithm::Winograd(l) => format!("winograd-{}", l.name()),
        }
    }
}

/// Target number of output columns (pixels) per tile: large enough for an efficient GEMM,
/// small enough that the im2col tile (9·Cin × this) stays in L2.
const TILE_COLUMNS: usize = 256;

/// A 3×3 convolution with its weights laid out for the kernel and its epilogue.
#[derive(Debug, Clone)]
pub struct Conv3x3 {
    cin: usize,
    cout: usize,
    stride_h: usize,
    kernel: Kernel,
}

#[derive(Debug, Clone)]
enum Kernel {
    Im2col(Im2col),
    Direct(Direct),
    Winograd(Winograd),
}

/// The im2col + GEMM baseline.
#[derive(Debug, Clone)]
struct Im2col {
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
    pub fn new(
        ctx: &CpuContext,
        weight: &[f32],
        cout: usize,
        cin: usize,
        stride_h: usize,
        epilogue: Epilogue,
    ) -> Self {
        Self::with_precision(ctx, weight, cout, cin, stride_h, epilogue, Precision::F32)
    }

    /// As [`Conv3x3::new`], computing in `precision` where the layer runs Winograd products
    /// and the CPU supports it (see [`Precision`]); fp32 otherwise ([`Conv3x3::precision`]
    /// says which).
    ///
    /// # Panics
    /// As [`Conv3x3::new`].
    pub fn with_precision(
        ctx: &CpuContext,
        weight: &[f32],
        cout: usize,
        cin: usize,
        stride_h: usize,
        epilogue: Epilogue,
        precision: Precision,
    ) -> Self {
        Self::with_algorithm(
            ctx,
            weight,
            cout,
            cin,
            stride_h,
            epilogue,
            Algorithm::Auto,
            precision,
        )
    }

    /// As [`Conv3x3::with_precision`], with the algorithm forced (benchmarks and tests). A
    /// choice the shape does not allow (`Direct` with `Cin > 4`) falls back to `Auto`'s; a SIMD
    /// level the CPU lacks is lowered.
    ///
    /// # Panics
    /// As [`Conv3x3::new`].
    #[allow(clippy::too_many_arguments)]
    pub fn with_algorithm(
        ctx: &CpuContext,
        weight: &[f32],
        cout: usize,
        cin: usize,
        stride_h: usize,
        epilogue: Epilogue,
        algorithm: Algorithm,
        precision: Precision,
    ) -> Self {
        assert_eq!(weight.len(), cout * cin * 9, "Conv3x3: weight length");
        assert!(epilogue.check(cout), "Conv3x3: epilogue length");
        assert!(stride_h >= 1, "Conv3x3: stride");
        let algorithm = match algorithm {
            Algorithm::Auto => Algorithm::auto(cin, stride_h),
            Algorithm::Direct if cin > direct::MAX_CIN => Algorithm::auto(cin, stride_h),
            a => a,
        };
        let kernel = match algorithm {
            Algorithm::Direct => Kernel::Direct(Direct::new(
                weight,
                cout,
                cin,
                stride_h,
                &epilogue,
                SimdLevel::best(),
            )),
            Algorithm::Winograd(level) => Kernel::Winograd(Winograd::new(
                ctx,
                weight,
                cout,
                cin,
                stride_h,
                &epilogue,
                level.supported(),
                precision,
            )),
            _ => Kernel::Im2col(Im2col {
                cin,
                cout,
                stride_h,
                weight: weight.to_vec(),
                epilogue,
            }),
        };
        Self {
            cin,
            cout,
            stride_h,
            kernel,
        }
    }

    /// The precision this layer computes in (fp32 unless bf16 was asked for and runs here).
    pub fn precision(&self) -> Precision {
        match &self.kernel {
            Kernel::Winograd(w) => w.precision(),
            _ => Precision::F32,
        }
    }

    /// The algorithm this layer runs (never `Auto`).
    pub fn algorithm(&self) -> Algorithm {
        match &self.kernel {
            Kernel::Im2col(_) => Algorithm::Im2col,
            Kernel::Direct(_) => Algorithm::Direct,
            Kernel::Winograd(w) => Algorithm::Winograd(w.level()),
        }
    }

    /// The SIMD level of the hand-written kernels (`None` for im2col, whose GEMM the `gemm`
    /// crate dispatches itself).
    pub fn simd_level(&self) -> Option<SimdLevel> {
        match &self.kernel {
            Kernel::Im2col(_) => None,
            Kernel::Direct(d) => Some(d.level()),
            Kernel::Winograd(w) => Some(w.level()),
        }
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
    pub fn forward(&self, ctx: &CpuContext, input: &[f32], h: usize, w: usize, out: &mut [f32]) {
        let ho = self.out_height(h);
        assert_eq!(input.len(), self.cin * h * w, "Conv3x3: input length");
        assert_eq!(out.len(), self.cout * ho * w, "Conv3x3: output length");
        if w == 0 || ho == 0 {
            return;
        }
        match &self.kernel {
            Kernel::Im2col(k) => k.forward(ctx, input, h, w, out),
            Kernel::Direct(k) => k.forward(ctx, input, h, w, out),
            Kernel::Winograd(k) => k.forward(ctx, input, h, w, out),
        }
    }
}

impl Im2col {
    fn forward(&self, ctx: &CpuContext, input: &[f32], h: usize, w: usize, out: &mut [f32]) {
        let ho = (h - 1) / self.stride_h + 1;
        let tiles = plan_tiles(ho, w);
        let plane = ho * w;
        let out_ptr = SendPtr(out.as_mut_ptr());
        let k = self.cin * 9;
        ctx.install(|| {
            tiles.par_iter().for_each(|tile| {
                let n = tile.rows * tile.cols;
                ctx.with_scratch(k * n, |col| {
                    self.im2col(input, h, w, tile, col);
                    // SAFETY: the plan partitions every channel plane into disjoint column
                    // ranges `[start, start + n)`; this tile touches only those elements of each
                    // of the `cout` planes, which lie inside `out` (`(cout - 1) * plane + start
                    // + n <= out.len()`), and no other tile touches them.
                    unsafe { self.tile(col, tile, out_ptr.get(), plane, w) }
                });
            })
        });
    }

    /// The GEMM and epilogue of one tile, written straight into its part of the output.
    ///
    /// # Safety
    /// `out` must point to a `(cout, plane)` buffer whose elements `[c * plane + start,
    /// c * plane + start + n)` (for the tile's `start` and `n`) no other thread accesses
    /// during the call.
    unsafe fn tile(&self, col: &[f32], tile: &Tile, out: *mut f32, plane: usize, w: usize) {
        let k = self.cin * 9;
        let n = tile.rows * tile.cols;
        let start = tile.row0 * w + tile.t0;
        matmul_to_ptr(
            out.add(start),
            plane,
            MatRef::new(&self.weight, self.cout, k),
            MatRef::new(col, k, n),
            false,
            Threads::Single,
        );
        for c in 0..self.cout {
            // Only this tile's own `n` elements of channel `c`.
            let dst = std::slice::from_raw_parts_mut(out.add(c * plane + start), n);
            self.epilogue.apply(c, dst);
        }
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
                            *d = if ix < 0 || ix >= w as isize {
                                0.0
                            } else {
                                src[ix as usize]
                            };
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
                tiles.push(Tile {
                    row0,
                    rows: 1,
                    t0,
                    cols,
                });
                t0 += cols;
            }
        }
    } else {
        let rows_per_tile = (TILE_COLUMNS / w).max(1);
        let mut row0 = 0;
        while row0 < ho {
            let rows = rows_per_tile.min(ho - row0);
            tiles.push(Tile {
                row0,
                rows,
                t0: 0,
                cols: w,
            });
            row0 += rows;
        }
    }
    tiles
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::naive;

    fn ctx() -> CpuContext {
        CpuContext::new(2).unwrap()
    }

    fn pseudo_random(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 33) as f32 / (1u64 << 31) as f32) - 0.5
            })
            .collect()
    }

    /// Relative L2 and max-abs (relative to max |ref|) errors of `algorithm` against the f64
    /// direct convolution, epilogue included.
    fn errors(
        cin: usize,
        cout: usize,
        h: usize,
        w: usize,
        stride: usize,
        algorithm: Algorithm,
        precision: Precision,
    ) -> (f64, f64) {
        let x = pseudo_random(cin * h * w, 1 + h as u64);
        let wt = pseudo_random(cout * cin * 9, 2 + w as u64);
        let b = pseudo_random(cout, 3);
        let scale: Vec<f32> = pseudo_random(cout, 4).iter().map(|v| 1.0 + v).collect();
        let shift = pseudo_random(cout, 5);
        let ctx = ctx();
        let mut checked = 0;
        let mut worst = (0.0f64, 0.0f64);
        for (relu, affine) in [(false, None), (true, Some((scale, shift)))] {
            let ep = Epilogue {
                bias: Some(b.clone()),
                relu,
                affine,
            };
            let conv = Conv3x3::with_algorithm(
                &ctx,
                &wt,
                cout,
                cin,
                stride,
                ep.clone(),
                algorithm,
                precision,
            );
            let ho = conv.out_height(h);
            let mut y = vec![f32::NAN; cout * ho * w];
            conv.forward(&ctx, &x, h, w, &mut y);
            let (mut r, rh, rw) = naive::conv2d(
                &x,
                (cin, h, w),
                &wt,
                (cout, 3, 3),
                None,
                (stride, 1),
                (1, 1),
            );
            assert_eq!((rh, rw), (ho, w));
            for c in 0..cout {
                ep.apply(c, &mut r[c * ho * w..(c + 1) * ho * w]);
            }
            let (mut d2, mut r2, mut dmax, mut rmax) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
            for (a, b) in y.iter().zip(&r) {
                let (a, b) = (*a as f64, *b as f64);
                assert!(
                    a.is_finite(),
                    "non-finite output ({algorithm:?} cin {cin} h {h} w {w} s {stride})"
                );
                d2 += (a - b) * (a - b);
                r2 += b * b;
                dmax = dmax.max((a - b).abs());
                rmax = rmax.max(b.abs());
            }
            worst.0 = worst.0.max((d2 / r2.max(1e-300)).sqrt());
            worst.1 = worst.1.max(dmax / rmax.max(1e-300));
            checked += 1;
        }
        assert_eq!(checked, 2);
        worst
    }

    /// Odd shapes: heights not a multiple of the 4-row tile (and 1), widths 1..3 and not a
    /// multiple of 4 or 64, channel counts off the register blocking, stride 2.
    const SHAPES: [(usize, usize, usize, usize, usize); 16] = [
        (3, 5, 7, 9, 1),
        (4, 6, 8, 300, 1),
        (4, 6, 9, 5, 2),
        (1, 4, 16, 3, 1),
        (5, 3, 2, 600, 2),
        (16, 12, 13, 37, 1),
        (17, 13, 5, 1, 1),
        (16, 7, 9, 2, 1),
        (16, 8, 1, 3, 1),
        (18, 9, 1, 70, 2),
        (20, 9, 11, 70, 2),
        (32, 24, 3, 129, 2),
        (24, 20, 33, 17, 1),
        (40, 26, 6, 257, 1),
        (64, 50, 10, 66, 2),
        (164, 30, 12, 100, 1),
    ];

    fn check_all(algorithm: Algorithm, max_l2: f64, max_abs: f64) {
        for &(cin, cout, h, w, s) in &SHAPES {
            let (l2, abs) = errors(cin, cout, h, w, s, algorithm, Precision::F32);
            eprintln!(
                "{algorithm:?} cin {cin} cout {cout} {h}x{w} s{s}: rel L2 {l2:.2e}, max {abs:.2e}"
            );
            assert!(
                l2 <= max_l2 && abs <= max_abs,
                "{algorithm:?} cin {cin} cout {cout} {h}x{w} s{s}: rel L2 {l2:.2e}, max {abs:.2e}"
            );
        }
    }

    #[test]
    fn im2col_matches_direct() {
        check_all(Algorithm::Im2col, 1e-6, 2e-6);
    }

    #[test]
    fn direct_matches_reference() {
        // Falls back to Auto's choice above 4 input channels.
        check_all(Algorithm::Direct, 2e-6, 4e-6);
    }

    #[test]
    fn winograd_matches_direct_at_every_level() {
        for level in [SimdLevel::Portable, SimdLevel::Avx2, SimdLevel::Avx512] {
            check_all(Algorithm::Winograd(level), 4e-6, 1e-5);
        }
    }

    /// bf16 products on AMX tiles: errors of the order of bf16 rounding (2⁻⁹ relative per
    /// operand, grown by the Winograd transforms), far above fp32's but bounded; with split
    /// operands (bf16x3, ~2⁻¹⁷) close to fp32's. Where the CPU has no tiles the request runs
    /// fp32, at fp32 accuracy.
    #[test]
    fn winograd_bf16_stays_within_bf16_error() {
        for (precision, bound) in [
            (Precision::Bf16, (2.5e-2, 5e-2)),
            (Precision::Bf16x3, (6e-5, 1.2e-4)),
        ] {
            check_reduced(precision, bound);
        }
    }

    fn check_reduced(precision: Precision, (tile_l2, tile_abs): (f64, f64)) {
        let tiles = precision.supported() == precision;
        let algorithm = Algorithm::Winograd(SimdLevel::Avx512);
        for &(cin, cout, h, w, s) in &SHAPES {
            let probe = Conv3x3::with_algorithm(
                &ctx(),
                &vec![0.0; cout * cin * 9],
                cout,
                cin,
                s,
                Epilogue::default(),
                algorithm,
                precision,
            );
            let on_tiles =
                tiles && matches!(probe.algorithm(), Algorithm::Winograd(SimdLevel::Avx512));
            let want = if on_tiles { precision } else { Precision::F32 };
            assert_eq!(probe.precision(), want, "cin {cin} cout {cout}");
            let (l2, abs) = errors(cin, cout, h, w, s, algorithm, precision);
            let line = format!("{precision:?} ran as {want:?}: cin {cin} cout {cout} {h}x{w} s{s}: rel L2 {l2:.2e}, max {abs:.2e}");
            eprintln!("{line}");
            let (max_l2, max_abs) = if on_tiles {
                (tile_l2, tile_abs)
            } else {
                (4e-6, 1e-5)
            };
            assert!(l2 <= max_l2 && abs <= max_abs, "{line}");
        }
    }

    /// Error growth through 20 stacked Conv → ReLU → affine layers (the LFE's depth), each
    /// layer fed its own previous output, against the same stack through the f64 direct
    /// convolution: the brief's budget is 1e-4 relative L2 at the end.
    #[test]
    fn twenty_stacked_layers_stay_accurate() {
        let (c, h, w, layers) = (48, 12, 21, 20);
        let mut x = pseudo_random(c * h * w, 99);
        let mut r = x.clone();
        let ctx = ctx();
        for l in 0..layers {
            let std = (2.0 / (9.0 * c as f32)).sqrt() * 3.4; // uniform(-.5,.5) has std 0.29
            let wt: Vec<f32> = pseudo_random(c * c * 9, 100 + l)
                .iter()
                .map(|v| v * std)
                .collect();
            let scale: Vec<f32> = pseudo_random(c, 200 + l)
                .iter()
                .map(|v| 1.0 + 0.5 * v)
                .collect();
            let ep = Epilogue {
                bias: Some(pseudo_random(c, 300 + l)),
                relu: true,
                affine: Some((scale, pseudo_random(c, 400 + l))),
            };
            let conv = Conv3x3::new(&ctx, &wt, c, c, 1, ep.clone());
            assert!(matches!(conv.algorithm(), Algorithm::Winograd(_)));
            let mut y = vec![0.0; c * h * w];
            conv.forward(&ctx, &x, h, w, &mut y);
            x = y;
            let (mut ry, _, _) = naive::conv2d(&r, (c, h, w), &wt, (c, 3, 3), None, (1, 1), (1, 1));
            for ch in 0..c {
                ep.apply(ch, &mut ry[ch * h * w..(ch + 1) * h * w]);
            }
            r = ry;
        }
        let (d2, r2) = x.iter().zip(&r).fold((0.0f64, 0.0f64), |(d, n), (a, b)| {
            (d + (*a as f64 - *b as f64).powi(2), n + (*b as f64).powi(2))
        });
        let rel = (d2 / r2).sqrt();
        eprintln!(
            "20 layers: relative L2 {rel:.2e}, output rms {:.3}",
            (r2 / r.len() as f64).sqrt()
        );
        assert!(rel < 1e-4, "20 stacked layers: relative L2 {rel:.2e}");
    }

    #[test]
    fn auto_selection() {
        assert_eq!(Algorithm::auto(1, 1), Algorithm::Direct);
        assert_eq!(
            Algorithm::auto(164, 1),
            Algorithm::Winograd(SimdLevel::best())
        );
        assert_eq!(
            Algorithm::auto(164, 2),
            Algorithm::Winograd(SimdLevel::best())
        );
        assert_eq!(Algorithm::auto(8, 1), Algorithm::Im2col);
        assert_eq!(Algorithm::auto(164, 3), Algorithm::Im2col);
        let c = Conv3x3::new(&ctx(), &[0.0; 9 * 4], 4, 1, 1, Epilogue::default());
        assert_eq!(c.algorithm(), Algorithm::Direct);
    }

    /// Repeated calls, and calls on pools of different sizes, give identical results (no state
    /// leaks through the reused scratch).
    #[test]
    fn deterministic_across_calls_and_pools() {
        let (cin, cout, h, w) = (24, 20, 17, 90);
        let x = pseudo_random(cin * h * w, 11);
        let wt = pseudo_random(cout * cin * 9, 12);
        for algorithm in [Algorithm::Auto, Algorithm::Im2col] {
            let first_ctx = ctx();
            let conv = Conv3x3::with_algorithm(
                &first_ctx,
                &wt,
                cout,
                cin,
                1,
                Epilogue::default(),
                algorithm,
                Precision::F32,
            );
            let mut first = vec![0.0; cout * h * w];
            conv.forward(&first_ctx, &x, h, w, &mut first);
            for threads in [1, 2, 3] {
                let other = CpuContext::new(threads).unwrap();
                let mut y = vec![0.0; cout * h * w];
                conv.forward(&other, &x, h, w, &mut y);
                assert_eq!(y, first, "{algorithm:?} threads {threads}");
            }
        }
    }

    fn check(cin: usize, cout: usize, h: usize, w: usize, stride: usize) {
        let x = pseudo_random(cin * h * w, 1);
        let wt = pseudo_random(cout * cin * 9, 2);
        let b = pseudo_random(cout, 3);
        let ctx = ctx();
        let conv = Conv3x3::new(
            &ctx,
            &wt,
            cout,
            cin,
            stride,
            Epilogue {
                bias: Some(b.clone()),
                relu: false,
                affine: None,
            },
        );
        let ho = conv.out_height(h);
        let mut y = vec![0.0; cout * ho * w];
        conv.forward(&ctx, &x, h, w, &mut y);
        let (r, rh, rw) = naive::conv2d(
            &x,
            (cin, h, w),
            &wt,
            (cout, 3, 3),
            Some(&b),
            (stride, 1),
            (1, 1),
        );
        assert_eq!((rh, rw), (ho, w));
        let err = y
            .iter()
            .zip(&r)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            err < 1e-4,
            "max abs err {err} (cin {cin} h {h} w {w} s {stride})"
        );
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
