//! A [`Gpu`] on the host, for tests: `kernels.cu` compiled by the host C++ compiler (with
//! `emulator.h`), each kernel run once per thread index; GEMMs with cuBLAS's column-major
//! semantics and fp32 accumulation; "device memory" is host memory with a guard band after
//! every allocation, checked after every launch, so an out-of-bounds write fails the test.
//!
//! What it proves without a GPU: every host-side decision of the CUDA backend (packing, layouts,
//! strides, masks, GEMM parameters, buffer sizes and reuse) and every kernel's index arithmetic,
//! in both storage precisions (fp16 rounding included). What it cannot: the GPU's own behaviour
//! (cuBLAS's algorithms, scheduling, the driver), which the load-time self-check and
//! `bench/gpu.sh` cover on a device.

use super::gpu::{Gemm, Gpu, Graph, Operands};
use super::params::{Kernel, Ptr};
use crate::error::{Error, Result};
use std::collections::{BTreeMap, HashMap};
use std::ffi::c_void;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

/// Bytes of guard after every allocation.
const GUARD: usize = 64;
const GUARD_BYTE: u8 = 0xA5;

type EmuKernel = unsafe extern "C" fn(*const c_void, i64);
/// Allocations by address: (requested size, storage).
type Allocations = BTreeMap<Ptr, (usize, Box<[u64]>)>;

/// One recorded step of a graph (parameters copied at record time, as the driver does).
enum Step {
    Launch(Kernel, i64, Box<[std::mem::MaybeUninit<u8>]>),
    Gemm(Gemm),
}

/// Capture state: the graph being recorded, and the graphs made.
#[derive(Default)]
struct Graphs {
    recording: Option<Vec<Step>>,
    made: HashMap<u64, Vec<Step>>,
    next: u64,
    /// Graphs replayed (tests check that the engine used them).
    replays: usize,
}

/// The emulated device.
pub(crate) struct Emulator {
    kernels: HashMap<Kernel, EmuKernel>,
    graphs: Mutex<Graphs>,
    /// Allocations by address: (requested size, storage). u64 storage for alignment.
    memory: Mutex<Allocations>,
    _library: libloading::Library,
    _dir: tempfile::TempDir,
}

