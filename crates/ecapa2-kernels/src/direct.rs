//! Direct 3×3 convolution for very few input channels (ECAPA2's first layer has one), sixteen
//! time frames per vector: the `9·Cin` shifted input vectors of an output row chunk are loaded
//! once and reused for every output channel, with the epilogue fused before the store.

use crate::context::{CpuContext, SendPtr};
use crate::cpu::SimdLevel;
use crate::epilogue::Epilogue;
use crate::simd::{P16, V16};
use rayon::prelude::*;

/// The most input channels the direct kernel takes (its shifted inputs live on the stack).
pub(crate) const MAX_CIN: usize = 4;

/// Output rows per parallel work item.
const ROWS_PER_TASK: usize = 4;

#[derive(Debug, Clone)]
pub(crate) struct Direct {
    cin: usize,
    cout: usize,
    stride_h: usize,
    level: SimdLevel,
    /// `(cout, cin·9)`, the PyTorch layout flattened.
    weight: Vec<f32>,
    bias: Vec<f32>,
    scale: Vec<f32>,
    shift: Vec<f32>,
    relu: bool,
}

impl Direct {
    pub(crate) fn new(
        weight: &[f32],
        cout: usize,
        cin: usize,
        stride_h: usize,
        epilogue: &Epilogue,
        level: SimdLevel,
    ) -> Self {
        assert!(cin <= MAX_CIN, "Direct: at most {MAX_CIN} input channels");
        let (scale, shift) = match &epilogue.affine {
            Some((s, t)) => (s.clone(), t.clone()),
            None => (vec![1.0; cout], vec![0.0; cout]),
        };
        Self {
            cin,
            cout,
            stride_h,
            level,
            weight: weight.to_vec(),
            bias: epilogue.bias.clone().unwrap_or_else(|| vec![0.0; cout]),
            scale,
            shift,
            relu: epilogue.relu,
        }
    }

    pub(crate) fn level(&self) -> SimdLevel {
        self.level
    }

    pub(crate) fn forward(
        &self,
        ctx: &CpuContext,
        input: &[f32],
        h: usize,
        w: usize,
        out: &mut [f32],
    ) {
        let ho = (h - 1) / self.stride_h + 1;
        debug_assert_eq!(input.len(), self.cin * h * w);
        debug_assert_eq!(out.len(), self.cout * ho * w);
        let outp = SendPtr(out.as_mut_ptr());
        let tasks = ho.div_ceil(ROWS_PER_TASK);
        let run = |t: usize| {
            let rows = t * ROWS_PER_TASK..((t + 1) * ROWS_PER_TASK).min(ho);
            // SAFETY: the level is supported (checked at construction); each task writes only
            // its own output rows, and every access is bounds-derived from (h, w, ho).
            unsafe { self.run_rows(input.as_ptr(), h, w, ho, outp.get(), rows) }
        };
        if tasks == 1 || ctx.threads() == 1 {
            (0..tasks).for_each(run);
        } else {
            ctx.install(|| (0..tasks).into_par_iter().for_each(run));
        }
    }

    /// Output rows `rows` at this kernel's SIMD level.
    ///
    /// # Safety
    /// `self.level` runs on this CPU; `input` holds `(cin, h, w)` and `out` `(cout, ho, w)`
    /// floats; no other thread accesses output rows `rows` during the call.
    unsafe fn run_rows(
        &self,
        input: *const f32,
        h: usize,
        w: usize,
        ho: usize,
        out: *mut f32,
        rows: std::ops::Range<usize>,
    ) {
        match self.level {
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Avx512 => rows_avx512(self, input, h, w, ho, out, rows),
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Avx2 => rows_avx2(self, input, h, w, ho, out, rows),
            _ => self.rows::<P16<false>>(input, h, w, ho, out, rows),
        }
    }

    /// [`Direct::run_rows`] for one vector type.
    ///
    /// # Safety
    /// As [`Direct::run_rows`], with `S`'s instructions available.
    #[inline(always)]
    unsafe fn rows<S: V16>(
        &self,
        input: *const f32,
        h: usize,
        w: usize,
        ho: usize,
        out: *mut f32,
        rows: std::ops::Range<usize>,
    ) {
        let taps = self.cin * 9;
        let zero = S::zero();
        for y in rows {
            let mut x0 = 0;
            while x0 < w {
                let n = (w - x0).min(16);
                // Only the first `taps` entries are used (written below, none read before).
                let mut xs = std::mem::MaybeUninit::<[S; MAX_CIN * 9]>::uninit();
                let xp = xs.as_mut_ptr() as *mut S;
                for ci in 0..self.cin {
                    for dy in 0..3 {
                        let iy = (y * self.stride_h + dy) as isize - 1;
                        let inside = iy >= 0 && (iy as usize) < h;
                        let row = if inside {
                            input.add((ci * h + iy as usize) * w)
                        } else {
                            input
                        };
                        for dx in 0..3 {
                            // Output column x0 + l reads input column x0 + l + dx − 1.
                            let start = x0 as isize + dx as isize - 1;
                            let lo = (-start).max(0) as usize;
                            let hi = n.min((w as isize - start) as usize);
                            let v = if inside {
                                S::load_lanes(row.wrapping_offset(start), lo, hi)
                            } else {
                                zero
                            };
                            xp.add(ci * 9 + dy * 3 + dx).write(v);
                        }
                    }
                }
                let xs = std::slice::from_raw_parts(xp, taps);
                for co in 0..self.cout {
                    let wt = &self.weight[co * taps..(co + 1) * taps];
                    let mut acc = zero;
                    for (t, &wv) in wt.iter().enumerate() {
                        acc = xs[t].mul_add(S::splat(wv), acc);
                    }
                    acc = acc.add(S::splat(self.bias[co]));
                    if self.relu {
                        acc = acc.max(zero);
                    }
                    acc.mul_add(S::splat(self.scale[co]), S::splat(self.shift[co]))
                        .store_lanes(out.add((co * ho + y) * w + x0), 0, n);
                }
                x0 += n;
            }
        }
    }
}

per_level! {
    /// [`Direct::rows`] for one SIMD level; the body's contract is [`Direct::run_rows`]'s.
    unsafe fn rows_avx512 | rows_avx2(
        d: &Direct,
        input: *const f32,
        h: usize,
        w: usize,
        ho: usize,
        out: *mut f32,
        rows: std::ops::Range<usize>,
    ) {
        d.rows::<V>(input, h, w, ho, out, rows)
    }
}
