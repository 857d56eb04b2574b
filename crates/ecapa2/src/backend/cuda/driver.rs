//! [`Gpu`] on a real NVIDIA GPU through cudarc's thin `result` layer: the device's primary
//! context, one stream of its own (every copy, launch and GEMM is ordered on it, so a buffer
//! the pool hands out again is never written while queued work still reads it; and it can be
//! captured into CUDA graphs, which the legacy stream cannot), a cuBLAS handle with a fixed
//! workspace (so that captured GEMMs allocate nothing), and the kernels compiled by NVRTC for
//! the device.
//!
//! Every call into a CUDA library runs inside [`guarded`]: cudarc panics where a library or
//! symbol is missing, and a panic must never reach a user.

use super::gpu::{Gemm, Gpu, Graph, Operands};
use super::libraries;
use super::nvrtc::{self, Output};
use super::params::{Kernel, Ptr};
use crate::error::{Error, Result};
use cudarc::cublas::{result as blas, sys as blas_sys};
use cudarc::driver::{result as cu, sys as cu_sys};
use std::collections::HashMap;
use std::ffi::c_void;
use std::path::PathBuf;

/// Threads per block of every kernel.
const BLOCK: u32 = 256;
/// cuBLAS workspace (its recommendation for Hopper is 32 MiB).
const BLAS_WORKSPACE: usize = 32 << 20;

/// A CUDA device ready to run the backend.
pub(crate) struct CudaGpu {
    ordinal: usize,
    device: cu_sys::CUdevice,
    context: cu_sys::CUcontext,
    module: cu_sys::CUmodule,
    functions: HashMap<Kernel, cu_sys::CUfunction>,
    blas: blas_sys::cublasHandle_t,
    workspace: Ptr,
    stream: cu_sys::CUstream,
    graphs: std::sync::Mutex<HashMap<u64, (cu_sys::CUgraph, cu_sys::CUgraphExec)>>,
    next_graph: std::sync::atomic::AtomicU64,
    description: String,
}

// SAFETY: the handles are process-wide CUDA objects usable from any thread once the context is
// current (every entry point below makes it current); the engine runs one forward at a time.
unsafe impl Send for CudaGpu {}
unsafe impl Sync for CudaGpu {}

/// Runs `f`, turning a panic inside a CUDA library binding into an error.
fn guarded<T>(
    what: &str,
    f: impl FnOnce() -> std::result::Result<T, String>,
) -> std::result::Result<T, String> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            Err(format!("{what}: {msg}"))
        }
    }
}

impl CudaGpu {
    /// Opens device `ordinal`: libraries from `dirs` or the loader path, kernels compiled for
    /// the device's architecture with `storage` activations.
    pub fn new(ordinal: usize, storage: Operands, dirs: &[PathBuf]) -> Result<Self> {
        let device_name = format!("cuda:{ordinal}");
        let err = |message: String| Error::Device {
            device: device_name.clone(),
            message,
        };
        let opened = libraries::preload(dirs);
        libraries::check(dirs).map_err(err)?;
        guarded("opening the device", || {
            Self::open(ordinal, storage, &opened)
        })
        .map_err(err)
    }

