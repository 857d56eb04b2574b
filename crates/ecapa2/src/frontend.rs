//! The front-end inside the TorchScript model: STFT power spectrum, log, per-bin mean removal.
//!
//! Mirrors `torch.stft(center=True, pad_mode='reflect', onesided=True)` for any `n_fft` (the
//! released model uses 511 = 7 × 73, which rustfft handles directly).

use crate::error::{Error, Result};
use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};
use std::sync::Arc;

/// Offset inside the log, `log(P + 1e-6)`, as the scripted forward writes it.
pub const LOG_OFFSET: f32 = 1e-6;

/// Front-end hyper-parameters, as stated by the archive's spectrogram module.
#[derive(Debug, Clone, PartialEq)]
pub struct SpectrogramConfig {
    /// FFT size; `n_fft / 2 + 1` frequency bins.
    pub n_fft: usize,
    /// Samples between frames.
    pub hop_length: usize,
    /// The analysis window, `win_length` values (padded centrally to `n_fft`).
    pub window: Vec<f32>,
    /// Whether frames are centred (signal reflect-padded by `n_fft / 2`).
    pub center: bool,
    /// Exponent of the magnitude (2 = power spectrum).
    pub power: f32,
    /// torchaudio's `normalized`: divide by the window's L2 norm.
    pub normalized: bool,
}

impl SpectrogramConfig {
    /// Number of frequency bins (`n_fft / 2 + 1`).
    pub fn bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// Frames produced for `n` samples (`None` when `n` is too short to frame at all).
    pub fn frames(&self, n: usize) -> Option<usize> {
        let padded = if self.center {
            n + 2 * (self.n_fft / 2)
        } else {
            n
        };
        (padded >= self.n_fft && self.hop_length > 0)
            .then(|| 1 + (padded - self.n_fft) / self.hop_length)
    }

    /// Shortest input that frames: reflect padding needs `n > n_fft / 2`.
    pub fn min_samples_to_frame(&self) -> usize {
        if self.center {
            self.n_fft / 2 + 1
        } else {
            self.n_fft
        }
    }
}

/// A planned front-end.
pub struct Spectrogram {
    config: SpectrogramConfig,
    /// Window zero-padded centrally to `n_fft`, with the normalisation folded in.
    padded_window: Vec<f32>,
    fft: Arc<dyn Fft<f32>>,
}

impl std::fmt::Debug for Spectrogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spectrogram")
            .field("config", &self.config)
            .finish()
    }
}

