//! The CPU backend: today's kernels (`ecapa2-kernels`) on a thread pool this backend owns.
//!
//! Everything a call needs lives in the [`Cpu`] value: the pool and each worker's scratch
//! ([`CpuContext`]), the recycled activation buffers, and the resolved precision; the
//! [`CpuEngine`] adds the network prepared on it and the memory budget. Two models never share
//! any of it; one model's concurrent calls share the pool (its threads are not multiplied per
//! call), the buffer pool (behind a mutex) and the budget.
//!
//! A batch ([`Rows`]) is a list of per-utterance maps, each its own length: every op runs row
//! by row with exactly the arithmetic of a single utterance (each row parallel over the pool),
//! so masks are implicit and a row of a batch equals the utterance alone, bit for bit.

mod budget;
mod buffers;
mod checkpoint;
mod engine;
pub(crate) mod plan;
pub(crate) mod tiled;

use super::{Axis, Backend};
use crate::error::{Error, Result};
use crate::network::layers::{BatchNorm, Linear};
use crate::network::se::{Se2d, SeGate};
use crate::network::weights::{ConvWeights, DilatedWeights};
use crate::stats;
use crate::Precision;
use buffers::Buffers;
use ecapa2_kernels::matmul::{matmul, MatRef, Threads};
use ecapa2_kernels::{Conv3x3, CpuContext, Epilogue, Pointwise};
pub(crate) use engine::CpuEngine;
use rayon::prelude::*;
use std::ops::Range;

/// A `(channels, rows, frames)` activation of one utterance in host memory.
#[derive(Debug, Clone)]
pub(crate) struct Planes {
    /// Row-major data.
    pub data: Vec<f32>,
    /// Channels.
    pub c: usize,
    /// Frequency rows (1 for 1-D maps).
    pub h: usize,
    /// Time frames.
    pub w: usize,
}

impl Planes {
    /// The time frames `range` of every row.
    pub fn crop(&self, range: Range<usize>) -> Planes {
        let data = self
            .data
            .chunks_exact(self.w)
            .flat_map(|row| &row[range.clone()])
            .copied()
            .collect();
        Planes {
            data,
            c: self.c,
            h: self.h,
            w: range.len(),
        }
    }

    /// A one-frame map of a vector.
    fn vector(data: Vec<f32>) -> Planes {
        Planes {
            c: data.len(),
            h: 1,
            w: 1,
            data,
        }
    }
}

/// A batch on the CPU: one map per utterance, each with its own frame count.
#[derive(Debug, Clone)]
pub(crate) struct Rows(pub Vec<Planes>);

impl Rows {
    /// A batch of one.
    pub fn one(x: Planes) -> Rows {
        Rows(vec![x])
    }

    /// The map of a batch of one.
    pub fn into_one(mut self) -> Planes {
        debug_assert_eq!(self.0.len(), 1);
        self.0.swap_remove(0)
    }
}

/// Refuses two batches of different sizes (a bug in the caller, reported rather than
/// panicking).
fn same_rows<T, U>(a: &[T], b: &[U]) -> Result<()> {
    if a.len() != b.len() {
        return Err(Error::Device {
            device: "cpu".into(),
            message: format!("batch sizes differ: {} vs {}", a.len(), b.len()),
        });
    }
    Ok(())
}

/// A dilated Conv1d split into its taps.
pub(crate) struct Dilated {
    /// Per tap `j`: row-major `(cout, cin)` weight slice `W[:, :, j]`.
    taps: Vec<Vec<f32>>,
    bias: Vec<f32>,
    cin: usize,
    dilation: usize,
    padding: usize,
}

/// The CPU backend.
#[derive(Debug)]
pub(crate) struct Cpu {
    ctx: CpuContext,
    buffers: Buffers,
    precision: Precision,
}

impl Cpu {
    /// A backend with `threads` workers computing in `precision`, lowered once, here, to what
    /// this CPU runs (with a warning that says why).
    pub fn new(threads: usize, precision: Precision) -> Result<Self> {
        let ctx = CpuContext::new(threads).map_err(|e| Error::Threads {
            threads,
            message: e.to_string(),
        })?;
        let supported = engine_precision(kernel_precision(precision).supported());
        if supported != precision {
            let why = match precision {
                Precision::Bf16 | Precision::Bf16x3 => "this CPU or OS offers no AMX-BF16 tiles",
                _ => "the CPU backend has no kernels for it",
            };
            tracing::warn!("precision {precision} asked for, {supported} used: {why}");
        }
        Ok(Self {
            ctx,
            buffers: Buffers::default(),
            precision: supported,
        })
    }

