//! The whole pipeline: decode, check, mix or split channels, resample, check again.

use std::path::Path;

use crate::channels::{channel_layout_name, mix_down, ChannelMode};
use crate::decode::Decoded;
use crate::error::AudioError;
use crate::resample::resample_named;
use crate::validate::{check_finite, check_magnitude, validate};

/// Options for [`load`]. The model states what it needs (its sample rate and shortest input);
/// this crate repeats none of it: build the options with [`LoadOptions::for_model`].
#[derive(Clone, Debug, PartialEq)]
pub struct LoadOptions {
    /// Rate to resample to, in Hz; `None` keeps the file's rate.
    pub target_rate: Option<u32>,
    /// Mix channels to mono (default) or keep them separate.
    pub channels: ChannelMode,
    /// Minimum length, in samples at the output rate, of each returned signal.
    pub min_samples: usize,
    /// Longest audio accepted, in seconds; decoding stops with [`AudioError::TooLong`] past
    /// it (a service's guard against compressed files that expand without bound). `None`: no
    /// limit.
    pub max_seconds: Option<f64>,
    /// Keep what decodes of a damaged compressed file (a packet that fails to decode, a file
    /// cut short, fewer samples than its header declares), with a warning, instead of refusing
    /// it as [`AudioError::Corrupt`] (the default: a part of a file is not the file).
    pub keep_partial: bool,
}

impl LoadOptions {
    /// Audio for a model that takes `sample_rate` Hz mono input of at least `min_samples`
    /// samples (`ecapa2::Ecapa2::sample_rate()` and `min_samples()`): resampled to that rate,
    /// channels mixed to mono.
    pub fn for_model(sample_rate: u32, min_samples: usize) -> Self {
        LoadOptions {
            target_rate: Some(sample_rate),
            channels: ChannelMode::Mix,
            min_samples,
            max_seconds: None,
            keep_partial: false,
        }
    }
}

impl LoadOptions {
    fn decode_options(&self) -> crate::decode::DecodeOptions {
        crate::decode::DecodeOptions {
            max_seconds: self.max_seconds,
            keep_partial: self.keep_partial,
        }
    }
}

/// Audio ready for the model, plus a record of what was done to it.
#[derive(Clone, Debug, PartialEq)]
pub struct Loaded {
    /// The signals: one (mixed) signal with [`ChannelMode::Mix`] or a mono file, one per
    /// channel with [`ChannelMode::Separate`]. All have the same length.
    pub signals: Vec<Vec<f32>>,
    /// Rate of `signals` in Hz (after resampling).
    pub sample_rate: u32,
    /// Rate of the file in Hz.
    pub source_rate: u32,
    /// Number of channels in the file.
    pub source_channels: usize,
    /// Whether the signals were resampled (`source_rate != sample_rate`).
    pub resampled: bool,
    /// Whether several channels were averaged into one.
    pub mixed_down: bool,
    /// Codec and container as decoded, e.g. `"PCM16 WAV"`, `"FLAC"`, `"MP3"`, `"Ogg Vorbis"`.
    pub codec: String,
    /// Duration of the file in seconds (frames / source rate).
    pub duration_s: f64,
}

impl Loaded {
    /// One-line description of the input and the conversions, e.g.
    /// `"44100 Hz stereo FLAC (2.91 s) -> resampled to 16000 Hz, mixed to mono"` or
    /// `"16000 Hz mono PCM16 WAV (2.91 s), used as is"`.
    pub fn summary(&self) -> String {
        let source = format!(
            "{} Hz {} {} ({:.2} s)",
            self.source_rate,
            channel_layout_name(self.source_channels),
            self.codec,
            self.duration_s
        );
        let mut steps = Vec::new();
        if self.resampled {
            steps.push(format!("resampled to {} Hz", self.sample_rate));
        }
        if self.mixed_down {
            steps.push("mixed to mono".to_owned());
        } else if self.signals.len() > 1 {
            steps.push(format!("{} channels kept separate", self.signals.len()));
        }
        if steps.is_empty() {
            format!("{source}, used as is")
        } else {
            format!("{source} -> {}", steps.join(", "))
        }
    }