impl Emulator {
    /// Compiles the kernels for `storage` with the host C++ compiler (`$CXX` or `c++`).
    pub fn new(storage: Operands) -> std::result::Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/backend/cuda/kernels.cu");
        let mut cpp = String::from("#define ECAPA2_EMULATOR 1\n");
        if storage == Operands::F16 {
            cpp.push_str("#define ECAPA2_ACT_F16 1\n");
        }
        cpp.push_str(&format!("#include \"{}\"\n", source.display()));
        for k in Kernel::ALL {
            cpp.push_str(&format!("EMULATE({})\n", k.symbol()));
        }
        let unit = dir.path().join("emulated.cpp");
        let library = dir.path().join("libemulated.so");
        std::fs::write(&unit, cpp).map_err(|e| e.to_string())?;
        let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".into());
        let out = Command::new(&cxx)
            .args([
                "-std=c++17",
                "-O2",
                "-shared",
                "-fPIC",
                "-Wall",
                "-Werror",
                "-o",
            ])
            .arg(&library)
            .arg(&unit)
            .output()
            .map_err(|e| format!("cannot run {cxx}: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "{cxx} failed on kernels.cu:\n{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        // SAFETY: a library this function just compiled, with no initialisers of its own.
        let lib = unsafe { libloading::Library::new(&library) }.map_err(|e| e.to_string())?;
        let mut kernels = HashMap::new();
        for k in Kernel::ALL {
            let name = format!("emu_{}", k.symbol());
            // SAFETY: EMULATE defines exactly this signature.
            let f: EmuKernel = unsafe { lib.get::<EmuKernel>(name.as_bytes()) }
                .map(|s| *s)
                .map_err(|e| format!("{name}: {e}"))?;
            kernels.insert(k, f);
        }
        Ok(Self {
            kernels,
            graphs: Mutex::default(),
            memory: Mutex::default(),
            _library: lib,
            _dir: dir,
        })
    }

    /// Graph replays so far.
    pub fn replays(&self) -> usize {
        self.graphs.lock().unwrap().replays
    }

    /// Refuses what CUDA refuses while a stream is being captured.
    fn not_capturing(&self, what: &str) -> Result<()> {
        if self.graphs.lock().unwrap().recording.is_some() {
            return Err(emu_error(format!("{what} during stream capture")));
        }
        Ok(())
    }

    fn run_step(&self, step: &Step) -> Result<()> {
        match step {
            Step::Launch(kernel, threads, params) => {
                // SAFETY: the parameter bytes were copied from the kernel's own struct.
                unsafe { (self.kernels[kernel])(params.as_ptr().cast(), *threads) };
                self.check_guards(kernel.symbol())
            }
            Step::Gemm(g) => self.run_gemm(g),
        }
    }

    /// The allocation holding `[ptr, ptr + len)`, or an error naming the overrun.
    fn check_range(&self, ptr: Ptr, len: usize) -> Result<()> {
        let mem = self.memory.lock().unwrap();
        match mem.range(..=ptr).next_back() {
            Some((&base, (size, _))) if ptr + len as u64 <= base + *size as u64 => Ok(()),
            _ => Err(emu_error(format!(
                "access of {len} bytes at {ptr:#x} outside any allocation"
            ))),
        }
    }

    fn check_guards(&self, after: &str) -> Result<()> {
        let mem = self.memory.lock().unwrap();
        for (&base, (size, store)) in mem.iter() {
            let bytes: &[u8] = bytemuck::cast_slice(store);
            if bytes[*size..*size + GUARD].iter().any(|&b| b != GUARD_BYTE) {
                return Err(emu_error(format!(
                    "{after} wrote past the end of the {size}-byte buffer at {base:#x}"
                )));
            }
        }
        Ok(())
    }
}

fn emu_error(message: String) -> Error {
    Error::Device {
        device: "emulator".into(),
        message,
    }
}

/// Reads element `i` of an operand as f32.
///
/// # Safety
/// `p` addresses at least `i + 1` elements of `t`.
unsafe fn operand(p: Ptr, i: usize, t: Operands) -> f32 {
    match t {
        Operands::F32 => *(p as *const f32).add(i),
        Operands::F16 => half::f16::from_bits(*(p as *const u16).add(i)).to_f32(),
    }
}

impl Gpu for Emulator {
    fn describe(&self) -> String {
        "emulator (kernels.cu compiled for the host)".into()
    }

    fn memory(&self) -> Result<(usize, usize)> {
        Ok((8 << 30, 8 << 30))
    }

    fn chunk_pixels(&self) -> usize {
        // Small and odd, so that every test crosses chunk boundaries inside rows and frames.
        997
    }

    fn size_class(&self, bytes: usize) -> usize {
        // Exact sizes, so that the guard band sits right after what a buffer may hold.
        bytes.max(1).next_multiple_of(8)
    }

    fn alloc(&self, bytes: usize) -> Result<Ptr> {
        self.not_capturing("cuMemAlloc")?;
        let mut store = vec![0u64; (bytes + GUARD).div_ceil(8)].into_boxed_slice();
        let b: &mut [u8] = bytemuck::cast_slice_mut(&mut store);
        b.fill(0x7F); // poison: reading uninitialised memory gives large values, not zeros
        b[bytes..bytes + GUARD].fill(GUARD_BYTE);
        let ptr = store.as_ptr() as Ptr;
        self.memory.lock().unwrap().insert(ptr, (bytes, store));
        Ok(ptr)
    }

    fn free(&self, ptr: Ptr) {
        self.memory.lock().unwrap().remove(&ptr);
    }

    fn upload(&self, dst: Ptr, src: &[u8]) -> Result<()> {
        self.not_capturing("a host-to-device copy")?;
        self.check_range(dst, src.len())?;
        // SAFETY: checked to lie inside a live allocation.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst as *mut u8, src.len()) };
        Ok(())
    }

    fn download(&self, src: Ptr, dst: &mut [u8]) -> Result<()> {
        self.not_capturing("a device-to-host copy")?;
        self.check_range(src, dst.len())?;
        // SAFETY: checked to lie inside a live allocation.
        unsafe { std::ptr::copy_nonoverlapping(src as *const u8, dst.as_mut_ptr(), dst.len()) };
        Ok(())
    }

    unsafe fn launch(
        &self,
        kernel: Kernel,
        threads: i64,
        params: *const u8,
        size: usize,
    ) -> Result<()> {
        let mut copy = vec![std::mem::MaybeUninit::<u8>::uninit(); size].into_boxed_slice();
        // SAFETY: `params` holds `size` bytes (padding may be uninitialised: MaybeUninit).
        unsafe { std::ptr::copy_nonoverlapping(params.cast(), copy.as_mut_ptr(), size) };
        let step = Step::Launch(kernel, threads, copy);
        if let Some(rec) = self.graphs.lock().unwrap().recording.as_mut() {
            rec.push(step);
            return Ok(());
        }
        self.run_step(&step)
    }

    fn gemm(&self, g: &Gemm) -> Result<()> {
        if let Some(rec) = self.graphs.lock().unwrap().recording.as_mut() {
            rec.push(Step::Gemm(*g));
            return Ok(());
        }
        self.run_gemm(g)
    }

    fn begin_capture(&self) -> Result<()> {
        let mut g = self.graphs.lock().unwrap();
        if g.recording.is_some() {
            return Err(emu_error("capture already under way".into()));
        }
        g.recording = Some(Vec::new());
        Ok(())
    }

    fn end_capture(&self) -> Result<Graph> {
        let mut g = self.graphs.lock().unwrap();
        let steps = g
            .recording
            .take()
            .ok_or_else(|| emu_error("no capture under way".into()))?;
        g.next += 1;
        let id = g.next;
        g.made.insert(id, steps);
        Ok(Graph(id))
    }

    fn replay(&self, graph: &Graph) -> Result<()> {
        self.not_capturing("a graph launch")?;
        let steps = {
            let mut g = self.graphs.lock().unwrap();
            g.replays += 1;
            g.made
                .remove(&graph.0)
                .ok_or_else(|| emu_error("unknown graph".into()))?
        };
        let result = steps.iter().try_for_each(|s| self.run_step(s));
        self.graphs.lock().unwrap().made.insert(graph.0, steps);
        result
    }

    fn drop_graph(&self, graph: Graph) {
        self.graphs.lock().unwrap().made.remove(&graph.0);
    }
}

impl Emulator {
    fn run_gemm(&self, g: &Gemm) -> Result<()> {
        let es = g.operands.size();
        let (a_len, b_len) = ((g.k - 1) * g.lda + g.m, (g.n - 1) * g.ldb + g.k);
        self.check_range(g.a, a_len * es)?;
        self.check_range(g.b, b_len * es)?;
        self.check_range(g.c, ((g.n - 1) * g.ldc + g.m) * 4)?;
        // Operands widened to fp32 (exact for fp16), then an fp32 GEMM as cuBLAS computes it
        // (its summation order differs; both accumulate in fp32).
        // SAFETY: the ranges were checked above.
        let widen = |p: Ptr, len: usize| -> Vec<f32> {
            (0..len)
                .map(|i| unsafe { operand(p, i, g.operands) })
                .collect()
        };
        let (a, b) = (widen(g.a, a_len), widen(g.b, b_len));
        // SAFETY: C's range was checked; gemm reads A and B from the vectors above and writes
        // C column-major with leading dimension ldc.
        unsafe {
            gemm::gemm(
                g.m,
                g.n,
                g.k,
                g.c as *mut f32,
                g.ldc as isize,
                1,
                false,
                a.as_ptr(),
                g.lda as isize,
                1,
                b.as_ptr(),
                g.ldb as isize,
                1,
                0.0f32,
                1.0f32,
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
        }
        Ok(())
    }
}
