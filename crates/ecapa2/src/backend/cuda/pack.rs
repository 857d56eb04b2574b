//! Host-side layouts: PyTorch weights → the `K × N` row-major matrices the GEMMs take, host
//! rows → a padded channels-last batch, fp32 → the activation storage type.

use super::gpu::Operands;
use crate::error::{Error, Result};

/// Conv2d `(cout, cin, 3, 3)` → `K × cout` with `K = (kh, kw, ci)`, matching `im2col3x3`.
pub(crate) fn conv3x3_matrix(w: &[f32], cout: usize, cin: usize) -> Vec<f32> {
    let mut out = vec![0.0; w.len()];
    for co in 0..cout {
        for ci in 0..cin {
            for tap in 0..9 {
                out[(tap * cin + ci) * cout + co] = w[(co * cin + ci) * 9 + tap];
            }
        }
    }
    out
}

/// Conv1d/Conv2d 1×1 `(cout, cin)` → `cin × cout`.
pub(crate) fn pointwise_matrix(w: &[f32], cout: usize, cin: usize) -> Vec<f32> {
    let mut out = vec![0.0; w.len()];
    for co in 0..cout {
        for ci in 0..cin {
            out[ci * cout + co] = w[co * cin + ci];
        }
    }
    out
}

/// Conv1d `(cout, cin, k)` → `K × cout` with `K = (j, ci)`, matching `res2_im2col`.
pub(crate) fn dilated_matrix(w: &[f32], cout: usize, cin: usize, k: usize) -> Vec<f32> {
    let mut out = vec![0.0; w.len()];
    for co in 0..cout {
        for ci in 0..cin {
            for j in 0..k {
                out[(j * cin + ci) * cout + co] = w[(co * cin + ci) * k + j];
            }
        }
    }
    out
}

/// A batch of host rows, each `(c, h, frames_r)` row-major, as one `[row][h][t][c]` array
/// padded with zeros to the longest row or `min_t` frames, whichever is more; returns it, the
/// rows' frame counts and the padded length.
pub(crate) fn pack_rows(
    rows: &[Vec<f32>],
    c: usize,
    h: usize,
    min_t: usize,
) -> Result<(Vec<f32>, Vec<i32>, usize)> {
    let plane = c * h;
    let mut lens = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        if plane == 0 || r.is_empty() || r.len() % plane != 0 || r.len() / plane > i32::MAX as usize
        {
            return Err(Error::InBatch {
                row: i,
                source: Box::new(Error::Device {
                    device: "cuda".into(),
                    message: format!(
                        "row of {} values is not a whole number of {c}×{h} frames",
                        r.len()
                    ),
                }),
            });
        }
        lens.push((r.len() / plane) as i32);
    }
    let t = (lens.iter().copied().max().unwrap_or(0) as usize).max(min_t);
    let mut out = vec![0.0f32; rows.len() * h * t * c];
    for (b, r) in rows.iter().enumerate() {
        let len = r.len() / plane;
        for ci in 0..c {
            for hi in 0..h {
                let src = &r[(ci * h + hi) * len..(ci * h + hi + 1) * len];
                for (ti, &v) in src.iter().enumerate() {
                    out[((b * h + hi) * t + ti) * c + ci] = v;
                }
            }
        }
    }
    Ok((out, lens, t))
}

/// fp32 values in the activation storage type, as bytes.
pub(crate) fn to_storage(values: &[f32], storage: Operands) -> Vec<u8> {
    match storage {
        Operands::F32 => bytemuck::cast_slice(values).to_vec(),
        Operands::F16 => values
            .iter()
            .flat_map(|&v| half::f16::from_f32(v).to_bits().to_ne_bytes())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_pack_channels_last_with_zero_padding() {
        // Two rows of a (c=2, h=3) map, 2 and 4 frames; value encodes (row, c, h, t).
        let row = |b: usize, t: usize| -> Vec<f32> {
            let mut v = Vec::new();
            for c in 0..2 {
                for h in 0..3 {
                    for ti in 0..t {
                        v.push((1000 * b + 100 * c + 10 * h + ti) as f32 + 1.0);
                    }
                }
            }
            v
        };
        let (packed, lens, t) = pack_rows(&[row(0, 2), row(1, 4)], 2, 3, 0).unwrap();
        assert_eq!((lens.as_slice(), t), (&[2, 4][..], 4));
        for b in 0..2 {
            for h in 0..3 {
                for ti in 0..4 {
                    for c in 0..2 {
                        let got = packed[((b * 3 + h) * 4 + ti) * 2 + c];
                        let want = if ti < lens[b] as usize {
                            (1000 * b + 100 * c + 10 * h + ti) as f32 + 1.0
                        } else {
                            0.0
                        };
                        assert_eq!(got, want, "b {b} h {h} t {ti} c {c}");
                    }
                }
            }
        }
        assert!(pack_rows(&[vec![1.0; 5]], 2, 3, 0).is_err());
        assert!(pack_rows(&[vec![]], 2, 3, 0).is_err());
        // Padded further on request (a CUDA-graph bucket).
        let (packed, lens, t) = pack_rows(&[row(0, 2)], 2, 3, 5).unwrap();
        assert_eq!((lens, t, packed.len()), (vec![2], 5, 3 * 5 * 2));
    }

    #[test]
    fn weight_matrices_index_like_pytorch() {
        let (cout, cin, k) = (3, 2, 3);
        let w: Vec<f32> = (0..cout * cin * 9).map(|i| i as f32).collect();
        let m = conv3x3_matrix(&w, cout, cin);
        // W[co=2][ci=1][kh=0][kw=2] sits at row (0·3 + 2)·cin + 1, column 2.
        assert_eq!(m[(2 * cin + 1) * cout + 2], w[(2 * cin + 1) * 9 + 2]);
        let p = pointwise_matrix(&w[..6], cout, cin);
        // W[co=2][ci=1] sits at row 1, column 2.
        assert_eq!(p[cout + 2], w[2 * cin + 1]);
        let d = dilated_matrix(&w[..cout * cin * k], cout, cin, k);
        // W[co=0][ci=1][j=2] (flat index (0·cin + 1)·k + 2) sits at row 2·cin + 1, column 0.
        assert_eq!(d[(2 * cin + 1) * cout], w[k + 2]);
    }

    #[test]
    fn f16_storage_rounds_to_nearest() {
        let b = to_storage(&[1.0, 65504.0, 1.0 + 1.0 / 4096.0], Operands::F16);
        let h: Vec<u16> = b
            .chunks(2)
            .map(|c| u16::from_ne_bytes([c[0], c[1]]))
            .collect();
        assert_eq!(h, vec![0x3c00, 0x7bff, 0x3c00]);
    }
}
