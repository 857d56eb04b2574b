//! AMX-BF16 tiles for the Winograd products in reduced precision ([`Precision::Bf16`]).
//!
//! Each of the 36 per-ξ products `M = U · V` runs on 16 × 16 fp32 accumulator tiles fed by
//! bf16 operand tiles: `U` (Cout × Cin) is packed once into 16 × 32 "A" tiles, `V` (Cin × tiles)
//! is converted per block into "B" tiles of 16 channel pairs × 16 tiles (the pair-interleaved
//! layout `TDPBF16PS` reads). Only the operands are rounded (to nearest even); products and
//! sums stay fp32. On this work AVX-512 BF16 dot products are no faster than fp32 FMAs, so
//! only the tile unit is worth the precision loss.
//!
//! The tile instructions are written as inline assembly: their intrinsics are not stable.
//! Linux hands out tile state only on request (`arch_prctl(ARCH_REQ_XCOMP_PERM)`), done once
//! by [`available`].
//!
//! [`Precision::Bf16`]: crate::Precision::Bf16

use std::sync::OnceLock;

/// Rows of every tile (A: output channels, B: channel pairs, C: output channels).
pub(crate) const TILE_ROWS: usize = 16;
/// bf16 values per A-tile row: input channels per K step.
pub(crate) const TILE_K: usize = 32;
/// bf16 values in one A or B tile (1 KiB).
pub(crate) const TILE_LEN: usize = TILE_ROWS * TILE_K;

/// Whether this process can run AMX-BF16 tiles: the CPU has them (and AVX-512F for the
/// conversions) and the OS granted the tile state. Checked once.
pub(crate) fn available() -> bool {
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(|| cpu_has_amx() && request_tile_state())
}

#[cfg(target_arch = "x86_64")]
fn cpu_has_amx() -> bool {
    let f = crate::cpu::features();
    f.amx_bf16 && f.avx512f
}

#[cfg(not(target_arch = "x86_64"))]
fn cpu_has_amx() -> bool {
    false
}

/// Asks Linux for the AMX tile-data state (process-wide, once).
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn request_tile_state() -> bool {
    const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
    const XFEATURE_XTILEDATA: libc::c_long = 18;
    // SAFETY: this arch_prctl only extends the set of register states the process may use;
    // it touches no memory. Kernels without AMX support return an error, which we honour.
    unsafe {
        libc::syscall(
            libc::SYS_arch_prctl,
            ARCH_REQ_XCOMP_PERM,
            XFEATURE_XTILEDATA,
        ) == 0
    }
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
fn request_tile_state() -> bool {
    false
}

/// Rounds to bf16, nearest even (finite inputs).
fn bf16(x: f32) -> u16 {
    let b = x.to_bits();
    (b.wrapping_add(0x7fff + ((b >> 16) & 1)) >> 16) as u16
}

/// The high (`lo == false`) or low bf16 part of `x`: `hi = bf16(x)`, `lo = bf16(x − hi)`.
fn part(x: f32, lo: bool) -> u16 {
    let hi = bf16(x);
    if lo {
        bf16(x - f32::from_bits(u32::from(hi) << 16))
    } else {
        hi
    }
}

/// Widens a bf16 back to f32 (tests).
#[cfg(test)]
pub(crate) fn f32_of(b: u16) -> f32 {
    f32::from_bits(u32::from(b) << 16)
}

/// Shape of one ξ's product in tiles.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tiles {
    /// 16-row blocks of output channels.
    pub mb: usize,
    /// 32-channel steps of input channels per segment.
    pub kb: usize,
    /// Whether operands are split into high and low bf16 parts (three products).
    pub split: bool,
}

impl Tiles {
    pub(crate) fn new(cout_pad: usize, cin: usize, split: bool) -> Self {
        debug_assert_eq!(cout_pad % TILE_ROWS, 0);
        Self {
            mb: cout_pad / TILE_ROWS,
            kb: cin.div_ceil(TILE_K),
            split,
        }
    }

