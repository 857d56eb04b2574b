//! 1×1 convolutions (Conv1d k=1 and the strided Conv2d 1×1 projections): plain GEMMs.

use crate::context::CpuContext;
use crate::epilogue::Epilogue;
use crate::matmul::{matmul, MatRef, Threads};
use crate::memory::LargeBuf;

/// A 1×1 convolution `(cout, cin)` with its epilogue.
#[derive(Debug, Clone)]
pub struct Pointwise {
    cin: usize,
    cout: usize,
    /// `(cout, cin)`; the big GEMM weights (up to 12 MB) on huge pages.
    weight: LargeBuf,
    epilogue: Epilogue,
}

impl Pointwise {
    /// Builds the kernel from a `(cout, cin[, 1[, 1]])` weight.
    ///
    /// # Panics
    /// If the lengths disagree (the binder checks shapes first).
    pub fn new(weight: &[f32], cout: usize, cin: usize, epilogue: Epilogue) -> Self {
        assert_eq!(weight.len(), cout * cin, "Pointwise: weight length");
        assert!(epilogue.check(cout), "Pointwise: epilogue length");
        Self {
            cin,
            cout,
            weight: LargeBuf::from(weight),
            epilogue,
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

    /// `out (cout, t) = epilogue(W · input (cin, t))`.
    pub fn forward(&self, ctx: &CpuContext, input: &[f32], t: usize, out: &mut [f32]) {
        assert_eq!(input.len(), self.cin * t, "Pointwise: input length");
        assert_eq!(out.len(), self.cout * t, "Pointwise: output length");
        matmul(
            out,
            t,
            MatRef::new(&self.weight, self.cout, self.cin),
            MatRef::new(input, self.cin, t),
            false,
            Threads::Pool(ctx),
        );
        self.apply_epilogue(out, t);
    }

    /// The 2D projection with stride (`stride_h`, 1): `(cin, h, w)` → `(cout, ⌈h/s⌉, w)`,
    /// reading every `stride_h`-th input row.
    pub fn forward_strided_rows(
        &self,
        ctx: &CpuContext,
        input: &[f32],
        h: usize,
        w: usize,
        stride_h: usize,
        out: &mut [f32],
    ) {
        let ho = (h - 1) / stride_h + 1;
        assert_eq!(input.len(), self.cin * h * w, "Pointwise: input length");
        assert_eq!(out.len(), self.cout * ho * w, "Pointwise: output length");
        for r in 0..ho {
            let src = &input[r * stride_h * w..];
            matmul(
                &mut out[r * w..],
                ho * w,
                MatRef::new(&self.weight, self.cout, self.cin),
                MatRef {
                    data: src,
                    rows: self.cin,
                    cols: w,
                    row_stride: h * w,
                },
                false,
                Threads::Pool(ctx),
            );
        }
        self.apply_epilogue(out, ho * w);
    }

    fn apply_epilogue(&self, out: &mut [f32], plane: usize) {
        for (c, chunk) in out.chunks_exact_mut(plane).enumerate() {
            self.epilogue.apply(c, chunk);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::naive;

    #[test]
    fn strided_projection_matches_direct() {
        let (cin, cout, h, w) = (5, 4, 9, 7);
        let x: Vec<f32> = (0..cin * h * w)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0)
            .collect();
        let wt: Vec<f32> = (0..cout * cin)
            .map(|i| ((i * 13 % 17) as f32 - 8.0) / 8.0)
            .collect();
        let p = Pointwise::new(&wt, cout, cin, Epilogue::default());
        let mut y = vec![0.0; cout * 5 * w];
        let ctx = CpuContext::new(2).unwrap();
        p.forward_strided_rows(&ctx, &x, h, w, 2, &mut y);
        let (r, _, _) = naive::conv2d(&x, (cin, h, w), &wt, (cout, 1, 1), None, (2, 1), (0, 0));
        for (a, b) in y.iter().zip(&r) {
            assert!((a - b).abs() < 1e-5);
        }
    }
}
