//! A 16-lane f32 vector abstraction, so each kernel body is written once and compiled per
//! instruction set.
//!
//! Kernel bodies are generic `#[inline(always)]` functions over [`V16`]; an entry point per
//! [`SimdLevel`](crate::cpu::SimdLevel) instantiates them inside a `#[target_feature]` function,
//! where LLVM inlines everything and selects that level's instructions. The AVX-512 type wraps
//! `__m512` with hand-picked permutes; the portable type is a plain `[f32; 16]` that LLVM
//! vectorises (two `ymm` per value under AVX2).
//!
//! # Safety
//! All methods are `unsafe`: the AVX-512 ones must only run inside a function compiled with
//! `avx512f` on a CPU that has it, and the pointer methods read or write the lanes they are
//! asked to, which the caller must make valid (lanes outside the requested range are never
//! touched, so pointers may point outside an allocation for those lanes).

/// One entry point per x86 SIMD level for a kernel body written once: `per_level! { /// doc
/// unsafe fn name_avx512 | name_avx2(args) { body } }` compiles `body` inside a
/// `#[target_feature]` function per level, where `V` names that level's vector type ([`Z16`],
/// [`Y16`]) and `NV` its vectors per GEMM panel (2, 1), so LLVM inlines the generic code and
/// selects the level's instructions. The body's own safety contract carries over; each entry
/// adds that the CPU has the level's features.
macro_rules! per_level {
    ($(#[$doc:meta])* unsafe fn $avx512:ident | $avx2:ident ($($arg:ident : $ty:ty),* $(,)?) $body:block) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// As the body's contract, on a CPU with AVX-512F, AVX2 and FMA.
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx512f,avx2,fma")]
        #[allow(clippy::too_many_arguments)]
        unsafe fn $avx512($($arg: $ty),*) {
            #[allow(dead_code)]
            type V = $crate::simd::Z16;
            #[allow(dead_code)]
            const NV: usize = 2;
            $body
        }
        $(#[$doc])*
        ///
        /// # Safety
        /// As the body's contract, on a CPU with AVX2 and FMA.
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        #[allow(clippy::too_many_arguments)]
        unsafe fn $avx2($($arg: $ty),*) {
            #[allow(dead_code)]
            type V = $crate::simd::Y16;
            #[allow(dead_code)]
            const NV: usize = 1;
            $body
        }
    };
}

/// Sixteen f32 lanes.
///
/// # Safety
/// Every method: the implementing type's instructions must run on this CPU (the caller is a
/// `#[target_feature]` function entered only after run-time detection); the pointer methods
/// need exactly the lanes they touch to be valid for reads or writes.
pub(crate) trait V16: Copy {
    /// All zeros.
    ///
    /// # Safety
    /// See [`V16`].
    unsafe fn zero() -> Self;
    /// All lanes `x`.
    ///
    /// # Safety
    /// See [`V16`].
    unsafe fn splat(x: f32) -> Self;
    /// `a + b`.
    ///
    /// # Safety
    /// See [`V16`].
    unsafe fn add(self, b: Self) -> Self;
    /// `a - b`.
    ///
    /// # Safety
    /// See [`V16`].
    unsafe fn sub(self, b: Self) -> Self;
    /// `self * b + c` (fused where the level has FMA).
    ///
    /// # Safety
    /// See [`V16`].
    unsafe fn mul_add(self, b: Self, c: Self) -> Self;
    /// Lane-wise maximum with `b` (`max(NaN, 0)` may give either operand).
    ///
    /// # Safety
    /// See [`V16`].
    unsafe fn max(self, b: Self) -> Self;
    /// Loads 16 lanes (no alignment needed).
    ///
    /// # Safety
    /// See [`V16`].
    unsafe fn load(p: *const f32) -> Self;
    /// Stores 16 lanes (no alignment needed).
    ///
    /// # Safety
    /// See [`V16`].
    unsafe fn store(self, p: *mut f32);
    /// Loads lanes `lo..hi` from `p + lane`; the others are zero and are not read.
    ///
    /// # Safety
    /// See [`V16`].
    unsafe fn load_lanes(p: *const f32, lo: usize, hi: usize) -> Self;
    /// Stores lanes `lo..hi` to `p + lane`; the others are not written.
    ///
    /// # Safety
    /// See [`V16`].
    unsafe fn store_lanes(self, p: *mut f32, lo: usize, hi: usize);
    /// Given 80 consecutive values `x` in `r[0..5]`, returns `e[k][j] = x[4j + k]` for
    /// `k in 0..6`, `j in 0..16` (the six taps of sixteen 6-wide windows at stride 4).
    ///
    /// # Safety
    /// See [`V16`].
    unsafe fn deinterleave4x6(r: &[Self; 5]) -> [Self; 6];
    /// Inverse of the first four outputs of [`V16::deinterleave4x6`]: given `o[k][j] = y[4j + k]`,
    /// returns the 64 values `y` as four consecutive vectors.
    ///
    /// # Safety
    /// See [`V16`].
    unsafe fn interleave4(o: &[Self; 4]) -> [Self; 4];
}

/// The portable implementation; `FMA` says whether `mul_add` may use a fused multiply-add
/// (only when the enclosing function enables `fma`, or it becomes a slow library call).
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub(crate) struct P16<const FMA: bool>(pub [f32; 16]);

#[allow(clippy::needless_range_loop)]
impl<const FMA: bool> P16<FMA> {
    #[inline(always)]
    fn map2(self, b: Self, f: impl Fn(f32, f32) -> f32) -> Self {
        let mut o = [0.0; 16];
        for l in 0..16 {
            o[l] = f(self.0[l], b.0[l]);
        }
        P16(o)
    }
}

#[allow(clippy::needless_range_loop)] // lane loops read clearer indexed
impl<const FMA: bool> V16 for P16<FMA> {
    #[inline(always)]
    unsafe fn zero() -> Self {
        P16([0.0; 16])
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self {
        P16([x; 16])
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        self.map2(b, |x, y| x + y)
    }
    #[inline(always)]
    unsafe fn sub(self, b: Self) -> Self {
        self.map2(b, |x, y| x - y)
    }
    #[inline(always)]
    unsafe fn mul_add(self, b: Self, c: Self) -> Self {
        let mut o = [0.0; 16];
        for l in 0..16 {
            o[l] = if FMA {
                self.0[l].mul_add(b.0[l], c.0[l])
            } else {
                self.0[l] * b.0[l] + c.0[l]
            };
        }
        P16(o)
    }
    #[inline(always)]
    unsafe fn max(self, b: Self) -> Self {
        self.map2(b, |x, y| if x > y { x } else { y })
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        P16(std::ptr::read_unaligned(p as *const [f32; 16]))
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        std::ptr::write_unaligned(p as *mut [f32; 16], self.0)
    }
    #[inline(always)]
    unsafe fn load_lanes(p: *const f32, lo: usize, hi: usize) -> Self {
        if lo == 0 && hi == 16 {
            return Self::load(p);
        }
        let mut o = [0.0; 16];
        for (l, v) in o.iter_mut().enumerate().take(hi).skip(lo) {
            *v = *p.wrapping_add(l);
        }
        P16(o)
    }
    #[inline(always)]
    unsafe fn store_lanes(self, p: *mut f32, lo: usize, hi: usize) {
        if lo == 0 && hi == 16 {
            return self.store(p);
        }
        for l in lo..hi {
            *p.wrapping_add(l) = self.0[l];
        }
    }
    #[inline(always)]
    unsafe fn deinterleave4x6(r: &[Self; 5]) -> [Self; 6] {
        let mut e = [[0.0f32; 16]; 6];
        for k in 0..4 {
            for j in 0..16 {
                e[k][j] = r[j / 4].0[4 * (j % 4) + k];
            }
        }
        for j in 0..15 {
            e[4][j] = e[0][j + 1];
            e[5][j] = e[1][j + 1];
        }
        e[4][15] = r[4].0[0];
        e[5][15] = r[4].0[1];
        [
            P16(e[0]),
            P16(e[1]),
            P16(e[2]),
            P16(e[3]),
            P16(e[4]),
            P16(e[5]),
        ]
    }
    #[inline(always)]
    unsafe fn interleave4(o: &[Self; 4]) -> [Self; 4] {
        let mut y = [[0.0f32; 16]; 4];
        for c in 0..4 {
            for l in 0..16 {
                y[c][l] = o[l % 4].0[4 * c + l / 4];
            }
        }
        [P16(y[0]), P16(y[1]), P16(y[2]), P16(y[3])]
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) use x86::Z16;
#[cfg(target_arch = "x86_64")]
pub(crate) use x86_avx2::Y16;

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::V16;
    use std::arch::x86_64::*;

    /// AVX-512F: one `zmm` register.
    #[derive(Clone, Copy)]
    pub(crate) struct Z16(__m512);

    #[inline(always)]
    fn lane_mask(lo: usize, hi: usize) -> __mmask16 {
        if hi <= lo {
            0
        } else {
            (((1u32 << hi) - 1) & !((1u32 << lo) - 1)) as __mmask16
        }
    }

    impl V16 for Z16 {
        #[inline(always)]
        unsafe fn zero() -> Self {
            Z16(_mm512_setzero_ps())
        }
        #[inline(always)]
        unsafe fn splat(x: f32) -> Self {
            Z16(_mm512_set1_ps(x))
        }
        #[inline(always)]
        unsafe fn add(self, b: Self) -> Self {
            Z16(_mm512_add_ps(self.0, b.0))
        }
        #[inline(always)]
        unsafe fn sub(self, b: Self) -> Self {
            Z16(_mm512_sub_ps(self.0, b.0))
        }
        #[inline(always)]
        unsafe fn mul_add(self, b: Self, c: Self) -> Self {
            Z16(_mm512_fmadd_ps(self.0, b.0, c.0))
        }
        #[inline(always)]
        unsafe fn max(self, b: Self) -> Self {
            Z16(_mm512_max_ps(self.0, b.0))
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> Self {
            Z16(_mm512_loadu_ps(p))
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f32) {
            _mm512_storeu_ps(p, self.0)
        }
        #[inline(always)]
        unsafe fn load_lanes(p: *const f32, lo: usize, hi: usize) -> Self {
            Z16(_mm512_maskz_loadu_ps(lane_mask(lo, hi), p))
        }
        #[inline(always)]
        unsafe fn store_lanes(self, p: *mut f32, lo: usize, hi: usize) {
            _mm512_mask_storeu_ps(p, lane_mask(lo, hi), self.0)
        }
        #[inline(always)]
        unsafe fn deinterleave4x6(r: &[Self; 5]) -> [Self; 6] {
            // Level 1: pairs of source vectors → [tap k of windows 0..8 | tap k+1 of 0..8].
            let even = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
            let odd = _mm512_setr_epi32(2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31);
            let a = _mm512_permutex2var_ps(r[0].0, even, r[1].0);
            let b = _mm512_permutex2var_ps(r[0].0, odd, r[1].0);
            let c = _mm512_permutex2var_ps(r[2].0, even, r[3].0);
            let d = _mm512_permutex2var_ps(r[2].0, odd, r[3].0);
            // Level 2: low halves / high halves of the two window groups.
            let lo = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
            let hi =
                _mm512_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
            let e0 = _mm512_permutex2var_ps(a, lo, c);
            let e1 = _mm512_permutex2var_ps(a, hi, c);
            let e2 = _mm512_permutex2var_ps(b, lo, d);
            let e3 = _mm512_permutex2var_ps(b, hi, d);
            // Taps 4 and 5 are taps 0 and 1 of the next window.
            let s0 = _mm512_setr_epi32(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);
            let s1 = _mm512_setr_epi32(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17);
            let e4 = _mm512_permutex2var_ps(e0, s0, r[4].0);
            let e5 = _mm512_permutex2var_ps(e1, s1, r[4].0);
            [Z16(e0), Z16(e1), Z16(e2), Z16(e3), Z16(e4), Z16(e5)]
        }
        #[inline(always)]
        unsafe fn interleave4(o: &[Self; 4]) -> [Self; 4] {
            let lo = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
            let hi =
                _mm512_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
            // a = [o0 0..8 | o1 0..8], b = [o2 0..8 | o3 0..8], c/d the same for windows 8..16.
            let a = _mm512_permutex2var_ps(o[0].0, lo, o[1].0);
            let b = _mm512_permutex2var_ps(o[2].0, lo, o[3].0);
            let c = _mm512_permutex2var_ps(o[0].0, hi, o[1].0);
            let d = _mm512_permutex2var_ps(o[2].0, hi, o[3].0);
            // y[16q + l] = o[l % 4][4q + l / 4]: tap 0 → a[j], 1 → a[8 + j], 2 → b[j], 3 → b[8 + j].
            let q0 = _mm512_setr_epi32(0, 8, 16, 24, 1, 9, 17, 25, 2, 10, 18, 26, 3, 11, 19, 27);
            let q1 = _mm512_setr_epi32(4, 12, 20, 28, 5, 13, 21, 29, 6, 14, 22, 30, 7, 15, 23, 31);
            [
                Z16(_mm512_permutex2var_ps(a, q0, b)),
                Z16(_mm512_permutex2var_ps(a, q1, b)),
                Z16(_mm512_permutex2var_ps(c, q0, d)),
                Z16(_mm512_permutex2var_ps(c, q1, d)),
            ]
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86_avx2 {
    use super::V16;
    use std::arch::x86_64::*;

    /// AVX2 + FMA: two `ymm` registers (lanes 0..8, 8..16).
    ///
    /// (No `array::map` or other non-inlined generic helpers in these bodies: a closure
    /// compiled outside the `#[target_feature]` function turns every intrinsic into a call.)
    #[derive(Clone, Copy)]
    pub(crate) struct Y16(__m256, __m256);

    /// Per-half lane masks for lanes `lo..hi` (all bits set = active).
    ///
    /// # Safety
    /// The CPU has AVX2.
    #[inline(always)]
    unsafe fn masks(lo: usize, hi: usize) -> (__m256i, __m256i) {
        let idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        let eight = _mm256_set1_epi32(8);
        let (lo, hi) = (_mm256_set1_epi32(lo as i32), _mm256_set1_epi32(hi as i32));
        // lane active ⇔ lo ≤ lane < hi ⇔ lane > lo − 1 and hi > lane
        let lo1 = _mm256_sub_epi32(lo, _mm256_set1_epi32(1));
        let m =
            |i: __m256i| _mm256_and_si256(_mm256_cmpgt_epi32(i, lo1), _mm256_cmpgt_epi32(hi, i));
        (m(idx), m(_mm256_add_epi32(idx, eight)))
    }

    /// 4×4 transposes inside each 128-bit lane.
    ///
    /// # Safety
    /// The CPU has AVX.
    #[inline(always)]
    unsafe fn transpose4(a: [__m256; 4]) -> [__m256; 4] {
        let t0 = _mm256_unpacklo_ps(a[0], a[1]);
        let t1 = _mm256_unpackhi_ps(a[0], a[1]);
        let t2 = _mm256_unpacklo_ps(a[2], a[3]);
        let t3 = _mm256_unpackhi_ps(a[2], a[3]);
        [
            _mm256_shuffle_ps::<0x44>(t0, t2),
            _mm256_shuffle_ps::<0xEE>(t0, t2),
            _mm256_shuffle_ps::<0x44>(t1, t3),
            _mm256_shuffle_ps::<0xEE>(t1, t3),
        ]
    }

    /// Taps 0..4 of the eight 4-strided windows in `a` (32 values): lane j = window j.
    ///
    /// # Safety
    /// The CPU has AVX2.
    #[inline(always)]
    unsafe fn deinterleave8(a: [__m256; 4]) -> [__m256; 4] {
        // After the in-lane transposes the windows are in order 0 2 4 6 | 1 3 5 7.
        let fix = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
        let k = transpose4(a);
        [
            _mm256_permutevar8x32_ps(k[0], fix),
            _mm256_permutevar8x32_ps(k[1], fix),
            _mm256_permutevar8x32_ps(k[2], fix),
            _mm256_permutevar8x32_ps(k[3], fix),
        ]
    }

    impl V16 for Y16 {
        #[inline(always)]
        unsafe fn zero() -> Self {
            Y16(_mm256_setzero_ps(), _mm256_setzero_ps())
        }
        #[inline(always)]
        unsafe fn splat(x: f32) -> Self {
            let v = _mm256_set1_ps(x);
            Y16(v, v)
        }
        #[inline(always)]
        unsafe fn add(self, b: Self) -> Self {
            Y16(_mm256_add_ps(self.0, b.0), _mm256_add_ps(self.1, b.1))
        }
        #[inline(always)]
        unsafe fn sub(self, b: Self) -> Self {
            Y16(_mm256_sub_ps(self.0, b.0), _mm256_sub_ps(self.1, b.1))
        }
        #[inline(always)]
        unsafe fn mul_add(self, b: Self, c: Self) -> Self {
            Y16(
                _mm256_fmadd_ps(self.0, b.0, c.0),
                _mm256_fmadd_ps(self.1, b.1, c.1),
            )
        }
        #[inline(always)]
        unsafe fn max(self, b: Self) -> Self {
            Y16(_mm256_max_ps(self.0, b.0), _mm256_max_ps(self.1, b.1))
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> Self {
            Y16(_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(8)))
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f32) {
            _mm256_storeu_ps(p, self.0);
            _mm256_storeu_ps(p.add(8), self.1);
        }
        #[inline(always)]
        unsafe fn load_lanes(p: *const f32, lo: usize, hi: usize) -> Self {
            if lo == 0 && hi == 16 {
                return Self::load(p);
            }
            let (m0, m1) = masks(lo, hi);
            Y16(
                _mm256_maskload_ps(p, m0),
                _mm256_maskload_ps(p.wrapping_add(8), m1),
            )
        }
        #[inline(always)]
        unsafe fn store_lanes(self, p: *mut f32, lo: usize, hi: usize) {
            if lo == 0 && hi == 16 {
                return self.store(p);
            }
            let (m0, m1) = masks(lo, hi);
            _mm256_maskstore_ps(p, m0, self.0);
            _mm256_maskstore_ps(p.wrapping_add(8), m1, self.1);
        }
        #[inline(always)]
        unsafe fn deinterleave4x6(r: &[Self; 5]) -> [Self; 6] {
            let lo = deinterleave8([r[0].0, r[0].1, r[1].0, r[1].1]);
            let hi = deinterleave8([r[2].0, r[2].1, r[3].0, r[3].1]);
            // Taps 4 and 5 are taps 0 and 1 of the next window: rotate lanes down by one and
            // pull the next half's first lane (or x[64], x[65]) into lane 7.
            let rot = _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 0);
            let next = |a: __m256, b: __m256| {
                _mm256_blend_ps::<0x80>(
                    _mm256_permutevar8x32_ps(a, rot),
                    _mm256_permutevar8x32_ps(b, rot),
                )
            };
            let b64 = _mm256_permutevar8x32_ps(r[4].0, _mm256_set1_epi32(0));
            let b65 = _mm256_permutevar8x32_ps(r[4].0, _mm256_set1_epi32(1));
            let e4 = Y16(
                next(lo[0], hi[0]),
                _mm256_blend_ps::<0x80>(_mm256_permutevar8x32_ps(hi[0], rot), b64),
            );
            let e5 = Y16(
                next(lo[1], hi[1]),
                _mm256_blend_ps::<0x80>(_mm256_permutevar8x32_ps(hi[1], rot), b65),
            );
            [
                Y16(lo[0], hi[0]),
                Y16(lo[1], hi[1]),
                Y16(lo[2], hi[2]),
                Y16(lo[3], hi[3]),
                e4,
                e5,
            ]
        }
        #[inline(always)]
        unsafe fn interleave4(o: &[Self; 4]) -> [Self; 4] {
            // Undo the window order fix, then the in-lane transposes restore consecutive values.
            let unfix = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
            let p = |k: __m256| _mm256_permutevar8x32_ps(k, unfix);
            let lo = transpose4([p(o[0].0), p(o[1].0), p(o[2].0), p(o[3].0)]);
            let hi = transpose4([p(o[0].1), p(o[1].1), p(o[2].1), p(o[3].1)]);
            [
                Y16(lo[0], lo[1]),
                Y16(lo[2], lo[3]),
                Y16(hi[0], hi[1]),
                Y16(hi[2], hi[3]),
            ]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::needless_range_loop)]
    /// # Safety
    /// `S`'s instructions run on this CPU.
    unsafe fn check_shuffles<S: V16>(to: impl Fn(&S) -> [f32; 16]) {
        let x: Vec<f32> = (0..80).map(|i| i as f32).collect();
        let r = [0, 1, 2, 3, 4].map(|c| S::load(x[16 * c..].as_ptr()));
        let e = S::deinterleave4x6(&r);
        for (k, ek) in e.iter().enumerate() {
            let v = to(ek);
            for j in 0..16 {
                assert_eq!(v[j], (4 * j + k) as f32, "deinterleave tap {k} window {j}");
            }
        }
        let y = S::interleave4(&[e[0], e[1], e[2], e[3]]);
        for (c, yc) in y.iter().enumerate() {
            let v = to(yc);
            for l in 0..16 {
                assert_eq!(v[l], (16 * c + l) as f32, "interleave");
            }
        }
        // Partial loads and stores touch only their lanes.
        let l = S::load_lanes(x.as_ptr().wrapping_sub(3), 3, 9);
        let v = to(&l);
        for (i, &vi) in v.iter().enumerate() {
            assert_eq!(
                vi,
                if (3..9).contains(&i) {
                    (i - 3) as f32
                } else {
                    0.0
                }
            );
        }
        let mut out = vec![-1.0f32; 16];
        S::splat(2.0).store_lanes(out.as_mut_ptr().wrapping_sub(2), 4, 7);
        assert_eq!(&out[..6], &[-1.0, -1.0, 2.0, 2.0, 2.0, -1.0]);
    }

    #[test]
    fn portable_shuffles() {
        unsafe { check_shuffles::<P16<false>>(|v| v.0) }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_shuffles() {
        if crate::cpu::SimdLevel::best() < crate::cpu::SimdLevel::Avx2 {
            return;
        }
        /// # Safety
        /// The CPU has AVX2 and FMA (checked above).
        #[target_feature(enable = "avx2,fma")]
        unsafe fn run() {
            check_shuffles::<Y16>(|v| {
                let mut o = [0.0; 16];
                v.store(o.as_mut_ptr());
                o
            })
        }
        unsafe { run() }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx512_shuffles() {
        if crate::cpu::SimdLevel::best() != crate::cpu::SimdLevel::Avx512 {
            return;
        }
        /// # Safety
        /// The CPU has AVX-512F (checked above).
        #[target_feature(enable = "avx512f")]
        unsafe fn run() {
            check_shuffles::<Z16>(|v| {
                let mut o = [0.0; 16];
                v.store(o.as_mut_ptr());
                o
            })
        }
        unsafe { run() }
    }
}
