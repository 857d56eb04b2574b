//! Sanity checks on a signal before it is handed to the model.

use crate::error::AudioError;

/// The released model's shortest input at 16 kHz, for the tests only: callers pass the
/// model's own `min_samples()`.
#[cfg(test)]
const MIN_SAMPLES: usize = 321;

/// Check that `x` is usable as model input.
///
/// In this order, rejects:
/// 1. an empty signal ([`AudioError::Empty`]),
/// 2. any NaN or infinite sample ([`AudioError::NonFinite`], with the index of the first one),
/// 3. any sample beyond ±10^12 ([`AudioError::Corrupt`]: not audio; the engine refuses it too),
/// 4. a signal with fewer than `min_samples` samples ([`AudioError::TooShort`]).
///
/// `name` is put in the error (a file name, possibly with a channel suffix).
pub fn validate(name: &str, x: &[f32], min_samples: usize) -> Result<(), AudioError> {
    if x.is_empty() {
        return Err(AudioError::Empty {
            file: name.to_owned(),
        });
    }
    check_finite(name, x)?;
    check_magnitude(name, x)?;
    if x.len() < min_samples {
        return Err(AudioError::TooShort {
            file: name.to_owned(),
            len: x.len(),
            min: min_samples,
            rate: None,
            original: None,
        });
    }
    Ok(())
}

/// Reject the first NaN/infinite sample of `x`, reporting its index.
pub(crate) fn check_finite(name: &str, x: &[f32]) -> Result<(), AudioError> {
    match x.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(AudioError::NonFinite {
            file: name.to_owned(),
            index,
            value: x[index],
        }),
        None => Ok(()),
    }
}

/// Largest sample magnitude accepted from a file: 10^12, 240 dB above full scale. Float files
/// written with integer scaling (±32768, ±2^31) pass; larger values are not audio and overflow
/// `f32` in the resampler's FFT (a fuzzer finding: rubato panicked on a float WAV holding
/// -4e37) and in the model's power spectrum.
const MAX_MAGNITUDE: f32 = 1e12;

/// Reject a decoded signal with a sample beyond ±[`MAX_MAGNITUDE`] as corrupt, reporting the
/// first one. Run after [`check_finite`], before any arithmetic on the signal.
pub(crate) fn check_magnitude(name: &str, x: &[f32]) -> Result<(), AudioError> {
    match x.iter().position(|v| v.abs() > MAX_MAGNITUDE) {
        Some(index) => Err(AudioError::Corrupt {
            file: name.to_owned(),
            reason: format!(
                "sample {:e} at index {index} is beyond ±{MAX_MAGNITUDE:e}: not audio",
                x[index]
            ),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_a_clean_signal() {
        assert!(validate("a.wav", &[0.0; MIN_SAMPLES], MIN_SAMPLES).is_ok());
    }

    #[test]
    fn rejects_empty_short_and_non_finite() {
        assert!(matches!(
            validate("a.wav", &[], MIN_SAMPLES),
            Err(AudioError::Empty { .. })
        ));
        assert!(matches!(
            validate("a.wav", &[0.0; 320], MIN_SAMPLES),
            Err(AudioError::TooShort {
                len: 320,
                min: 321,
                ..
            })
        ));
        let mut x = vec![0.0f32; 1000];
        x[7] = f32::NEG_INFINITY;
        x[9] = f32::NAN;
        let err = validate("a.wav", &x, MIN_SAMPLES).unwrap_err();
        assert!(
            matches!(err, AudioError::NonFinite { index: 7, .. }),
            "{err}"
        );
        assert!(err.to_string().starts_with("a.wav: "), "{err}");
    }

    #[test]
    fn magnitudes_beyond_1e12_are_corrupt() {
        assert!(check_magnitude("a.wav", &[32768.0, -2_147_483_648.0, 1e12]).is_ok());
        let err = check_magnitude("a.wav", &[0.5, -4e37, 2e12]).unwrap_err();
        assert!(matches!(err, AudioError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("sample -4e37 at index 1"), "{err}");
    }

    #[test]
    fn non_finite_wins_over_too_short() {
        let err = validate("a.wav", &[f32::NAN], MIN_SAMPLES).unwrap_err();
        assert!(matches!(err, AudioError::NonFinite { index: 0, .. }));
    }
}
