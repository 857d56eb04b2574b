//! Long inputs in bounded memory: the whole network, exactly, over time tiles.
//!
//! Every LFE block's SE squeezes over the whole utterance, so no part of block k+1 can run
//! before block k has seen every frame. The tiled path therefore makes one pass per block:
//! pass k streams time tiles of a *source* (the spectrogram, or a checkpointed block input),
//! recomputes the blocks between the source and k with their already-known gates, and sums
//! block k's pre-SE map over each tile's core frames; the sums give block k's gate.
//!
//! A tile carries a halo of 3 frames per block it runs (three 3×3 convolutions), clipped at the
//! utterance's ends, where the convolutions' own zero padding is then exactly the model's. Each
//! convolution spoils one more halo frame at an unclipped edge; the core frames never are, and
//! the spoiled frames are cropped after every block.
//!
//! Block inputs at most half as wide as the widest (from the second stage on) are checkpointed
//! during the pass that computes them, so each later block runs twice; first-stage blocks are
//! recomputed from the spectrogram instead, because their checkpoints would be the largest.
//! A checkpoint lives in memory or, past the memory limit, in a temporary file.

use super::checkpoint::Checkpoint;
use super::{Cpu, Planes, Rows};
use crate::backend::{Axis, Backend, TilePlan};
use crate::error::{Error, Result};
use crate::labels::LabelSet;
use crate::network::{Network, Shape};
use std::io;
use std::ops::Range;

/// Frames of halo each LFE block needs on each side (three 3×3 convolutions).
const HALO_PER_BLOCK: usize = 3;

/// Where a pass reads block inputs from.
enum Source {
    Spectrogram(Planes),
    Checkpoint(Checkpoint),
}

impl Source {
    fn read(&self, range: Range<usize>) -> io::Result<Planes> {
        match self {
            Source::Checkpoint(cp) => cp.read(range),
            Source::Spectrogram(x) => Ok(x.crop(range)),
        }
    }
}

/// Shapes of the LFE blocks' inputs.
struct BlockShape {
    c: usize,
    h: usize,
}

/// Output rows of a block with frequency stride `s` for `h` input rows.
fn out_height(h: usize, s: usize) -> usize {
    (h - 1) / s + 1
}

impl Shape {
    fn block_inputs(&self, bins: usize) -> Vec<BlockShape> {
        let mut h = bins;
        self.blocks
            .iter()
            .map(|&(cin, _, s)| {
                let shape = BlockShape { c: cin, h };
                h = out_height(h, s);
                shape
            })
            .collect()
    }

    /// Whether the tiled path checkpoints the input of each block.
    fn checkpointed(&self, bins: usize) -> Vec<bool> {
        let shapes = self.block_inputs(bins);
        let widest = shapes.iter().map(|s| s.c * s.h).max().unwrap_or(0);
        shapes
            .iter()
            .enumerate()
            .map(|(k, s)| k > 0 && 2 * s.c * s.h <= widest)
            .collect()
    }

    /// Peak bytes of activations for one utterance of `frames` frames run whole: the largest
    /// block holds its input and two full-size working maps.
    pub(crate) fn activation_bytes(&self, bins: usize, frames: usize) -> usize {
        let mut h = bins;
        let mut peak = 0usize;
        for &(cin, cout, s) in &self.blocks {
            let ho = out_height(h, s);
            let planes = cin * h + 2 * cout * ho;
            peak = peak.max(planes.saturating_mul(frames).saturating_mul(4));
            h = ho;
        }
        peak
    }

    /// Peak bytes of the tiled path's checkpoints (a source and the one being written).
    pub(crate) fn tiled_checkpoint_bytes(&self, bins: usize, frames: usize) -> usize {
        let shapes = self.block_inputs(bins);
        let cps = self.checkpointed(bins);
        let sizes: Vec<usize> = shapes
            .iter()
            .zip(&cps)
            .filter(|(_, &c)| c)
            .map(|(s, _)| Checkpoint::bytes(s.c, s.h, frames))
            .collect();
        sizes
            .windows(2)
            .map(|w| w[0] + w[1])
            .chain(sizes.first().copied())
            .max()
            .unwrap_or(0)
    }

    /// Peak bytes of the tiled path other than checkpoints: one tile's working maps at the
    /// widest block, the spectrogram, and the GFE's full-length maps (it holds about three
    /// of its widest at once).
    pub(crate) fn tiled_working_bytes(
        &self,
        bins: usize,
        frames: usize,
        tile_frames: usize,
    ) -> usize {
        let widest = self
            .block_inputs(bins)
            .iter()
            .map(|s| s.c * s.h)
            .max()
            .unwrap_or(0)
            .max(self.blocks.first().map_or(0, |b| b.1 * bins));
        let halo = HALO_PER_BLOCK * self.blocks.len().min(5);
        let tile = 4 * widest * (tile_frames + 2 * halo);
        let gfe = 3 * self.dense.max(self.tdnn);
        (tile + (gfe + bins) * frames) * std::mem::size_of::<f32>()
    }
}

