//! The CUDA backend: the seam's operations as cuBLAS GEMMs and the kernels of `kernels.cu`,
//! over any [`Gpu`] (a real device, or the test emulator).
//!
//! A batch is one padded channels-last array `[row][height][frame][channel]` plus each row's
//! frame count on the device; every kernel that writes a map writes zeros on frames at or beyond
//! a row's length, and every reduction stops at it, so a row gives what it gives alone.
//! Activations are fp16 or fp32 (the precision); GEMMs accumulate and return fp32, which the
//! epilogue turns into the next activation; statistics and per-row vectors are fp32.

use super::gpu::{launch, Gemm, Gpu, Operands};
use super::memory::{Buf, Pool};
use super::pack;
use super::params::{self, dense_mode, Ptr, NULL};
use crate::backend::{Axis, Backend};
use crate::error::{Error, Result};
use crate::network::layers::{BatchNorm, Linear};
use crate::network::se::SeGate;
use crate::network::weights::{ConvWeights, DilatedWeights};
use crate::Precision;
use std::sync::Arc;

/// The CUDA backend over device `G`.
pub(crate) struct Cuda<G: Gpu> {
    pool: Arc<Pool<G>>,
    storage: Operands,
}

/// Each row's frame count on the device; shared by every map of a batch.
pub(crate) struct Lens<G: Gpu> {
    dev: Buf<G>,
}

/// A batch of activations (`[rows][h][t][c]`, storage type) or of per-row fp32 vectors
/// (`h = t = 1`).
pub(crate) struct Map<G: Gpu> {
    buf: Buf<G>,
    lens: Arc<Lens<G>>,
    rows: usize,
    c: usize,
    h: usize,
    t: usize,
    vector: bool,
}

impl<G: Gpu> Map<G> {
    fn ptr(&self) -> Ptr {
        self.buf.ptr()
    }
    fn lens(&self) -> Ptr {
        self.lens.dev.ptr()
    }
    fn pixels(&self) -> usize {
        self.rows * self.h * self.t
    }
}

/// A folded BatchNorm on the device.
pub(crate) struct Affine<G: Gpu> {
    scale: Buf<G>,
    shift: Buf<G>,
    c: usize,
}

/// A GEMM weight `K × N` (storage type) with an optional bias and folded BN.
pub(crate) struct Matrix<G: Gpu> {
    w: Buf<G>,
    k: usize,
    n: usize,
    bias: Option<Buf<G>>,
    bn: Option<Affine<G>>,
}

/// A 3×3 convolution (conv → ReLU → BN).
pub(crate) struct Conv3x3<G: Gpu> {
    m: Matrix<G>,
    cin: usize,
    stride: usize,
}

/// A dilated Conv1d branch.
pub(crate) struct Dilated<G: Gpu> {
    m: Matrix<G>,
    k: usize,
    dilation: usize,
    padding: usize,
}

/// A dense layer on fp32 vectors, `(out, in)` row-major.
pub(crate) struct Dense<G: Gpu> {
    w: Buf<G>,
    bias: Buf<G>,
    inputs: usize,
    outputs: usize,
}

/// A squeeze-excitation layer.
pub(crate) struct Se<G: Gpu> {
    axis: Axis,
    fc1: Dense<G>,
    bn: Affine<G>,
    fc2: Dense<G>,
}

fn bad(message: String) -> Error {
    Error::Device {
        device: "cuda".into(),
        message,
    }
}

fn i32_of(v: usize, what: &str) -> Result<i32> {
    i32::try_from(v).map_err(|_| bad(format!("{what} {v} exceeds the kernels' 32-bit range")))
}

impl<G: Gpu> Cuda<G> {
    /// A backend on `gpu` computing in `precision` (f16 or f32; anything else runs f32).
    pub fn new(gpu: Arc<G>, precision: Precision) -> Self {
        let storage = match precision {
            Precision::F16 => Operands::F16,
            _ => Operands::F32,
        };
        Self {
            pool: Pool::new(gpu),
            storage,
        }
    }

    /// The same backend with activations in a pool of their own (a CUDA graph's buffers, which
    /// must stay where the graph recorded them). The network's weights stay where they are.
    pub fn with_arena(&self) -> Self {
        Self {
            pool: Pool::new(Arc::clone(self.pool.gpu_arc())),
            storage: self.storage,
        }
    }

