//! The kernels of `kernels.cu` and their parameter structs, mirrored field for field
//! (`#[repr(C)]`: pointers, then 64-bit, then 32-bit fields, as the source lays them out).
//! The emulator test runs every kernel through these structs, so a mismatch fails on the CPU.

/// A device address.
pub(crate) type Ptr = u64;

/// The null device address (an absent optional operand).
pub(crate) const NULL: Ptr = 0;

/// Every kernel of `kernels.cu`, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kernel {
    Im2col3x3,
    Epilogue,
    Flatten,
    Subsample,
    SeSqueeze,
    Dense,
    SeGate,
    Res2Im2col,
    Moments,
    Attentive,
    Affine,
}

impl Kernel {
    /// All kernels, for loading a module.
    pub const ALL: [Kernel; 11] = [
        Kernel::Im2col3x3,
        Kernel::Epilogue,
        Kernel::Flatten,
        Kernel::Subsample,
        Kernel::SeSqueeze,
        Kernel::Dense,
        Kernel::SeGate,
        Kernel::Res2Im2col,
        Kernel::Moments,
        Kernel::Attentive,
        Kernel::Affine,
    ];

    /// The kernel's symbol (`extern "C"`).
    pub fn symbol(self) -> &'static str {
        match self {
            Kernel::Im2col3x3 => "im2col3x3",
            Kernel::Epilogue => "epilogue",
            Kernel::Flatten => "flatten",
            Kernel::Subsample => "subsample",
            Kernel::SeSqueeze => "se_squeeze",
            Kernel::Dense => "dense",
            Kernel::SeGate => "se_gate",
            Kernel::Res2Im2col => "res2_im2col",
            Kernel::Moments => "moments",
            Kernel::Attentive => "attentive",
            Kernel::Affine => "affine",
        }
    }
}

/// A kernel's parameter struct: which kernel it launches and over how many threads.
pub(crate) trait Params: Sized {
    /// The kernel these parameters are for.
    const KERNEL: Kernel;
    /// Threads to launch (one per output element).
    fn threads(&self) -> i64;
}

macro_rules! params {
    ($(#[$doc:meta])* $name:ident => $kernel:ident { $($field:ident : $ty:ty),* $(,)? }) => {
        $(#[$doc])*
        #[repr(C)]
        #[derive(Debug, Clone, Copy)]
        pub(crate) struct $name {
            $(pub $field: $ty),*
        }
        impl Params for $name {
            const KERNEL: Kernel = Kernel::$kernel;
            fn threads(&self) -> i64 {
                self.n
            }
        }
    };
}

params!(
    /// im2col for a 3×3 convolution.
    Im2col3x3 => Im2col3x3 { x: Ptr, col: Ptr, n: i64, p0: i64, rows: i32, h: i32, t: i32, c: i32, ho: i32, stride: i32 }
);
params!(
    /// Bias, ReLU, folded BN and the padding mask after a product (or in place).
    Epilogue => Epilogue {
        y: Ptr, y_act: Ptr, out: Ptr, lens: Ptr, bias: Ptr, scale: Ptr, shift: Ptr,
        n: i64, p0: i64, h: i32, t: i32, c: i32, bias_stride: i32, relu: i32, out_ld: i32, out_offset: i32,
    }
);
params!(
    /// (C, H, T) → (C·H, T).
    Flatten => Flatten { x: Ptr, y: Ptr, n: i64, h: i32, t: i32, c: i32 }
);
params!(
    /// Every s-th frequency row.
    Subsample => Subsample { x: Ptr, y: Ptr, n: i64, h: i32, t: i32, c: i32, ho: i32, stride: i32 }
);
params!(
    /// SE squeeze (masked means).
    SeSqueeze => SeSqueeze { x: Ptr, z: Ptr, lens: Ptr, n: i64, h: i32, t: i32, c: i32, axis: i32 }
);
params!(
    /// A dense layer on per-row vectors with an optional ReLU+BN or sigmoid.
    Dense => Dense {
        x: Ptr, w: Ptr, bias: Ptr, scale: Ptr, shift: Ptr, y: Ptr,
        n: i64, inputs: i32, outputs: i32, mode: i32,
    }
);
params!(
    /// SE gate and residual, in place.
    SeGate => SeGate { x: Ptr, gate: Ptr, residual: Ptr, lens: Ptr, n: i64, h: i32, t: i32, c: i32, axis: i32 }
);
params!(
    /// im2col for one Res2Net branch (reflect padding at each row's length).
    Res2Im2col => Res2Im2col {
        x: Ptr, col: Ptr, lens: Ptr, n: i64,
        t: i32, c: i32, width: i32, group: i32, k: i32, dilation: i32, pad: i32,
    }
);
params!(
    /// Masked mean and variance (or std) over frames.
    Moments => Moments { x: Ptr, out: Ptr, lens: Ptr, n: i64, eps: f64, t: i32, c: i32, mode: i32 }
);
params!(
    /// Attentive statistics.
    Attentive => Attentive { logits: Ptr, x: Ptr, out: Ptr, lens: Ptr, n: i64, eps: f64, t: i32, c: i32 }
);
params!(
    /// Folded BN on per-row vectors.
    Affine => Affine { x: Ptr, scale: Ptr, shift: Ptr, y: Ptr, n: i64, c: i32 }
);

/// Dense-kernel modes.
pub(crate) mod dense_mode {
    /// `W x + b`.
    pub const LINEAR: i32 = 0;
    /// Then ReLU and a folded BN.
    pub const RELU_BN: i32 = 1;
    /// Then the logistic sigmoid.
    pub const SIGMOID: i32 = 2;
}
