//! The two seams of the pipeline: where speech is, and how a window becomes a vector.

use crate::segment::Segment;
use crate::windows::Window;

/// A boxed error from a seam's implementation.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Finds speech in 16 kHz mono audio (e.g. a VAD adapted by the CLI).
pub trait SpeechDetector {
    /// Speech regions in seconds, sorted.
    fn speech(&self, audio: &[f32]) -> Result<Vec<Segment>, BoxError>;
}

/// Turns windows of audio into speaker embeddings.
pub trait EmbeddingSource {
    /// The shortest window it can embed, in samples.
    fn min_samples(&self) -> usize {
        1
    }

    /// One embedding per window of `audio`, in order.
    fn embed(&self, audio: &[f32], windows: &[Window]) -> Result<Vec<Vec<f32>>, BoxError>;
}

/// The engine, through its batched API: windows in batches of [`ENGINE_BATCH`], each row
/// equal to [`ecapa2::Ecapa2::embed`] of that window alone.
impl EmbeddingSource for ecapa2::Ecapa2 {
    fn min_samples(&self) -> usize {
        ecapa2::Ecapa2::min_samples(self)
    }

    fn embed(&self, audio: &[f32], windows: &[Window]) -> Result<Vec<Vec<f32>>, BoxError> {
        let mut out = Vec::with_capacity(windows.len());
        for group in windows.chunks(ENGINE_BATCH) {
            let slices: Vec<&[f32]> = group.iter().map(|w| &audio[w.start..w.end]).collect();
            let features = self.features_batch(&slices, ecapa2::LabelSet::embedding())?;
            out.extend(features.iter().map(<[f32]>::to_vec));
        }
        Ok(out)
    }
}

/// Windows per engine call: enough to amortise the call, few enough to bound activations.
pub const ENGINE_BATCH: usize = 32;