    /// Worker threads.
    pub fn threads(&self) -> usize {
        self.ctx.threads()
    }

    /// Runs `f` on this backend's pool.
    pub fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        self.ctx.install(f)
    }

    /// Drops the recycled buffers (the tiled path must stay within its memory limit).
    pub(crate) fn release_buffers(&self) {
        self.buffers.release_all();
    }

    fn take(&self, c: usize, h: usize, w: usize) -> Planes {
        Planes {
            data: self.buffers.take(c * h * w),
            c,
            h,
            w,
        }
    }
}

fn epilogue(bias: Option<&Vec<f32>>, relu: bool, bn: Option<&BatchNorm>) -> Epilogue {
    Epilogue {
        bias: bias.cloned(),
        relu,
        affine: bn.map(BatchNorm::affine),
    }
}

impl Backend for Cpu {
    type Map = Rows;
    type Conv3x3 = Conv3x3;
    type Pointwise = Pointwise;
    type Dilated = Dilated;
    type Se = Se2d;
    type Linear = Linear;
    type Affine = BatchNorm;

    fn precision(&self) -> Precision {
        self.precision
    }

    fn prepare_conv3x3(&self, w: &ConvWeights, bn: &BatchNorm) -> Result<Conv3x3> {
        let epi = epilogue(w.bias.as_ref(), true, Some(bn));
        Ok(Conv3x3::with_precision(
            &self.ctx,
            &w.weight,
            w.cout,
            w.cin,
            w.stride,
            epi,
            kernel_precision(self.precision),
        ))
    }

    fn prepare_pointwise(&self, w: &ConvWeights, bn: Option<&BatchNorm>) -> Result<Pointwise> {
        let epi = epilogue(w.bias.as_ref(), false, bn);
        Ok(Pointwise::new(&w.weight, w.cout, w.cin, epi))
    }

    fn prepare_dilated(&self, w: &DilatedWeights) -> Result<Dilated> {
        // Split W (cout, cin, k) into k matrices W[:, :, j].
        let taps = (0..w.k)
            .map(|j| (0..w.cout * w.cin).map(|i| w.weight[i * w.k + j]).collect())
            .collect();
        Ok(Dilated {
            taps,
            bias: w.bias.clone(),
            cin: w.cin,
            dilation: w.dilation,
            padding: w.padding,
        })
    }

    fn prepare_se(&self, mlp: &SeGate, axis: Axis) -> Result<Se2d> {
        Ok(Se2d::new(axis, mlp.clone()))
    }

    fn prepare_linear(&self, w: &Linear) -> Result<Linear> {
        Ok(w.clone())
    }

    fn upload(&self, rows: Vec<Vec<f32>>, c: usize, h: usize) -> Result<Rows> {
        Ok(Rows(
            rows.into_iter()
                .map(|data| {
                    let w = data.len() / (c * h).max(1);
                    debug_assert_eq!(data.len(), c * h * w);
                    Planes { data, c, h, w }
                })
                .collect(),
        ))
    }

    fn release(&self, x: Rows) {
        for p in x.0 {
            self.buffers.recycle(p.data);
        }
    }

    fn download(&self, parts: Vec<Rows>) -> Result<Vec<Vec<f32>>> {
        let n = parts.first().map_or(0, |p| p.0.len());
        let mut out = vec![Vec::new(); n];
        for part in parts {
            same_rows(&out, &part.0)?;
            for (row, p) in out.iter_mut().zip(&part.0) {
                row.extend_from_slice(&p.data);
            }
        }
        Ok(out)
    }

    fn conv3x3(&self, layer: &Conv3x3, x: &Rows) -> Result<Rows> {
        Ok(Rows(
            x.0.iter().map(|x| self.conv3x3_one(layer, x)).collect(),
        ))
    }