    /// [`Backend::upload`] padded to at least `min_t` frames; also returns the device addresses
    /// of the input and of the row lengths (where a graph's next input is written).
    pub fn upload_padded(
        &self,
        rows: &[Vec<f32>],
        c: usize,
        h: usize,
        min_t: usize,
    ) -> Result<(Map<G>, (Ptr, Ptr))> {
        let (packed, lens, t) = pack::pack_rows(rows, c, h, min_t)?;
        let lens = Arc::new(Lens {
            dev: self.pool.upload(&lens)?,
        });
        let map = Map {
            buf: self.stored(&packed)?,
            lens,
            rows: rows.len(),
            c,
            h,
            t,
            vector: false,
        };
        let at = (map.ptr(), map.lens());
        Ok((map, at))
    }

    /// Writes a batch into the addresses [`Cuda::upload_padded`] returned (same row count,
    /// `t` frames).
    pub fn write_padded(
        &self,
        rows: &[Vec<f32>],
        (c, h, t): (usize, usize, usize),
        at: (Ptr, Ptr),
    ) -> Result<()> {
        let (packed, lens, padded) = pack::pack_rows(rows, c, h, t)?;
        expect(padded == t, || {
            format!("rows of {padded} frames in a {t}-frame bucket")
        })?;
        self.gpu()
            .upload(at.0, &pack::to_storage(&packed, self.storage))?;
        self.gpu().upload(at.1, bytemuck::cast_slice(&lens))
    }

