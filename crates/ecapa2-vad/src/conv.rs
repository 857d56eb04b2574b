//! 1-D convolution (kernel 3, padding 1) + bias + ReLU over a block of independent chunks, as
//! one im2col GEMM: every Silero chunk is convolved on its own few frames, so a whole block of
//! chunks shares one product.

use ecapa2_kernels::matmul::{matmul, MatRef, Threads};

/// Kernel width of every encoder convolution.
const K: usize = 3;

/// A kernel-3, padding-1 convolution with its weights as a `[K·c_in × c_out]` matrix (row
/// `k·c_in + c` holds tap `k` of input channel `c`), matching the im2col rows built below.
#[derive(Debug, Clone)]
pub(crate) struct Conv1d {
    w: Vec<f32>,
    bias: Vec<f32>,
    c_in: usize,
    c_out: usize,
    stride: usize,
}

impl Conv1d {
    /// From PyTorch's `[c_out, c_in, K]` weight and `[c_out]` bias.
    pub fn new(w: &[f32], bias: Vec<f32>, c_in: usize, c_out: usize, stride: usize) -> Self {
        let mut m = vec![0.0; K * c_in * c_out];
        for o in 0..c_out {
            for c in 0..c_in {
                for k in 0..K {
                    m[(k * c_in + c) * c_out + o] = w[(o * c_in + c) * K + k];
                }
            }
        }
        Self {
            w: m,
            bias,
            c_in,
            c_out,
            stride,
        }
    }

    /// Output length for `t_in` input frames.
    pub fn out_len(&self, t_in: usize) -> usize {
        (t_in - 1) / self.stride + 1
    }

    /// `relu(conv(x) + bias)` for `chunks` chunks of `t_in` frames each; `x` is
    /// `[chunks·t_in × c_in]` row-major, the result `[chunks·t_out × c_out]`.
    pub fn forward_relu(&self, x: &[f32], chunks: usize, t_in: usize) -> Vec<f32> {
        let t_out = self.out_len(t_in);
        let rows = chunks * t_out;
        let width = K * self.c_in;
        let mut cols = vec![0.0f32; rows * width];
        for b in 0..chunks {
            for t in 0..t_out {
                let row = &mut cols[(b * t_out + t) * width..][..width];
                for k in 0..K {
                    // Input frame t·stride + k − 1; outside the chunk it is the zero padding.
                    let Some(src) = (t * self.stride + k).checked_sub(1) else {
                        continue;
                    };
                    if src < t_in {
                        row[k * self.c_in..][..self.c_in]
                            .copy_from_slice(&x[(b * t_in + src) * self.c_in..][..self.c_in]);
                    }
                }
            }
        }
        let mut out = vec![0.0f32; rows * self.c_out];
        matmul(
            &mut out,
            self.c_out,
            MatRef::new(&cols, rows, width),
            MatRef::new(&self.w, width, self.c_out),
            false,
            Threads::Single,
        );
        for row in out.chunks_exact_mut(self.c_out) {
            for (v, b) in row.iter_mut().zip(&self.bias) {
                *v = (*v + b).max(0.0);
            }
        }
        out
    }
}