    fn project(&self, layer: &Pointwise, x: &Rows, stride: usize) -> Result<Rows> {
        Ok(Rows(
            x.0.iter()
                .map(|x| {
                    let ho = (x.h - 1) / stride + 1;
                    let mut out = self.take(layer.out_channels(), ho, x.w);
                    layer.forward_strided_rows(&self.ctx, &x.data, x.h, x.w, stride, &mut out.data);
                    out
                })
                .collect(),
        ))
    }

    fn pointwise(&self, layer: &Pointwise, x: &Rows) -> Result<Rows> {
        Ok(Rows(
            x.0.iter().map(|x| self.pointwise_one(layer, x)).collect(),
        ))
    }

    fn prepare_affine(&self, bn: &BatchNorm) -> Result<BatchNorm> {
        Ok(bn.clone())
    }

    fn activate(&self, x: &mut Rows, bias: Option<&Rows>, bn: Option<&BatchNorm>) -> Result<()> {
        match bias {
            Some(bias) => {
                same_rows(&x.0, &bias.0)?;
                for (x, b) in x.0.iter_mut().zip(&bias.0) {
                    activate_one(x, Some(&b.data), bn);
                }
            }
            None => x.0.iter_mut().for_each(|x| activate_one(x, None, bn)),
        }
        Ok(())
    }

    fn se(&self, layer: &Se2d, x: &mut Rows, residual: Option<&Rows>) -> Result<()> {
        if let Some(r) = residual {
            same_rows(&x.0, &r.0)?;
        }
        for (i, p) in x.0.iter_mut().enumerate() {
            let sums = self.squeeze_sums(p, layer.axis(), 0..p.w);
            let gate = layer.gate(&sums, (p.c, p.h, p.w));
            self.gate(p, &gate, layer.axis(), residual.map(|r| &r.0[i]));
        }
        Ok(())
    }

    fn res2net(&self, branches: &[(Dilated, BatchNorm)], x: &mut Rows) -> Result<()> {
        x.0.iter_mut().for_each(|x| self.res2net_one(branches, x));
        Ok(())
    }

    fn mean_var(&self, x: &Rows) -> Result<Rows> {
        Ok(Rows(
            x.0.iter()
                .map(|x| Planes::vector(stats::mean_var(&x.data, x.c * x.h, x.w)))
                .collect(),
        ))
    }

    fn mean_std(&self, x: &Rows, eps: f64) -> Result<Rows> {
        Ok(Rows(
            x.0.iter()
                .map(|x| {
                    let (m, s): (Vec<f32>, Vec<f32>) = x
                        .data
                        .chunks_exact(x.w)
                        .map(|row| {
                            let (m, v) = stats::row_mean_var(row);
                            (m as f32, (v + eps).sqrt() as f32)
                        })
                        .unzip();
                    Planes::vector([m, s].concat())
                })
                .collect(),
        ))
    }

    fn attentive_stats(&self, logits: &Rows, bias: &[f32], x: &Rows, eps: f64) -> Result<Rows> {
        Ok(Rows(
            {
                same_rows(&logits.0, &x.0)?;
                logits.0.iter().zip(&x.0)
            }
            .map(|(l, x)| Planes::vector(attentive_stats_one(l, bias, x, eps)))
            .collect(),
        ))
    }

    fn linear(&self, layer: &Linear, x: &Rows) -> Result<Rows> {
        Ok(Rows(
            x.0.iter()
                .map(|x| Planes::vector(layer.forward(&x.data)))
                .collect(),
        ))
    }

    fn affine(&self, x: &Rows, bn: &BatchNorm) -> Result<Rows> {
        Ok(Rows(
            x.0.iter()
                .map(|x| {
                    let mut v = x.data.clone();
                    bn.apply(&mut v);
                    Planes::vector(v)
                })
                .collect(),
        ))
    }
}

/// The kernels' precision for a resolved engine precision (fp32 for anything the kernels
/// lack, which [`Cpu::new`] already lowered).
fn kernel_precision(p: Precision) -> ecapa2_kernels::Precision {
    match p {
        Precision::Bf16 => ecapa2_kernels::Precision::Bf16,
        Precision::Bf16x3 => ecapa2_kernels::Precision::Bf16x3,
        _ => ecapa2_kernels::Precision::F32,
    }
}

