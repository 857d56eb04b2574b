//! Arithmetic precision of the heavy convolutions.

/// The precision the 3×3 convolution kernels compute in (the kernels' own view: the engine's
/// public, parseable `ecapa2::Precision` maps onto it).
///
/// Everything else (front-end, 1-D layers, pooling, BatchNorm, SE) stays fp32 whatever is
/// asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Precision {
    /// IEEE fp32 throughout (the default; matches PyTorch fp32 within the engine's tolerance).
    #[default]
    F32,
    /// Opt-in: the Winograd products of the 3×3 convolutions take bf16 operands (rounded to
    /// nearest even) and accumulate in fp32, on AMX-BF16 tiles. Fastest, least accurate (about
    /// 1.6 % relative error per layer: the Winograd transforms magnify the operand rounding).
    /// Needs a CPU with AMX-BF16 (Intel Xeon since Sapphire Rapids) and an OS that grants tile
    /// state (Linux ≥ 5.16); elsewhere the layers run fp32 and report it.
    Bf16,
    /// Opt-in: as [`Precision::Bf16`], but each operand is split into a high and a low bf16
    /// part and the products `hi·hi + hi·lo + lo·hi` are summed (three tile products instead
    /// of one): about 16 significant bits per operand, errors close to fp32's.
    Bf16x3,
}

impl Precision {
    /// `self`, lowered to what this machine runs (the bf16 modes need AMX-BF16 granted by
    /// the OS).
    pub fn supported(self) -> Self {
        match self {
            Precision::Bf16 | Precision::Bf16x3 if crate::amx::available() => self,
            _ => Precision::F32,
        }
    }
}
