//! Winograd F(4×4, 3×3) convolution (zero padding 1, stride (s, 1)).
//!
//! The output is cut into 4×4 tiles (4 frequency rows × 4 time frames); each needs a 6×6 input
//! tile. Per block of tiles (at most [`BLOCK_TILES`], enumerated row band by row band, so the
//! working set stays bounded for any input length):
//!
//! 1. input transform `V = Bᵀ d B` for every tile and input channel, sixteen tiles per vector
//!    (consecutive time tiles in the lanes: a stride-4 de-interleave of the input rows);
//! 2. 36 GEMMs `M[ξ] (Cout × tiles) = U[ξ] (Cout × Cin) · V[ξ] (Cin × tiles)` with a
//!    register-blocked micro-kernel (`U` packed once in [`Winograd::new`]);
//! 3. output transform `Y = Aᵀ M A`, fused with the epilogue, written straight to the output.
//!
//! Blocks are spread over the current rayon pool; each thread reuses its own scratch.
//!
//! Stride (s, 1) with s > 1 is computed as the stride-1 convolution whose output rows are
//! decimated in the output transform (half the GEMM work is wasted at s = 2, still about half
//! the multiplications of a direct/im2col convolution).
//!
//! Interpolation points are 0, 1, −1, 2, −1/2 (and ∞) rather than the usual 0, ±1, ±2: the
//! mixed points cut the fp32 error by about 1.5× (Barabasz et al., "Error analysis and
//! improving the accuracy of Winograd convolution for deep neural networks", 2020) for a few
//! more adds in the transforms.

use crate::amx;
use crate::context::{CpuContext, SendPtr};
use crate::cpu::SimdLevel;
use crate::epilogue::Epilogue;
use crate::memory::LargeBuf;
use crate::precision::Precision;
use crate::simd::{P16, V16};
use rayon::prelude::*;

/// Finite interpolation points of the Toom–Cook construction (the sixth point is ∞).
const POINTS: [f64; 5] = [0.0, 1.0, -1.0, 2.0, -0.5];

/// Input transform `Bᵀ` (6×6) for [`POINTS`] (the kernels use the factored [`bt6`]); a unit
/// test checks it against `G` and `Aᵀ` built from the same points.
#[cfg_attr(not(test), allow(dead_code))]
const BT: [[f32; 6]; 6] = [
    [1.0, 1.5, -2.0, -1.5, 1.0, 0.0],
    [0.0, -1.0, -2.5, -0.5, 1.0, 0.0],
    [0.0, 1.0, 0.5, -2.5, 1.0, 0.0],
    [0.0, -0.5, -1.0, 0.5, 1.0, 0.0],
    [0.0, 2.0, -1.0, -2.0, 1.0, 0.0],
    [0.0, 1.0, 1.5, -2.0, -1.5, 1.0],
];

/// Output transform `Aᵀ` (4×6): row `i` holds `pᵢ` powers, the last column is the point at ∞.
#[cfg_attr(not(test), allow(dead_code))]
const AT: [[f32; 6]; 4] = [
    [1.0, 1.0, 1.0, 1.0, 1.0, 0.0],
    [0.0, 1.0, -1.0, 2.0, -0.5, 0.0],
    [0.0, 1.0, 1.0, 4.0, 0.25, 0.0],
    [0.0, 1.0, -1.0, 8.0, -0.125, 1.0],
];

/// A kernel transform `G` (6×3), in f64.
type G = [[f64; 3]; 6];

/// Kernel transform `G` (6×3) in f64: row `j` is `(1, pⱼ, pⱼ²) / Πₗ≠ⱼ (pⱼ − pₗ)`, then `(0, 0, 1)`.
fn g_matrix() -> G {
    let mut g = [[0.0; 3]; 6];
    for (j, &p) in POINTS.iter().enumerate() {
        let f: f64 = POINTS.iter().filter(|&&q| q != p).map(|&q| p - q).product();
        g[j] = [1.0 / f, p / f, p * p / f];
    }
    g[5] = [0.0, 0.0, 1.0];
    g
}

/// `U[ξ] = (G g Gᵀ)[ξ]` of every `(co, ci)` kernel of a `(cout, cin, 3, 3)` weight, packed as
/// [`Winograd::u`] describes (zero rows pad `cout` to `cout_pad`). This is most of a model's
/// load time, so it is separable (162 instead of 324 multiply-adds per kernel), vectorised
/// across the rows of a row block, writes every plane in whole chunks, and spreads the row
/// blocks over the current rayon pool: each row block owns one chunk of each of the 36 planes.
fn pack_kernels(
    ctx: &CpuContext,
    weight: &[f32],
    cout: usize,
    cin: usize,
    cout_pad: usize,
    mr: usize,
    level: SimdLevel,
) -> LargeBuf {
    assert!(
        mr <= PACK_LANES,
        "Winograd: row block wider than the packing lanes"
    );
    let g = g_matrix();
    let mut u = LargeBuf::zeroed(36 * cout_pad * cin);
    let mut blocks: Vec<Vec<&mut [f32]>> = (0..cout_pad.div_ceil(mr))
        .map(|_| Vec::with_capacity(36))
        .collect();
    for plane in u.chunks_mut(cout_pad * cin) {
        for (b, chunk) in plane.chunks_mut(mr * cin).enumerate() {
            blocks[b].push(chunk);
        }
    }
    ctx.install(|| {
        blocks
            .into_par_iter()
            .enumerate()
            .for_each(|(b, mut planes)| {
                let m0 = b * mr;
                let real = mr.min(cout.saturating_sub(m0));
                let block = RowBlock {
                    weight: &weight[m0 * cin * 9..(m0 + real) * cin * 9],
                    cin,
                    rows: mr.min(cout_pad - m0),
                    real,
                };
                // The scratch is taken here, outside the per-level functions: a closure inside them
                // would be compiled without their target features.
                ctx.with_scratch(36 * block.stride(), |packed| match level {
                    // SAFETY: `level` is supported by this CPU (lowered by the caller).
                    #[cfg(target_arch = "x86_64")]
                    SimdLevel::Avx512 => unsafe { pack_avx512(&g, &block, &mut planes, packed) },
                    // SAFETY: as above.
                    #[cfg(target_arch = "x86_64")]
                    SimdLevel::Avx2 => unsafe { pack_avx2(&g, &block, &mut planes, packed) },
                    _ => pack_row_block(&g, &block, &mut planes, packed),
                });
            })
    });
    u
}

