//! CI's check of the kernels without a GPU: NVRTC (from the pip wheel `nvidia-cuda-nvrtc-cu12`,
//! folder in `ECAPA2_NVRTC_DIR`) compiles `kernels.cu`, with exactly the product's options, to
//! CUBIN for sm_80, sm_86, sm_89 and sm_90 in both storage precisions; `ptxas -v` (from
//! `nvidia-cuda-nvcc-cu12`, path in `ECAPA2_PTXAS`) reports each kernel's registers and spills,
//! and any spill fails. `tests/run-all.sh` installs both wheels; without them the test says so
//! and skips.

use super::gpu::Operands;
use super::libraries;
use super::nvrtc::{self, Output};
use super::params::Kernel;
use std::path::PathBuf;
use std::process::Command;

const ARCHS: [u32; 4] = [80, 86, 89, 90];

#[test]
fn kernels_compile_for_every_architecture_without_spills() {
    let (Some(dir), Some(ptxas)) = (
        std::env::var_os("ECAPA2_NVRTC_DIR"),
        std::env::var_os("ECAPA2_PTXAS"),
    ) else {
        eprintln!("skipped: ECAPA2_NVRTC_DIR / ECAPA2_PTXAS not set (tests/run-all.sh sets them from the pip wheels nvidia-cuda-nvrtc-cu12 and nvidia-cuda-nvcc-cu12)");
        return;
    };
    let opened = libraries::preload(&[PathBuf::from(&dir)]);
    assert!(
        unsafe { cudarc::nvrtc::sys::is_culib_present() },
        "no libnvrtc in {dir:?} (opened {opened:?})"
    );
    let version = nvrtc::version().expect("nvrtcVersion");
    eprintln!(
        "NVRTC {}.{} from {dir:?}; ptxas {ptxas:?}",
        version.0, version.1
    );
    let tmp = tempfile::tempdir().unwrap();
    let mut spills = Vec::new();
    for arch in ARCHS {
        for storage in [Operands::F16, Operands::F32] {
            let cubin =
                nvrtc::compile(arch, storage, Output::Cubin).unwrap_or_else(|e| panic!("{e}"));
            // An ELF image.
            assert_eq!(&cubin[..4], b"\x7fELF", "sm_{arch} {storage:?}");
            let ptx = nvrtc::compile(arch, storage, Output::Ptx).unwrap_or_else(|e| panic!("{e}"));
            let file = tmp.path().join(format!("kernels_{arch}_{storage:?}.ptx"));
            std::fs::write(&file, ptx.split(|&b| b == 0).next().unwrap()).unwrap();
            let out = Command::new(&ptxas)
                .args(["-v", "--gpu-name", &format!("sm_{arch}"), "-o"])
                .arg(tmp.path().join("out.cubin"))
                .arg(&file)
                .output()
                .expect("run ptxas");
            let log = String::from_utf8_lossy(&out.stderr).to_string();
            assert!(out.status.success(), "ptxas sm_{arch} {storage:?}:\n{log}");
            // "Compiling entry function 'epilogue' for 'sm_90'", then "Used N registers, …"
            // and "… bytes spill stores, … bytes spill loads".
            let mut kernel = String::new();
            let mut seen = 0;
            for line in log.lines() {
                if let Some(rest) = line.split("Compiling entry function '").nth(1) {
                    kernel = rest.split('\'').next().unwrap_or("").to_string();
                    seen += 1;
                }
                if line.contains("spill stores") {
                    let n = |key: &str| -> u64 {
                        line.split(',')
                            .find(|p| p.contains(key))
                            .and_then(|p| p.split_whitespace().next())
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(u64::MAX)
                    };
                    let (stores, loads) = (n("spill stores"), n("spill loads"));
                    if stores != 0 || loads != 0 {
                        spills.push(format!("{kernel} sm_{arch} {storage:?}: {line}"));
                    }
                }
                if line.contains("Used") && line.contains("registers") {
                    eprintln!(
                        "sm_{arch} {:>4} {kernel:<12} {}",
                        format!("{storage:?}"),
                        line.trim().trim_start_matches("ptxas info    : ")
                    );
                }
            }
            assert_eq!(
                seen,
                Kernel::ALL.len(),
                "sm_{arch} {storage:?}: kernels in ptxas log:\n{log}"
            );
        }
    }
    assert!(spills.is_empty(), "register spills:\n{}", spills.join("\n"));
}