impl Spectrogram {
    /// Plans the FFT and pads the window.
    pub fn new(config: SpectrogramConfig) -> Result<Self> {
        let win = config.window.len();
        if config.n_fft < 2 || win == 0 || win > config.n_fft || config.hop_length == 0 {
            return Err(Error::Unsupported {
                path: "spectrogram".into(),
                what: format!(
                    "framing n_fft={} win_length={} hop_length={}",
                    config.n_fft, win, config.hop_length
                ),
            });
        }
        // torch.stft centres a shorter window inside the n_fft frame.
        let left = (config.n_fft - win) / 2;
        let mut padded_window = vec![0.0f32; config.n_fft];
        padded_window[left..left + win].copy_from_slice(&config.window);
        if config.normalized {
            let norm = config
                .window
                .iter()
                .map(|w| (w * w) as f64)
                .sum::<f64>()
                .sqrt() as f32;
            padded_window.iter_mut().for_each(|w| *w /= norm);
        }
        let fft = FftPlanner::new().plan_fft_forward(config.n_fft);
        Ok(Self {
            config,
            padded_window,
            fft,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SpectrogramConfig {
        &self.config
    }

    /// Log-power spectrogram with each bin's mean over time removed: row-major `(bins, frames)`.
    ///
    /// The caller has checked the length (`frames` must be `Some`).
    pub fn forward(&self, audio: &[f32]) -> Result<(Vec<f32>, usize)> {
        let cfg = &self.config;
        let frames = cfg
            .frames(audio.len())
            .filter(|_| audio.len() >= cfg.min_samples_to_frame());
        let Some(frames) = frames else {
            return Err(Error::AudioTooShort {
                samples: audio.len(),
                min: cfg.min_samples_to_frame(),
                min_ms: cfg.min_samples_to_frame() as f64 / 16.0,
            });
        };
        let padded = self.pad(audio);
        let bins = cfg.bins();
        let mut spec = vec![0.0f32; bins * frames];
        let mut buf = vec![Complex::new(0.0f32, 0.0); cfg.n_fft];
        let mut scratch = vec![Complex::new(0.0f32, 0.0); self.fft.get_inplace_scratch_len()];
        for t in 0..frames {
            let frame = &padded[t * cfg.hop_length..t * cfg.hop_length + cfg.n_fft];
            for ((b, &x), &w) in buf.iter_mut().zip(frame).zip(&self.padded_window) {
                *b = Complex::new(x * w, 0.0);
            }
            self.fft.process_with_scratch(&mut buf, &mut scratch);
            for (k, c) in buf.iter().take(bins).enumerate() {
                let p = c.norm_sqr();
                let p = if cfg.power == 2.0 {
                    p
                } else {
                    p.sqrt().powf(cfg.power)
                };
                spec[k * frames + t] = (p + LOG_OFFSET).ln();
            }
        }
        for row in spec.chunks_exact_mut(frames) {
            let mean = (crate::stats::sum_f64(row) / frames as f64) as f32;
            row.iter_mut().for_each(|v| *v -= mean);
        }
        Ok((spec, frames))
    }

    /// Reflect padding by `n_fft / 2` (no edge repeat), as `torch.stft(center=True)`.
    fn pad(&self, audio: &[f32]) -> Vec<f32> {
        if !self.config.center {
            return audio.to_vec();
        }
        let p = self.config.n_fft / 2;
        let n = audio.len();
        let mut out = Vec::with_capacity(n + 2 * p);
        out.extend((1..=p).rev().map(|i| audio[i]));
        out.extend_from_slice(audio);
        out.extend((1..=p).map(|i| audio[n - 1 - i]));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pure tone on bin k of a rectangular-window DFT has power (A·n/2)² there: closed form.
    #[test]
    fn tone_power_matches_closed_form() {
        let n_fft = 64;
        let k = 5usize;
        let audio: Vec<f32> = (0..640)
            .map(|i| (2.0 * std::f64::consts::PI * k as f64 * i as f64 / n_fft as f64).cos() as f32)
            .collect();
        let cfg = SpectrogramConfig {
            n_fft,
            hop_length: 16,
            window: vec![1.0; n_fft],
            center: false,
            power: 2.0,
            normalized: false,
        };
        let spec = Spectrogram::new(cfg.clone()).unwrap();
        let frames = cfg.frames(audio.len()).unwrap();
        assert_eq!(frames, 1 + (640 - 64) / 16);
        // Undo the mean removal: every frame is identical, so the row is constant = 0.
        let (s, t) = spec.forward(&audio).unwrap();
        assert!(
            s.iter().all(|v| v.abs() < 1e-4),
            "stationary input gives zero after mean removal"
        );
        assert_eq!(t, frames);
        // Check the raw power through the log of one frame.
        let mut buf: Vec<Complex<f32>> = audio[..n_fft]
            .iter()
            .map(|&x| Complex::new(x, 0.0))
            .collect();
        FftPlanner::new().plan_fft_forward(n_fft).process(&mut buf);
        let expected = (n_fft as f32 / 2.0).powi(2);
        assert!((buf[k].norm_sqr() - expected).abs() / expected < 1e-5);
    }

    #[test]
    fn frames_follow_torch_formula() {
        let cfg = SpectrogramConfig {
            n_fft: 511,
            hop_length: 160,
            window: vec![1.0; 400],
            center: true,
            power: 2.0,
            normalized: false,
        };
        assert_eq!(cfg.frames(16000), Some(100));
        assert_eq!(cfg.frames(321), Some(3));
        assert_eq!(cfg.min_samples_to_frame(), 256);
        let spec = Spectrogram::new(cfg).unwrap();
        assert!(matches!(
            spec.forward(&[0.0; 100]),
            Err(Error::AudioTooShort { .. })
        ));
    }
}