/// Lanes of the packing loop: at least the widest micro-kernel row block ([`blocking`]).
const PACK_LANES: usize = 16;

/// The weights of one row block: `real` output channels (of `rows`, the rest padding).
struct RowBlock<'a> {
    weight: &'a [f32],
    cin: usize,
    rows: usize,
    real: usize,
}

impl RowBlock<'_> {
    /// Distance between the block's planes in the packing scratch: its chunk of a plane plus
    /// [`PACK_LANES`] of slack (see [`pack_row_block`]).
    fn stride(&self) -> usize {
        self.cin * self.rows + PACK_LANES
    }
}

per_level! {
    /// [`pack_row_block`] compiled for one SIMD level (no safety contract of its own).
    unsafe fn pack_avx512 | pack_avx2(
        g: &G,
        block: &RowBlock,
        planes: &mut [&mut [f32]],
        packed: &mut [f32],
    ) {
        pack_row_block(g, block, planes, packed)
    }
}

/// Transforms one row block into its chunks of the 36 planes, one input channel at a time,
/// the block's output channels in the lanes. Plain f64 arithmetic without contraction, so
/// every SIMD level gives the same bits. The chunks are built in `packed` (cache-resident
/// scratch of `36 × block.stride()` floats) and then copied out whole: writing fresh memory
/// in 36 interleaved 48-byte runs cost more than the arithmetic.
#[inline(always)]
fn pack_row_block(g: &G, block: &RowBlock, planes: &mut [&mut [f32]], packed: &mut [f32]) {
    let RowBlock {
        weight,
        cin,
        rows,
        real,
    } = *block;
    // Every input channel stores all the lanes (a fixed-width store): lanes past `rows` land
    // on the next channel's slots, rewritten when it comes, or in the slack. Lanes past `real`
    // are exact zeros (zero weights), which the padding rows need.
    let stride = block.stride();
    for ci in 0..cin {
        // k[tap][lane]: tap `dy * 3 + dx` of output channel `m0 + lane`.
        let mut k = [[0.0f64; PACK_LANES]; 9];
        for r in 0..real {
            let src = &weight[(r * cin + ci) * 9..][..9];
            for (tap, &x) in k.iter_mut().zip(src) {
                tap[r] = f64::from(x);
            }
        }
        // gk = G · k (6 × 3 per lane).
        let mut gk = [[[0.0f64; PACK_LANES]; 3]; 6];
        for (row, gr) in gk.iter_mut().zip(g) {
            for (dx, out) in row.iter_mut().enumerate() {
                for l in 0..PACK_LANES {
                    out[l] = gr[0] * k[dx][l] + gr[1] * k[3 + dx][l] + gr[2] * k[6 + dx][l];
                }
            }
        }
        // U = gk · Gᵀ (6 × 6 per lane), rounded once.
        for (a, row) in gk.iter().enumerate() {
            for (b, gb) in g.iter().enumerate() {
                let mut v = [0.0f32; PACK_LANES];
                for (l, x) in v.iter_mut().enumerate() {
                    *x = (row[0][l] * gb[0] + row[1][l] * gb[1] + row[2][l] * gb[2]) as f32;
                }
                packed[(a * 6 + b) * stride + ci * rows..][..PACK_LANES].copy_from_slice(&v);
            }
        }
    }
    for (plane, src) in planes.iter_mut().zip(packed.chunks_exact(stride)) {
        plane.copy_from_slice(&src[..cin * rows]);
    }
}

/// Preferred tiles per block: big enough to amortise streaming `U` (36·Cout·Cin floats) from L3
/// once per block, small enough that the block's transformed input and output stay near L2
/// (measured flat between 32 and 96).
const BLOCK_TILES: usize = 64;

/// Tiles per block for `total` tiles on `threads` threads: a multiple of 16 (one vector of
/// tiles) between 32 and 128 whose blocks, dealt out greedily, give the shortest critical path
/// (so 100 tiles on 2 threads run as 48 + 48 + 4, not 64 + 36); ties go to the size nearest
/// [`BLOCK_TILES`].
fn block_tiles(total: usize, threads: usize) -> usize {
    let mut best = (usize::MAX, usize::MAX, BLOCK_TILES);
    for per in (32..=128).step_by(16) {
        let blocks = total.div_ceil(per).max(1);
        // Every block holds `per` tiles but the last (`last`): the full ones spread evenly,
        // the last joins a thread with the fewest.
        let last = total - (blocks - 1) * per;
        let full = blocks - 1;
        let makespan = (full.div_ceil(threads) * per).max(full / threads * per + last);
        let key = (makespan, per.abs_diff(BLOCK_TILES), per);
        if key < best {
            best = key;
        }
    }
    best.2
}

/// Register blocking per level: (rows of `Cout` per micro-kernel, row quantum, 16-lane vectors
/// of tiles per micro-kernel).
fn blocking(level: SimdLevel) -> (usize, usize, usize) {
    match level {
        SimdLevel::Avx512 => (12, 4, 2),
        SimdLevel::Avx2 => (6, 2, 1),
        SimdLevel::Portable => (4, 2, 1),
    }
}

