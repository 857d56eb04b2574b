//! What the CPU offers, read once at run time (the build machine is not the run machine).

use std::sync::OnceLock;

/// Instruction-set extensions the kernels care about.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuFeatures {
    /// AVX2 + FMA.
    pub avx2_fma: bool,
    /// AVX-512 Foundation.
    pub avx512f: bool,
    /// AVX-512 BF16 dot products.
    pub avx512_bf16: bool,
    /// AMX tiles with BF16.
    pub amx_bf16: bool,
}

/// The running CPU's features (detected once).
pub fn features() -> CpuFeatures {
    static FEATURES: OnceLock<CpuFeatures> = OnceLock::new();
    *FEATURES.get_or_init(detect)
}

#[cfg(all(target_arch = "x86_64", not(miri)))]
fn detect() -> CpuFeatures {
    CpuFeatures {
        avx2_fma: is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
        avx512f: is_x86_feature_detected!("avx512f"),
        avx512_bf16: is_x86_feature_detected!("avx512bf16"),
        amx_bf16: cpuid_amx_bf16(),
    }
}

/// AMX detection is not stable in `is_x86_feature_detected!`; CPUID leaf 7 EDX bit 22 says
/// whether the core has AMX-BF16 (the OS must still grant tile state before use).
#[cfg(all(target_arch = "x86_64", not(miri)))]
fn cpuid_amx_bf16() -> bool {
    // CPUID exists on every x86_64 CPU; leaf 7 is valid when the max leaf is at least 7.
    let max_leaf = std::arch::x86_64::__cpuid(0).eax;
    max_leaf >= 7 && (std::arch::x86_64::__cpuid_count(7, 0).edx >> 22) & 1 == 1
}

/// Elsewhere, and under Miri (which interprets the portable paths only), no extensions.
#[cfg(any(not(target_arch = "x86_64"), miri))]
fn detect() -> CpuFeatures {
    CpuFeatures::default()
}

impl std::fmt::Display for CpuFeatures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = [
            (self.avx2_fma, "avx2+fma"),
            (self.avx512f, "avx512f"),
            (self.avx512_bf16, "avx512bf16"),
            (self.amx_bf16, "amx-bf16"),
        ];
        let on: Vec<&str> = names.iter().filter(|(b, _)| *b).map(|(_, n)| *n).collect();
        if on.is_empty() {
            write!(f, "baseline")
        } else {
            write!(f, "{}", on.join(" "))
        }
    }
}

/// The SIMD code path a kernel runs, chosen at run time from [`features`].
///
/// Every level runs on every CPU that has its features; a level the CPU lacks is lowered to the
/// best one it has (see [`SimdLevel::supported`]), so asking for `Avx512` is always safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SimdLevel {
    /// Plain Rust on 16-float arrays (auto-vectorised for the build target's baseline).
    Portable,
    /// The portable code compiled with AVX2 + FMA enabled.
    Avx2,
    /// Hand-written AVX-512F intrinsics.
    Avx512,
}

impl SimdLevel {
    /// The best level this CPU runs.
    pub fn best() -> Self {
        let f = features();
        if f.avx512f && f.avx2_fma {
            SimdLevel::Avx512
        } else if f.avx2_fma {
            SimdLevel::Avx2
        } else {
            SimdLevel::Portable
        }
    }

    /// `self`, lowered to what this CPU runs.
    pub fn supported(self) -> Self {
        self.min(Self::best())
    }

    /// A short name for tables and logs.
    pub fn name(self) -> &'static str {
        match self {
            SimdLevel::Portable => "portable",
            SimdLevel::Avx2 => "avx2",
            SimdLevel::Avx512 => "avx512",
        }
    }
}
