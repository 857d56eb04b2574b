//! How a model runs: device, threads, precision, memory budget, spill directory — values given to
//! [`crate::Ecapa2::load_with`], never read from the environment by the library (the CLI and
//! the Python package read `ECAPA2_*` variables and pass values down).

pub use crate::backend::{Execution, TilePlan};
use crate::{Device, Precision};
use std::path::PathBuf;

/// Options for loading a model (a builder: `Options::new().threads(2).precision(...)`).
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub(crate) device: Device,
    pub(crate) threads: Option<usize>,
    pub(crate) precision: Option<Precision>,
    pub(crate) max_memory: Option<usize>,
    pub(crate) spill_dir: Option<PathBuf>,
    pub(crate) execution: Execution,
    pub(crate) skip_self_check: bool,
    pub(crate) library_dirs: Vec<PathBuf>,
}

impl Options {
    /// The defaults: the CPU, one worker per physical core, fp32, a memory budget of 80 % of
    /// the memory available when the model loads, spill files in the system temporary
    /// directory.
    pub fn new() -> Self {
        Self::default()
    }

    /// The device to run on (default [`Device::Cpu`]); [`crate::Ecapa2::device`] reports it.
    pub fn device(mut self, device: Device) -> Self {
        self.device = device;
        self
    }

    /// Worker threads of the model's own pool (at least 1; default: physical cores).
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads.max(1));
        self
    }

    /// Precision of the heavy products (default: fp32 on the CPU, fp16 on CUDA). The bf16
    /// modes need AMX-BF16 and `f16` a GPU backend; where the device lacks them the model runs
    /// fp32, says so once in a warning, and [`crate::Ecapa2::precision`] reports what runs.
    pub fn precision(mut self, precision: Precision) -> Self {
        self.precision = Some(precision);
        self
    }

    /// Skips the self-check a GPU backend runs at load (a short synthetic utterance through
    /// both the CPU and the device, compared within tolerance). Default: the check runs, and a
    /// device that disagrees with the CPU refuses to load ([`crate::Error::SelfCheck`]).
    pub fn skip_self_check(mut self, skip: bool) -> Self {
        self.skip_self_check = skip;
        self
    }

    /// Folders holding the CUDA libraries (cuBLAS, NVRTC), searched before the system loader
    /// path: front-ends pass the folders of NVIDIA's pip packages or `ECAPA2_CUDA_LIBRARY_PATH`.
    pub fn library_dirs(mut self, dirs: impl IntoIterator<Item = PathBuf>) -> Self {
        self.library_dirs = dirs.into_iter().collect();
        self
    }

    /// The model's memory budget: bytes of activations all its concurrent calls may hold
    /// together (weights not included). A call waits while others hold too much; an input
    /// whose activations exceed the budget runs exactly over time tiles; one that cannot fit
    /// even then is refused ([`crate::Error::TooLong`]).
    pub fn max_memory(mut self, bytes: usize) -> Self {
        self.max_memory = Some(bytes);
        self
    }

    /// Directory for the tiled path's spill files (default: the system temporary directory).
    pub fn spill_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.spill_dir = Some(dir.into());
        self
    }

    /// Forces whole-utterance or tiled execution (tests and benchmarks).
    #[doc(hidden)]
    pub fn execution(mut self, execution: Execution) -> Self {
        self.execution = execution;
        self
    }

    /// The precision asked for, or the device's default.
    pub(crate) fn resolved_precision(&self) -> Precision {
        self.precision.unwrap_or(match self.device {
            Device::Cuda(_) => Precision::F16,
            _ => Precision::F32,
        })
    }

    /// The thread count these options resolve to.
    pub(crate) fn resolved_threads(&self) -> usize {
        self.threads.unwrap_or_else(num_cpus::get_physical).max(1)
    }
}

/// Parses a size such as `2G`, `1.5GiB`, `1500M`, `512MB` or plain bytes (binary units), as
/// front-ends read `--max-memory` and `ECAPA2_MAX_MEMORY`.
pub fn parse_size(text: &str) -> Option<usize> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number.parse().ok()?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return None,
    };
    let bytes = value * (1u64 << shift) as f64;
    (bytes.is_finite() && bytes >= 1.0 && bytes < usize::MAX as f64).then_some(bytes as usize)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("2G"), Some(2 << 30));
        assert_eq!(parse_size("1.5GiB"), Some(3 << 29));
        assert_eq!(parse_size("1500M"), Some(1500 << 20));
        assert_eq!(parse_size(" 4096 "), Some(4096));
        assert_eq!(parse_size("12 kb"), Some(12 << 10));
        for bad in ["", "G", "-1G", "2X", "0", "nanG"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
    }
}