/// A Winograd F(4×4, 3×3) convolution with pre-transformed weights and a fused epilogue.
#[derive(Debug, Clone)]
pub(crate) struct Winograd {
    cin: usize,
    cout: usize,
    cout_pad: usize,
    stride_h: usize,
    level: SimdLevel,
    /// Micro-kernel rows (the last row block may be smaller, a multiple of the quantum).
    mr: usize,
    /// Micro-kernel width in 16-lane vectors; the panel width is `16 · nv` tiles.
    nv: usize,
    /// `U[ξ]` for ξ in 0..36, each `cout_pad × cin`, stored row block by row block, each row
    /// block `cin × rows` (the rows of one input channel adjacent, ready for broadcasting).
    /// Empty when the products run on AMX tiles.
    u: LargeBuf,
    /// `U` as bf16 AMX tiles ([`Precision::Bf16`] on a CPU with AMX-BF16).
    amx: Option<AmxWeights>,
    bias: Vec<f32>,
    scale: Vec<f32>,
    shift: Vec<f32>,
    relu: bool,
}

/// `U` packed for the tile unit.
#[derive(Debug, Clone)]
struct AmxWeights {
    /// A tiles, `[ξ][row block][channel step][16][32]` bf16.
    a: Vec<u16>,
    tiles: amx::Tiles,
}

/// Where one block's tiles live and where its scratch is.
struct Block {
    input: *const f32,
    out: *mut f32,
    h: usize,
    w: usize,
    ho: usize,
    /// First tile (global index: band · tiles_per_row + time tile) and tile count.
    g0: usize,
    n: usize,
    v: *mut f32,
    m: *mut f32,
    /// bf16 B tiles of one ξ (AMX path only).
    vb: *mut u16,
    /// Columns of the per-ξ matrices (the block capacity in tiles).
    ld: usize,
}