/// The engine precision a kernel layer reports.
fn engine_precision(p: ecapa2_kernels::Precision) -> Precision {
    match p {
        ecapa2_kernels::Precision::Bf16 => Precision::Bf16,
        ecapa2_kernels::Precision::Bf16x3 => Precision::Bf16x3,
        ecapa2_kernels::Precision::F32 => Precision::F32,
    }
}

/// `x ← relu(x + bias) · scale + shift` per channel of one map.
fn activate_one(x: &mut Planes, bias: Option<&[f32]>, bn: Option<&BatchNorm>) {
    let plane = x.h * x.w;
    for (ch, p) in x.data.chunks_exact_mut(plane).enumerate() {
        let b = bias.map_or(0.0, |b| b[ch]);
        match bn {
            Some(bn) => {
                let (s, t) = (bn.scale[ch], bn.shift[ch]);
                p.iter_mut().for_each(|v| *v = (*v + b).max(0.0) * s + t);
            }
            None => p.iter_mut().for_each(|v| *v = (*v + b).max(0.0)),
        }
    }
}

/// Attentive statistics of one utterance: `[μ…, σ…]`.
fn attentive_stats_one(logits: &Planes, bias: &[f32], x: &Planes, eps: f64) -> Vec<f32> {
    let c = x.c * x.h;
    let mut out = vec![0.0f32; 2 * c];
    for (ch, (logits, xs)) in logits
        .data
        .chunks_exact(logits.w)
        .zip(x.data.chunks_exact(x.w))
        .enumerate()
    {
        let b = bias[ch] as f64;
        let max = logits.iter().fold(f32::NEG_INFINITY, |a, &v| a.max(v)) as f64;
        let (mut z, mut s1, mut s2) = (0.0f64, 0.0f64, 0.0f64);
        for (&l, &v) in logits.iter().zip(xs) {
            // The bias shifts all logits of a channel equally; kept for exactness anyway.
            let a = ((l as f64 + b) - (max + b)).exp();
            z += a;
            s1 += a * v as f64;
            s2 += a * (v as f64) * (v as f64);
        }
        let mu = s1 / z;
        out[ch] = mu as f32;
        out[c + ch] = ((s2 / z - mu * mu).abs() + eps).sqrt() as f32;
    }
    out
}

impl Cpu {
    /// A 3×3 layer on one map.
    fn conv3x3_one(&self, layer: &Conv3x3, x: &Planes) -> Planes {
        let ho = layer.out_height(x.h);
        let mut out = self.take(layer.out_channels(), ho, x.w);
        layer.forward(&self.ctx, &x.data, x.h, x.w, &mut out.data);
        out
    }

    /// A 1×1 Conv1d on one map.
    fn pointwise_one(&self, layer: &Pointwise, x: &Planes) -> Planes {
        // Fresh memory, as before the seam: the recycled pool is sized for the LFE's maps.
        let mut out = Planes {
            data: vec![0.0; layer.out_channels() * x.w],
            c: layer.out_channels(),
            h: 1,
            w: x.w,
        };
        layer.forward(&self.ctx, &x.data, x.w, &mut out.data);
        out
    }

    /// f64 sums of one map over the squeezed axes, counting only the frames `cols`.
    pub(crate) fn squeeze_sums(&self, x: &Planes, axis: Axis, cols: Range<usize>) -> Vec<f64> {
        // Row sums run in parallel and are added in row order: the result does not depend on
        // the thread count.
        let row_sums: Vec<f64> = self.install(|| {
            x.data
                .par_chunks_exact(x.w)
                .with_min_len(64)
                .map(|row| stats::sum_f64(&row[cols.clone()]))
                .collect()
        });
        let (len, index): (usize, fn(usize, usize) -> usize) = match axis {
            Axis::Channel => (x.c, |i, h| i / h),
            Axis::Row => (x.h, |i, h| i % h),
        };
        let mut sums = vec![0.0f64; len];
        for (i, s) in row_sums.into_iter().enumerate() {
            sums[index(i, x.h)] += s;
        }
        sums
    }

