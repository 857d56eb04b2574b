//! The CUDA backend's state and building blocks: device buffers as batches ([`Map`]), prepared
//! layers, the GEMM and epilogue every product goes through, batch upload and read-back. The
//! seam's operations on them are in `ops.rs`.
//!
//! A batch is one padded channels-last array `[row][height][frame][channel]` plus each row's
//! frame count on the device; every kernel that writes a map writes zeros on frames at or beyond
//! a row's length, and every reduction stops at it, so a row gives what it gives alone.
//! Activations are fp16 or fp32 (the precision); GEMMs accumulate and return fp32, which the
//! epilogue turns into the next activation; statistics and per-row vectors are fp32.

use super::gpu::{launch, Gemm, Gpu, Operands};
use super::memory::{Buf, Pool};
use super::pack;
use super::params::{self, Ptr, NULL};
use crate::backend::Axis;
use crate::error::{Error, Result};
use crate::network::layers::{BatchNorm, Linear};
use std::sync::Arc;

/// The CUDA backend over device `G`.
pub(crate) struct Cuda<G: Gpu> {
    pub(super) pool: Arc<Pool<G>>,
    pub(super) storage: Operands,
}

/// A batch of activations (`[rows][h][t][c]`, storage type) or of per-row fp32 vectors
/// (`h = t = 1`).
pub(crate) struct Map<G: Gpu> {
    pub(super) buf: Buf<G>,
    /// Each row's frame count on the device, shared by every map of the batch.
    pub(super) lens: Arc<Buf<G>>,
    pub(super) rows: usize,
    pub(super) c: usize,
    pub(super) h: usize,
    pub(super) t: usize,
    pub(super) vector: bool,
}

impl<G: Gpu> Map<G> {
    pub(super) fn ptr(&self) -> Ptr {
        self.buf.ptr()
    }
    pub(super) fn lens(&self) -> Ptr {
        self.lens.ptr()
    }
    pub(super) fn pixels(&self) -> usize {
        self.rows * self.h * self.t
    }
}

/// A folded BatchNorm on the device.
pub(crate) struct Affine<G: Gpu> {
    pub(super) scale: Buf<G>,
    pub(super) shift: Buf<G>,
    pub(super) c: usize,
}

/// A GEMM weight `K × N` (storage type) with an optional bias and folded BN.
pub(crate) struct Matrix<G: Gpu> {
    pub(super) w: Buf<G>,
    pub(super) k: usize,
    pub(super) n: usize,
    pub(super) bias: Option<Buf<G>>,
    pub(super) bn: Option<Affine<G>>,
}

/// A 3×3 convolution (conv → ReLU → BN).
pub(crate) struct Conv3x3<G: Gpu> {
    pub(super) m: Matrix<G>,
    pub(super) cin: usize,
    pub(super) stride: usize,
}

/// A dilated Conv1d branch.
pub(crate) struct Dilated<G: Gpu> {
    pub(super) m: Matrix<G>,
    pub(super) k: usize,
    pub(super) dilation: usize,
    pub(super) padding: usize,
}

/// A dense layer on fp32 vectors, `(out, in)` row-major.
pub(crate) struct Dense<G: Gpu> {
    pub(super) w: Buf<G>,
    pub(super) bias: Buf<G>,
    pub(super) inputs: usize,
    pub(super) outputs: usize,
}

/// A squeeze-excitation layer.
pub(crate) struct Se<G: Gpu> {
    pub(super) axis: Axis,
    pub(super) fc1: Dense<G>,
    pub(super) bn: Affine<G>,
    pub(super) fc2: Dense<G>,
}

fn bad(message: String) -> Error {
    Error::Device {
        device: "cuda".into(),
        message,
    }
}

pub(super) fn i32_of(v: usize, what: &str) -> Result<i32> {
    i32::try_from(v).map_err(|_| bad(format!("{what} {v} exceeds the kernels' 32-bit range")))
}

impl<G: Gpu> Cuda<G> {
    /// A backend on `gpu` with activations stored as `storage`.
    pub fn new(gpu: Arc<G>, storage: Operands) -> Self {
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

    /// [`crate::backend::Backend::upload`] padded to at least `min_t` frames; also returns the device addresses
    /// of the input and of the row lengths (where a graph's next input is written).
    pub fn upload_padded(
        &self,
        rows: &[Vec<f32>],
        c: usize,
        h: usize,
        min_t: usize,
    ) -> Result<(Map<G>, (Ptr, Ptr))> {
        let (packed, lens, t) = pack::pack_rows(rows, c, h, min_t)?;
        let lens = Arc::new(self.pool.upload(&lens)?);
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

    pub(super) fn f32s(&self, v: &[f32]) -> Result<Buf<G>> {
        self.pool.upload(v)
    }

    pub(super) fn stored(&self, v: &[f32]) -> Result<Buf<G>> {
        self.pool.upload(&pack::to_storage(v, self.storage))
    }

    pub(super) fn affine_of(&self, bn: &BatchNorm) -> Result<Affine<G>> {
        Ok(Affine {
            scale: self.f32s(&bn.scale)?,
            shift: self.f32s(&bn.shift)?,
            c: bn.scale.len(),
        })
    }

    pub(super) fn dense_of(&self, l: &Linear) -> Result<Dense<G>> {
        Ok(Dense {
            w: self.f32s(&l.weight)?,
            bias: self.f32s(&l.bias)?,
            inputs: l.in_features,
            outputs: l.out_features(),
        })
    }

    /// An activation map of the batch of `like`.
    pub(super) fn map(&self, like: &Map<G>, c: usize, h: usize) -> Result<Map<G>> {
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
    pub(super) fn vector(&self, like: &Map<G>, c: usize) -> Result<Map<G>> {
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
    pub(super) fn product(&self, x: Ptr, pixels: usize, m: &Matrix<G>) -> Result<Buf<G>> {
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
    pub(super) fn epilogue(
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
    pub(super) fn pointwise_on(&self, x: &Map<G>, l: &Matrix<G>) -> Result<Map<G>> {
        let y = self.product(x.ptr(), x.pixels(), l)?;
        let out = self.map(x, l.n, x.h)?;
        self.matrix_epilogue(&y, &out, l, false)?;
        Ok(out)
    }

    pub(super) fn matrix_epilogue(
        &self,
        y: &Buf<G>,
        out: &Map<G>,
        m: &Matrix<G>,
        relu: bool,
    ) -> Result<()> {
        let bias = (m.bias.as_ref().map_or(NULL, Buf::ptr), 0);
        let whole = (y.ptr(), 0, out.pixels());
        self.epilogue(whole, out, out.c, 0, bias, relu, m.bn.as_ref())
    }

    pub(super) fn dense(
        &self,
        x: &Map<G>,
        l: &Dense<G>,
        mode: i32,
        bn: Option<&Affine<G>>,
    ) -> Result<Map<G>> {
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

    pub(super) fn moments(&self, x: &Map<G>, mode: i32, eps: f64) -> Result<Map<G>> {
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
pub(super) fn expect(ok: bool, what: impl FnOnce() -> String) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(bad(format!("internal shape error: {}", what())))
    }
}
