//! The diarization pipeline: speech → windows → embeddings → clusters → turns.

use crate::cluster::{normalized, Clustering, SpeakerCount};
use crate::embedder::{EmbeddingSource, SpeechDetector};
use crate::error::{DiarizeError, Result};
use crate::segment::{Segment, Turn};
use crate::turns::{self, Labelled, TurnOptions};
use crate::windows::{over_speech, SpeechWindow};
use serde::{Deserialize, Serialize};

/// Pipeline parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DiarizeOptions {
    /// Window length in seconds (WeSpeaker's 1.5 s).
    pub window: f64,
    /// Hop between windows in seconds (WeSpeaker's 0.75 s).
    pub hop: f64,
    /// The clustering method.
    pub clustering: Clustering,
    /// Speaker count constraints.
    pub speakers: SpeakerCount,
    /// Turn post-processing.
    pub turns: TurnOptions,
    /// Most windows clustered together. NME-SC's affinity is dense (`n²` values, and an
    /// eigendecomposition per candidate `p`), so beyond this many windows an evenly strided
    /// subset of this size is clustered and every window joins the nearest resulting centroid
    /// (cosine): memory stays `O(cap² + windows·dim)` whatever the length of the input.
    pub max_cluster_windows: usize,
}

impl Default for DiarizeOptions {
    fn default() -> Self {
        DiarizeOptions {
            window: 1.5,
            hop: 0.75,
            clustering: Clustering::default(),
            speakers: SpeakerCount::default(),
            turns: TurnOptions::default(),
            max_cluster_windows: 1000,
        }
    }
}

/// One found speaker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Speaker {
    /// Its label in the turns (`SPEAKER_00`, … or a registry name).
    pub label: String,
    /// Mean of its windows' L2-normalised embeddings.
    pub centroid: Vec<f32>,
    /// Windows it was given.
    pub windows: usize,
}

/// The result of diarizing one recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diarization {
    /// Speaker turns, sorted; may overlap across speakers where a filled gap covers another.
    pub segments: Vec<Turn>,
    /// The same speech, one speaker at a time (for aligning words).
    pub exclusive: Vec<Turn>,
    /// The speakers, in order of first appearance.
    pub speakers: Vec<Speaker>,
    /// The speech regions used, in seconds.
    pub speech: Vec<Segment>,
    /// Windows embedded.
    pub windows: usize,
}

impl Diarization {
    /// Renames speaker `i` to `name` in the speakers and every turn.
    pub fn rename(&mut self, i: usize, name: &str) {
        let Some(speaker) = self.speakers.get_mut(i) else {
            return;
        };
        let old = std::mem::replace(&mut speaker.label, name.to_string());
        for t in self.segments.iter_mut().chain(self.exclusive.iter_mut()) {
            if t.speaker == old {
                t.speaker = name.to_string();
            }
        }
    }
}

/// Runs the pipeline with fixed options.
#[derive(Debug, Clone, Default)]
pub struct Diarizer {
    /// The options.
    pub options: DiarizeOptions,
}

impl Diarizer {
    /// A diarizer with `options`, checked.
    pub fn new(options: DiarizeOptions) -> Result<Self> {
        let o = &options;
        if !(o.window.is_finite() && o.window > 0.0 && o.hop.is_finite() && o.hop > 0.0) {
            return Err(DiarizeError::InvalidOptions(format!(
                "window ({}) and hop ({}) must be positive seconds",
                o.window, o.hop
            )));
        }
        if !(o.turns.min_duration_on >= 0.0 && o.turns.min_duration_off >= 0.0) {
            return Err(DiarizeError::InvalidOptions(
                "min_duration_on/off must be non-negative seconds".into(),
            ));
        }
        if o.max_cluster_windows < 2 {
            return Err(DiarizeError::InvalidOptions(
                "max_cluster_windows must be at least 2".into(),
            ));
        }
        if let Clustering::Ahc(a) = o.clustering {
            if !(a.threshold.is_finite() && a.threshold >= 0.0) {
                return Err(DiarizeError::InvalidOptions(format!(
                    "the AHC threshold ({}) must be a non-negative cosine distance",
                    a.threshold
                )));
            }
        }
        // Contradictory counts are refused before any audio is processed.
        o.speakers.bounds(usize::MAX, 8)?;
        Ok(Diarizer { options })
    }

    /// Diarizes 16 kHz mono `audio`, finding speech with `detector`.
    pub fn diarize(
        &self,
        audio: &[f32],
        detector: &dyn SpeechDetector,
        source: &dyn EmbeddingSource,
    ) -> Result<Diarization> {
        let speech = detector.speech(audio).map_err(DiarizeError::Detection)?;
        self.diarize_regions(audio, &speech, source)
    }

