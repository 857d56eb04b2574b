//! Row-major single-precision GEMM on top of the `gemm` crate (which picks its SIMD kernel at
//! run time from the CPU's features).

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threads {
    /// Run on the calling thread (used inside an already parallel loop).
    Single,
    /// Spread over the current rayon pool.
    Pool,
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
    threads: Threads,
) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    assert_eq!(rhs.rows, k, "matmul: inner dimensions differ");
    assert!(
        lhs.fits() && rhs.fits(),
        "matmul: operand view out of bounds"
    );
    assert!(
        m == 0 || n == 0 || (m - 1) * dst_row_stride + n <= dst.len(),
        "matmul: destination view out of bounds"
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for r in 0..m {
                dst[r * dst_row_stride..r * dst_row_stride + n].fill(0.0);
            }
        }
        return;
    }
    let parallelism = match threads {
        Threads::Pool if rayon::current_num_threads() > 1 && m * n * k > 1 << 18 => {
            Parallelism::Rayon(rayon::current_num_threads())
        }
        _ => Parallelism::None,
    };
    // SAFETY: the asserts above prove every (row, col) the GEMM touches lies inside its slice;
    // `dst` is borrowed mutably, so it cannot alias `lhs` or `rhs`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
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
        );
    }
}
