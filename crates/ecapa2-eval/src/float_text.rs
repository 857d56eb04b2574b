//! Compact, exactly round-tripping decimal text for floats.
//!
//! Rust's `Display` prints the shortest digits that read back to the same value but never
//! uses an exponent, so 1e-30 becomes a 32-character string; outside a readable magnitude
//! range we switch to `LowerExp` (`1e-30`), which is equally exact and parsed by every reader
//! we target (Rust, C `strtod`, Python `float`, Kaldi).

/// Shortest round-trip text for an f64.
pub(crate) fn f64_text(x: f64) -> String {
    if x != 0.0 && x.is_finite() && !(1e-4..1e15).contains(&x.abs()) {
        format!("{x:e}")
    } else {
        x.to_string()
    }
}

/// Shortest round-trip text for an f32.
pub(crate) fn f32_text(x: f32) -> String {
    if x != 0.0 && x.is_finite() && !(1e-4..1e15).contains(&x.abs()) {
        format!("{x:e}")
    } else {
        x.to_string()
    }
}