/// [`Network::forward`] for one utterance over time tiles with bounded memory; the same result
/// up to summation order. Each block runs the network's own schedule (`pre_se`, then the SE
/// gate with the block's residual); only the squeeze is split over tiles. Fails only if a
/// spill file cannot be written or read.
pub(crate) fn forward_tiled(
    cpu: &Cpu,
    net: &Network<Cpu>,
    spec: Vec<f32>,
    bins: usize,
    frames: usize,
    labels: LabelSet,
    plan: &TilePlan,
) -> Result<Vec<f32>> {
    if labels.deepest().is_none() {
        return Ok(Vec::new());
    }
    let spill = |source: io::Error| Error::Spill {
        dir: plan.spill.clone().unwrap_or_default(),
        source,
    };
    // This path exists to stay within a memory limit: no buffers kept from earlier calls.
    cpu.release_buffers();
    let tile = plan.tile_frames.max(1);
    let tiles: Vec<Range<usize>> = (0..frames)
        .step_by(tile)
        .map(|t0| t0..(t0 + tile).min(frames))
        .collect();
    let shape = net.shape();
    let shapes = shape.block_inputs(bins);
    let checkpointed = shape.checkpointed(bins);
    let spill_dir = plan.spill.as_deref();

    let mut source = Source::Spectrogram(Planes {
        data: spec,
        c: 1,
        h: bins,
        w: frames,
    });
    let mut first = 0; // the block the source feeds
    let mut gates: Vec<Vec<f32>> = Vec::with_capacity(net.blocks.len());

    // Reads a tile with its halo and runs blocks first..k with their gates; returns the
    // map and where the tile's core sits in it.
    let run_to = |source: &Source,
                  first: usize,
                  k: usize,
                  gates: &[Vec<f32>],
                  core: &Range<usize>|
     -> Result<(Planes, Range<usize>)> {
        let halo = HALO_PER_BLOCK * (k - first + 1);
        let a = core.start.saturating_sub(halo);
        let b = (core.end + halo).min(frames);
        let mut x = source.read(a..b).map_err(spill)?;
        let mut start = a; // the frame x's first column holds
        for (block, gate) in net.blocks[first..k].iter().zip(&gates[first..k]) {
            let input = Rows::one(x);
            let mut p = block.pre_se(cpu, &input)?.into_one();
            block.with_residual(cpu, &input, |r| {
                cpu.gate(&mut p, gate, block.se.axis(), r.map(|r| &r.0[0]));
                Ok(())
            })?;
            cpu.release(input);
            // Drop the frames the block spoiled at edges that are not the utterance's ends:
            // left in, their errors would grow block after block and leak into correct
            // frames through the Winograd transforms' rounding.
            let left = if start > 0 { HALO_PER_BLOCK } else { 0 };
            let right = if start + p.w < frames {
                HALO_PER_BLOCK
            } else {
                0
            };
            x = p.crop(left..p.w - right);
            start += left;
        }
        Ok((x, core.start - start..core.end - start))
    };

    for (k, block) in net.blocks.iter().enumerate() {
        let _span = tracing::debug_span!("tiled pass", block = %block.name).entered();
        let mut saved = if checkpointed[k] && k > first {
            Some(Checkpoint::new(shapes[k].c, shapes[k].h, frames, spill_dir).map_err(spill)?)
        } else {
            None
        };
        let c = block.cout;
        let h = block.out_height(shapes[k].h);
        let mut sums = vec![
            0.0f64;
            match block.se.axis() {
                Axis::Channel => c,
                Axis::Row => h,
            }
        ];
        for core in &tiles {
            let (x, cols) = run_to(&source, first, k, &gates, core)?;
            if let Some(cp) = &mut saved {
                cp.write(core.start, &x, cols.clone()).map_err(spill)?;
            }
            let p = block.pre_se(cpu, &Rows::one(x))?;
            let tile_sums = cpu.squeeze_sums(&p.0[0], block.se.axis(), cols);
            cpu.release(p);
            sums.iter_mut().zip(tile_sums).for_each(|(s, t)| *s += t);
        }
        gates.push(block.se.gate(&sums, (c, h, frames)));
        if let Some(cp) = saved {
            source = Source::Checkpoint(cp);
            first = k;
        }
    }

    // The last pass runs the remaining blocks and tdnn_1 tile by tile.
    let n = net.blocks.len();
    let cout = net.tdnn_1.cout;
    let mut pre = vec![0.0f32; cout * frames];
    for core in &tiles {
        let (x, cols) = run_to(&source, first, n, &gates, core)?;
        let y = net
            .tdnn_1
            .conv(cpu, &Rows::one(x.crop(cols.clone())))?
            .into_one()
            .data;
        for (dst, src) in pre.chunks_exact_mut(frames).zip(y.chunks_exact(cols.len())) {
            dst[core.clone()].copy_from_slice(src);
        }
    }
    drop(source);
    let parts = net.gfe(cpu, cpu.upload(vec![pre], cout, 1)?, labels)?;
    Ok(cpu.download(parts)?.into_iter().next().unwrap_or_default())
}
