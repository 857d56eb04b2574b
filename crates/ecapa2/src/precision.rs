//! What a model computes in and where: the engine's own [`Precision`] and [`Device`], both
//! `#[non_exhaustive]` so that a backend can add modes (fp16 on CUDA) without breaking callers.
//! Each backend lowers what was asked for to what it runs, once at load, and the model
//! reports the resolved value.

/// `FromStr` and `Display` of a named enum through its own `parse` and `name`.
macro_rules! by_name {
    ($t:ty, $unknown:ident) => {
        impl std::str::FromStr for $t {
            type Err = $unknown;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s).ok_or_else(|| $unknown(s.to_string()))
            }
        }

        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

/// The precision of a model's heavy products (3×3 convolutions on the CPU).
///
/// Everything else (front-end, 1-D layers, pooling, BatchNorm, SE) stays fp32 on the CPU
/// whatever is asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Precision {
    /// IEEE fp32 throughout (the default; matches PyTorch fp32 within the engine's tolerance).
    #[default]
    F32,
    /// Opt-in on the CPU: the Winograd products of the 3×3 convolutions take bf16 operands and
    /// accumulate in fp32, on AMX-BF16 tiles. Fastest, least accurate (about 1.6 % relative
    /// error per layer). Needs AMX-BF16 (Intel Xeon since Sapphire Rapids, Linux ≥ 5.16);
    /// elsewhere the model runs fp32 and reports it.
    Bf16,
    /// Opt-in on the CPU: as [`Precision::Bf16`] with each operand split into a high and a low
    /// bf16 part (three tile products): errors close to fp32's.
    Bf16x3,
    /// fp16 storage and operands with fp32 accumulation; reductions, statistics and pooling
    /// in fp32 (the default on CUDA). The CPU backend has no fp16 kernels: it runs fp32 and
    /// reports it (with a warning).
    F16,
}

impl Precision {
    /// A short name for tables, logs and the CLI (`f32`, `bf16`, `bf16x3`, `f16`).
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
            Precision::Bf16x3 => "bf16x3",
            Precision::F16 => "f16",
        }
    }

    /// Parses `f32`/`fp32`, `bf16`, `bf16x3` or `f16`/`fp16` (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "f32" | "fp32" | "float32" => Some(Precision::F32),
            "bf16" | "bfloat16" => Some(Precision::Bf16),
            "bf16x3" => Some(Precision::Bf16x3),
            "f16" | "fp16" | "float16" | "half" => Some(Precision::F16),
            _ => None,
        }
    }
}

by_name!(Precision, UnknownPrecision);

/// A precision name that is not one of `f32`, `bf16`, `bf16x3`, `f16`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown precision {0:?}: expected f32, bf16, bf16x3 or f16")]
pub struct UnknownPrecision(pub String);

/// Where a model runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Device {
    /// The host CPU (the default).
    #[default]
    Cpu,
    /// CUDA device `N` (experimental: needs a build with the `cuda` feature, an NVIDIA driver
    /// and the CUDA 12 or 13 runtime libraries at run time).
    Cuda(usize),
}

impl Device {
    /// The device family (`cpu`, `cuda`); [`Display`](std::fmt::Display) adds the ordinal.
    pub fn name(self) -> &'static str {
        match self {
            Device::Cpu => "cpu",
            Device::Cuda(_) => "cuda",
        }
    }

    /// Parses `cpu`, `cuda` (device 0) or `cuda:N` (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim().to_ascii_lowercase();
        match s.as_str() {
            "cpu" => Some(Device::Cpu),
            "cuda" | "gpu" => Some(Device::Cuda(0)),
            _ => s
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(Device::Cuda),
        }
    }
}

impl std::str::FromStr for Device {
    type Err = UnknownDevice;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s).ok_or_else(|| UnknownDevice(s.to_string()))
    }
}

impl std::fmt::Display for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Device::Cpu => f.write_str("cpu"),
            Device::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

/// A device name this build does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown device {0:?}: expected cpu, cuda or cuda:N")]
pub struct UnknownDevice(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in [
            Precision::F32,
            Precision::Bf16,
            Precision::Bf16x3,
            Precision::F16,
        ] {
            assert_eq!(p.name().parse::<Precision>(), Ok(p));
        }
        assert_eq!("CPU".parse::<Device>(), Ok(Device::Cpu));
        assert_eq!("cuda".parse::<Device>(), Ok(Device::Cuda(0)));
        assert_eq!("CUDA:3".parse::<Device>(), Ok(Device::Cuda(3)));
        assert_eq!(Device::Cuda(1).to_string(), "cuda:1");
        assert!("cuda:x".parse::<Device>().is_err());
        assert!("tpu".parse::<Device>().is_err());
        assert!("f8".parse::<Precision>().is_err());
    }
}