    /// K steps of the product: the channel steps, three times over when split
    /// (`hi·hi + hi·lo + lo·hi`, laid end to end along K).
    pub(crate) fn k_steps(&self) -> usize {
        if self.split {
            3 * self.kb
        } else {
            self.kb
        }
    }

    /// bf16 values of one ξ's A tiles.
    pub(crate) fn a_len(&self) -> usize {
        self.mb * self.k_steps() * TILE_LEN
    }

    /// bf16 values of the B tiles of `nb` 16-tile column blocks.
    pub(crate) fn b_len(&self, nb: usize) -> usize {
        nb * self.k_steps() * TILE_LEN
    }
}

/// Which part of a split operand each K segment holds: A is `[hi, hi, lo]`, B `[hi, lo, hi]`.
const A_PARTS: [bool; 3] = [false, false, true];
const B_PARTS: [bool; 3] = [false, true, false];

/// Packs `u` — per ξ, row blocks of 16 output channels, each `cin × 16` (as the Winograd
/// packing lays them out with 16-row blocks) — into A tiles `[ξ][mb][k step][16 rows][32]`,
/// channels past `cin` zero.
pub(crate) fn pack_a(u: &[f32], cin: usize, t: Tiles) -> Vec<u16> {
    let mut out = vec![0u16; 36 * t.a_len()];
    let per_xi = t.mb * TILE_ROWS * cin;
    let steps = t.k_steps();
    for (xi, dst) in out.chunks_exact_mut(t.a_len()).enumerate() {
        let src = &u[xi * per_xi..][..per_xi];
        for mb in 0..t.mb {
            let block = &src[mb * cin * TILE_ROWS..][..cin * TILE_ROWS];
            for k in 0..steps {
                let (kb, lo) = (k % t.kb, t.split && A_PARTS[k / t.kb]);
                let tile = &mut dst[(mb * steps + k) * TILE_LEN..][..TILE_LEN];
                for (r, row) in tile.chunks_exact_mut(TILE_K).enumerate() {
                    for (c, x) in row.iter_mut().enumerate() {
                        let ci = kb * TILE_K + c;
                        if ci < cin {
                            *x = part(block[ci * TILE_ROWS + r], lo);
                        }
                    }
                }
            }
        }
    }
    out
}

/// Converts one ξ's `V` — `[panel][cin][panel lanes]` fp32, `panel` tiles per panel — into
/// the B tiles of its first `nb` 16-tile column blocks, `[nb][k step][16 pairs][16 tiles][2]`.
///
/// # Safety
/// The CPU has AVX-512F; `v` holds `ceil(16·nb / panel)` panels; `out` holds `t.b_len(nb)`
/// values; `panel` is a multiple of 16.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn convert_b(
    v: *const f32,
    cin: usize,
    panel: usize,
    nb: usize,
    t: Tiles,
    out: *mut u16,
) {
    use std::arch::x86_64::*;
    let top = _mm512_set1_epi32(0xffff_0000u32 as i32);
    // bf16(x) in the top half of each 32-bit lane (x + 0x7fff + lsb, truncated): round to
    // nearest even, as `bf16` does.
    let round = |x: __m512i| {
        let lsb = _mm512_and_si512(_mm512_srli_epi32::<16>(x), _mm512_set1_epi32(1));
        let r = _mm512_add_epi32(x, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff)));
        _mm512_and_si512(r, top)
    };
    let part = |x: __m512, lo: bool| {
        let hi = round(_mm512_castps_si512(x));
        if lo {
            round(_mm512_castps_si512(_mm512_sub_ps(
                x,
                _mm512_castsi512_ps(hi),
            )))
        } else {
            hi
        }
    };
    let row = |base: *const f32, ci: usize| {
        if ci < cin {
            _mm512_loadu_ps(base.add(ci * panel))
        } else {
            _mm512_setzero_ps()
        }
    };
    let steps = t.k_steps();
    for n in 0..nb {
        let base = v.add((16 * n / panel) * cin * panel + (16 * n) % panel);
        for k in 0..steps {
            let (kb, lo) = (k % t.kb, t.split && B_PARTS[k / t.kb]);
            let tile = out.add((n * steps + k) * TILE_LEN);
            for r in 0..TILE_ROWS {
                let ci = kb * TILE_K + 2 * r;
                // Channel `ci` in the low half of each lane, `ci + 1` in the high half.
                let even = part(row(base, ci), lo);
                let odd = part(row(base, ci + 1), lo);
                let pair = _mm512_or_si512(odd, _mm512_srli_epi32::<16>(even));
                _mm512_storeu_si512(tile.add(r * TILE_K) as *mut __m512i, pair);
            }
        }
    }
}