impl Winograd {
    /// Transforms and packs `weight` `(cout, cin, 3, 3)` for `level` (already supported by
    /// this CPU) and `precision` (lowered to fp32 where the tile unit is missing).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        ctx: &CpuContext,
        weight: &[f32],
        cout: usize,
        cin: usize,
        stride_h: usize,
        epilogue: &Epilogue,
        level: SimdLevel,
        precision: Precision,
    ) -> Self {
        let (mr, quantum, nv) = blocking(level);
        let precision = precision.supported();
        let tiles = level == SimdLevel::Avx512 && precision != Precision::F32;
        let (cout_pad, u, amx) = if tiles {
            let cout_pad = cout.div_ceil(amx::TILE_ROWS) * amx::TILE_ROWS;
            let t = amx::Tiles::new(cout_pad, cin, precision == Precision::Bf16x3);
            let rows16 = pack_kernels(ctx, weight, cout, cin, cout_pad, amx::TILE_ROWS, level);
            let a = amx::pack_a(&rows16, cin, t);
            (
                cout_pad,
                LargeBuf::zeroed(0),
                Some(AmxWeights { a, tiles: t }),
            )
        } else {
            let cout_pad = cout.div_ceil(quantum) * quantum;
            let u = pack_kernels(ctx, weight, cout, cin, cout_pad, mr, level);
            (cout_pad, u, None)
        };
        let ones = |v: &Option<Vec<f32>>, d: f32| v.clone().unwrap_or_else(|| vec![d; cout]);
        let (scale, shift) = match &epilogue.affine {
            Some((s, t)) => (s.clone(), t.clone()),
            None => (vec![1.0; cout], vec![0.0; cout]),
        };
        Self {
            cin,
            cout,
            cout_pad,
            stride_h,
            level,
            mr,
            nv,
            u,
            amx,
            bias: ones(&epilogue.bias, 0.0),
            scale,
            shift,
            relu: epilogue.relu,
        }
    }

    /// The SIMD level the kernels run at.
    pub(crate) fn level(&self) -> SimdLevel {
        self.level
    }

    /// The precision the products run in.
    pub(crate) fn precision(&self) -> Precision {
        match &self.amx {
            Some(w) if w.tiles.split => Precision::Bf16x3,
            Some(_) => Precision::Bf16,
            None => Precision::F32,
        }
    }

    /// Convolves `(cin, h, w)` into `(cout, ho, w)` (shapes checked by the caller).
    pub(crate) fn forward(
        &self,
        ctx: &CpuContext,
        input: &[f32],
        h: usize,
        w: usize,
        out: &mut [f32],
    ) {
        let s = self.stride_h;
        let ho = (h - 1) / s + 1;
        debug_assert_eq!(input.len(), self.cin * h * w);
        debug_assert_eq!(out.len(), self.cout * ho * w);
        let full_rows = (ho - 1) * s + 1;
        let total = full_rows.div_ceil(4) * w.div_ceil(4);
        let panel = 16 * self.nv;
        let threads = ctx.threads();
        let per = block_tiles(total, threads);
        let blocks = total.div_ceil(per);
        // Capacity of the per-ξ matrices: whole panels.
        let ld = per.div_ceil(panel) * panel;
        let v_len = 36 * xi_stride(self.cin * ld);
        let m_len = 36 * xi_stride(self.cout_pad * ld);
        // One ξ's bf16 B tiles, counted in floats.
        let vb_len = self
            .amx
            .as_ref()
            .map_or(0, |w| w.tiles.b_len(ld / 16).div_ceil(2));
        let (inp, outp) = (
            SendPtr(input.as_ptr() as *mut f32),
            SendPtr(out.as_mut_ptr()),
        );
        let run = |b: usize| {
            ctx.with_scratch(v_len + m_len + vb_len, |buf| {
                let (v, rest) = buf.split_at_mut(v_len);
                let (m, vb) = rest.split_at_mut(m_len);
                let g0 = b * per;
                let blk = Block {
                    input: inp.get(),
                    out: outp.get(),
                    h,
                    w,
                    ho,
                    g0,
                    n: per.min(total - g0),
                    v: v.as_mut_ptr(),
                    m: m.as_mut_ptr(),
                    vb: vb.as_mut_ptr().cast::<u16>(),
                    ld,
                };
                // SAFETY: the level is supported by this CPU (lowered at construction); the
                // scratch holds the block's 36 V and 36 M matrices (`xi_stride` apart, each
                // `cin × ld` / `cout_pad × ld`); the input and output hold `(cin, h, w)` and
                // `(cout, ho, w)` (checked by `Conv3x3::forward`); blocks cover disjoint tiles,
                // so concurrent blocks write disjoint output elements.
                unsafe { self.run_block(&blk) }
            })
        };
        if blocks == 1 || threads == 1 {
            (0..blocks).for_each(run);
        } else {
            ctx.install(|| (0..blocks).into_par_iter().for_each(run));
        }
    }

    /// Every phase of one block.
    ///
    /// # Safety
    /// As [`Winograd::block`].
    unsafe fn run_block(&self, blk: &Block) {
        self.run_phases(blk, ALL_PHASES)
    }

    /// Runs the phases in the `phases` bit set (1 input, 2 GEMM, 4 output) of one block.
    ///
    /// # Safety
    /// As [`Winograd::block`].
    unsafe fn run_phases(&self, blk: &Block, phases: u8) {
        match self.level {
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Avx512 => block_avx512(self, blk, phases),
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Avx2 => block_avx2(self, blk, phases),
            _ => self.block::<P16<PORTABLE_FMA>, 1>(blk, phases),
        }
    }

    /// Transform, multiply, transform back one block of tiles.
    ///
    /// # Safety
    /// `self.level` runs on this CPU (it was lowered to what the CPU has at construction);
    /// `blk.input` holds `(cin, h, w)` and `blk.out` `(cout, ho, w)` floats; `blk.v` and
    /// `blk.m` hold 36 matrices `xi_stride` apart of `cin × ld` and `cout_pad × ld` floats
    /// (and `blk.vb` one ξ's bf16 B tiles on the AMX path); no other thread accesses the
    /// scratch, or the output elements of the block's tiles, during the call.
    #[inline(always)]
    unsafe fn block<S: Micro, const NV: usize>(&self, blk: &Block, phases: u8) {
        let (cin, cout_pad, ld) = (self.cin, self.cout_pad, blk.ld);
        let (h, w) = (blk.h, blk.w);
        let tiles_per_row = w.div_ceil(4);
        let panel = 16 * NV;
        debug_assert_eq!(NV, self.nv);
        let v_xi = xi_stride(cin * ld);
        let m_xi = xi_stride(cout_pad * ld);

        // Segments: runs of at most 16 consecutive time tiles inside one row band.
        let segments = || {
            let mut g = blk.g0;
            let end = blk.g0 + blk.n;
            std::iter::from_fn(move || {
                if g >= end {
                    return None;
                }
                let (band, j0) = (g / tiles_per_row, g % tiles_per_row);
                let cnt = 16.min(tiles_per_row - j0).min(end - g);
                let seg = (band, j0, cnt, g - blk.g0);
                g += cnt;
                Some(seg)
            })
        };

        // 1. Input transform into V: `[ξ][panel][ci][panel lanes]`.
        for (band, j0, cnt, off) in segments().filter(|_| phases & 1 != 0) {
            let (p, o) = (off / panel, off % panel);
            let split = cnt.min(panel - o);
            for ci in 0..cin {
                let plane = blk.input.add(ci * h * w);
                if PREFETCH_AHEAD > 0 && ci + PREFETCH_AHEAD < cin {
                    prefetch_rows(plane.add(PREFETCH_AHEAD * h * w), h, w, band, j0, cnt);
                }
                let d0 = blk.v.add(p * cin * panel + ci * panel + o);
                // Lanes past the panel end continue at the start of the next panel's row `ci`.
                let d1 = blk
                    .v
                    .wrapping_add((p + 1) * cin * panel + ci * panel)
                    .wrapping_sub(split);
                input_tiles::<S>(plane, h, w, band, j0, cnt, d0, d1, split, v_xi);
            }
        }

        // 2. The 36 GEMMs, panel by panel (the V panel stays in L1, U streams through).
        if let (Some(w), true) = (&self.amx, phases & 2 != 0) {
            #[cfg(target_arch = "x86_64")]
            self.products_amx(w, blk, v_xi, m_xi, panel);
            #[cfg(not(target_arch = "x86_64"))]
            unreachable!("AMX weights on a CPU without AMX ({w:?})");
        }
        let panels = blk.n.div_ceil(panel);
        for xi in (0..36).filter(|_| phases & 2 != 0 && self.amx.is_none()) {
            let u = self.u.as_ptr().add(xi * cout_pad * cin);
            let v = blk.v.add(xi * v_xi);
            let m = blk.m.add(xi * m_xi);
            for p in 0..panels {
                // A last panel with at most 16 tiles runs the half-width kernel.
                let half = panel > 16 && blk.n - p * panel <= 16;
                let mut m0 = 0;
                while m0 < cout_pad {
                    let rows = self.mr.min(cout_pad - m0);
                    micro_gemm::<S>(
                        rows,
                        half,
                        cin,
                        u.add(m0 * cin),
                        v.add(p * cin * panel),
                        m.add(m0 * ld + p * panel),
                        ld,
                    );
                    m0 += rows;
                }
            }
        }

        // 3. Output transform + epilogue.
        let plane = blk.ho * w;
        for co in (0..self.cout).filter(|_| phases & 4 != 0) {
            let ep = (self.bias[co], self.scale[co], self.shift[co]);
            for (band, j0, cnt, off) in segments() {
                output_tiles::<S>(
                    blk.m.add(co * ld + off),
                    m_xi,
                    cnt,
                    blk.out.add(co * plane),
                    blk.ho,
                    w,
                    band,
                    j0,
                    self.stride_h,
                    ep,
                    self.relu,
                );
            }
        }
    }
}

impl Winograd {
    /// The 36 products of one block on AMX tiles: each ξ's `V` converted to bf16 B tiles
    /// (cache-resident), then multiplied by the packed A tiles into `M`.
    ///
    /// # Safety
    /// As [`Winograd::block`]; `w` exists only where [`amx::available`] holds.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn products_amx(
        &self,
        w: &AmxWeights,
        blk: &Block,
        v_xi: usize,
        m_xi: usize,
        panel: usize,
    ) {
        let nb = blk.n.div_ceil(16);
        for xi in 0..36 {
            amx::convert_b(blk.v.add(xi * v_xi), self.cin, panel, nb, w.tiles, blk.vb);
            amx::gemm(
                w.a.as_ptr().add(xi * w.tiles.a_len()),
                blk.vb,
                w.tiles,
                nb,
                blk.m.add(xi * m_xi),
                blk.ld,
            );
        }
    }
}

