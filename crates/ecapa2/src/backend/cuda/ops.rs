//! The seam's operations ([`crate::backend::Backend`]) on the CUDA backend: each a few kernel
//! launches and cuBLAS GEMMs on padded channels-last batches (see `backend.rs` for the layout).

use super::backend::{expect, i32_of, Affine, Conv3x3, Cuda, Dense, Dilated, Map, Matrix, Se};
use super::gpu::{launch, Gemm, Gpu, Operands};
use super::memory::Buf;
use super::pack;
use super::params::{self, dense_mode, NULL};
use crate::backend::{Axis, Backend};
use crate::error::Result;
use crate::network::layers::{BatchNorm, Linear};
use crate::network::se::SeGate;
use crate::network::weights::{ConvWeights, DilatedWeights};
use crate::Precision;

impl<G: Gpu> Backend for Cuda<G> {
    type Map = Map<G>;
    type Conv3x3 = Conv3x3<G>;
    type Pointwise = Matrix<G>;
    type Dilated = Dilated<G>;
    type Se = Se<G>;
    type Linear = Dense<G>;
    type Affine = Affine<G>;

    fn precision(&self) -> Precision {
        match self.storage {
            Operands::F16 => Precision::F16,
            Operands::F32 => Precision::F32,
        }
    }

    fn prepare_conv3x3(&self, w: &ConvWeights, bn: &BatchNorm) -> Result<Conv3x3<G>> {
        Ok(Conv3x3 {
            m: Matrix {
                w: self.stored(&pack::conv3x3_matrix(&w.weight, w.cout, w.cin))?,
                k: 9 * w.cin,
                n: w.cout,
                bias: w.bias.as_deref().map(|b| self.f32s(b)).transpose()?,
                bn: Some(self.affine_of(bn)?),
            },
            cin: w.cin,
            stride: w.stride,
        })
    }

    fn prepare_pointwise(&self, w: &ConvWeights, bn: Option<&BatchNorm>) -> Result<Matrix<G>> {
        Ok(Matrix {
            w: self.stored(&pack::pointwise_matrix(&w.weight, w.cout, w.cin))?,
            k: w.cin,
            n: w.cout,
            bias: w.bias.as_deref().map(|b| self.f32s(b)).transpose()?,
            bn: bn.map(|bn| self.affine_of(bn)).transpose()?,
        })
    }

    fn prepare_dilated(&self, w: &DilatedWeights) -> Result<Dilated<G>> {
        Ok(Dilated {
            m: Matrix {
                w: self.stored(&pack::dilated_matrix(&w.weight, w.cout, w.cin, w.k))?,
                k: w.k * w.cin,
                n: w.cout,
                bias: Some(self.f32s(&w.bias)?),
                bn: None,
            },
            k: w.k,
            dilation: w.dilation,
            padding: w.padding,
        })
    }

    fn prepare_se(&self, mlp: &SeGate, axis: Axis) -> Result<Se<G>> {
        Ok(Se {
            axis,
            fc1: self.dense_of(&mlp.fc1)?,
            bn: self.affine_of(&mlp.bn)?,
            fc2: self.dense_of(&mlp.fc2)?,
        })
    }

    fn prepare_linear(&self, w: &Linear) -> Result<Dense<G>> {
        self.dense_of(w)
    }

    fn prepare_affine(&self, bn: &BatchNorm) -> Result<Affine<G>> {
        self.affine_of(bn)
    }

    fn upload(&self, rows: Vec<Vec<f32>>, channels: usize, height: usize) -> Result<Map<G>> {
        Ok(self.upload_padded(&rows, channels, height, 0)?.0)
    }

    fn release(&self, x: Map<G>) {
        drop(x);
    }

    fn download(&self, parts: Vec<Map<G>>) -> Result<Vec<Vec<f32>>> {
        self.read(&parts)
    }

