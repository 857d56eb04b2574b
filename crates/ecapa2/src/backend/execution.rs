//! How one utterance is scheduled: a request in [`crate::Options`] (tests and benchmarks), and
//! what an engine's planner picks.

use std::path::PathBuf;

/// How one utterance is executed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Execution {
    /// Whole when the activations fit the memory budget, otherwise tiled (the default).
    #[default]
    Auto,
    /// Always whole-utterance.
    Whole,
    /// Always over time tiles, as given (tests and benchmarks; CPU only).
    Tiled(TilePlan),
}

/// How the tiled path runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TilePlan {
    /// Core frames per tile (each tile also reads its halo).
    pub tile_frames: usize,
    /// Where checkpoints go: `None` keeps them in memory, `Some(dir)` spills them to an
    /// unnamed temporary file in `dir`.
    pub spill: Option<PathBuf>,
}
