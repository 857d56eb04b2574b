//! Finding the CUDA libraries at run time, so that one binary works with the CUDA 12 or the
//! CUDA 13 libraries, from the system or from NVIDIA's pip packages (whose folders are not on
//! the loader path: `nvidia/{cublas,cuda_nvrtc}/lib` for CUDA 12, `nvidia/cu13/lib` for 13).
//!
//! cudarc opens libraries by soname (`libcublas.so.13`, then `.12`, …). A library already
//! loaded under that soname satisfies such an open, so the folders the caller names are searched
//! first and their libraries opened by full path, globally, before cudarc looks. The handles
//! are kept for the life of the process, as cudarc keeps its own.
//!
//! Every check happens before the first call into a library: cudarc panics on a missing library
//! or symbol, and creating a context without a driver fails; here each becomes one line naming
//! what is missing.

use std::path::{Path, PathBuf};

/// Libraries opened from the caller's folders (kept loaded for the process).
static PRELOADED: std::sync::Mutex<Vec<libloading::os::unix::Library>> =
    std::sync::Mutex::new(Vec::new());

/// The sonames tried, newest CUDA first; cuBLASLt before cuBLAS (its dependency).
const SONAMES: [(&str, &[&str]); 3] = [
    ("cublasLt", &["libcublasLt.so.13", "libcublasLt.so.12"]),
    ("cublas", &["libcublas.so.13", "libcublas.so.12"]),
    ("nvrtc", &["libnvrtc.so.13", "libnvrtc.so.12"]),
];

/// Driver entry points the backend calls (through cudarc's `result` layer).
const DRIVER_SYMBOLS: &[&str] = &[
    "cuInit",
    "cuDeviceGet",
    "cuDeviceGetCount",
    "cuDeviceGetName",
    "cuDeviceGetAttribute",
    "cuDevicePrimaryCtxRetain",
    "cuDevicePrimaryCtxRelease_v2",
    "cuCtxSetCurrent",
    "cuCtxSynchronize",
    "cuMemAlloc_v2",
    "cuMemFree_v2",
    "cuMemcpyHtoDAsync_v2",
    "cuMemcpyDtoH_v2",
    "cuMemGetInfo_v2",
    "cuModuleLoadData",
    "cuModuleGetFunction",
    "cuModuleUnload",
    "cuLaunchKernel",
    "cuStreamCreate",
    "cuStreamSynchronize",
    "cuStreamDestroy_v2",
    "cuStreamBeginCapture_v2",
    "cuStreamEndCapture",
    "cuGraphInstantiateWithFlags",
    "cuGraphLaunch",
    "cuGraphExecDestroy",
    "cuGraphDestroy",
    "cuGetErrorString",
    "cuGetErrorName",
];
const CUBLAS_SYMBOLS: &[&str] = &[
    "cublasCreate_v2",
    "cublasDestroy_v2",
    "cublasSetStream_v2",
    "cublasSetWorkspace_v2",
    "cublasSetMathMode",
    "cublasGemmEx",
    "cublasGetVersion_v2",
];
const NVRTC_SYMBOLS: &[&str] = &[
    "nvrtcCreateProgram",
    "nvrtcCompileProgram",
    "nvrtcDestroyProgram",
    "nvrtcGetProgramLog",
    "nvrtcGetProgramLogSize",
    "nvrtcGetCUBIN",
    "nvrtcGetCUBINSize",
    "nvrtcGetPTX",
    "nvrtcGetPTXSize",
    "nvrtcVersion",
];

/// What is missing, as one line (the caller adds the device).
pub(crate) type Missing = String;

/// Opens, from `dirs`, the first CUDA 13 or 12 cuBLAS/NVRTC libraries found; returns the files
/// opened.
pub(crate) fn preload(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut opened = Vec::new();
    for (_, sonames) in SONAMES {
        let found = sonames
            .iter()
            .flat_map(|s| dirs.iter().map(move |d| d.join(s)))
            .find(|p| p.is_file());
        if let Some(path) = found {
            match open_global(&path) {
                Ok(lib) => {
                    PRELOADED
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(lib);
                    opened.push(path);
                }
                Err(e) => tracing::warn!(path = %path.display(), "cannot open: {e}"),
            }
        }
    }
    opened
}

fn open_global(path: &Path) -> Result<libloading::os::unix::Library, libloading::Error> {
    use libloading::os::unix::{Library, RTLD_GLOBAL, RTLD_NOW};
    // SAFETY: NVIDIA's libraries; their initialisers only register themselves.
    unsafe { Library::open(Some(path), RTLD_NOW | RTLD_GLOBAL) }
}

/// Checks that the driver, cuBLAS and NVRTC can be loaded and have every symbol the backend
/// calls. `dirs` are named in the message.
pub(crate) fn check(dirs: &[PathBuf]) -> Result<(), Missing> {
    let searched = if dirs.is_empty() {
        "the system loader path".to_string()
    } else {
        format!(
            "{} and the system loader path",
            dirs.iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    // SAFETY: these probe by name; they load nothing that runs code beyond library initialisers.
    unsafe {
        if !cudarc::driver::sys::is_culib_present() {
            return Err("no NVIDIA driver: libcuda.so.1 is not on the system loader path (install the NVIDIA driver; in a container, run it with GPU support)".into());
        }
        symbols(
            "the driver (libcuda)",
            cudarc::driver::sys::culib(),
            DRIVER_SYMBOLS,
        )?;
        if !cudarc::cublas::sys::is_culib_present() {
            return Err(format!("cuBLAS not found (libcublas.so.13 or .12) in {searched}: install the pip package nvidia-cublas-cu12 (or torch) or set ECAPA2_CUDA_LIBRARY_PATH to its lib folder"));
        }
        symbols("cuBLAS", cudarc::cublas::sys::culib(), CUBLAS_SYMBOLS)?;
        if !cudarc::nvrtc::sys::is_culib_present() {
            return Err(format!("NVRTC not found (libnvrtc.so.13 or .12) in {searched}: install the pip package nvidia-cuda-nvrtc-cu12 (or torch) or set ECAPA2_CUDA_LIBRARY_PATH to its lib folder"));
        }
        symbols("NVRTC", cudarc::nvrtc::sys::culib(), NVRTC_SYMBOLS)?;
    }
    Ok(())
}

fn symbols(what: &str, lib: &libloading::Library, names: &[&str]) -> Result<(), Missing> {
    let missing: Vec<&str> = names
        .iter()
        .copied()
        // SAFETY: only looks the symbol up.
        .filter(|n| unsafe { lib.get::<*const ()>(n.as_bytes()) }.is_err())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{what} lacks {} (too old a version?)",
            missing.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn preload_ignores_folders_without_cuda_libraries() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("libcublas.so.11"), b"not a library").unwrap();
        assert!(super::preload(&[dir.path().to_path_buf()]).is_empty());
    }
}