    fn conv3x3(&self, l: &Conv3x3<G>, x: &Map<G>) -> Result<Map<G>> {
        expect(x.c == l.cin && !x.vector, || {
            format!("conv of {} channels on {}", l.cin, x.c)
        })?;
        let ho = (x.h - 1) / l.stride + 1;
        let out = self.map(x, l.m.n, ho)?;
        let pixels = out.pixels();
        let chunk = self.gpu().chunk_pixels().clamp(1, pixels.max(1));
        let col = self.pool.take(chunk * l.m.k * self.storage.size())?;
        let y = self.pool.take(chunk * l.m.n * 4)?;
        let bias = (l.m.bias.as_ref().map_or(NULL, Buf::ptr), 0);
        for p0 in (0..pixels).step_by(chunk) {
            let n = chunk.min(pixels - p0);
            launch(
                self.gpu(),
                &params::Im2col3x3 {
                    x: x.ptr(),
                    col: col.ptr(),
                    n: (n * l.m.k) as i64,
                    p0: p0 as i64,
                    rows: i32_of(x.rows, "rows")?,
                    h: i32_of(x.h, "height")?,
                    t: i32_of(x.t, "frames")?,
                    c: i32_of(x.c, "channels")?,
                    ho: i32_of(ho, "height")?,
                    stride: i32_of(l.stride, "stride")?,
                },
            )?;
            self.gpu().gemm(&Gemm {
                m: l.m.n,
                n,
                k: l.m.k,
                a: l.m.w.ptr(),
                lda: l.m.n,
                b: col.ptr(),
                ldb: l.m.k,
                c: y.ptr(),
                ldc: l.m.n,
                operands: self.storage,
            })?;
            self.epilogue(
                (y.ptr(), p0, n),
                &out,
                l.m.n,
                0,
                bias,
                true,
                l.m.bn.as_ref(),
            )?;
        }
        Ok(out)
    }

    fn project(&self, l: &Matrix<G>, x: &Map<G>, stride: usize) -> Result<Map<G>> {
        expect(x.c == l.k && !x.vector, || {
            format!("projection of {} channels on {}", l.k, x.c)
        })?;
        let ho = (x.h - 1) / stride + 1;
        let sub = if stride > 1 {
            let sub = self.map(x, x.c, ho)?;
            launch(
                self.gpu(),
                &params::Subsample {
                    x: x.ptr(),
                    y: sub.ptr(),
                    n: (sub.pixels() * x.c) as i64,
                    h: i32_of(x.h, "height")?,
                    t: i32_of(x.t, "frames")?,
                    c: i32_of(x.c, "channels")?,
                    ho: i32_of(ho, "height")?,
                    stride: i32_of(stride, "stride")?,
                },
            )?;
            Some(sub)
        } else {
            None
        };
        self.pointwise_on(sub.as_ref().unwrap_or(x), l)
    }

    fn pointwise(&self, l: &Matrix<G>, x: &Map<G>) -> Result<Map<G>> {
        expect(x.c * x.h == l.k && !x.vector, || {
            format!("1×1 conv of {} inputs on {}×{}", l.k, x.c, x.h)
        })?;
        let flat = if x.h > 1 {
            let flat = self.map(x, x.c * x.h, 1)?;
            launch(
                self.gpu(),
                &params::Flatten {
                    x: x.ptr(),
                    y: flat.ptr(),
                    n: (flat.pixels() * flat.c) as i64,
                    h: i32_of(x.h, "height")?,
                    t: i32_of(x.t, "frames")?,
                    c: i32_of(x.c, "channels")?,
                },
            )?;
            Some(flat)
        } else {
            None
        };
        self.pointwise_on(flat.as_ref().unwrap_or(x), l)
    }

    fn activate(
        &self,
        x: &mut Map<G>,
        bias: Option<&Map<G>>,
        bn: Option<&Affine<G>>,
    ) -> Result<()> {
        if let Some(b) = bias {
            expect(b.vector && b.c == x.c && b.rows == x.rows, || {
                "bias shape".into()
            })?;
        }
        if let Some(bn) = bn {
            expect(bn.c == x.c, || {
                format!("BN of {} on {} channels", bn.c, x.c)
            })?;
        }
        let bias = bias.map_or((NULL, 0), |b| (b.ptr(), b.c));
        self.epilogue((NULL, 0, x.pixels()), x, x.c, 0, bias, true, bn)
    }

