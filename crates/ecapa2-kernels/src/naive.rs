//! Direct, loop-nest reference convolutions: slow and obviously right, for testing the fast
//! kernels against.

/// Direct 2D convolution of one `(cin, h, w)` image with zero padding.
///
/// `weight` is `(cout, cin, kh, kw)`; returns `(cout, h_out, w_out)` accumulated in f64.
#[allow(clippy::too_many_arguments)]
pub fn conv2d(
    input: &[f32],
    (cin, h, w): (usize, usize, usize),
    weight: &[f32],
    (cout, kh, kw): (usize, usize, usize),
    bias: Option<&[f32]>,
    stride: (usize, usize),
    padding: (usize, usize),
) -> (Vec<f32>, usize, usize) {
    let h_out = (h + 2 * padding.0 - kh) / stride.0 + 1;
    let w_out = (w + 2 * padding.1 - kw) / stride.1 + 1;
    let mut out = vec![0.0f32; cout * h_out * w_out];
    for co in 0..cout {
        for y in 0..h_out {
            for x in 0..w_out {
                let mut acc = bias.map_or(0.0, |b| b[co] as f64);
                for ci in 0..cin {
                    for dy in 0..kh {
                        for dx in 0..kw {
                            let iy = (y * stride.0 + dy) as isize - padding.0 as isize;
                            let ix = (x * stride.1 + dx) as isize - padding.1 as isize;
                            if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                continue;
                            }
                            let wv = weight[((co * cin + ci) * kh + dy) * kw + dx] as f64;
                            let xv = input[(ci * h + iy as usize) * w + ix as usize] as f64;
                            acc += wv * xv;
                        }
                    }
                }
                out[(co * h_out + y) * w_out + x] = acc as f32;
            }
        }
    }
    (out, h_out, w_out)
}
