//! G.711 A-law and µ-law expansion to 16-bit linear PCM (ITU-T G.711 tables 1 and 2), the
//! values symphonia, libsndfile and CPython's `audioop` give.

/// µ-law byte to 16-bit linear: the 14-bit magnitude `(2m + 33) * 2^e - 33`, times 4.
pub(super) fn mulaw_to_i16(byte: u8) -> i16 {
    let u = !byte;
    let exponent = (u >> 4) & 0x07;
    let mantissa = i16::from(u & 0x0F);
    let magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
    if u & 0x80 != 0 {
        -magnitude
    } else {
        magnitude
    }
}

/// A-law byte to 16-bit linear: even bits inverted, then `(2m + 1) * 8` in segment 0 and
/// `(2m + 33) * 8 << (e - 1)` above; the sign bit set means positive.
pub(super) fn alaw_to_i16(byte: u8) -> i16 {
    let a = byte ^ 0x55;
    let segment = (a >> 4) & 0x07;
    let mantissa = i16::from(a & 0x0F) << 4;
    let magnitude = match segment {
        0 => mantissa + 0x08,
        s => (mantissa + 0x108) << (s - 1),
    };
    if a & 0x80 != 0 {
        magnitude
    } else {
        -magnitude
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_match_the_g711_tables() {
        // Zero, the smallest steps and full scale of each law.
        assert_eq!([0xFF, 0x7F].map(mulaw_to_i16), [0, 0]);
        assert_eq!([0x80, 0x00].map(mulaw_to_i16), [32124, -32124]);
        assert_eq!([0xFE, 0x7E].map(mulaw_to_i16), [8, -8]);
        assert_eq!([0xD5, 0x55].map(alaw_to_i16), [8, -8]);
        assert_eq!([0xAA, 0x2A].map(alaw_to_i16), [32256, -32256]);
    }
}
