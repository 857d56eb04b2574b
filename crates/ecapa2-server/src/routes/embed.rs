//! `POST /v1/embed`: one recording's features.

use super::extract::{Body, Query};
use crate::problem::{AudioProblems, Problem};
use crate::state::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use ecapa2::LabelSet;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Query of `/v1/embed`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct EmbedQuery {
    /// Feature label(s) joined by `|`, e.g. `embedding` (default) or `gfe_1|pool|embedding`;
    /// features come back concatenated in network order.
    label: Option<String>,
}

/// The features of one recording.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EmbedResponse {
    /// The label(s) as given.
    pub label: String,
    /// Length of `embedding`.
    pub dim: usize,
    /// The features (float32 values).
    pub embedding: Vec<f32>,
    /// Seconds of audio in the request.
    pub duration_s: f64,
}

/// The labels a request asks for (400 listing the valid ones when unknown).
pub(crate) fn parse_labels(label: Option<&str>) -> Result<(String, LabelSet), Problem> {
    let label = label.unwrap_or("embedding").to_string();
    let labels: LabelSet = label.parse().map_err(Problem::from)?;
    if labels.is_empty() {
        return Err(Problem::bad_request("empty label"));
    }
    Ok((label, labels))
}

/// Embed one recording.
#[utoipa::path(
    post,
    path = "/v1/embed",
    tag = "embeddings",
    params(EmbedQuery),
    request_body(
        description = "An audio file (WAV, FLAC, MP3, Ogg-Vorbis; any rate and channel count: \
                       resampled to 16 kHz and mixed to mono), or JSON samples",
        content(
            ([u8] = "application/octet-stream"),
            (crate::audio_input::SamplesBody = "application/json")
        )
    ),
    responses(
        (status = 200, description = "The features", body = EmbedResponse),
        AudioProblems
    )
)]
pub async fn embed(
    State(state): State<Arc<AppState>>,
    Query(query): Query<EmbedQuery>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Json<EmbedResponse>, Problem> {
    let (label, labels) = parse_labels(query.label.as_deref())?;
    let audio = state
        .audio_from_body("request body", &headers, body)
        .await?;
    let embedding = state.embed(audio.samples, labels).await?;
    Ok(Json(EmbedResponse {
        label,
        dim: embedding.len(),
        embedding,
        duration_s: audio.duration_s,
    }))
}
