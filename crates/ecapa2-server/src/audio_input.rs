//! Request bodies to 16 kHz mono samples: an audio file (any format and rate the CLI reads,
//! decoded and mixed as the CLI does) or JSON `{"samples": [...], "sample_rate": N}`.

use crate::problem::Problem;
use crate::state::AppState;
use axum::body::Bytes;
use axum::http::{header, HeaderMap, StatusCode};
use ecapa2_audio::{ChannelMode, LoadOptions};
use serde::Deserialize;

/// Raw samples in a JSON body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SamplesBody {
    /// Mono samples in [-1, 1].
    pub samples: Vec<f32>,
    /// Their sample rate in Hz (resampled to 16 kHz when different).
    pub sample_rate: u32,
}

/// Decoded audio ready for the engine.
pub struct Audio {
    pub samples: Vec<f32>,
    pub duration_s: f64,
}

/// The request's media type, lower-cased and without parameters (`""` when absent): media
/// types are case-insensitive (RFC 9110).
pub(crate) fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

impl AppState {
    /// A request body as audio (`name` appears in error messages).
    pub async fn audio_from_body(
        &self,
        name: &str,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<Audio, Problem> {
        if body.is_empty() {
            return Err(Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "empty body: send an audio file, or JSON {\"samples\": [...], \"sample_rate\": N}",
            ));
        }
        if media_type(headers) == "application/json" {
            return self.audio_from_json(name, body).await;
        }
        self.decode(name, body).await
    }

    /// Decodes an audio file on a blocking thread (at most `decode_concurrency` at once).
    pub async fn decode(&self, name: &str, body: Bytes) -> Result<Audio, Problem> {
        let _permit = self
            .decodes
            .acquire()
            .await
            .map_err(|_| Problem::unavailable("the service is shutting down", 5))?;
        let opts = self.load_options();
        let name = name.to_string();
        let loaded = tokio::task::spawn_blocking(move || {
            // `Vec::from` takes over the body's buffer when it is not shared: no copy.
            ecapa2_audio::load_bytes(&name, Vec::from(body), &opts)
        })
        .await
        .map_err(Problem::internal)??;
        let duration_s = loaded.duration_s;
        self.check_duration(duration_s)?;
        let samples = loaded.signals.into_iter().next().unwrap_or_default();
        Ok(Audio {
            samples,
            duration_s,
        })
    }

    /// Parses, checks and resamples JSON samples, on a blocking thread (a large body takes
    /// a while to parse) and under the decode limit, as files are. The samples go through the
    /// same `ecapa2_audio::validate` as decoded files.
    async fn audio_from_json(&self, name: &str, body: Bytes) -> Result<Audio, Problem> {
        let _permit = self
            .decodes
            .acquire()
            .await
            .map_err(|_| Problem::unavailable("the service is shutting down", 5))?;
        let opts = self.load_options();
        let max_s = self.config.limits.max_audio_s;
        let name = name.to_string();
        tokio::task::spawn_blocking(move || {
            let body: SamplesBody = serde_json::from_slice(&body)
                .map_err(|e| Problem::bad_request(format!("JSON body: {e}")))?;
            samples_to_audio(body, &name, &opts, max_s)
        })
        .await
        .map_err(Problem::internal)?
    }

    fn load_options(&self) -> LoadOptions {
        LoadOptions {
            channels: ChannelMode::Mix,
            // Decoding stops at the limit: a small compressed body cannot expand into
            // gigabytes of samples before the duration is checked.
            max_seconds: Some(self.config.limits.max_audio_s),
            ..LoadOptions::for_model(self.model.sample_rate(), self.model.min_samples())
        }
    }

    fn check_duration(&self, seconds: f64) -> Result<(), Problem> {
        check_duration(seconds, self.config.limits.max_audio_s)
    }
}

fn check_duration(seconds: f64, max: f64) -> Result<(), Problem> {
    if seconds > max {
        return Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("{seconds:.1} s of audio is over this service's limit of {max:.0} s"),
        ));
    }
    Ok(())
}

/// JSON samples checked (rate, duration, values) and resampled to the model's rate.
fn samples_to_audio(
    body: SamplesBody,
    name: &str,
    opts: &LoadOptions,
    max_s: f64,
) -> Result<Audio, Problem> {
    let rate = body.sample_rate;
    if !(1_000..=384_000).contains(&rate) {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("sample_rate {rate} Hz is outside 1000..=384000"),
        ));
    }
    let duration_s = body.samples.len() as f64 / f64::from(rate);
    check_duration(duration_s, max_s)?;
    let target = opts.target_rate.unwrap_or(rate);
    ecapa2_audio::validate(name, &body.samples, 1)?;
    let samples = if rate == target {
        body.samples
    } else {
        ecapa2_audio::resample(&body.samples, rate, target)?
    };
    ecapa2_audio::validate(name, &samples, opts.min_samples)?;
    Ok(Audio {
        samples,
        duration_s,
    })
}
