//! The Silero VAD v6 16 kHz network, natively: STFT as a strided convolution, magnitude, four
//! convolutions with ReLU, an LSTM cell carried across chunks, and a 1×1 output convolution
//! with a sigmoid (the graph of the silero-vad wheel's `tinygrad_model.py`).
//!
//! Everything before the LSTM depends on one chunk only, so it runs for a block of chunks at a
//! time as GEMMs; only the LSTM recurrence is sequential.

use std::path::Path;

use ecapa2_kernels::matmul::{matmul, MatRef, Threads};

use crate::timestamps::{speech_timestamps_from_probabilities, SpeechSegment, VadOptions};
use crate::weights::{Weights, BINS, HIDDEN, N_FFT};
use crate::VadError;

/// Sample rate the network runs at.
pub const SAMPLE_RATE: u32 = 16_000;
/// Samples per chunk: one probability per chunk.
pub const CHUNK_SAMPLES: usize = 512;
/// Samples of the previous chunk fed in front of each chunk.
pub const CONTEXT_SAMPLES: usize = 64;

/// Reflection padding on the right of each chunk window before the STFT.
const REFLECT: usize = 64;
/// Window the STFT sees: context + chunk + reflection.
const WINDOW: usize = CONTEXT_SAMPLES + CHUNK_SAMPLES + REFLECT;
/// STFT hop.
const HOP: usize = 128;
/// STFT frames per chunk.
const FRAMES: usize = (WINDOW - N_FFT) / HOP + 1;
/// Chunks per block of GEMMs: large enough to keep the GEMMs efficient, small enough that a
/// block's activations (a few MiB) are all the memory it needs, whatever the audio length.
const BLOCK: usize = 256;

/// The embedded weights: Silero VAD v6 16 kHz from the silero-vad 6.2.3 wheel (MIT).
static EMBEDDED: &[u8] = include_bytes!("../weights/silero_vad_16k.safetensors");

/// Silero VAD v6 (16 kHz) with its weights, ready to run. Immutable: one model can serve many
/// threads, each call carrying its own recurrent state.
#[derive(Debug, Clone)]
pub struct SileroVad {
    w: Weights,
}

impl SileroVad {
    /// The weights embedded in the binary (silero-vad 6.2.3, the model `silero_vad.onnx` and
    /// `silero_vad.jit` run), so VAD works offline.
    pub fn embedded() -> Result<Self, VadError> {
        Self::named_bytes(EMBEDDED, Path::new("<embedded>"))
    }