    fn open(
        ordinal: usize,
        storage: Operands,
        opened: &[PathBuf],
    ) -> std::result::Result<Self, String> {
        let e = |what: &'static str| move |x: cu::DriverError| format!("{what}: {x}");
        cu::init().map_err(e("cuInit"))?;
        let count = cu::device::get_count().map_err(e("cuDeviceGetCount"))?;
        if ordinal >= count.max(0) as usize {
            return Err(format!(
                "no CUDA device {ordinal}: this machine has {count}"
            ));
        }
        let device = cu::device::get(ordinal as i32).map_err(e("cuDeviceGet"))?;
        let name = cu::device::get_name(device).map_err(e("cuDeviceGetName"))?;
        use cu_sys::CUdevice_attribute::*;
        // SAFETY: plain attribute queries on a valid device.
        let (major, minor) = unsafe {
            (
                cu::device::get_attribute(device, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)
                    .map_err(e("compute capability"))?,
                cu::device::get_attribute(device, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)
                    .map_err(e("compute capability"))?,
            )
        };
        if major < 7 {
            return Err(format!("{name} has compute capability {major}.{minor}; fp16 tensor-core GEMMs need 7.0 or newer"));
        }
        let arch = (major * 10 + minor) as u32;
        // SAFETY: the primary context of a valid device, made current on this thread.
        let context =
            unsafe { cu::primary_ctx::retain(device) }.map_err(e("cuDevicePrimaryCtxRetain"))?;
        unsafe { cu::ctx::set_current(context) }.map_err(e("cuCtxSetCurrent"))?;
        // CUBIN for this device; where this NVRTC does not know it, PTX of its own newest
        // architecture for the driver to JIT-compile.
        let (image, target) = match nvrtc::compile(arch, storage, Output::Cubin) {
            Ok(c) => (c, format!("sm_{arch} cubin")),
            Err(cubin_error) => {
                tracing::warn!("NVRTC cannot build sm_{arch} code, trying PTX: {cubin_error}");
                let mut ptx = nvrtc::compile(90, storage, Output::Ptx)?;
                ptx.push(0);
                (ptx, "compute_90 PTX".to_string())
            }
        };
        // SAFETY: a CUBIN/PTX image NVRTC just produced (PTX nul-terminated).
        let module = unsafe { cu::module::load_data(image.as_ptr().cast()) }
            .map_err(e("cuModuleLoadData"))?;
        let stream =
            cu::stream::create(cu::stream::StreamKind::NonBlocking).map_err(e("cuStreamCreate"))?;
        let mut functions = HashMap::new();
        for k in Kernel::ALL {
            let f = unsafe {
                cu::module::get_function(
                    module,
                    std::ffi::CString::new(k.symbol()).map_err(|x| x.to_string())?,
                )
            }
            .map_err(e("cuModuleGetFunction"))?;
            functions.insert(k, f);
        }
        let b = |what: &'static str| move |x: blas::CublasError| format!("{what}: {x:?}");
        let handle = blas::create_handle().map_err(b("cublasCreate"))?;
        // SAFETY: a live handle on our stream with its own workspace; pedantic math keeps
        // fp32 strict.
        let workspace = unsafe { cu::malloc_sync(BLAS_WORKSPACE) }.map_err(e("cuMemAlloc"))?;
        unsafe {
            blas::set_stream(handle, stream.cast()).map_err(b("cublasSetStream"))?;
            blas_sys::cublasSetWorkspace_v2(handle, workspace as *mut c_void, BLAS_WORKSPACE)
                .result()
                .map_err(b("cublasSetWorkspace"))?;
            let mode = match storage {
                Operands::F32 => blas_sys::cublasMath_t::CUBLAS_PEDANTIC_MATH,
                Operands::F16 => blas_sys::cublasMath_t::CUBLAS_DEFAULT_MATH,
            };
            blas_sys::cublasSetMathMode(handle, mode)
                .result()
                .map_err(b("cublasSetMathMode"))?;
        }
        let mut blas_version = 0;
        // SAFETY: writes one int.
        unsafe { blas_sys::cublasGetVersion_v2(handle, &mut blas_version) };
        let nvrtc = nvrtc::version().map_or("?".into(), |(a, b)| format!("{a}.{b}"));
        let description = format!(
            "cuda:{ordinal} {name} (sm_{arch}; kernels: {target}; cuBLAS {blas_version}, NVRTC {nvrtc}{})",
            if opened.is_empty() {
                String::new()
            } else {
                format!(
                    "; from {}",
                    opened.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
                )
            }
        );
        tracing::info!("{description}");
        Ok(Self {
            ordinal,
            device,
            context,
            module,
            functions,
            blas: handle,
            workspace,
            stream,
            graphs: Default::default(),
            next_graph: Default::default(),
            description,
        })
    }

    fn current(&self) -> Result<()> {
        // SAFETY: the context is retained for the life of `self`.
        unsafe { cu::ctx::set_current(self.context) }.map_err(|e| self.error("cuCtxSetCurrent", e))
    }