/// How many channels ahead the input transform prefetches its rows (0: off).
const PREFETCH_AHEAD: usize = 2;

/// Prefetches (into L1) the input rows `input_tiles` will read for the same tiles of the
/// next channel: the channel planes are far apart, which the hardware prefetchers do not
/// follow.
///
/// # Safety
/// None beyond the arguments' meaning: a prefetch never faults, and only addresses inside
/// the `h × w` plane at `plane` are formed.
#[inline(always)]
unsafe fn prefetch_rows(plane: *const f32, h: usize, w: usize, band: usize, j0: usize, cnt: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let x0 = (4 * j0).saturating_sub(1);
        let x1 = (4 * (j0 + cnt) + 1).min(w);
        for r in 0..6 {
            let y = (4 * band + r) as isize - 1;
            if y < 0 || y as usize >= h {
                continue;
            }
            let row = plane.add(y as usize * w);
            let mut x = x0;
            while x < x1 {
                _mm_prefetch::<_MM_HINT_T0>(row.add(x) as *const i8);
                x += 16;
            }
            _mm_prefetch::<_MM_HINT_T0>(row.add(x1 - 1) as *const i8);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (plane, h, w, band, j0, cnt);
}

/// Distance between consecutive ξ matrices of `len` floats: padded to an odd number of cache
/// lines, so the 36 rows a transform touches per tile group fall in 36 different L1 sets (a
/// multiple of 4 KiB, e.g. 192 channels × 64 tiles, made them all collide: 10× slower).
fn xi_stride(len: usize) -> usize {
    let lines = len.div_ceil(16);
    16 * (lines | 1)
}

/// The portable path uses fused multiply-adds only where the baseline target has them.
const PORTABLE_FMA: bool = cfg!(any(target_arch = "aarch64", target_feature = "fma"));

const ALL_PHASES: u8 = 7;

per_level! {
    /// [`Winograd::block`] for one SIMD level (`NV` vectors of tiles per panel); the
    /// body's contract is [`Winograd::block`]'s.
    unsafe fn block_avx512 | block_avx2(this: &Winograd, blk: &Block, phases: u8) {
        this.block::<V, NV>(blk, phases)
    }
}

/// `Bᵀ d` for [`BT`], factored (15 operations instead of 24).
///
/// # Safety
/// `S`'s instructions run on this CPU (see [`V16`]).
#[inline(always)]
unsafe fn bt6<S: V16>(d: &[S; 6]) -> [S; 6] {
    let c = |x: f32| S::splat(x);
    let p = d[1].sub(d[3]);
    let q = d[4].sub(d[2]);
    let r0 = p.mul_add(c(1.5), d[2].mul_add(c(-2.0), d[0].add(d[4])));
    let r3 = p.mul_add(c(-0.5), q);
    let r4 = p.mul_add(c(2.0), q);
    let a = d[3].mul_add(c(-1.5), q);
    let b = d[2].mul_add(c(1.5), p);
    let r5 = d[2]
        .sub(d[4])
        .mul_add(c(1.5), d[3].mul_add(c(-2.0), d[1].add(d[5])));
    [r0, a.sub(b), a.add(b), r3, r4, r5]
}

/// `Aᵀ m` for [`AT`], factored.
///
/// # Safety
/// `S`'s instructions run on this CPU (see [`V16`]).
#[inline(always)]
unsafe fn at6<S: V16>(m: &[S; 6]) -> [S; 4] {
    let c = |x: f32| S::splat(x);
    let s = m[1].add(m[2]);
    let d = m[1].sub(m[2]);
    [
        m[0].add(s).add(m[3].add(m[4])),
        m[3].mul_add(c(2.0), m[4].mul_add(c(-0.5), d)),
        m[3].mul_add(c(4.0), m[4].mul_add(c(0.25), s)),
        m[3].mul_add(c(8.0), m[4].mul_add(c(-0.125), d.add(m[5]))),
    ]
}

/// Input transform of `cnt` (≤ 16) consecutive tiles `j0..` of row band `band` for one input
/// channel `plane` (`h × w`). Tile `j` lands in lane `j − j0` of `V[ξ]` at `d0 + ξ·xi_stride`
/// for lanes `< split`, at `d1 + ξ·xi_stride` for the others.
///
/// # Safety
/// `S`'s instructions run on this CPU; `plane` holds `h × w` floats; the 36 destinations of
/// every lane are valid for writes and not accessed by another thread.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn input_tiles<S: V16>(
    plane: *const f32,
    h: usize,
    w: usize,
    band: usize,
    j0: usize,
    cnt: usize,
    d0: *mut f32,
    d1: *mut f32,
    split: usize,
    xi_stride: usize,
) {
    let base = 4 * j0 as isize - 1;
    let need = (4 * cnt + 2) as isize;
    // Stage 1: along frequency (rows), 16 time columns at a time, for the 4·cnt + 2 columns
    // the tiles read; results go through a stack buffer `t[i][column]`.
    let mut t = std::mem::MaybeUninit::<[[f32; 80]; 6]>::uninit();
    let tp = t.as_mut_ptr() as *mut f32;
    for c in 0..5 {
        let x0 = base + 16 * c as isize;
        let lo = (-x0).clamp(0, 16) as usize;
        let hi = (w as isize - x0).min(need - 16 * c as isize).clamp(0, 16) as usize;
        let mut d = [S::zero(); 6];
        if hi > lo {
            for (r, dr) in d.iter_mut().enumerate() {
                let y = (4 * band + r) as isize - 1;
                if y >= 0 && (y as usize) < h {
                    *dr = S::load_lanes(plane.wrapping_offset(y * w as isize + x0), lo, hi);
                }
            }
        }
        let o = bt6(&d);
        for (i, oi) in o.iter().enumerate() {
            oi.store(tp.add(i * 80 + c * 16));
        }
    }
    // Stage 2: along time, tiles in lanes.
    for i in 0..6 {
        let row = tp.add(i * 80);
        let r = [
            S::load(row),
            S::load(row.add(16)),
            S::load(row.add(32)),
            S::load(row.add(48)),
            S::load(row.add(64)),
        ];
        let o = bt6(&S::deinterleave4x6(&r));
        for (k, ok) in o.iter().enumerate() {
            let xi = (i * 6 + k) * xi_stride;
            ok.store_lanes(d0.add(xi), 0, split);
            if split < cnt {
                ok.store_lanes(d1.wrapping_add(xi), split, cnt);
            }
        }
    }
}

