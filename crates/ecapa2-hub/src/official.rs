//! The official ECAPA2 weights: where they live, what they must hash to, and their licence.

use crate::config::HubConfig;
use crate::error::HubError;
use crate::fetch::{fetch, fetch_cached, Expected, Fetched, Progress, DEFAULT_REVISION};

/// Hub repository of the official model.
pub const OFFICIAL_REPO: &str = "Jenthe/ECAPA2";
/// File name of the TorchScript weights.
pub const OFFICIAL_FILENAME: &str = "ecapa2.pt";
/// File name used by older revisions of the repository.
pub const OFFICIAL_LEGACY_FILENAME: &str = "model.pt";
/// Size in bytes of the official file at `main`.
pub const OFFICIAL_SIZE: u64 = 108_895_613;
/// SHA-256 of the official file at `main` (also its LFS etag, hence its blob name).
pub const OFFICIAL_SHA256: &str =
    "9b12f6bfdb641297eb7a8c04993d0a62944586e4a1db52cc2ba86aec08980570";
/// SPDX identifier of the weights' licence (the code's licence is separate).
pub const OFFICIAL_LICENSE: &str = "CC-BY-NC-4.0";
/// Printed once, when the weights are first downloaded.
pub const LICENSE_NOTICE: &str = "note: the ECAPA2 weights (huggingface.co/Jenthe/ECAPA2) are \
licensed CC-BY-NC-4.0 (https://creativecommons.org/licenses/by-nc/4.0/): non-commercial use \
only, with attribution to the authors.";

/// What the official file at `main` must be.
pub fn official_expected() -> Expected {
    Expected::new(OFFICIAL_SIZE, OFFICIAL_SHA256)
}

/// Fetches the official weights into the hub cache and returns their path.
///
/// Tries `ecapa2.pt`, then `model.pt` when the first is absent (404, or not cached offline).
/// At the default revision (`None` or `"main"`) the file must match [`OFFICIAL_SIZE`] and
/// [`OFFICIAL_SHA256`]; at another revision it is checked against what the server announces.
/// When [`Fetched::downloaded`] is true the caller should show [`LICENSE_NOTICE`].
pub fn fetch_official(
    config: &HubConfig,
    revision: Option<&str>,
    progress: Option<Progress<'_>>,
) -> Result<Fetched, HubError> {
    let expected = match revision {
        None | Some(DEFAULT_REVISION) => Some(official_expected()),
        Some(_) => None,
    };
    let first = fetch(
        config,
        OFFICIAL_REPO,
        OFFICIAL_FILENAME,
        revision,
        expected.clone(),
        progress,
    );
    match first {
        Err(e) if e.is_not_found() || matches!(e, HubError::OfflineNotCached { .. }) => {
            tracing::debug!("{OFFICIAL_FILENAME}: {e}; trying {OFFICIAL_LEGACY_FILENAME}");
            match fetch(
                config,
                OFFICIAL_REPO,
                OFFICIAL_LEGACY_FILENAME,
                revision,
                expected,
                progress,
            ) {
                // Report the missing ecapa2.pt, the name users know, when neither exists.
                Err(e2) if e2.is_not_found() || matches!(e2, HubError::OfflineNotCached { .. }) => {
                    Err(e)
                }
                other => other,
            }
        }
        Err(e @ HubError::Unreachable { .. }) => {
            // No network: an older cache may hold only model.pt; don't wait on the hub twice.
            let legacy = fetch_cached(
                config,
                OFFICIAL_REPO,
                OFFICIAL_LEGACY_FILENAME,
                revision,
                expected.as_ref(),
            )?;
            legacy.ok_or(e)
        }
        other => other,
    }
}
