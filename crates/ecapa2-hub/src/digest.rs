//! A file's sha256: the identity of a model archive (the hub names LFS blobs by it, so a cached
//! `ecapa2.pt` and the same file elsewhere get the same identity).

use sha2::{Digest, Sha256};
use std::path::Path;

/// `sha256:<64 hex digits>` of the file at `path`, read in a streaming pass.
pub fn file_sha256(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    let hex: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(format!("sha256:{hex}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn matches_the_known_digest_of_abc() {
        let dir = std::env::temp_dir().join(format!("ecapa2-digest-{}", std::process::id()));
        std::fs::write(&dir, b"abc").unwrap();
        let got = super::file_sha256(&dir).unwrap();
        std::fs::remove_file(&dir).ok();
        // FIPS 180-2 test vector.
        assert_eq!(
            got,
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
