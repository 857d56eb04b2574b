//! The CUDA engine: the [`Cuda`] backend with the network prepared on it, and the scheduling of
//! a call on the device: rows grouped by length into sub-batches that fit the memory budget,
//! one forward at a time on the device's stream.

use super::backend::Cuda;
use super::driver::CudaGpu;
use super::gpu::{Gpu, Operands};
use super::graphs::{Graphs, Key};
use super::self_check;
use crate::backend::cpu::CpuEngine;
use crate::backend::{Backend, Engine, Execution, SpecRow};
use crate::error::{Error, Result};
use crate::labels::LabelSet;
use crate::network::weights::NetworkWeights;
use crate::network::{Network, Shape};
use crate::options::Options;
use crate::{Device, Precision};
use std::sync::{Arc, Mutex};

/// Rows per sub-batch at most (beyond this a GPU is saturated; larger batches only add
/// padding and memory).
const MAX_ROWS: usize = 256;
/// Share of the device's free memory (after the weights) the default budget allows.
const FREE_SHARE: f64 = 0.8;

/// The CUDA engine over device `G`.
pub(crate) struct CudaEngine<G: Gpu> {
    device: Device,
    backend: Cuda<G>,
    network: Network<Cuda<G>>,
    shape: Shape,
    bins: usize,
    /// Activation bytes per padded frame of one row.
    frame_bytes: usize,
    /// Bytes of activations one sub-batch may hold.
    budget: usize,
    /// One forward at a time (the backend issues everything on one stream), with the CUDA
    /// graphs captured so far.
    running: Mutex<Graphs<G>>,
}

/// The engine `options` ask for on CUDA device `options.device`: libraries loaded, kernels
/// compiled, weights uploaded, then the self-check against the CPU unless skipped.
pub(crate) fn engine(
    weights: &NetworkWeights,
    bins: usize,
    options: &Options,
) -> Result<Box<dyn Engine>> {
    let Device::Cuda(ordinal) = options.device else {
        unreachable!("cuda::engine is only called for Device::Cuda")
    };
    let precision = options.resolved_precision();
    let storage = storage_for(options.device, precision)?;
    let gpu = CudaGpu::new(ordinal, storage, &options.library_dirs)?;
    let engine = CudaEngine::new(
        options.device,
        Arc::new(gpu),
        weights,
        bins,
        storage,
        options.max_memory,
    )?;
    if options.skip_self_check {
        tracing::warn!(device = %options.device, "self-check skipped");
    } else {
        let cpu = CpuEngine::new(
            weights,
            bins,
            &Options::new().threads(options.resolved_threads()),
        )?;
        self_check::check(&engine, &cpu, bins)?;
    }
    Ok(Box::new(engine))
}

/// The storage type for a precision on CUDA: f16 or f32 (bf16 modes are CPU-only).
fn storage_for(device: Device, precision: Precision) -> Result<Operands> {
    match precision {
        Precision::F16 => Ok(Operands::F16),
        Precision::F32 => Ok(Operands::F32),
        other => Err(Error::Device {
            device: device.to_string(),
            message: format!("precision {other} is not available on CUDA (use f16 or f32)"),
        }),
    }
}

impl<G: Gpu> CudaEngine<G> {
    /// Prepares `weights` on `gpu` with activations stored as `storage`.
    pub fn new(
        device: Device,
        gpu: Arc<G>,
        weights: &NetworkWeights,
        bins: usize,
        storage: Operands,
        max_memory: Option<usize>,
    ) -> Result<Self> {
        let backend = Cuda::new(gpu, storage);
        let network = Network::new(&backend, weights)?;
        let shape = network.shape();
        let (free, total) = backend.gpu().memory()?;
        // The convolutions' chunk buffers come off the top; rows share the rest.
        let chunks = chunk_bytes(&shape, storage.size(), backend.gpu().chunk_pixels());
        let budget = max_memory
            .unwrap_or((free as f64 * FREE_SHARE) as usize)
            .saturating_sub(chunks);
        tracing::debug!(
            device = %backend.gpu().describe(),
            free_gb = free as f64 / 1e9,
            total_gb = total as f64 / 1e9,
            weights_mb = backend.pool().usage().in_use as f64 / 1e6,
            budget_gb = budget as f64 / 1e9,
            "model bound on CUDA"
        );
        Ok(Self {
            device,
            backend,
            network,
            // The pool's size classes add up to 1/8.
            frame_bytes: frame_bytes(&shape, bins, storage.size()) * 9 / 8,
            shape,
            bins,
            budget,
            running: Mutex::new(Graphs::new(budget / 8)),
        })
    }

