//! How much memory one call may use for activations, and which execution fits in it.
//!
//! An utterance runs whole (fastest) when its activations fit the limit; otherwise over time
//! tiles ([`super::tiled`]), with checkpoints in memory or, past the limit, spilled to
//! a temporary file. Only if even the tiled path's working set exceeds the limit is the call
//! refused, before any work, rather than killed by the OOM killer half-way through.

use crate::backend::{Execution, TilePlan};
use crate::network::Shape;
use std::path::PathBuf;

/// Without an explicit limit, activations below this never read the available memory.
const CHECK_BYTES: usize = 1 << 30;

/// Share of the available memory the default limit allows.
const AVAILABLE_SHARE: f64 = 0.8;

/// Core frames per tile in the tiled path, largest first: 5 s, where the halo (at most 15
/// frames a side) adds a few percent, down to what still keeps it under half.
const TILE_CHOICES: [usize; 4] = [512, 256, 128, 64];

/// The execution [`Execution::Auto`] picks for `frames` frames under `limit` bytes (`None`:
/// 80 % of available memory), or the reason none fits.
pub(crate) fn plan(
    network: &Shape,
    bins: usize,
    frames: usize,
    limit: Option<usize>,
    spill_dir: Option<&PathBuf>,
) -> Result<Execution, Refusal> {
    let whole = network.activation_bytes(bins, frames);
    let limit = match limit {
        Some(l) => l,
        None if whole <= CHECK_BYTES => return Ok(Execution::Whole),
        None => match available_memory() {
            Some(a) => (a as f64 * AVAILABLE_SHARE) as usize,
            None => return Ok(Execution::Whole),
        },
    };
    if whole <= limit {
        return Ok(Execution::Whole);
    }
    // Largest tile first (least halo overhead); in memory before spilling.
    let checkpoints = network.tiled_checkpoint_bytes(bins, frames);
    let mut least = usize::MAX;
    let mut choice = None;
    for tile_frames in TILE_CHOICES {
        let working = network.tiled_working_bytes(bins, frames, tile_frames);
        least = least.min(working);
        if working + checkpoints <= limit {
            choice = Some((tile_frames, None));
        } else if working <= limit {
            choice = Some((
                tile_frames,
                Some(spill_dir.cloned().unwrap_or_else(std::env::temp_dir)),
            ));
        }
        if choice.is_some() {
            break;
        }
    }
    let Some((tile_frames, spill)) = choice else {
        return Err(Refusal {
            needed: least,
            limit,
        });
    };
    tracing::info!(
        whole_gb = gb(whole),
        limit_gb = gb(limit),
        checkpoints_gb = gb(checkpoints),
        tile_frames,
        spill = ?spill,
        "activations exceed the memory limit: running exactly over time tiles (slower)"
    );
    Ok(Execution::Tiled(TilePlan { tile_frames, spill }))
}

/// Why [`plan`] found nothing that fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// Least bytes any execution needs.
    pub needed: usize,
    /// The limit in force.
    pub limit: usize,
}

/// Bytes as GB, for messages.
pub(crate) fn gb(bytes: usize) -> f64 {
    bytes as f64 / 1e9
}

/// `MemAvailable` from /proc/meminfo (Linux); `None` elsewhere, where only an explicit limit
/// applies.
pub(crate) fn available_memory() -> Option<usize> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::cpu::Cpu;
    use crate::network::Network;

    /// The tiny fixture's widths (8/12 over 256 bins), read from the committed archive.
    fn tiny_shape() -> Shape {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/tiny/model.pt"
        );
        let archive = ecapa2_archive::TorchScript::open(std::path::Path::new(path)).unwrap();
        let bound = crate::binding::bind(&archive).unwrap();
        let cpu = Cpu::new(1, crate::Precision::F32).unwrap();
        Network::new(&cpu, &bound.network).unwrap().shape()
    }

    #[test]
    fn activation_estimate_matches_closed_form() {
        // The widest block is conv_2 (input 8×256 + two 8×256 maps).
        assert_eq!(
            tiny_shape().activation_bytes(256, 100),
            (8 * 256 + 2 * 8 * 256) * 100 * 4
        );
    }

    #[test]
    fn the_limit_picks_the_execution() {
        let net = tiny_shape();
        let (bins, frames) = (256, 100_000); // about 17 minutes; nothing is allocated here
        let whole = net.activation_bytes(bins, frames);
        let checkpoints = net.tiled_checkpoint_bytes(bins, frames);
        let working = net.tiled_working_bytes(bins, frames, 512);
        assert!(working + checkpoints < whole, "tiling must save memory");
        let dir = std::env::temp_dir().join("ecapa2-spill-test");

        let at = |limit: usize| plan(&net, bins, frames, Some(limit), Some(&dir));
        assert_eq!(at(whole), Ok(Execution::Whole));
        match at(whole - 1) {
            Ok(Execution::Tiled(p)) => assert_eq!((p.tile_frames, p.spill), (512, None)),
            other => panic!("{other:?}"),
        }
        match at(working + checkpoints - 1) {
            Ok(Execution::Tiled(p)) => {
                assert_eq!((p.tile_frames, p.spill), (512, Some(dir.clone())))
            }
            other => panic!("{other:?}"),
        }
        // Below the 512-frame tile's working set, smaller tiles are tried before refusing.
        match at(working - 1) {
            Ok(Execution::Tiled(p)) => assert!(p.tile_frames < 512 && p.spill.is_some()),
            other => panic!("{other:?}"),
        }
        let least = net.tiled_working_bytes(bins, frames, 64);
        assert_eq!(
            at(least - 1),
            Err(Refusal {
                needed: least,
                limit: least - 1
            })
        );
    }

    #[test]
    fn short_inputs_run_whole_without_a_limit() {
        assert_eq!(
            plan(&tiny_shape(), 256, 1000, None, None),
            Ok(Execution::Whole)
        );
    }
}