    fn error(&self, what: &str, e: impl std::fmt::Display) -> Error {
        Error::Device {
            device: format!("cuda:{}", self.ordinal),
            message: format!("{what}: {e}"),
        }
    }

    fn call<T>(&self, what: &str, f: impl FnOnce() -> std::result::Result<T, String>) -> Result<T> {
        self.current()?;
        guarded(what, f).map_err(|m| Error::Device {
            device: format!("cuda:{}", self.ordinal),
            message: m,
        })
    }
}

impl Gpu for CudaGpu {
    fn describe(&self) -> String {
        self.description.clone()
    }

    fn memory(&self) -> Result<(usize, usize)> {
        self.call("cuMemGetInfo", || {
            cu::mem_get_info().map_err(|e| e.to_string())
        })
    }

    fn alloc(&self, bytes: usize) -> Result<Ptr> {
        self.call("cuMemAlloc", || {
            // SAFETY: plain allocation in the current context.
            unsafe { cu::malloc_sync(bytes) }.map_err(|e| format!("{e} ({bytes} bytes)"))
        })
    }

    fn free(&self, ptr: Ptr) {
        let freed = self.call("cuMemFree", || {
            // SAFETY: `ptr` came from `alloc`; queued work that may still read it finishes first.
            unsafe {
                cu::stream::synchronize(self.stream).map_err(|e| e.to_string())?;
                cu::free_sync(ptr).map_err(|e| e.to_string())
            }
        });
        if let Err(e) = freed {
            tracing::warn!("{e}");
        }
    }

    fn upload(&self, dst: Ptr, src: &[u8]) -> Result<()> {
        self.call("cuMemcpyHtoD", || {
            // SAFETY: `dst` is a live allocation of at least `src.len()` bytes (the pool's).
            // From pageable memory the copy is staged before the call returns.
            unsafe { cu::memcpy_htod_async(dst, src, self.stream) }.map_err(|e| e.to_string())
        })
    }

    fn download(&self, src: Ptr, dst: &mut [u8]) -> Result<()> {
        self.call("cuMemcpyDtoH", || {
            // SAFETY: as upload; the legacy stream orders it after all queued work.
            // Our stream drained first: a synchronous copy runs on the legacy stream, which
            // does not wait for ours.
            unsafe {
                cu::stream::synchronize(self.stream).map_err(|e| e.to_string())?;
                cu::memcpy_dtoh_sync(dst, src).map_err(|e| e.to_string())
            }
        })
    }

    unsafe fn launch(
        &self,
        kernel: Kernel,
        threads: i64,
        params: *const u8,
        _size: usize,
    ) -> Result<()> {
        let blocks = (threads as u64).div_ceil(BLOCK as u64);
        if blocks > i32::MAX as u64 {
            return Err(self.error(
                kernel.symbol(),
                format!("{threads} threads exceed one grid"),
            ));
        }
        let f = self.functions[&kernel];
        self.call(kernel.symbol(), || {
            let mut args = [params as *mut c_void];
            // SAFETY: per the trait's contract, `params` is the kernel's parameter struct.
            unsafe {
                cu::launch_kernel(
                    f,
                    (blocks as u32, 1, 1),
                    (BLOCK, 1, 1),
                    0,
                    self.stream,
                    &mut args,
                )
            }
            .map_err(|e| e.to_string())
        })
    }