    /// Diarizes 16 kHz mono `audio` whose speech is `speech` (seconds).
    pub fn diarize_regions(
        &self,
        audio: &[f32],
        speech: &[Segment],
        source: &dyn EmbeddingSource,
    ) -> Result<Diarization> {
        let o = &self.options;
        let windows = self.windows(audio.len(), speech, source.min_samples());
        let mut speech_used: Vec<Segment> = windows.iter().map(|w| w.own).collect();
        speech_used = crate::segment::support(speech_used);
        if windows.is_empty() {
            // No speech: a clear, empty result (unless speakers were demanded).
            if let Some(k) = o.speakers.num.or(o.speakers.min).filter(|&k| k > 0) {
                return Err(DiarizeError::TooFewWindows {
                    asked: k,
                    windows: 0,
                });
            }
            return Ok(Diarization {
                segments: Vec::new(),
                exclusive: Vec::new(),
                speakers: Vec::new(),
                speech: speech_used,
                windows: 0,
            });
        }
        let spans: Vec<_> = windows.iter().map(|w| w.window).collect();
        let embeddings = source
            .embed(audio, &spans)
            .map_err(DiarizeError::Embedding)?;
        if embeddings.len() != windows.len() {
            return Err(DiarizeError::BadEmbedding {
                index: embeddings.len(),
                reason: format!(
                    "{} embeddings for {} windows",
                    embeddings.len(),
                    windows.len()
                ),
            });
        }
        let labels = self.cluster(&embeddings)?;
        let unit = normalized(&embeddings)?;
        let k = labels.iter().copied().max().map_or(0, |m| m + 1);
        let speakers: Vec<Speaker> = (0..k)
            .map(|c| {
                let members: Vec<&Vec<f64>> = unit
                    .iter()
                    .zip(&labels)
                    .filter(|(_, &l)| l == c)
                    .map(|(u, _)| u)
                    .collect();
                let dim = unit[0].len();
                let centroid = (0..dim)
                    .map(|j| {
                        (members.iter().map(|m| m[j]).sum::<f64>() / members.len() as f64) as f32
                    })
                    .collect();
                Speaker {
                    label: turns::speaker_name(c),
                    centroid,
                    windows: members.len(),
                }
            })
            .collect();
        let pieces: Vec<Labelled> = windows
            .iter()
            .zip(&labels)
            .map(|(w, &l)| (w.own, l))
            .collect();
        let regular = turns::regular(&pieces, &o.turns);
        let exclusive = turns::exclusive(&regular, &pieces);
        let names: Vec<String> = speakers.iter().map(|s| s.label.clone()).collect();
        Ok(Diarization {
            segments: turns::named(&regular, &names),
            exclusive: turns::named(&exclusive, &names),
            speakers,
            speech: speech_used,
            windows: windows.len(),
        })
    }

    /// The windows [`Diarizer::diarize_regions`] embeds for `n` samples with `speech`,
    /// leaving out those shorter than `min_samples` (for callers that embed them elsewhere,
    /// e.g. through a service's batcher, and hand the results back as an [`EmbeddingSource`]).
    pub fn windows(&self, n: usize, speech: &[Segment], min_samples: usize) -> Vec<SpeechWindow> {
        let rate = ecapa2::SAMPLE_RATE;
        let o = &self.options;
        let to_samples = |s: f64| (s * f64::from(rate)).round().max(1.0) as usize;
        let mut windows = over_speech(speech, n, rate, to_samples(o.window), to_samples(o.hop));
        let before = windows.len();
        windows.retain(|w| w.window.end - w.window.start >= min_samples);
        if windows.len() < before {
            tracing::warn!(
                "{} window(s) shorter than the model's {min_samples} samples skipped",
                before - windows.len()
            );
        }
        windows
    }

    /// Cluster labels for all windows, through a strided subset past `max_cluster_windows`.
    fn cluster(&self, embeddings: &[Vec<f32>]) -> Result<Vec<usize>> {
        let o = &self.options;
        let n = embeddings.len();
        if n <= o.max_cluster_windows {
            return o.clustering.cluster(embeddings, o.speakers);
        }
        let cap = o.max_cluster_windows;
        let picked: Vec<usize> = (0..cap).map(|i| i * n / cap).collect();
        let subset: Vec<Vec<f32>> = picked.iter().map(|&i| embeddings[i].clone()).collect();
        tracing::info!("{n} windows: clustering {cap} evenly strided ones, assigning the rest");
        let sub_labels = o.clustering.cluster(&subset, o.speakers)?;
        let unit = normalized(embeddings)?;
        let k = sub_labels.iter().copied().max().map_or(0, |m| m + 1);
        let dim = unit[0].len();
        let mut centroids = vec![vec![0.0f64; dim]; k];
        for (&i, &l) in picked.iter().zip(&sub_labels) {
            for (c, v) in centroids[l].iter_mut().zip(&unit[i]) {
                *c += v;
            }
        }
        let labels: Vec<usize> = unit
            .iter()
            .map(|u| {
                let mut best = (0, f64::NEG_INFINITY);
                for (c, centroid) in centroids.iter().enumerate() {
                    let norm = crate::cluster::dot(centroid, centroid)
                        .sqrt()
                        .max(f64::MIN_POSITIVE);
                    let s = crate::cluster::dot(u, centroid) / norm;
                    if s > best.1 {
                        best = (c, s);
                    }
                }
                best.0
            })
            .collect();
        Ok(crate::cluster::canonical(&labels))
    }
}
