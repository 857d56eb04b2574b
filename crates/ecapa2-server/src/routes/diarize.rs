//! `POST /v1/diarize`: who spoke when in one recording.
//!
//! Same body, limits and errors as `/v1/embed` (size, duration, queue, timeout): the
//! recording's windows go through the same dynamic batcher as embeddings, then the
//! clustering runs on a blocking thread.

use super::extract::{Body, Query};
use crate::problem::{AudioProblems, Problem};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use ecapa2::LabelSet;
use ecapa2_diarize::cluster::ahc::AhcOptions;
use ecapa2_diarize::windows::Window;
use ecapa2_diarize::{
    Clustering, DiarizeError, DiarizeOptions, Diarizer, EmbeddingSource, SpeakerCount,
    SpeechDetector,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// Query of `/v1/diarize`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DiarizeQuery {
    /// Exactly this many speakers.
    num_speakers: Option<usize>,
    /// At least this many speakers.
    min_speakers: Option<usize>,
    /// At most this many speakers (NME-SC's default bound: 8).
    max_speakers: Option<usize>,
    /// `nmesc` (default: auto-tuned spectral) or `ahc` (agglomerative, `threshold`).
    clustering: Option<String>,
    /// AHC: merge up to this cosine distance (default 0.7, not tuned).
    threshold: Option<f64>,
}

/// One speaker turn.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TurnOut {
    /// Start in seconds.
    pub start: f64,
    /// End in seconds.
    pub end: f64,
    /// Speaker label (`SPEAKER_00`, …).
    pub speaker: String,
}

/// One found speaker.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SpeakerOut {
    /// Its label in the turns.
    pub label: String,
    /// Mean of its windows' L2-normalised embeddings.
    pub centroid: Vec<f32>,
    /// Windows it was given.
    pub windows: usize,
}

/// Who spoke when.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DiarizeResponse {
    /// Speaker turns, sorted by time.
    pub segments: Vec<TurnOut>,
    /// The same speech, one speaker at a time.
    pub exclusive: Vec<TurnOut>,
    /// The speakers, in order of first appearance.
    pub speakers: Vec<SpeakerOut>,
    /// Seconds of audio in the request.
    pub duration_s: f64,
}

/// Embeddings computed beforehand (through the batcher), handed to the pipeline by window.
struct Precomputed(HashMap<(usize, usize), Vec<f32>>);

impl EmbeddingSource for Precomputed {
    fn embed(
        &self,
        _audio: &[f32],
        windows: &[Window],
    ) -> Result<Vec<Vec<f32>>, Box<dyn std::error::Error + Send + Sync>> {
        windows
            .iter()
            .map(|w| {
                self.0
                    .get(&(w.start, w.end))
                    .cloned()
                    .ok_or_else(|| "a window was not embedded".into())
            })
            .collect()
    }
}

fn options(q: &DiarizeQuery) -> Result<Diarizer, Problem> {
    let clustering = match (q.clustering.as_deref().unwrap_or("nmesc"), q.threshold) {
        ("nmesc", None) => Clustering::default(),
        ("ahc", t) => Clustering::Ahc(AhcOptions {
            threshold: t.unwrap_or(AhcOptions::default().threshold),
            ..AhcOptions::default()
        }),
        ("nmesc", Some(_)) => {
            return Err(Problem::bad_request(
                "threshold applies to clustering=ahc only",
            ))
        }
        (other, _) => {
            return Err(Problem::bad_request(format!(
                "clustering must be nmesc or ahc, not {other:?}"
            )))
        }
    };
    Diarizer::new(DiarizeOptions {
        clustering,
        speakers: SpeakerCount {
            num: q.num_speakers,
            min: q.min_speakers,
            max: q.max_speakers,
        },
        ..DiarizeOptions::default()
    })
    .map_err(problem)
}

fn problem(e: DiarizeError) -> Problem {
    match e {
        DiarizeError::InvalidOptions(_) => Problem::bad_request(e.to_string()),
        DiarizeError::TooFewWindows { .. } | DiarizeError::BadEmbedding { .. } => {
            Problem::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
        }
        _ => Problem::internal(e),
    }
}

fn turns(t: &[ecapa2_diarize::Turn]) -> Vec<TurnOut> {
    t.iter()
        .map(|t| TurnOut {
            start: t.start,
            end: t.end,
            speaker: t.speaker.clone(),
        })
        .collect()
}

/// Diarize one recording.
#[utoipa::path(
    post,
    path = "/v1/diarize",
    tag = "embeddings",
    params(DiarizeQuery),
    request_body(
        description = "An audio file (WAV, FLAC, MP3, Ogg-Vorbis; resampled to 16 kHz and mixed \
                       to mono), or JSON samples",
        content(
            ([u8] = "application/octet-stream"),
            (crate::audio_input::SamplesBody = "application/json")
        )
    ),
    responses(
        (status = 200, description = "Speaker turns and speakers", body = DiarizeResponse),
        AudioProblems
    )
)]
pub async fn diarize(
    State(state): State<Arc<AppState>>,
    Query(query): Query<DiarizeQuery>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Json<DiarizeResponse>, Problem> {
    let diarizer = options(&query)?;
    let audio = state
        .audio_from_body("request body", &headers, body)
        .await?;
    let duration_s = audio.duration_s;
    let samples = Arc::new(audio.samples);
    let min = state.model.min_samples();
    // VAD and window plan on a blocking thread.
    let planned = {
        let (samples, diarizer, state) = (samples.clone(), diarizer.clone(), state.clone());
        tokio::task::spawn_blocking(move || -> Result<_, Problem> {
            let speech = state
                .vad()?
                .speech(&samples)
                .map_err(|e| problem(DiarizeError::Detection(e)))?;
            let windows = diarizer.windows(samples.len(), &speech, min);
            Ok((speech, windows))
        })
        .await
        .map_err(Problem::internal)??
    };
    let (speech, windows) = planned;
    // Every window through the batcher, as /v1/embed's requests are.
    let mut embedded = HashMap::with_capacity(windows.len());
    let jobs = windows.iter().map(|w| {
        let slice = samples[w.window.start..w.window.end].to_vec();
        let state = state.clone();
        async move { state.embed(slice, LabelSet::embedding()).await }
    });
    let results = join_all(jobs).await?;
    for (w, r) in windows.iter().zip(results) {
        embedded.insert((w.window.start, w.window.end), r?);
    }
    let d = tokio::task::spawn_blocking(move || {
        diarizer.diarize_regions(&samples, &speech, &Precomputed(embedded))
    })
    .await
    .map_err(Problem::internal)?
    .map_err(problem)?;
    Ok(Json(DiarizeResponse {
        segments: turns(&d.segments),
        exclusive: turns(&d.exclusive),
        speakers: d
            .speakers
            .into_iter()
            .map(|s| SpeakerOut {
                label: s.label,
                centroid: s.centroid,
                windows: s.windows,
            })
            .collect(),
        duration_s,
    }))
}

/// Awaits all `jobs` concurrently (so the batcher can group them), results in order.
async fn join_all<F, T>(jobs: impl Iterator<Item = F>) -> Result<Vec<T>, Problem>
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = jobs.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.map_err(Problem::internal)?);
    }
    Ok(out)
}
