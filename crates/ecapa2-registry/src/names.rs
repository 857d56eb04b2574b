//! What the registry accepts as a speaker name and as an enrollment source.

use crate::RegistryError;
use unicode_normalization::UnicodeNormalization;

/// The longest accepted speaker name, in bytes (after normalisation).
const MAX_NAME: usize = 256;

/// The longest accepted enrollment source, in bytes.
pub const MAX_SOURCE: usize = 1024;

/// A speaker name as stored and looked up: surrounding white space trimmed and in Unicode NFC,
/// so names that differ only by those are one speaker. Refuses names that are empty after
/// trimming, longer than 256 bytes, or hold control characters.
pub fn normalize_name(name: &str) -> Result<String, RegistryError> {
    let norm: String = name.trim().nfc().collect();
    let reason = if norm.is_empty() {
        "empty"
    } else if norm.len() > MAX_NAME {
        "longer than 256 bytes"
    } else if norm.chars().any(char::is_control) {
        "has control characters"
    } else {
        return Ok(norm);
    };
    Err(RegistryError::BadName {
        name: name.chars().take(80).collect(),
        reason,
    })
}

/// Refuses an enrollment source (a file path, an upload name) longer than [`MAX_SOURCE`]
/// bytes or holding control characters (a newline would forge a line in a listing).
pub fn check_source(source: &str) -> Result<(), RegistryError> {
    let reason = if source.len() > MAX_SOURCE {
        "longer than 1024 bytes"
    } else if source.chars().any(char::is_control) {
        "has control characters"
    } else {
        return Ok(());
    };
    Err(RegistryError::BadSource {
        source_start: source.chars().take(80).collect(),
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_composed() {
        // "é" as e + combining acute (NFD) and as one code point (NFC).
        assert_eq!(normalize_name(" Ame\u{301}lie\t").unwrap(), "Am\u{e9}lie");
        assert_eq!(normalize_name("Am\u{e9}lie").unwrap(), "Am\u{e9}lie");
        for bad in ["", " \u{3000} ", "a\nb", "a\u{7f}b"] {
            assert!(
                matches!(normalize_name(bad), Err(RegistryError::BadName { .. })),
                "{bad:?}"
            );
        }
        assert!(normalize_name(&"x".repeat(256)).is_ok());
        assert!(normalize_name(&"x".repeat(257)).is_err());
    }

    #[test]
    fn sources_refuse_control_characters_and_length() {
        assert!(check_source("dir/alice 1.wav").is_ok());
        assert!(check_source(&"s".repeat(MAX_SOURCE)).is_ok());
        for bad in ["a\nb", "a\rb", "\u{1b}[31m", &"s".repeat(MAX_SOURCE + 1)] {
            assert!(matches!(
                check_source(bad),
                Err(RegistryError::BadSource { .. })
            ));
        }
    }
}