    /// The refusal of a row of `frames` frames (`seconds` long) that cannot fit the budget.
    fn too_long(&self, frames: usize, seconds: f64) -> Error {
        Error::TooLong {
            seconds,
            needed_gb: frames.saturating_mul(self.frame_bytes) as f64 / 1e9,
            limit_gb: self.budget as f64 / 1e9,
        }
    }

    /// The backend's device memory (tests measure the plan against it).
    #[cfg(test)]
    pub fn pool(&self) -> &super::memory::Pool<G> {
        self.backend.pool()
    }

    /// CUDA graphs kept.
    #[cfg(test)]
    pub fn graphs(&self) -> usize {
        self.running.lock().unwrap().len()
    }

    /// The device.
    #[cfg(test)]
    pub fn gpu(&self) -> &G {
        self.backend.gpu()
    }
}

/// Peak activation bytes per frame of one row: the largest of, per LFE block, its input and
/// three maps of its output (two convolutions' maps and the residual; the im2col matrix and fp32
/// product are per chunk, [`chunk_bytes`]); and in the GFE, five maps of the widest layer, a
/// Res2Net im2col and two fp32 GEMM outputs.
pub(crate) fn frame_bytes(shape: &Shape, bins: usize, storage: usize) -> usize {
    let mut h = bins;
    let mut peak = 0;
    for &(cin, cout, stride) in &shape.blocks {
        let ho = (h - 1) / stride + 1;
        peak = peak.max((cin * h + 3 * cout * ho) * storage);
        h = ho;
    }
    let flat = shape.blocks.last().map_or(bins, |b| b.1 * h);
    let wide = shape.tdnn.max(shape.dense).max(flat);
    peak.max((5 * wide + 3 * shape.tdnn) * storage + 2 * wide * 4)
}

/// Bytes of a 3×3 convolution's per-chunk buffers (im2col matrix, fp32 product), at most.
pub(crate) fn chunk_bytes(shape: &Shape, storage: usize, chunk: usize) -> usize {
    let widest = shape.blocks.iter().map(|b| b.0.max(b.1)).max().unwrap_or(0);
    chunk * widest * (9 * storage + 4)
}

/// Groups rows (by index) into sub-batches: sorted by length so that rows of similar length
/// share padding, each group's padded activations within `budget`, at most [`MAX_ROWS`] rows.
/// A row that does not fit alone is `Err(row)`.
pub(crate) fn group_rows(
    frames: &[usize],
    frame_bytes: usize,
    budget: usize,
) -> std::result::Result<Vec<Vec<usize>>, usize> {
    let mut order: Vec<usize> = (0..frames.len()).collect();
    order.sort_by_key(|&i| frames[i]);
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    for i in order {
        // Sorted ascending: the padded length of the group with row i is row i's own.
        let bytes = |n: usize| n.saturating_mul(frames[i]).saturating_mul(frame_bytes);
        if bytes(1) > budget {
            return Err(i);
        }
        if !current.is_empty() && (current.len() == MAX_ROWS || bytes(current.len() + 1) > budget) {
            groups.push(std::mem::take(&mut current));
        }
        current.push(i);
    }
    if !current.is_empty() {
        groups.push(current);
    }
    Ok(groups)
}

impl<G: Gpu> Engine for CudaEngine<G> {
    fn device(&self) -> Device {
        self.device
    }

    fn precision(&self) -> Precision {
        self.backend.precision()
    }

    fn shape(&self) -> &Shape {
        &self.shape
    }

    fn name(&self) -> String {
        format!(
            "{} ({}, cuBLAS GEMMs + NVRTC kernels)",
            self.backend.gpu().describe(),
            self.backend.precision()
        )
    }

    fn threads(&self) -> usize {
        1
    }

    fn install(&self, f: &mut (dyn FnMut() + Send)) {
        f()
    }

    fn plan(&self, frames: usize, seconds: f64) -> Result<Execution> {
        if frames.saturating_mul(self.frame_bytes) > self.budget {
            return Err(self.too_long(frames, seconds));
        }
        Ok(Execution::Whole)
    }