/// Output transform + epilogue of `cnt` tiles (lanes of `src + ξ·xi_stride`) of row band `band`,
/// time tiles `j0..`, into one output channel `plane` (`ho × w`).
///
/// # Safety
/// `S`'s instructions run on this CPU; `src` holds the 36 ξ rows of `cnt` lanes; `plane`
/// holds `ho × w` floats whose elements in these tiles no other thread accesses.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn output_tiles<S: V16>(
    src: *const f32,
    xi_stride: usize,
    cnt: usize,
    plane: *mut f32,
    ho: usize,
    w: usize,
    band: usize,
    j0: usize,
    stride: usize,
    (bias, scale, shift): (f32, f32, f32),
    relu: bool,
) {
    // Stage 1: along frequency, one transformed column ξw at a time, through a stack buffer
    // `q[r][ξw]`.
    let mut q = std::mem::MaybeUninit::<[[f32; 96]; 4]>::uninit();
    let qp = q.as_mut_ptr() as *mut f32;
    for b in 0..6 {
        let ld = |a: usize| S::load_lanes(src.add((a * 6 + b) * xi_stride), 0, cnt);
        let col = [ld(0), ld(1), ld(2), ld(3), ld(4), ld(5)];
        let o = at6(&col);
        for (r, or) in o.iter().enumerate() {
            or.store(qp.add(r * 96 + b * 16));
        }
    }
    let x_end = w.min(4 * (j0 + cnt));
    let (bias, scale, shift, zero) = (S::splat(bias), S::splat(scale), S::splat(shift), S::zero());
    for r in 0..4 {
        let full_row = 4 * band + r;
        let y = full_row / stride;
        if y * stride != full_row {
            continue; // a row the stride skips
        }
        if y >= ho {
            break;
        }
        let ld = |b: usize| S::load(qp.add(r * 96 + b * 16));
        let qr = [ld(0), ld(1), ld(2), ld(3), ld(4), ld(5)];
        let rows = S::interleave4(&at6(&qr));
        for (c, v) in rows.iter().enumerate() {
            let x0 = 4 * j0 + 16 * c;
            if x0 >= x_end {
                break;
            }
            let mut v = v.add(bias);
            if relu {
                v = v.max(zero);
            }
            v.mul_add(scale, shift)
                .store_lanes(plane.add(y * w + x0), 0, (x_end - x0).min(16));
        }
    }
}

/// The GEMM micro-kernel of a vector type, compiled as its own (not inlined) function so the
/// register allocator sees only the kernel: inlined into the block loop, LLVM spilled an
/// accumulator of the 16-register AVX2 kernel (a store/reload per iteration, 35% slower).
/// `#[inline(never)]` alone is lost when the call sits in an `#[inline(always)]` body (rustc
/// 1.95), hence the call through an opaque function pointer (one indirect call per
/// `rows × panel × Cin` product, negligible).
trait Micro: V16 {
    /// `c (rows × panel, row stride ldc) = u (k × rows, packed) · v (k × panel)`; with `half`,
    /// only the first 16 columns of a wider panel. Its safety contract is
    /// [`micro_gemm`]'s.
    const GEMM: GemmFn;
}

type GemmFn = unsafe fn(usize, bool, usize, *const f32, *const f32, *mut f32, usize);

impl<const FMA: bool> Micro for P16<FMA> {
    const GEMM: GemmFn = gemm_portable::<FMA>;
}

#[cfg(target_arch = "x86_64")]
impl Micro for crate::simd::Y16 {
    const GEMM: GemmFn = gemm_avx2;
}

#[cfg(target_arch = "x86_64")]
impl Micro for crate::simd::Z16 {
    const GEMM: GemmFn = gemm_avx512;
}

/// Calls `S`'s micro-kernel through an opaque pointer (see [`Micro`]).
///
/// # Safety
/// `S`'s instructions run on this CPU; `u` holds `k × rows`, `v` `k × panel` floats; `c`
/// holds `rows` rows of `ldc ≥ panel` floats that no other thread accesses.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn micro_gemm<S: Micro>(
    rows: usize,
    half: bool,
    k: usize,
    u: *const f32,
    v: *const f32,
    c: *mut f32,
    ldc: usize,
) {
    std::hint::black_box(S::GEMM)(rows, half, k, u, v, c, ldc)
}

/// The portable micro-kernel.
///
/// # Safety
/// As [`micro_gemm`].
#[inline(never)]
unsafe fn gemm_portable<const FMA: bool>(
    rows: usize,
    _half: bool,
    k: usize,
    u: *const f32,
    v: *const f32,
    c: *mut f32,
    ldc: usize,
) {
    gemm::<P16<FMA>, 1>(rows, k, u, v, 16, c, ldc)
}

/// [`micro_gemm`] for AVX2.
///
/// # Safety
/// As [`micro_gemm`], on a CPU with AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline(never)]
unsafe fn gemm_avx2(
    rows: usize,
    _half: bool,
    k: usize,
    u: *const f32,
    v: *const f32,
    c: *mut f32,
    ldc: usize,
) {
    if rows == 6 {
        kernel_avx2_6x16(k, u, v, c, ldc)
    } else {
        gemm::<crate::simd::Y16, 1>(rows, k, u, v, 16, c, ldc)
    }
}