    /// `x ← x · gate (+ residual)` on one map, the gate broadcast along `axis`, in place.
    pub(crate) fn gate(&self, x: &mut Planes, gate: &[f32], axis: Axis, residual: Option<&Planes>) {
        // One parallel pass over the channels, each value rounded as `x · g`, then `+ r`,
        // exactly as in two passes.
        let (h, w) = (x.h, x.w);
        let plane = h * w;
        let gated = |c: usize, p: &mut [f32], r: Option<&[f32]>| {
            for (row, chunk) in p.chunks_exact_mut(w).enumerate() {
                let g = match axis {
                    Axis::Channel => gate[c],
                    Axis::Row => gate[row],
                };
                match r {
                    Some(r) => chunk
                        .iter_mut()
                        .zip(&r[row * w..(row + 1) * w])
                        .for_each(|(v, &r)| *v = *v * g + r),
                    None => chunk.iter_mut().for_each(|v| *v *= g),
                }
            }
        };
        self.install(|| match residual {
            Some(res) => x
                .data
                .par_chunks_exact_mut(plane)
                .zip(res.data.par_chunks_exact(plane))
                .enumerate()
                .for_each(|(c, (p, r))| gated(c, p, Some(r))),
            None => x
                .data
                .par_chunks_exact_mut(plane)
                .enumerate()
                .for_each(|(c, p)| gated(c, p, None)),
        });
    }

    /// The Res2Net branches in place on one map.
    fn res2net_one(&self, branches: &[(Dilated, BatchNorm)], x: &mut Planes) {
        let t = x.w;
        let scale = branches.len() + 1;
        let group = x.data.len() / scale;
        // Group 0 passes through; group g adds the previous branch's output before its conv.
        for g in 1..scale {
            let (done, rest) = x.data.split_at_mut(g * group);
            let cur = &mut rest[..group];
            if g > 1 {
                cur.iter_mut()
                    .zip(&done[(g - 1) * group..])
                    .for_each(|(c, p)| *c += p);
            }
            let (conv, bn) = &branches[g - 1];
            let y = self.dilated(conv, cur, t);
            for (ch, (dst, src)) in cur.chunks_exact_mut(t).zip(y.chunks_exact(t)).enumerate() {
                let (s, b) = (bn.scale[ch], bn.shift[ch]);
                dst.iter_mut()
                    .zip(src)
                    .for_each(|(d, &v)| *d = v.max(0.0) * s + b);
            }
        }
    }
}

impl Cpu {
    /// A dilated conv with reflect padding on `(cin, t)`; needs `t > padding`.
    fn dilated(&self, l: &Dilated, x: &[f32], t: usize) -> Vec<f32> {
        let p = l.padding;
        let tp = t + 2 * p;
        let mut padded = vec![0.0f32; l.cin * tp];
        for (src, dst) in x.chunks_exact(t).zip(padded.chunks_exact_mut(tp)) {
            for (i, d) in dst.iter_mut().enumerate() {
                *d = src[reflect(i as isize - p as isize, t)];
            }
        }
        let cout = l.bias.len();
        let t_out = tp - l.dilation * (l.taps.len() - 1);
        let mut out = vec![0.0f32; cout * t_out];
        for (j, w) in l.taps.iter().enumerate() {
            let rhs = MatRef {
                data: &padded[j * l.dilation..],
                rows: l.cin,
                cols: t_out,
                row_stride: tp,
            };
            matmul(
                &mut out,
                t_out,
                MatRef::new(w, cout, l.cin),
                rhs,
                j > 0,
                Threads::Pool(&self.ctx),
            );
        }
        for (row, &b) in out.chunks_exact_mut(t_out).zip(&l.bias) {
            row.iter_mut().for_each(|v| *v += b);
        }
        out
    }
}

/// Index into a length-`n` signal with reflect padding (no edge repeat), as PyTorch's "reflect".
fn reflect(i: isize, n: usize) -> usize {
    let n = n as isize;
    let r = if i < 0 {
        -i
    } else if i >= n {
        2 * (n - 1) - i
    } else {
        i
    };
    r.clamp(0, n - 1) as usize
}

#[cfg(test)]
mod tests {
    #[test]
    fn reflect_matches_pytorch() {
        // torch.nn.functional.pad([0,1,2,3,4], (2,2), mode='reflect') = [2,1,0,1,2,3,4,3,2]
        let idx: Vec<usize> = (-2..7).map(|i| super::reflect(i, 5)).collect();
        assert_eq!(idx, vec![2, 1, 0, 1, 2, 3, 4, 3, 2]);
    }
}
