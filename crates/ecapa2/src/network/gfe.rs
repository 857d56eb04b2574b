//! Global feature extractor (spec 3.4): 1-D layers over the flattened (channel·frequency, time)
//! map: tdnn_1, the SE-Res2Net block tdnn_2, dense_1.

use super::layers::BatchNorm;
use super::se::{mean, SeGate};
use ecapa2_kernels::matmul::{matmul, MatRef, Threads};
use ecapa2_kernels::Pointwise;

/// A 1×1 Conv1d whose pre-activation output is a feature tap, then ReLU and an optional BN.
#[derive(Debug, Clone)]
pub struct TappedConv {
    /// Conv1d k=1 with bias (epilogue: bias only, so the output is the tap).
    pub conv: Pointwise,
    /// BN after the ReLU (`None` for dense_1).
    pub bn: Option<BatchNorm>,
}

impl TappedConv {
    /// The pre-activation output `(cout, t)`: the feature tap.
    pub fn conv(&self, x: &[f32], t: usize) -> Vec<f32> {
        let mut pre = vec![0.0f32; self.conv.out_channels() * t];
        self.conv.forward(x, t, &mut pre);
        pre
    }

    /// ReLU then the optional BN, in place: turns the tap into the layer's output (done in
    /// place so that long inputs hold one copy).
    pub fn activate(&self, pre: &mut [f32], t: usize) {
        for (ch, row) in pre.chunks_exact_mut(t).enumerate() {
            match &self.bn {
                Some(bn) => {
                    let (s, b) = (bn.scale[ch], bn.shift[ch]);
                    row.iter_mut().for_each(|v| *v = v.max(0.0) * s + b);
                }
                None => row.iter_mut().for_each(|v| *v = v.max(0.0)),
            }
        }
    }
}

/// Conv1d(width → width, kernel k, dilation d, reflect padding d·(k−1)/2) with bias.
#[derive(Debug, Clone)]
pub struct DilatedConv {
    /// Per tap `j`: row-major `(cout, cin)` weight slice `W[:, :, j]`.
    pub taps: Vec<Vec<f32>>,
    /// Bias, length cout.
    pub bias: Vec<f32>,
    /// Input channels.
    pub cin: usize,
    /// Dilation.
    pub dilation: usize,
    /// Reflect padding on each side.
    pub padding: usize,
}

impl DilatedConv {
    /// Applies to `(cin, t)`; needs `t > padding` (reflect padding's own requirement).
    pub fn forward(&self, x: &[f32], t: usize) -> Vec<f32> {
        let p = self.padding;
        let tp = t + 2 * p;
        let mut padded = vec![0.0f32; self.cin * tp];
        for (src, dst) in x.chunks_exact(t).zip(padded.chunks_exact_mut(tp)) {
            for (i, d) in dst.iter_mut().enumerate() {
                *d = src[reflect(i as isize - p as isize, t)];
            }
        }
        let cout = self.bias.len();
        let t_out = tp - self.dilation * (self.taps.len() - 1);
        let mut out = vec![0.0f32; cout * t_out];
        for (j, w) in self.taps.iter().enumerate() {
            let rhs = MatRef {
                data: &padded[j * self.dilation..],
                rows: self.cin,
                cols: t_out,
                row_stride: tp,
            };
            matmul(
                &mut out,
                t_out,
                MatRef::new(w, cout, self.cin),
                rhs,
                j > 0,
                Threads::Pool,
            );
        }
        for (row, &b) in out.chunks_exact_mut(t_out).zip(&self.bias) {
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

/// tdnn_2: `y = x + SE(B(Res2Net(A(x))))` (spec 3.4).
#[derive(Debug, Clone)]
pub struct SeRes2Block {
    /// conv1 → ReLU → bn1; its pre-activation output is the gfe_2 tap.
    pub conv1: TappedConv,
    /// The Res2Net branch convolutions (`scale − 1` of them) and their BNs.
    pub convs: Vec<(DilatedConv, BatchNorm)>,
    /// conv2 → ReLU → bn2.
    pub conv2: TappedConv,
    /// 1-D SE on the block output.
    pub se: SeGate,
}

impl SeRes2Block {
    /// Runs the block from conv1's post-activation output `a`, adding the identity `x`.
    /// Takes both by value so that their memory is reused.
    pub fn finish(&self, x: Vec<f32>, a: Vec<f32>, t: usize) -> Vec<f32> {
        let scale = self.convs.len() + 1;
        let width = a.len() / t / scale;
        let group = width * t;
        // Group 0 passes through; group g adds the previous branch's output before its conv.
        let mut res = a;
        for g in 1..scale {
            let (done, rest) = res.split_at_mut(g * group);
            let cur = &mut rest[..group];
            if g > 1 {
                cur.iter_mut()
                    .zip(&done[(g - 1) * group..])
                    .for_each(|(c, p)| *c += p);
            }
            let (conv, bn) = &self.convs[g - 1];
            let y = conv.forward(cur, t);
            for (ch, (dst, src)) in cur.chunks_exact_mut(t).zip(y.chunks_exact(t)).enumerate() {
                let (s, b) = (bn.scale[ch], bn.shift[ch]);
                dst.iter_mut()
                    .zip(src)
                    .for_each(|(d, &v)| *d = v.max(0.0) * s + b);
            }
        }
        let mut b = self.conv2.conv(&res, t);
        drop(res);
        self.conv2.activate(&mut b, t);
        let z: Vec<f32> = b.chunks_exact(t).map(mean).collect();
        let g = self.se.gate(&z);
        for ((row, g), xr) in b.chunks_exact_mut(t).zip(g).zip(x.chunks_exact(t)) {
            row.iter_mut().zip(xr).for_each(|(v, &r)| *v = *v * g + r);
        }
        b
    }
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