/// The 6 × 16 AVX2 kernel with named accumulators: the generic one, even on its own, kept
/// one of its 12 accumulators in memory (LLVM 21). Re-measured with rustc 1.95 when the
/// per-ISA copies were folded into `per_level!` (2026-12-04, `cargo bench -p ecapa2-kernels
/// --bench conv3x3 -- --algos wino2 --threads 1 --shapes 1,4`): this kernel 233–283 GFLOP/s,
/// the generic `kernel::<Y16, 6, 1>` 133–138, so this one hand-written kernel stays.
///
/// # Safety
/// As [`micro_gemm`] with 6 rows and a 16-wide panel, on a CPU with AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn kernel_avx2_6x16(k: usize, u: *const f32, v: *const f32, c: *mut f32, ldc: usize) {
    use std::arch::x86_64::*;
    let z = _mm256_setzero_ps();
    let (mut c00, mut c01, mut c10, mut c11, mut c20, mut c21) = (z, z, z, z, z, z);
    let (mut c30, mut c31, mut c40, mut c41, mut c50, mut c51) = (z, z, z, z, z, z);
    let (mut u, mut v) = (u, v);
    for _ in 0..k {
        let b0 = _mm256_loadu_ps(v);
        let b1 = _mm256_loadu_ps(v.add(8));
        let a = _mm256_broadcast_ss(&*u);
        c00 = _mm256_fmadd_ps(a, b0, c00);
        c01 = _mm256_fmadd_ps(a, b1, c01);
        let a = _mm256_broadcast_ss(&*u.add(1));
        c10 = _mm256_fmadd_ps(a, b0, c10);
        c11 = _mm256_fmadd_ps(a, b1, c11);
        let a = _mm256_broadcast_ss(&*u.add(2));
        c20 = _mm256_fmadd_ps(a, b0, c20);
        c21 = _mm256_fmadd_ps(a, b1, c21);
        let a = _mm256_broadcast_ss(&*u.add(3));
        c30 = _mm256_fmadd_ps(a, b0, c30);
        c31 = _mm256_fmadd_ps(a, b1, c31);
        let a = _mm256_broadcast_ss(&*u.add(4));
        c40 = _mm256_fmadd_ps(a, b0, c40);
        c41 = _mm256_fmadd_ps(a, b1, c41);
        let a = _mm256_broadcast_ss(&*u.add(5));
        c50 = _mm256_fmadd_ps(a, b0, c50);
        c51 = _mm256_fmadd_ps(a, b1, c51);
        u = u.add(6);
        v = v.add(16);
    }
    for (i, (x0, x1)) in [
        (c00, c01),
        (c10, c11),
        (c20, c21),
        (c30, c31),
        (c40, c41),
        (c50, c51),
    ]
    .into_iter()
    .enumerate()
    {
        _mm256_storeu_ps(c.add(i * ldc), x0);
        _mm256_storeu_ps(c.add(i * ldc + 8), x1);
    }
}

/// [`micro_gemm`] for AVX-512.
///
/// # Safety
/// As [`micro_gemm`], on a CPU with AVX-512F, AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
#[inline(never)]
unsafe fn gemm_avx512(
    rows: usize,
    half: bool,
    k: usize,
    u: *const f32,
    v: *const f32,
    c: *mut f32,
    ldc: usize,
) {
    if half {
        gemm::<crate::simd::Z16, 1>(rows, k, u, v, 32, c, ldc)
    } else {
        gemm::<crate::simd::Z16, 2>(rows, k, u, v, 32, c, ldc)
    }
}

/// `c (rows × 16·NV, row stride ldc) = u (k × rows, packed) · v (k × 16·NV, row stride ldv)`.
///
/// # Safety
/// As [`micro_gemm`]; `rows` is one of 12, 8, 6, 4, 2.
#[inline(always)]
unsafe fn gemm<S: V16, const NV: usize>(
    rows: usize,
    k: usize,
    u: *const f32,
    v: *const f32,
    ldv: usize,
    c: *mut f32,
    ldc: usize,
) {
    match rows {
        12 => kernel::<S, 12, NV>(k, u, v, ldv, c, ldc),
        8 => kernel::<S, 8, NV>(k, u, v, ldv, c, ldc),
        6 => kernel::<S, 6, NV>(k, u, v, ldv, c, ldc),
        4 => kernel::<S, 4, NV>(k, u, v, ldv, c, ldc),
        2 => kernel::<S, 2, NV>(k, u, v, ldv, c, ldc),
        _ => unreachable!("row block {rows}"),
    }
}