    fn gemm(&self, g: &Gemm) -> Result<()> {
        use blas_sys::cudaDataType::*;
        let (ab, compute) = match g.operands {
            Operands::F16 => (
                CUDA_R_16F,
                blas_sys::cublasComputeType_t::CUBLAS_COMPUTE_32F,
            ),
            Operands::F32 => (
                CUDA_R_32F,
                blas_sys::cublasComputeType_t::CUBLAS_COMPUTE_32F_PEDANTIC,
            ),
        };
        let dims = [g.m, g.n, g.k, g.lda, g.ldb, g.ldc];
        if dims.iter().any(|&d| d > i32::MAX as usize) {
            return Err(self.error(
                "cublasGemmEx",
                format!("dimensions {dims:?} exceed 32 bits"),
            ));
        }
        let (alpha, beta) = (1.0f32, 0.0f32);
        self.call("cublasGemmEx", || {
            // SAFETY: pointers are live device buffers sized by the backend for these dimensions.
            unsafe {
                blas::gemm_ex(
                    self.blas,
                    blas_sys::cublasOperation_t::CUBLAS_OP_N,
                    blas_sys::cublasOperation_t::CUBLAS_OP_N,
                    g.m as i32,
                    g.n as i32,
                    g.k as i32,
                    (&alpha as *const f32).cast(),
                    g.a as *const c_void,
                    ab,
                    g.lda as i32,
                    g.b as *const c_void,
                    ab,
                    g.ldb as i32,
                    (&beta as *const f32).cast(),
                    g.c as *mut c_void,
                    CUDA_R_32F,
                    g.ldc as i32,
                    compute,
                    blas_sys::cublasGemmAlgo_t::CUBLAS_GEMM_DEFAULT,
                )
            }
            .map_err(|e| format!("{e:?} (m {} n {} k {})", g.m, g.n, g.k))
        })
    }

    fn begin_capture(&self) -> Result<()> {
        use cu_sys::CUstreamCaptureMode::CU_STREAM_CAPTURE_MODE_THREAD_LOCAL;
        // SAFETY: our own stream; thread-local mode: other threads' CUDA calls are unaffected.
        self.graph_call("cuStreamBeginCapture", || unsafe {
            cu::stream::begin_capture(self.stream, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL)
        })
    }

    fn end_capture(&self) -> Result<Graph> {
        // SAFETY: ends the capture begun on our stream; the graph is instantiated once.
        let graph = self.graph_call("cuStreamEndCapture", || unsafe {
            cu::stream::end_capture(self.stream)
        })?;
        let exec = self.graph_call("cuGraphInstantiate", || unsafe {
            cu::graph::instantiate(graph, cu_sys::CUgraphInstantiate_flags(0))
        });
        let exec = match exec {
            Ok(x) => x,
            Err(e) => {
                // SAFETY: the graph just captured, not instantiated.
                let _ = self.graph_call("cuGraphDestroy", || unsafe { cu::graph::destroy(graph) });
                return Err(e);
            }
        };
        let id = self
            .next_graph
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.graphs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, (graph, exec));
        Ok(Graph(id))
    }

    fn replay(&self, graph: &Graph) -> Result<()> {
        let exec = self
            .graphs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&graph.0)
            .map(|g| g.1)
            .ok_or_else(|| self.error("cuGraphLaunch", "unknown graph"))?;
        // SAFETY: an instantiated graph of this context, on our stream.
        self.graph_call("cuGraphLaunch", || unsafe {
            cu::graph::launch(exec, self.stream)
        })
    }

    fn drop_graph(&self, graph: Graph) {
        let removed = self
            .graphs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&graph.0);
        if let Some((g, exec)) = removed {
            // SAFETY: destroyed once, after queued replays finish.
            let _ = self.graph_call("cuGraphExecDestroy", || unsafe {
                cu::stream::synchronize(self.stream)?;
                cu::graph::exec_destroy(exec)?;
                cu::graph::destroy(g)
            });
        }
    }
}

impl CudaGpu {
    fn graph_call<T>(
        &self,
        what: &str,
        f: impl FnOnce() -> std::result::Result<T, cu::DriverError>,
    ) -> Result<T> {
        self.call(what, || f().map_err(|e| e.to_string()))
    }
}

impl Drop for CudaGpu {
    fn drop(&mut self) {
        let graphs: Vec<u64> = self
            .graphs
            .lock()
            .map(|g| g.keys().copied().collect())
            .unwrap_or_default();
        for id in graphs {
            self.drop_graph(Graph(id));
        }
        let _ = self.call("releasing the device", || {
            // SAFETY: handles created in `open`, released once.
            unsafe {
                let _ = cu::stream::synchronize(self.stream);
                let _ = blas::destroy_handle(self.blas);
                let _ = cu::free_sync(self.workspace);
                let _ = cu::stream::destroy(self.stream);
                let _ = cu::module::unload(self.module);
                let _ = cu::primary_ctx::release(self.device);
            }
            Ok(())
        });
    }
}
