//! The CPU engine: the [`Cpu`] backend with the network prepared on it, and every CPU fact of
//! scheduling a call: the memory budget and planner (whole or over time tiles, in memory or
//! spilled), how a batch's rows are grouped, the thread pool, the kernel report.

use super::budget::Budget;
use super::plan::{self, gb};
use super::{engine_precision, tiled, Cpu};
use crate::backend::{Backend, Engine, Execution, SpecRow};
use crate::error::{Error, Result};
use crate::labels::LabelSet;
use crate::network::weights::NetworkWeights;
use crate::network::{Network, Shape};
use crate::options::Options;
use crate::{Device, Precision};
use std::path::PathBuf;

/// Rows of a batch run one at a time, each as a batch of one through the network (each row
/// parallel over the pool): running several small rows layer by layer measured slower (8 × 3 s
/// on the small fixture: 0.91–0.94 s vs 0.71–0.76 s, RSS 35 → 129 MB), as the rows' maps
/// outgrow the buffer pool and the caches.
/// Share of the available memory the default budget allows.
const AVAILABLE_SHARE: f64 = 0.8;

/// The CPU engine.
pub(crate) struct CpuEngine {
    backend: Cpu,
    network: Network<Cpu>,
    shape: Shape,
    bins: usize,
    precision: Precision,
    budget: Budget,
    spill_dir: Option<PathBuf>,
    execution: Execution,
}

impl CpuEngine {
    /// Prepares `weights` for spectrograms of `bins` bins on a CPU backend made from `options`.
    pub fn new(weights: &NetworkWeights, bins: usize, options: &Options) -> Result<Self> {
        let backend = Cpu::new(options.resolved_threads(), options.resolved_precision())?;
        // Weight preparation (Winograd packing) runs on the backend's own pool.
        let network = backend.install(|| Network::new(&backend, weights))?;
        let shape = network.shape();
        let precision = conv_precision(&network);
        if precision != backend.precision() {
            // The backend already warned when the CPU lacks the tiles; here the CPU has them but
            // no layer is wide enough to use them (the tiny test archives).
            tracing::warn!(
                "precision {} asked for, {precision} used: no 3×3 convolution of this model is wide enough for the Winograd products",
                backend.precision()
            );
        }
        // The budget is the model's: an explicit limit, or a share of what is available now.
        let limit = options
            .max_memory
            .or_else(|| plan::available_memory().map(|a| (a as f64 * AVAILABLE_SHARE) as usize));
        tracing::debug!(threads = backend.threads(), %precision, budget_gb = limit.map(gb), "model bound");
        Ok(Self {
            backend,
            network,
            shape,
            bins,
            precision,
            budget: Budget::new(limit),
            spill_dir: options.spill_dir.clone(),
            execution: options.execution.clone(),
        })
    }

    /// What a row runs as: the forced execution, or the planner's choice.
    fn execution_for(&self, frames: usize) -> Result<Execution> {
        if self.execution != Execution::Auto {
            return Ok(self.execution.clone());
        }
        let seconds = (frames as f64) / 100.0;
        self.plan(frames, seconds)
    }

    /// Bytes a row's execution holds.
    fn bytes(&self, frames: usize, execution: &Execution) -> usize {
        match execution {
            Execution::Tiled(p) => {
                let working = self
                    .shape
                    .tiled_working_bytes(self.bins, frames, p.tile_frames);
                match p.spill {
                    Some(_) => working,
                    None => working + self.shape.tiled_checkpoint_bytes(self.bins, frames),
                }
            }
            _ => self.shape.activation_bytes(self.bins, frames),
        }
    }
}

fn in_batch(row: usize, e: Error) -> Error {
    Error::InBatch {
        row,
        source: Box::new(e),
    }
}

impl Engine for CpuEngine {
    fn device(&self) -> Device {
        Device::Cpu
    }

    fn precision(&self) -> Precision {
        self.precision
    }

    fn shape(&self) -> &Shape {
        &self.shape
    }

    fn name(&self) -> String {
        let paths: std::collections::BTreeSet<String> = self
            .network
            .blocks
            .iter()
            .flat_map(|b| b.convs.iter().map(|c| c.algorithm().name()))
            .collect();
        format!(
            "cpu ({} threads; {})",
            self.backend.threads(),
            paths.into_iter().collect::<Vec<_>>().join(", ")
        )
    }

    fn threads(&self) -> usize {
        self.backend.threads()
    }

    fn install(&self, f: &mut (dyn FnMut() + Send)) {
        self.backend.install(f)
    }

    fn plan(&self, frames: usize, seconds: f64) -> Result<Execution> {
        plan::plan(
            &self.shape,
            self.bins,
            frames,
            self.budget.limit(),
            self.spill_dir.as_ref(),
        )
        .map_err(|r| Error::TooLong {
            seconds,
            needed_gb: gb(r.needed),
            limit_gb: gb(r.limit),
        })
    }

    fn run(&self, rows: Vec<SpecRow>, labels: LabelSet) -> Result<Vec<Vec<f32>>> {
        // Every row is planned before any work: one that can never fit refuses the batch.
        let plans = rows
            .iter()
            .enumerate()
            .map(|(i, (_, frames))| self.execution_for(*frames).map_err(|e| in_batch(i, e)))
            .collect::<Result<Vec<_>>>()?;
        let mut out = Vec::with_capacity(rows.len());
        for (row, ((spec, frames), execution)) in rows.into_iter().zip(plans).enumerate() {
            // Reserved on this (the caller's) thread, released when the row is done.
            let _held = self.budget.reserve(self.bytes(frames, &execution));
            let got = self.backend.install(|| match &execution {
                Execution::Tiled(tiles) => tiled::forward_tiled(
                    &self.backend,
                    &self.network,
                    spec,
                    self.bins,
                    frames,
                    labels,
                    tiles,
                ),
                _ => self
                    .network
                    .run(&self.backend, vec![spec], self.bins, labels)
                    .map(|rows| rows.into_iter().flatten().collect()),
            });
            out.push(got.map_err(|e| in_batch(row, e))?);
        }
        Ok(out)
    }
}

/// The precision the 3×3 convolutions actually compute in: reduced only where a layer runs
/// Winograd on the tiles the backend granted.
fn conv_precision(network: &Network<Cpu>) -> Precision {
    network
        .blocks
        .iter()
        .flat_map(|b| b.convs.iter().map(|c| engine_precision(c.precision())))
        .find(|&p| p != Precision::F32)
        .unwrap_or(Precision::F32)
}