/// The register-blocked micro-kernel: `MR × 16·NV` accumulators.
///
/// # Safety
/// As [`micro_gemm`] with `MR` rows.
#[inline(always)]
unsafe fn kernel<S: V16, const MR: usize, const NV: usize>(
    k: usize,
    u: *const f32,
    v: *const f32,
    ldv: usize,
    c: *mut f32,
    ldc: usize,
) {
    let mut acc = [[S::zero(); NV]; MR];
    for kk in 0..k {
        let mut b = [S::zero(); NV];
        for (j, bj) in b.iter_mut().enumerate() {
            *bj = S::load(v.add(kk * ldv + j * 16));
        }
        for (i, row) in acc.iter_mut().enumerate() {
            let a = S::splat(*u.add(kk * MR + i));
            for (j, x) in row.iter_mut().enumerate() {
                *x = a.mul_add(b[j], *x);
            }
        }
    }
    for (i, row) in acc.iter().enumerate() {
        for (j, x) in row.iter().enumerate() {
            x.store(c.add(i * ldc + j * 16));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Per-phase CPU time of one thread over a whole layer (run with `--ignored --nocapture`).
    #[test]
    #[ignore]
    fn phase_profile() {
        let shapes = [(164, 164, 256, 100, 1), (192, 192, 16, 1000, 1)];
        for level in [SimdLevel::Avx512.supported(), SimdLevel::Avx2.supported()] {
            for &(cin, cout, h, w, s) in &shapes {
                let wt = vec![0.01f32; cout * cin * 9];
                let x = vec![0.5f32; cin * h * w];
                let ctx = CpuContext::new(1).unwrap();
                let conv = Winograd::new(
                    &ctx,
                    &wt,
                    cout,
                    cin,
                    s,
                    &Epilogue::default(),
                    level,
                    Precision::F32,
                );
                let ho = (h - 1) / s + 1;
                let mut out = vec![0.0f32; cout * ho * w];
                let total = ((ho - 1) * s + 1).div_ceil(4) * w.div_ceil(4);
                let ld = BLOCK_TILES;
                let mut v = vec![0.0f32; 36 * xi_stride(cin * ld)];
                let mut m = vec![0.0f32; 36 * xi_stride(conv.cout_pad * ld)];
                let mut times = [f64::MAX; 3];
                let cpu = || {
                    #[repr(C)]
                    struct Ts(i64, i64);
                    extern "C" {
                        fn clock_gettime(c: i32, t: *mut Ts) -> i32;
                    }
                    let mut t = Ts(0, 0);
                    unsafe { clock_gettime(3, &mut t) };
                    t.0 as f64 + t.1 as f64 * 1e-9
                };
                let reps: usize = std::env::var("WINO_REPS").map_or(5, |v| v.parse().unwrap());
                for _ in 0..reps {
                    for (pi, phase) in [1u8, 2, 4].into_iter().enumerate() {
                        let t0 = cpu();
                        for g0 in (0..total).step_by(ld) {
                            let blk = Block {
                                input: x.as_ptr(),
                                out: out.as_mut_ptr(),
                                h,
                                w,
                                ho,
                                g0,
                                n: ld.min(total - g0),
                                v: v.as_mut_ptr(),
                                m: m.as_mut_ptr(),
                                vb: std::ptr::null_mut(),
                                ld,
                            };
                            unsafe { conv.run_phases(&blk, phase) };
                        }
                        times[pi] = times[pi].min(cpu() - t0);
                    }
                }
                let gemm_flop = 2.0
                    * 36.0
                    * (conv.cout_pad * cin) as f64
                    * total.div_ceil(ld) as f64
                    * ld as f64;
                eprintln!(
                    "{level:?} {cin}->{cout} {h}x{w} (thread CPU time): input {:.1} ms, gemm {:.1} ms ({:.1} GFLOP/s), output {:.1} ms",
                    times[0] * 1e3,
                    times[1] * 1e3,
                    gemm_flop / times[1] / 1e9,
                    times[2] * 1e3
                );
            }
        }
    }

    #[test]
    fn block_sizes_balance_threads() {
        assert_eq!(block_tiles(100, 2), 48); // 48 + 48 + 4 (uses a half-width last panel)
        assert_eq!(block_tiles(1600, 2), 80); // 10 blocks per thread
        assert_eq!(block_tiles(1000, 1), 64);
        assert_eq!(block_tiles(1, 4), 64);
        for total in 1..300 {
            for threads in 1..5 {
                let per = block_tiles(total, threads);
                assert!(per / 16 * 16 == per && (32..=128).contains(&per));
            }
        }
    }

    /// Packing gives the same bits at every SIMD level, puts `G g Gᵀ` of kernel `(co, ci)`
    /// where the GEMM reads it, and leaves the padding rows zero.
    #[test]
    fn packed_kernels_are_g_g_gt_in_place() {
        let (cout, cin) = (27usize, 5usize);
        let mut s = 3u64;
        let weight: Vec<f32> = (0..cout * cin * 9)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5
            })
            .collect();
        let g = g_matrix();
        for level in [SimdLevel::Portable, SimdLevel::Avx2, SimdLevel::Avx512] {
            let level = level.supported();
            let (mr, quantum, _) = blocking(level);
            let cout_pad = cout.div_ceil(quantum) * quantum;
            let ctx = CpuContext::new(2).unwrap();
            let u = pack_kernels(&ctx, &weight, cout, cin, cout_pad, mr, level);
            let portable =
                pack_kernels(&ctx, &weight, cout, cin, cout_pad, mr, SimdLevel::Portable);
            assert_eq!(
                u.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                portable.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                "{level:?}"
            );
            for co in 0..cout_pad {
                let (m0, rows) = (co / mr * mr, mr.min(cout_pad - co / mr * mr));
                for ci in 0..cin {
                    for xi in 0..36 {
                        let got = u[xi * cout_pad * cin + m0 * cin + ci * rows + (co - m0)];
                        if co >= cout {
                            assert_eq!(got, 0.0);
                            continue;
                        }
                        let k = &weight[(co * cin + ci) * 9..][..9];
                        let (a, b) = (xi / 6, xi % 6);
                        let want: f64 = (0..9)
                            .map(|t| g[a][t / 3] * f64::from(k[t]) * g[b][t % 3])
                            .sum();
                        assert!(
                            (f64::from(got) - want).abs() <= 1e-7 * want.abs().max(1e-3),
                            "{level:?} co {co} ci {ci} xi {xi}: {got} vs {want}"
                        );
                    }
                }
            }
        }
    }

    /// The transforms compute a 4-output, 3-tap correlation exactly (in f64).
    #[test]
    fn transforms_are_exact() {
        let g = g_matrix();
        let mut s = 7u64;
        let mut rnd = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        for _ in 0..20 {
            let d: Vec<f64> = (0..6).map(|_| rnd()).collect();
            let k: Vec<f64> = (0..3).map(|_| rnd()).collect();
            let gk: Vec<f64> = (0..6)
                .map(|j| (0..3).map(|t| g[j][t] * k[t]).sum())
                .collect();
            let bd: Vec<f64> = (0..6)
                .map(|j| (0..6).map(|t| BT[j][t] as f64 * d[t]).sum())
                .collect();
            for i in 0..4 {
                let y: f64 = (0..6).map(|j| AT[i][j] as f64 * gk[j] * bd[j]).sum();
                let r: f64 = (0..3).map(|t| d[i + t] * k[t]).sum();
                assert!((y - r).abs() < 1e-12, "output {i}: {y} vs {r}");
            }
        }
    }
}
