//! The native Silero VAD (`ecapa2-vad`) as a [`SpeechDetector`] (feature `silero`).

use crate::embedder::{BoxError, SpeechDetector};
use crate::segment::Segment;
use ecapa2_vad::{SileroVad, VadOptions};

/// Silero VAD v6 with `get_speech_timestamps`' segmentation.
pub struct SileroDetector {
    /// The network.
    pub vad: SileroVad,
    /// Threshold, minimum speech/silence, padding.
    pub options: VadOptions,
}

impl SileroDetector {
    /// The weights embedded in the binary, default options.
    pub fn embedded() -> Result<Self, ecapa2_vad::VadError> {
        Ok(SileroDetector {
            vad: SileroVad::embedded()?,
            options: VadOptions::default(),
        })
    }

    /// Weights from a `.safetensors` file, default options.
    pub fn from_file(path: &std::path::Path) -> Result<Self, ecapa2_vad::VadError> {
        Ok(SileroDetector {
            vad: SileroVad::from_file(path)?,
            options: VadOptions::default(),
        })
    }
}

impl SpeechDetector for SileroDetector {
    fn speech(&self, audio: &[f32]) -> Result<Vec<Segment>, BoxError> {
        let rate = f64::from(ecapa2_vad::SAMPLE_RATE);
        Ok(self
            .vad
            .speech_timestamps(audio, &self.options)?
            .into_iter()
            .map(|s| Segment::new(s.start as f64 / rate, s.end as f64 / rate))
            .collect())
    }
}