    fn run(&self, rows: Vec<SpecRow>, labels: LabelSet) -> Result<Vec<Vec<f32>>> {
        let frames: Vec<usize> = rows.iter().map(|r| r.1).collect();
        let groups =
            group_rows(&frames, self.frame_bytes, self.budget).map_err(|row| Error::InBatch {
                row,
                source: Box::new(self.too_long(frames[row], frames[row] as f64 / 100.0)),
            })?;
        let mut specs: Vec<Option<Vec<f32>>> = rows.into_iter().map(|r| Some(r.0)).collect();
        let mut out = vec![Vec::new(); specs.len()];
        // A panic elsewhere cannot leave the device state half-written: take the lock anyway.
        let mut graphs = self.running.lock().unwrap_or_else(|e| e.into_inner());
        for group in groups {
            let longest = group.iter().map(|&i| frames[i]).max().unwrap_or(0);
            let batch: Vec<Vec<f32>> = group
                .iter()
                .map(|&i| specs[i].take().unwrap_or_default())
                .collect();
            let graphed = match Key::new(batch.len(), longest, labels) {
                Some(key) => graphs.run(&self.network, &self.backend, key, &batch, self.bins)?,
                None => None,
            };
            let got = match graphed {
                Some(got) => got,
                None => self.network.run(&self.backend, batch, self.bins, labels)?,
            };
            for (i, row) in group.into_iter().zip(got) {
                out[i] = row;
            }
        }
        // Cached buffers serve the next batch; beyond a quarter of the budget they go back
        // to the device (other processes share it).
        let pool = self.backend.pool();
        if pool.usage().cached > self.budget / 4 {
            pool.trim();
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The full-size ECAPA2 (spec section 3: 20 LFE blocks, 164 then 192 channels, four
    /// frequency strides; 256 bins).
    fn full_size() -> Shape {
        let (c1, c2) = (164, 192);
        let mut blocks = vec![(1, c1, 1)];
        for i in 2..=20 {
            let cin = if i <= 10 { c1 } else { c2 };
            let cout = if i < 10 { c1 } else { c2 };
            let stride = if [4, 8, 12, 16].contains(&i) { 2 } else { 1 };
            blocks.push((cin, cout, stride));
        }
        Shape {
            blocks,
            tdnn: 1024,
            dense: 1536,
            embedding: 192,
            min_frames: 4,
        }
    }

    #[test]
    fn full_size_plan_at_64_by_3_s_is_below_pytorch_fp16_peak() {
        // 64 × 3 s = 64 rows of 301 frames, f16 storage: the plan's activations plus the
        // convolutions' chunk buffers. PyTorch fp16 autocast measured 9.2 GiB at this batch on
        // an H200 (issue 20); this is our plan (an upper bound), not a device measurement.
        let s = full_size();
        let per_frame = frame_bytes(&s, 256, 2) * 9 / 8;
        let planned = 64 * 301 * per_frame + chunk_bytes(&s, 2, 1 << 15);
        let gib = planned as f64 / (1u64 << 30) as f64;
        eprintln!("full size, 64 × 3 s, f16: plan {gib:.2} GiB ({per_frame} B per frame)");
        assert!(gib < 9.2, "{gib:.2} GiB");
    }

    #[test]
    fn rows_group_by_length_within_the_budget() {
        let frames = [300, 100, 1000, 120, 310];
        // 1 byte per frame, budget 700: sorted 100,120,300,310,1000.
        let g = group_rows(&frames, 1, 700).unwrap_err();
        assert_eq!(g, 2, "the 1000-frame row cannot fit alone");
        let g = group_rows(&frames, 1, 1000).unwrap();
        assert_eq!(g, vec![vec![1, 3, 0], vec![4], vec![2]]);
        // Every row once, each group within budget.
        let many: Vec<usize> = (0..1000).map(|i| 50 + (i * 37) % 400).collect();
        let g = group_rows(&many, 3, 60_000).unwrap();
        let mut seen: Vec<usize> = g.iter().flatten().copied().collect();
        seen.sort();
        assert_eq!(seen, (0..1000).collect::<Vec<_>>());
        for grp in &g {
            let longest = grp.iter().map(|&i| many[i]).max().unwrap();
            assert!(grp.len() * longest * 3 <= 60_000 && grp.len() <= MAX_ROWS);
        }
    }
}