    /// Weights from a safetensors file with the tensor names and shapes of the silero-vad
    /// wheel's `silero_vad_16k.safetensors`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, VadError> {
        Ok(Self {
            w: Weights::from_file(path.as_ref())?,
        })
    }

    /// Weights from the bytes of such a safetensors file.
    pub fn from_safetensors_bytes(bytes: &[u8]) -> Result<Self, VadError> {
        Self::named_bytes(bytes, Path::new("<bytes>"))
    }

    fn named_bytes(bytes: &[u8], origin: &Path) -> Result<Self, VadError> {
        Ok(Self {
            w: Weights::from_bytes(bytes, origin)?,
        })
    }

    /// Speech probability of each 512-sample chunk of 16 kHz mono audio, as silero's
    /// `get_speech_timestamps` computes them: state starts at zero and is carried from chunk to
    /// chunk, each chunk is preceded by the last 64 samples of the one before (zeros for the
    /// first), and the last chunk is zero-padded. Empty audio gives no probabilities.
    ///
    /// Errors on a non-finite sample or one beyond ±[`ecapa2::MAX_SAMPLE_MAGNITUDE`]. Runs on
    /// the calling thread.
    pub fn probabilities(&self, audio_16k: &[f32]) -> Result<Vec<f32>, VadError> {
        check_samples(audio_16k)?;
        let chunks = audio_16k.len().div_ceil(CHUNK_SAMPLES);
        let mut probs = Vec::with_capacity(chunks);
        let mut lstm = LstmState::default();
        for first in (0..chunks).step_by(BLOCK) {
            let n = BLOCK.min(chunks - first);
            let features = self.encode_block(audio_16k, first, n);
            let mut gates = vec![0.0f32; n * 4 * HIDDEN];
            matmul(
                &mut gates,
                4 * HIDDEN,
                MatRef::new(&features, n, HIDDEN),
                MatRef::new(&self.w.w_ih, HIDDEN, 4 * HIDDEN),
                false,
                Threads::Single,
            );
            for g in gates.chunks_exact_mut(4 * HIDDEN) {
                probs.push(self.step(&mut lstm, g));
            }
        }
        Ok(probs)
    }

    /// Speech segments of 16 kHz mono audio, exactly as silero's `get_speech_timestamps` finds
    /// them with the same options: [`SileroVad::probabilities`] followed by
    /// [`speech_timestamps_from_probabilities`].
    pub fn speech_timestamps(
        &self,
        audio_16k: &[f32],
        opts: &VadOptions,
    ) -> Result<Vec<SpeechSegment>, VadError> {
        opts.validate()?;
        let probs = self.probabilities(audio_16k)?;
        speech_timestamps_from_probabilities(&probs, audio_16k.len(), opts)
    }

    /// Encoder output `[n × HIDDEN]` for chunks `first..first + n`.
    fn encode_block(&self, audio: &[f32], first: usize, n: usize) -> Vec<f32> {
        let mut frames = vec![0.0f32; n * FRAMES * N_FFT];
        for (j, dst) in frames.chunks_exact_mut(FRAMES * N_FFT).enumerate() {
            let window = chunk_window(audio, first + j);
            for (f, frame) in dst.chunks_exact_mut(N_FFT).enumerate() {
                frame.copy_from_slice(&window[f * HOP..][..N_FFT]);
            }
        }
        let mut spec = vec![0.0f32; n * FRAMES * 2 * BINS];
        matmul(
            &mut spec,
            2 * BINS,
            MatRef::new(&frames, n * FRAMES, N_FFT),
            MatRef::new(&self.w.stft, N_FFT, 2 * BINS),
            false,
            Threads::Single,
        );
        let mut x: Vec<f32> = spec
            .chunks_exact(2 * BINS)
            .flat_map(|s| {
                let (re, im) = s.split_at(BINS);
                re.iter().zip(im).map(|(r, i)| (r * r + i * i).sqrt())
            })
            .collect();
        let mut t = FRAMES;
        for conv in &self.w.convs {
            x = conv.forward_relu(&x, n, t);
            t = conv.out_len(t);
        }
        debug_assert_eq!(t, 1, "the encoder reduces a chunk to one frame");
        x
    }

    /// One LSTM step from the input projection `gates` (overwritten), then the output head.
    fn step(&self, s: &mut LstmState, gates: &mut [f32]) -> f32 {
        for ((g, b), row) in gates
            .iter_mut()
            .zip(&self.w.bias)
            .zip(self.w.w_hh.chunks_exact(HIDDEN))
        {
            *g += b + dot(row, &s.h);
        }
        let (i, rest) = gates.split_at(HIDDEN);
        let (f, rest) = rest.split_at(HIDDEN);
        let (g, o) = rest.split_at(HIDDEN);
        for u in 0..HIDDEN {
            s.c[u] = sigmoid(f[u]) * s.c[u] + sigmoid(i[u]) * g[u].tanh();
            s.h[u] = sigmoid(o[u]) * s.c[u].tanh();
        }
        let logit: f32 = self
            .w
            .out_w
            .iter()
            .zip(&s.h)
            .map(|(w, h)| w * h.max(0.0))
            .sum::<f32>()
            + self.w.out_b;
        sigmoid(logit)
    }
}

/// The LSTM's hidden and cell state, zero at the start of a recording.
struct LstmState {
    h: [f32; HIDDEN],
    c: [f32; HIDDEN],
}

impl Default for LstmState {
    fn default() -> Self {
        Self {
            h: [0.0; HIDDEN],
            c: [0.0; HIDDEN],
        }
    }
}

/// Context + chunk `k` (zero beyond the audio) + reflection of its own end, as the reference
/// pads it (`reflect` excludes the edge sample).
fn chunk_window(audio: &[f32], k: usize) -> [f32; WINDOW] {
    let mut w = [0.0f32; WINDOW];
    let start = k * CHUNK_SAMPLES;
    let ctx = CONTEXT_SAMPLES.min(start);
    let from = start - ctx;
    let to = (start + CHUNK_SAMPLES).min(audio.len());
    w[CONTEXT_SAMPLES - ctx..][..to - from].copy_from_slice(&audio[from..to]);
    let n = CONTEXT_SAMPLES + CHUNK_SAMPLES;
    for i in 0..REFLECT {
        w[n + i] = w[n - 2 - i];
    }
    w
}

/// Refuses what the engine refuses: a non-finite sample, or one beyond
/// [`ecapa2::MAX_SAMPLE_MAGNITUDE`], first by index.
fn check_samples(audio: &[f32]) -> Result<(), VadError> {
    let max = ecapa2::MAX_SAMPLE_MAGNITUDE;
    match audio.iter().position(|x| !x.is_finite() || x.abs() > max) {
        Some(index) if !audio[index].is_finite() => Err(VadError::NonFiniteAudio {
            index,
            value: audio[index],
        }),
        Some(index) => Err(VadError::OutOfRange {
            index,
            value: audio[index],
            max,
        }),
        None => Ok(()),
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Dot product with eight independent sums, so the compiler vectorises it.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().sum()
}