    /// Number of samples in each signal.
    pub fn len(&self) -> usize {
        self.signals.first().map_or(0, Vec::len)
    }

    /// Whether the signals have no samples (never true for a value returned by [`load`]).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Load an audio file as model input.
///
/// Steps: [`decode`](crate::decode()) the file; reject an empty file, any NaN/infinite sample
/// (index in the file's samples, channel named for multi-channel files) and, as corrupt, any
/// sample beyond ±10^12 (not audio; it would overflow the arithmetic); mix the channels
/// (mean) or keep them apart per `opts.channels`; resample each signal to `opts.target_rate`
/// with [`resample`](crate::resample()); finally reject signals shorter than
/// `opts.min_samples` at the output rate. Mixing happens before resampling (both are linear,
/// so the order only changes rounding).
///
/// Every error names `path`.
pub fn load(path: impl AsRef<Path>, opts: &LoadOptions) -> Result<Loaded, AudioError> {
    let path = path.as_ref();
    let decoded = crate::decode::decode_with(path, opts.decode_options())?;
    prepare(path.display().to_string(), decoded, opts)
}

/// [`load`] for a file already in memory; `name` (a path or key) is used in errors and as a
/// format hint.
pub fn load_bytes(name: &str, bytes: Vec<u8>, opts: &LoadOptions) -> Result<Loaded, AudioError> {
    let decoded = crate::decode::decode_bytes_with(name, bytes, opts.decode_options())?;
    prepare(name.to_string(), decoded, opts)
}

/// Checks, channel handling and resampling of decoded audio.
fn prepare(name: String, decoded: Decoded, opts: &LoadOptions) -> Result<Loaded, AudioError> {
    let source_rate = decoded.sample_rate;
    let source_channels = decoded.channels.len();
    let frames = decoded.frames();
    let codec = decoded.codec;

    if frames == 0 {
        return Err(AudioError::Empty { file: name });
    }
    for (c, samples) in decoded.channels.iter().enumerate() {
        let channel = channel_name(&name, c, source_channels);
        check_finite(&channel, samples)?;
        check_magnitude(&channel, samples)?;
    }

    let mixed_down = source_channels > 1 && opts.channels == ChannelMode::Mix;
    let signals = if mixed_down {
        vec![mix_down(&decoded.channels)]
    } else {
        decoded.channels
    };

    let sample_rate = opts.target_rate.unwrap_or(source_rate);
    let resampled = sample_rate != source_rate;
    let signals = if resampled {
        signals
            .iter()
            .map(|s| resample_named(&name, s, source_rate, sample_rate))
            .collect::<Result<Vec<_>, _>>()?
    } else {
        signals
    };

    let n_signals = signals.len();
    for (c, s) in signals.iter().enumerate() {
        validate(&channel_name(&name, c, n_signals), s, opts.min_samples).map_err(|e| match e {
            // Say the file's own length and rate, not only the count after resampling.
            AudioError::TooShort { file, len, min, .. } => AudioError::TooShort {
                file,
                len,
                min,
                rate: Some(sample_rate),
                original: Some((frames, source_rate)),
            },
            other => other,
        })?;
    }

    let loaded = Loaded {
        signals,
        sample_rate,
        source_rate,
        source_channels,
        resampled,
        mixed_down,
        codec,
        duration_s: frames as f64 / f64::from(source_rate),
    };
    tracing::debug!(file = %name, "{}", loaded.summary());
    Ok(loaded)
}

/// `file` for a single signal, `file (channel c)` when there are several.
fn channel_name(file: &str, channel: usize, channels: usize) -> String {
    if channels > 1 {
        format!("{file} (channel {channel})")
    } else {
        file.to_owned()
    }
}