/// The tile configuration: palette 1, all eight tiles 16 rows × 64 bytes.
#[repr(C, align(64))]
struct TileConfig([u8; 64]);

impl TileConfig {
    const fn new() -> Self {
        let mut c = [0u8; 64];
        c[0] = 1;
        let mut i = 0;
        while i < 8 {
            c[16 + 2 * i] = 64;
            c[48 + i] = TILE_ROWS as u8;
            i += 1;
        }
        Self(c)
    }
}

static CONFIG: TileConfig = TileConfig::new();

/// `m (16·mb rows × 16·nb columns, row stride ldm floats) = A · B` for one ξ.
/// Tile registers: 0–3 accumulators (2 × 2), 4–5 A, 6–7 B.
///
/// # Safety
/// [`available`] returned true; `a` holds `t.a_len()` and `b` `t.b_len(nb)` values; `m` holds
/// `16·t.mb` rows of `ldm ≥ 16·nb` floats.
#[cfg(target_arch = "x86_64")]
pub(crate) unsafe fn gemm(
    a: *const u16,
    b: *const u16,
    t: Tiles,
    nb: usize,
    m: *mut f32,
    ldm: usize,
) {
    use std::arch::asm;
    let (s_ab, s_c) = (2 * TILE_K, 4 * ldm);
    let steps = t.k_steps();
    asm!("ldtilecfg [{}]", in(reg) CONFIG.0.as_ptr(), options(nostack, readonly));
    for n0 in (0..nb).step_by(2) {
        let two_n = n0 + 1 < nb;
        for m0 in (0..t.mb).step_by(2) {
            let two_m = m0 + 1 < t.mb;
            asm!(
                "tilezero tmm0",
                "tilezero tmm1",
                "tilezero tmm2",
                "tilezero tmm3",
                options(nostack, nomem)
            );
            for k in 0..steps {
                let a0 = a.add((m0 * steps + k) * TILE_LEN);
                let b0 = b.add((n0 * steps + k) * TILE_LEN);
                // The second A/B tile of a pair is one row block / column block further on.
                let (a1, b1) = (a0.add(steps * TILE_LEN), b0.add(steps * TILE_LEN));
                // Loads one tile from `ptr`, then `acc += a · b`.
                macro_rules! load_dot {
                    ($tile:literal, $ptr:expr, $acc:literal, $a:literal, $b:literal) => {
                        asm!(
                            concat!("tileloadd ", $tile, ", [{p} + {s}*1]"),
                            concat!("tdpbf16ps ", $acc, ", ", $a, ", ", $b),
                            p = in(reg) $ptr, s = in(reg) s_ab,
                            options(nostack, readonly),
                        )
                    };
                }
                asm!("tileloadd tmm4, [{p} + {s}*1]", p = in(reg) a0, s = in(reg) s_ab, options(nostack, readonly));
                load_dot!("tmm6", b0, "tmm0", "tmm4", "tmm6");
                if two_n {
                    load_dot!("tmm7", b1, "tmm1", "tmm4", "tmm7");
                }
                if two_m {
                    load_dot!("tmm5", a1, "tmm2", "tmm5", "tmm6");
                    if two_n {
                        asm!("tdpbf16ps tmm3, tmm5, tmm7", options(nostack, nomem));
                    }
                }
            }
            let c = m.add(m0 * TILE_ROWS * ldm + n0 * 16);
            asm!("tilestored [{c} + {s}*1], tmm0", c = in(reg) c, s = in(reg) s_c, options(nostack));
            if two_n {
                asm!("tilestored [{c} + {s}*1], tmm1", c = in(reg) c.add(16), s = in(reg) s_c, options(nostack));
            }
            if two_m {
                let c = c.add(TILE_ROWS * ldm);
                asm!("tilestored [{c} + {s}*1], tmm2", c = in(reg) c, s = in(reg) s_c, options(nostack));
                if two_n {
                    asm!("tilestored [{c} + {s}*1], tmm3", c = in(reg) c.add(16), s = in(reg) s_c, options(nostack));
                }
            }
        }
    }
    asm!("tilerelease", options(nostack, nomem));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bf16_rounds_to_nearest_even() {
        assert_eq!(bf16(1.0), 0x3f80);
        // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1.0).
        assert_eq!(bf16(1.0 + 1.0 / 256.0), 0x3f80);
        // 1 + 3·2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: ties go to 1 + 2^-6.
        assert_eq!(bf16(1.0 + 3.0 / 256.0), 0x3f82);
        assert_eq!(f32_of(bf16(-2.5)), -2.5);
    }

    /// The tile product of random operands against f64 products: of the bf16-rounded
    /// operands (one product: only the rounding differs from fp32), or of the exact operands
    /// (split: within the dropped `lo·lo` term and the low parts' rounding, ~2⁻¹⁶ of Σ|u·v|).
    /// Odd channel and row-block counts exercise the edge tiles.
    #[test]
    fn tile_product_matches_f64() {
        if !available() {
            eprintln!("AMX-BF16 not available here: the fallback is covered by the Winograd tests");
            assert_eq!(crate::Precision::Bf16.supported(), crate::Precision::F32);
            return;
        }
        for split in [false, true] {
            let (cout_pad, cin, panel, nb) = (48usize, 45usize, 32usize, 3usize);
            let t = Tiles::new(cout_pad, cin, split);
            let mut s = 7u64;
            let mut rnd = || {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5
            };
            // U for one ξ (36 copies of the same), row blocks of 16: [mb][ci][16].
            let u1: Vec<f32> = (0..cout_pad * cin).map(|_| rnd()).collect();
            let u: Vec<f32> = (0..36).flat_map(|_| u1.iter().copied()).collect();
            let panels = (16 * nb).div_ceil(panel);
            let v: Vec<f32> = (0..panels * cin * panel).map(|_| rnd()).collect();
            let a = pack_a(&u, cin, t);
            let mut b = vec![0u16; t.b_len(nb)];
            let ldm = 16 * nb + 8;
            let mut m = vec![f32::NAN; cout_pad * ldm];
            // SAFETY: AMX is available (checked above); the buffers have the sizes documented.
            unsafe {
                convert_b(v.as_ptr(), cin, panel, nb, t, b.as_mut_ptr());
                gemm(a.as_ptr(), b.as_ptr(), t, nb, m.as_mut_ptr(), ldm);
            }
            let round = |x: f32| if split { x } else { f32_of(bf16(x)) };
            for co in 0..cout_pad {
                for n in 0..16 * nb {
                    let terms = (0..cin).map(|ci| {
                        let uu = round(u1[(co / 16) * cin * 16 + ci * 16 + co % 16]);
                        let vv = round(v[(n / panel) * cin * panel + ci * panel + n % panel]);
                        f64::from(uu) * f64::from(vv)
                    });
                    let (want, mag) = terms.fold((0.0, 0.0), |(s, m), p| (s + p, m + p.abs()));
                    let got = f64::from(m[co * ldm + n]);
                    let tol = if split {
                        4e-5 * mag
                    } else {
                        1e-5 * (1.0 + want.abs())
                    };
                    assert!(
                        (got - want).abs() <= tol,
                        "split {split} co {co} n {n}: {got} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn split_parts_sum_to_about_16_bits() {
        for x in [1.0f32, -0.3333, 1234.567, 1e-20, 0.1] {
            let sum = f32_of(part(x, false)) + f32_of(part(x, true));
            assert!((sum - x).abs() <= x.abs() * 2f32.powi(-16), "{x}: {sum}");
        }
    }
}
