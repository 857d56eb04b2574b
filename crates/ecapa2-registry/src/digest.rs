//! Content digests that identify an enrollment's audio, so that a retried enrollment is
//! recognised instead of stored twice.

use sha2::{Digest, Sha256};

/// A SHA-256 digest of an enrollment's content.
pub type ContentDigest = [u8; 32];

/// The digest of decoded audio samples (little-endian f32 at the model's rate): what the
/// CLI and the service record, so the same recording sent again is found whatever the batch
/// it was embedded in.
pub fn audio_digest(samples: &[f32]) -> ContentDigest {
    let mut hash = Sha256::new();
    hash.update(b"audio:");
    for x in samples {
        hash.update(x.to_le_bytes());
    }
    hash.finalize().into()
}

/// The digest of a stored embedding blob: the fallback when the caller gives no audio digest
/// (and what a migrated registry records for its existing rows).
pub(crate) fn embedding_digest(blob: &[u8]) -> ContentDigest {
    let mut hash = Sha256::new();
    hash.update(b"embedding:");
    hash.update(blob);
    hash.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_and_embedding_digests_differ_and_depend_on_every_value() {
        let a = audio_digest(&[0.5, -0.25]);
        assert_eq!(a, audio_digest(&[0.5, -0.25]));
        assert_ne!(a, audio_digest(&[0.5, -0.250_001]));
        assert_ne!(a, audio_digest(&[0.5]));
        let blob: Vec<u8> = [0.5f32, -0.25]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        assert_ne!(a, embedding_digest(&blob));
    }
}
