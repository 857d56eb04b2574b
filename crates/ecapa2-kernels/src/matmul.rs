//! Row-major single-precision GEMM on top of the `gemm` crate (which picks its SIMD kernel at
//! run time from the CPU's features).

use crate::context::CpuContext;
use gemm::Parallelism;

/// A row-major matrix view: element `(r, c)` is `data[r * row_stride + c]`.
#[derive(Debug, Clone, Copy)]
pub struct MatRef<'a> {
    /// Backing slice.
    pub data: &'a [f32],
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Distance between rows, in elements.
    pub row_stride: usize,
}

impl<'a> MatRef<'a> {
    /// A contiguous `rows × cols` matrix.
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            row_stride: cols,
        }
    }

    fn fits(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.row_stride + self.cols <= self.data.len()
    }
}

/// How a GEMM may use threads.
#[derive(Debug, Clone, Copy)]
pub enum Threads<'a> {
    /// Run on the calling thread (used inside an already parallel loop).
    Single,
    /// Spread over this context's workers.
    Pool(&'a CpuContext),
}

/// `dst = lhs × rhs` (or `dst += lhs × rhs` when `accumulate`), `dst` row-major with
/// `dst_row_stride`.
///
/// # Panics
/// If a view does not fit its slice or the shapes disagree: these are programming errors in
/// the network code, never a consequence of user input.
pub fn matmul(
    dst: &mut [f32],
    dst_row_stride: usize,
    lhs: MatRef<'_>,
    rhs: MatRef<'_>,
    accumulate: bool,
    threads: Threads<'_>,
) {
    let (m, n) = (lhs.rows, rhs.cols);
    assert!(
        m == 0 || n == 0 || (m - 1) * dst_row_stride + n <= dst.len(),
        "matmul: destination view out of bounds"
    );
    // SAFETY: the assert proves every (row, col) the GEMM writes lies inside `dst`, which is
    // borrowed mutably, so it cannot alias `lhs` or `rhs`.
    unsafe {
        matmul_to_ptr(
            dst.as_mut_ptr(),
            dst_row_stride,
            lhs,
            rhs,
            accumulate,
            threads,
        )
    }
}

/// [`matmul`] into a raw destination, for parallel tiles that each own a strided part of one
/// output (no `&mut` slice spanning other tiles' elements is ever formed).
///
/// # Safety
/// `dst + r * dst_row_stride + c` must be valid for reads and writes for every `r < lhs.rows`,
/// `c < rhs.cols`, not aliased by `lhs` or `rhs`, and not accessed by any other thread while
/// the call runs.
///
/// # Panics
/// If an operand view does not fit its slice or the shapes disagree.
pub(crate) unsafe fn matmul_to_ptr(
    dst: *mut f32,
    dst_row_stride: usize,
    lhs: MatRef<'_>,
    rhs: MatRef<'_>,
    accumulate: bool,
    threads: Threads<'_>,
) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    assert_eq!(rhs.rows, k, "matmul: inner dimensions differ");
    assert!(
        lhs.fits() && rhs.fits(),
        "matmul: operand view out of bounds"
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for r in 0..m {
                // SAFETY: row `r`'s `n` elements are in the caller's range.
                std::slice::from_raw_parts_mut(dst.add(r * dst_row_stride), n).fill(0.0);
            }
        }
        return;
    }
    let run = |dst: *mut f32, parallelism| {
        // SAFETY: the operand views fit their slices (asserted); the destination is the
        // caller's (see `# Safety`).
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_row_stride as isize,
            accumulate,
            lhs.data.as_ptr(),
            1,
            lhs.row_stride as isize,
            rhs.data.as_ptr(),
            1,
            rhs.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        )
    };
    match threads {
        Threads::Pool(ctx) if ctx.threads() > 1 && m * n * k > 1 << 18 => {
            let dst = crate::context::SendPtr(dst);
            ctx.install(|| run(dst.get(), Parallelism::Rayon(ctx.threads())))
        }
        _ => run(dst, Parallelism::None),
    }
}