    /// Reads per-row vector maps back (the one synchronisation), per row concatenated.
    pub fn read(&self, parts: &[Map<G>]) -> Result<Vec<Vec<f32>>> {
        let rows = parts.first().map_or(0, |p| p.rows);
        let mut out = vec![Vec::new(); rows];
        for p in parts {
            expect(p.vector && p.rows == rows, || {
                "download of a non-vector map".into()
            })?;
            let mut bytes = vec![0u8; p.rows * p.c * 4];
            self.gpu().download(p.ptr(), &mut bytes)?;
            let values: Vec<f32> = bytes
                .chunks_exact(4)
                .map(|b| f32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            for (row, chunk) in out.iter_mut().zip(values.chunks_exact(p.c)) {
                row.extend_from_slice(chunk);
            }
        }
        Ok(out)
    }

    /// The device.
    pub fn gpu(&self) -> &G {
        self.pool.gpu()
    }

    /// The device memory its buffers hold.
    pub fn pool(&self) -> &Pool<G> {
        &self.pool
    }

    fn f32s(&self, v: &[f32]) -> Result<Buf<G>> {
        self.pool.upload(v)
    }

    fn stored(&self, v: &[f32]) -> Result<Buf<G>> {
        self.pool.upload(&pack::to_storage(v, self.storage))
    }

    fn affine_of(&self, bn: &BatchNorm) -> Result<Affine<G>> {
        Ok(Affine {
            scale: self.f32s(&bn.scale)?,
            shift: self.f32s(&bn.shift)?,
            c: bn.scale.len(),
        })
    }

    fn dense_of(&self, l: &Linear) -> Result<Dense<G>> {
        Ok(Dense {
            w: self.f32s(&l.weight)?,
            bias: self.f32s(&l.bias)?,
            inputs: l.in_features,
            outputs: l.out_features(),
        })
    }

    /// An activation map of the batch of `like`.
    fn map(&self, like: &Map<G>, c: usize, h: usize) -> Result<Map<G>> {
        let bytes = like.rows * h * like.t * c * self.storage.size();
        Ok(Map {
            buf: self.pool.take(bytes)?,
            lens: Arc::clone(&like.lens),
            rows: like.rows,
            c,
            h,
            t: like.t,
            vector: false,
        })
    }

    /// A per-row fp32 vector map of width `c` for the batch of `like`.
    fn vector(&self, like: &Map<G>, c: usize) -> Result<Map<G>> {
        Ok(Map {
            buf: self.pool.take(like.rows * c * 4)?,
            lens: Arc::clone(&like.lens),
            rows: like.rows,
            c,
            h: 1,
            t: 1,
            vector: true,
        })
    }

    /// `y (pixels × n, fp32) = x (pixels × k, storage) · W` for `pixels` rows of `x`.
    fn product(&self, x: Ptr, pixels: usize, m: &Matrix<G>) -> Result<Buf<G>> {
        let y = self.pool.take(pixels * m.n * 4)?;
        self.gpu().gemm(&Gemm {
            m: m.n,
            n: pixels,
            k: m.k,
            a: m.w.ptr(),
            lda: m.n,
            b: x,
            ldb: m.k,
            c: y.ptr(),
            ldc: m.n,
            operands: self.storage,
        })?;
        Ok(y)
    }

    /// The epilogue from a GEMM result (`y`, holding `pixels` pixels from `p0` on) or in place
    /// (`y` = NULL: every pixel of `out`), see `kernels.cu`.
    #[allow(clippy::too_many_arguments)]
    fn epilogue(
        &self,
        (y, p0, pixels): (Ptr, usize, usize),
        out: &Map<G>,
        c: usize,
        out_offset: usize,
        bias: (Ptr, usize),
        relu: bool,
        bn: Option<&Affine<G>>,
    ) -> Result<()> {
        launch(
            self.gpu(),
            &params::Epilogue {
                y,
                y_act: if y == NULL { out.ptr() } else { NULL },
                out: out.ptr(),
                lens: out.lens(),
                bias: bias.0,
                scale: bn.map_or(NULL, |b| b.scale.ptr()),
                shift: bn.map_or(NULL, |b| b.shift.ptr()),
                n: (pixels * c) as i64,
                p0: p0 as i64,
                h: i32_of(out.h, "height")?,
                t: i32_of(out.t, "frames")?,
                c: i32_of(c, "channels")?,
                bias_stride: i32_of(bias.1, "bias stride")?,
                relu: relu as i32,
                out_ld: i32_of(out.c, "channels")?,
                out_offset: i32_of(out_offset, "channel offset")?,
            },
        )
    }

    /// A 1×1 layer on every pixel of `x` (bias and BN, no ReLU): a map of `l.n` channels.
    fn pointwise_on(&self, x: &Map<G>, l: &Matrix<G>) -> Result<Map<G>> {
        let y = self.product(x.ptr(), x.pixels(), l)?;
        let out = self.map(x, l.n, x.h)?;
        self.matrix_epilogue(&y, &out, l, false)?;
        Ok(out)
    }

    fn matrix_epilogue(&self, y: &Buf<G>, out: &Map<G>, m: &Matrix<G>, relu: bool) -> Result<()> {
        let bias = (m.bias.as_ref().map_or(NULL, Buf::ptr), 0);
        let whole = (y.ptr(), 0, out.pixels());
        self.epilogue(whole, out, out.c, 0, bias, relu, m.bn.as_ref())
    }

    fn dense(&self, x: &Map<G>, l: &Dense<G>, mode: i32, bn: Option<&Affine<G>>) -> Result<Map<G>> {
        expect(x.c == l.inputs, || {
            format!("dense layer of {} inputs on {} values", l.inputs, x.c)
        })?;
        let y = self.vector(x, l.outputs)?;
        launch(
            self.gpu(),
            &params::Dense {
                x: x.ptr(),
                w: l.w.ptr(),
                bias: l.bias.ptr(),
                scale: bn.map_or(NULL, |b| b.scale.ptr()),
                shift: bn.map_or(NULL, |b| b.shift.ptr()),
                y: y.ptr(),
                n: (x.rows * l.outputs) as i64,
                inputs: i32_of(l.inputs, "inputs")?,
                outputs: i32_of(l.outputs, "outputs")?,
                mode,
            },
        )?;
        Ok(y)
    }

    fn moments(&self, x: &Map<G>, mode: i32, eps: f64) -> Result<Map<G>> {
        expect(x.h == 1 && !x.vector, || {
            "statistics of a map with height > 1".into()
        })?;
        let out = self.vector(x, 2 * x.c)?;
        launch(
            self.gpu(),
            &params::Moments {
                x: x.ptr(),
                out: out.ptr(),
                lens: x.lens(),
                n: (x.rows * x.c) as i64,
                eps,
                t: i32_of(x.t, "frames")?,
                c: i32_of(x.c, "channels")?,
                mode,
            },
        )?;
        Ok(out)
    }
}

/// An internal shape contract; a violation is a bug, reported as a device error (no panic).
fn expect(ok: bool, what: impl FnOnce() -> String) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(bad(format!("internal shape error: {}", what())))
    }
}

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