    fn se(&self, l: &Se<G>, x: &mut Map<G>, residual: Option<&Map<G>>) -> Result<()> {
        if let Some(r) = residual {
            expect((r.rows, r.c, r.h, r.t) == (x.rows, x.c, x.h, x.t), || {
                "residual shape".into()
            })?;
        }
        let (axis, per) = match l.axis {
            Axis::Channel => (0, x.c),
            Axis::Row => (1, x.h),
        };
        let z = self.vector(x, per)?;
        launch(
            self.gpu(),
            &params::SeSqueeze {
                x: x.ptr(),
                z: z.ptr(),
                lens: x.lens(),
                n: (x.rows * per) as i64,
                h: i32_of(x.h, "height")?,
                t: i32_of(x.t, "frames")?,
                c: i32_of(x.c, "channels")?,
                axis,
            },
        )?;
        let hidden = self.dense(&z, &l.fc1, dense_mode::RELU_BN, Some(&l.bn))?;
        drop(z);
        let gate = self.dense(&hidden, &l.fc2, dense_mode::SIGMOID, None)?;
        drop(hidden);
        launch(
            self.gpu(),
            &params::SeGate {
                x: x.ptr(),
                gate: gate.ptr(),
                residual: residual.map_or(NULL, Map::ptr),
                lens: x.lens(),
                n: (x.pixels() * x.c) as i64,
                h: i32_of(x.h, "height")?,
                t: i32_of(x.t, "frames")?,
                c: i32_of(x.c, "channels")?,
                axis,
            },
        )
    }

    fn res2net(&self, branches: &[(Dilated<G>, Affine<G>)], x: &mut Map<G>) -> Result<()> {
        let scale = branches.len() + 1;
        let width = x.c / scale;
        expect(x.h == 1 && width * scale == x.c, || "Res2Net groups".into())?;
        for (g, (d, bn)) in (1..scale).zip(branches) {
            expect(d.m.n == width && d.m.k == d.k * width, || {
                "Res2Net branch width".into()
            })?;
            let pixels = x.rows * x.t;
            let col = self.pool.take(pixels * d.m.k * self.storage.size())?;
            launch(
                self.gpu(),
                &params::Res2Im2col {
                    x: x.ptr(),
                    col: col.ptr(),
                    lens: x.lens(),
                    n: (pixels * d.m.k) as i64,
                    t: i32_of(x.t, "frames")?,
                    c: i32_of(x.c, "channels")?,
                    width: i32_of(width, "width")?,
                    group: i32_of(g, "group")?,
                    k: i32_of(d.k, "taps")?,
                    dilation: i32_of(d.dilation, "dilation")?,
                    pad: i32_of(d.padding, "padding")?,
                },
            )?;
            let y = self.product(col.ptr(), pixels, &d.m)?;
            drop(col);
            let bias = (d.m.bias.as_ref().map_or(NULL, Buf::ptr), 0);
            self.epilogue(
                (y.ptr(), 0, pixels),
                x,
                width,
                g * width,
                bias,
                true,
                Some(bn),
            )?;
        }
        Ok(())
    }

    fn mean_var(&self, x: &Map<G>) -> Result<Map<G>> {
        self.moments(x, 0, 0.0)
    }

    fn mean_std(&self, x: &Map<G>, eps: f64) -> Result<Map<G>> {
        self.moments(x, 1, eps)
    }

    fn attentive_stats(
        &self,
        logits: &Map<G>,
        _bias: &[f32],
        x: &Map<G>,
        eps: f64,
    ) -> Result<Map<G>> {
        // The bias is constant over time: it cancels in each channel's softmax.
        expect(
            (logits.rows, logits.c, logits.h, logits.t) == (x.rows, x.c, 1, x.t) && x.h == 1,
            || "attention logits shape".into(),
        )?;
        let out = self.vector(x, 2 * x.c)?;
        launch(
            self.gpu(),
            &params::Attentive {
                logits: logits.ptr(),
                x: x.ptr(),
                out: out.ptr(),
                lens: x.lens(),
                n: (x.rows * x.c) as i64,
                eps,
                t: i32_of(x.t, "frames")?,
                c: i32_of(x.c, "channels")?,
            },
        )?;
        Ok(out)
    }

    fn linear(&self, l: &Dense<G>, x: &Map<G>) -> Result<Map<G>> {
        expect(x.vector, || "dense layer on an activation map".into())?;
        self.dense(x, l, dense_mode::LINEAR, None)
    }

    fn affine(&self, x: &Map<G>, bn: &Affine<G>) -> Result<Map<G>> {
        expect(x.vector && bn.c == x.c, || "BN on vectors".into())?;
        let y = self.vector(x, x.c)?;
        launch(
            self.gpu(),
            &params::Affine {
                x: x.ptr(),
                scale: bn.scale.ptr(),
                shift: bn.shift.ptr(),
                y: y.ptr(),
                n: (x.rows * x.c) as i64,
                c: i32_of(x.c, "channels")?,
            },
        )?;
        Ok(y)
    }
}
