//! What the CUDA backend needs from a device, as a trait: memory, copies, kernel launches and
//! cuBLAS-style GEMMs. [`super::driver::CudaGpu`] implements it on a real GPU; the test-only
//! emulator implements it on the host (the same kernel source compiled as C++, GEMMs with
//! cuBLAS's column-major semantics), so every host-side decision of the backend (layouts,
//! packing, masks, strides, GEMM parameters, buffer reuse) is checked without a GPU.

use super::params::{Kernel, Params, Ptr};
use crate::error::Result;

/// Element type of a GEMM's A and B operands (C is always fp32, accumulation fp32).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operands {
    /// IEEE fp16.
    F16,
    /// IEEE fp32, strict (no TF32).
    F32,
}

impl Operands {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Operands::F16 => 2,
            Operands::F32 => 4,
        }
    }
}

/// `C = A · B + beta · C` in cuBLAS's column-major convention, no transposes: `A` is `m × k`
/// (leading dimension `lda`), `B` is `k × n`, `C` is `m × n` fp32.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Gemm {
    /// Rows of A and C.
    pub m: usize,
    /// Columns of B and C.
    pub n: usize,
    /// Columns of A, rows of B.
    pub k: usize,
    /// A.
    pub a: Ptr,
    /// Leading dimension of A.
    pub lda: usize,
    /// B.
    pub b: Ptr,
    /// Leading dimension of B.
    pub ldb: usize,
    /// C (fp32).
    pub c: Ptr,
    /// Leading dimension of C.
    pub ldc: usize,
    /// Element type of A and B.
    pub operands: Operands,
}

/// A recorded sequence of launches and GEMMs (a CUDA graph), replayed with one call.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Graph(pub u64);

/// A device the CUDA backend runs on. Calls are issued in order on one stream; only
/// [`Gpu::download`] waits for the device.
pub(crate) trait Gpu: Send + Sync + 'static {
    /// The device and its libraries, for logs (`cuda:0 NVIDIA H100 (sm_90), cuBLAS 12.8`).
    fn describe(&self) -> String;
    /// The size actually allocated for `bytes`, so that cached buffers serve maps of nearby
    /// lengths: a power of two up to 1 MiB (at least 64 KiB), above it eight classes per
    /// octave (at most 1/8 more than asked for, where the bytes are).
    fn size_class(&self, bytes: usize) -> usize {
        let octave = bytes.max(1 << 16).next_power_of_two();
        if octave <= 1 << 20 {
            octave
        } else {
            bytes.next_multiple_of(octave / 8)
        }
    }
    /// Output pixels per chunk of a 3×3 convolution: its im2col matrix and fp32 product hold
    /// one chunk, not the batch (a batch of 64 × 3 s would need 9× its input map otherwise).
    fn chunk_pixels(&self) -> usize {
        1 << 15
    }
    /// Device memory: (free, total) bytes.
    fn memory(&self) -> Result<(usize, usize)>;
    /// `bytes` of device memory.
    fn alloc(&self, bytes: usize) -> Result<Ptr>;
    /// Returns memory from [`Gpu::alloc`].
    fn free(&self, ptr: Ptr);
    /// Host → device.
    fn upload(&self, dst: Ptr, src: &[u8]) -> Result<()>;
    /// Device → host, after all queued work (the one synchronisation of a forward).
    fn download(&self, src: Ptr, dst: &mut [u8]) -> Result<()>;
    /// Launches `kernel` over `threads` threads with its parameter struct (`size` bytes) at
    /// `params`; the struct is copied at the call.
    ///
    /// # Safety
    /// `params` points to the `#[repr(C)]` struct of `kernel`, whose pointers are live device
    /// allocations of the sizes the kernel indexes.
    unsafe fn launch(
        &self,
        kernel: Kernel,
        threads: i64,
        params: *const u8,
        size: usize,
    ) -> Result<()>;
    /// Queues a GEMM.
    fn gemm(&self, g: &Gemm) -> Result<()>;
    /// From now on launches and GEMMs are recorded, not run; allocations and copies are errors
    /// until [`Gpu::end_capture`].
    fn begin_capture(&self) -> Result<()>;
    /// Stops recording; the recorded work as a graph (on error, recording has stopped too).
    fn end_capture(&self) -> Result<Graph>;
    /// Runs a graph (queued, like a launch).
    fn replay(&self, graph: &Graph) -> Result<()>;
    /// Frees a graph.
    fn drop_graph(&self, graph: Graph);
}

/// Launches the kernel of `p`. Safety rests on the backend building `p` from live buffers of
/// the right sizes (checked by the emulator tests).
pub(crate) fn launch<G: Gpu, P: Params>(gpu: &G, p: &P) -> Result<()> {
    if p.threads() == 0 {
        return Ok(());
    }
    // SAFETY: see above; `p` outlives the call (the driver copies parameters at launch).
    unsafe {
        gpu.launch(
            P::KERNEL,
            p.threads(),
            (p as *const P).cast(),
            std::mem::size_of::<P>(),
        )
    }
}
