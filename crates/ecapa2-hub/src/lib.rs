//! Downloads files from the Hugging Face hub into the cache shared with Python's
//! `huggingface_hub`, so a model fetched by either is reused by the other.
//!
//! ```no_run
//! use ecapa2_hub::{fetch_official, HubConfig, LICENSE_NOTICE};
//!
//! let config = HubConfig::from_env();
//! let fetched = fetch_official(&config, None, None)?;
//! if fetched.downloaded {
//!     eprintln!("{LICENSE_NOTICE}");
//! }
//! println!("{}", fetched.path.display());
//! # Ok::<(), ecapa2_hub::HubError>(())
//! ```
//!
//! Files are laid out as Python lays them out (`models--org--name/{blobs,refs,snapshots}`),
//! partial downloads are resumed, and downloads are checked by size and SHA-256.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod cache;
mod config;
mod digest;
mod download;
mod error;
mod fetch;
mod official;
mod remote;
mod url;

pub use config::{HubConfig, DEFAULT_ENDPOINT};
pub use digest::file_sha256;
pub use error::HubError;
pub use fetch::{fetch, Expected, Fetched, Progress, DEFAULT_REVISION};
pub use official::{
    fetch_official, official_expected, LICENSE_NOTICE, OFFICIAL_FILENAME, OFFICIAL_LEGACY_FILENAME,
    OFFICIAL_LICENSE, OFFICIAL_REPO, OFFICIAL_SHA256, OFFICIAL_SIZE,
};
