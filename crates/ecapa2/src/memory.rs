//! How much memory one call may use for activations, and which execution fits in it.
//!
//! An utterance runs whole (fastest) when its activations fit the limit; otherwise over time
//! tiles ([`crate::network::tiled`]), with checkpoints in memory or, past the limit, spilled to
//! a temporary file. Only if even the tiled path's working set exceeds the limit is the call
//! refused, before any work, rather than killed by the OOM killer half-way through.

use crate::network::tiled::TilePlan;
use crate::network::Network;
use std::path::PathBuf;

/// Environment variable that sets the default memory limit (`2G`, `1500M`, bytes).
pub const MEMORY_ENV: &str = "ECAPA2_MAX_MEMORY";

/// Without an explicit limit, activations below this never read the available memory.
const CHECK_BYTES: usize = 1 << 30;

/// Share of the available memory the default limit allows.
const AVAILABLE_SHARE: f64 = 0.8;

/// Core frames per tile in the tiled path, largest first: 5 s, where the halo (at most 15
/// frames a side) adds a few percent, down to what still keeps it under half.
const TILE_CHOICES: [usize; 4] = [512, 256, 128, 64];

/// How one utterance is executed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Execution {
    /// Whole when it fits the memory limit, otherwise tiled (the default).
    #[default]
    Auto,
    /// Always whole-utterance.
    Whole,
    /// Always tiled, as given (tests and benchmarks).
    Tiled(TilePlan),
}

/// The execution [`Execution::Auto`] picks for `frames` frames under `limit` bytes (`None`:
/// 80 % of available memory), or the reason none fits.
pub fn plan(
    network: &Network,
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

/// Parses a size such as `2G`, `1.5GiB`, `1500M`, `512MB` or plain bytes (binary units).
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

/// `MemAvailable` from /proc/meminfo (Linux); `None` elsewhere, where only an explicit limit
/// applies.
pub fn available_memory() -> Option<usize> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
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
