//! Compiling `kernels.cu` with NVRTC: to CUBIN for the device's architecture at load, or to
//! PTX (for `ptxas` in the compile check, and for a device newer than the NVRTC at hand).

use super::gpu::Operands;
use std::ffi::CString;

/// What NVRTC produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Output {
    /// Machine code for `sm_XY`.
    Cubin,
    /// PTX for `compute_XY` (JIT-compiled by the driver).
    Ptx,
}

/// The NVRTC options for architecture `arch` (`90` for sm_90) and a storage type.
pub(crate) fn options(arch: u32, storage: Operands, output: Output) -> Vec<String> {
    let target = match output {
        Output::Cubin => format!("--gpu-architecture=sm_{arch}"),
        Output::Ptx => format!("--gpu-architecture=compute_{arch}"),
    };
    let mut o = vec![target, "--std=c++17".to_string()];
    if storage == Operands::F16 {
        o.push("-DECAPA2_ACT_F16=1".into());
    }
    o
}

/// Compiles the kernels; the error carries NVRTC's log.
pub(crate) fn compile(arch: u32, storage: Operands, output: Output) -> Result<Vec<u8>, String> {
    use cudarc::nvrtc::{result, sys};
    let source = CString::new(super::KERNELS).map_err(|e| e.to_string())?;
    let name = CString::new("kernels.cu").map_err(|e| e.to_string())?;
    let prog = result::create_program(&source, Some(&name))
        .map_err(|e| format!("nvrtcCreateProgram: {e:?}"))?;
    let opts = options(arch, storage, output);
    // SAFETY: `prog` is live until destroyed below; buffers are sized by NVRTC's own queries.
    unsafe {
        let compiled = result::compile_program(prog, &opts);
        let log = result::get_program_log(prog)
            .map(|l| {
                l.iter()
                    .map(|&c| c as u8)
                    .take_while(|&c| c != 0)
                    .collect::<Vec<u8>>()
            })
            .unwrap_or_default();
        let image = match compiled {
            Err(e) => Err(format!(
                "NVRTC failed ({e:?}) with {opts:?}:\n{}",
                String::from_utf8_lossy(&log)
            )),
            Ok(()) => match output {
                Output::Ptx => result::get_ptx(prog)
                    .map(|p| p.iter().map(|&c| c as u8).collect())
                    .map_err(|e| format!("nvrtcGetPTX: {e:?}")),
                Output::Cubin => {
                    let mut size = 0usize;
                    let r = sys::nvrtcGetCUBINSize(prog, &mut size);
                    if r != sys::nvrtcResult::NVRTC_SUCCESS {
                        Err(format!("nvrtcGetCUBINSize: {r:?}"))
                    } else {
                        let mut buf = vec![0u8; size];
                        let r = sys::nvrtcGetCUBIN(prog, buf.as_mut_ptr().cast());
                        if r == sys::nvrtcResult::NVRTC_SUCCESS {
                            Ok(buf)
                        } else {
                            Err(format!("nvrtcGetCUBIN: {r:?}"))
                        }
                    }
                }
            },
        };
        let _ = result::destroy_program(prog);
        image
    }
}

/// The NVRTC version (major, minor).
pub(crate) fn version() -> Option<(i32, i32)> {
    let (mut major, mut minor) = (0, 0);
    // SAFETY: writes two ints.
    let r = unsafe { cudarc::nvrtc::sys::nvrtcVersion(&mut major, &mut minor) };
    (r == cudarc::nvrtc::sys::nvrtcResult::NVRTC_SUCCESS).then_some((major, minor))
}
