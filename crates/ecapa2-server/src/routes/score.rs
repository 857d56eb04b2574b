//! `POST /v1/score`: cosine similarity of two recordings.

use super::extract::Multipart;
use crate::problem::{AudioProblems, Problem};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use ecapa2::LabelSet;
use serde::Serialize;
use std::sync::Arc;

/// The two recordings, as multipart file fields `a` and `b`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documents the form only
pub struct ScoreForm {
    /// First recording (an audio file).
    #[schema(value_type = String, format = Binary)]
    a: Vec<u8>,
    /// Second recording (an audio file).
    #[schema(value_type = String, format = Binary)]
    b: Vec<u8>,
}

/// A verification score.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ScoreResponse {
    /// Cosine similarity of the two embeddings, in [-1, 1] (higher: more likely the same
    /// speaker).
    pub score: f64,
}

/// Score two recordings against each other.
#[utoipa::path(
    post,
    path = "/v1/score",
    tag = "embeddings",
    request_body(content = ScoreForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "The cosine similarity", body = ScoreResponse),
        AudioProblems
    )
)]
pub async fn score(
    State(state): State<Arc<AppState>>,
    form: Multipart,
) -> Result<Json<ScoreResponse>, Problem> {
    let files = form.files().await?;
    let pick = |field: &str| {
        files
            .iter()
            .find(|(name, _, _)| name == field)
            .cloned()
            .ok_or_else(|| {
                Problem::bad_request(format!("missing file field `{field}` (need `a` and `b`)"))
            })
    };
    let (a, b) = (pick("a")?, pick("b")?);
    let (audio_a, audio_b) = tokio::try_join!(state.decode(&a.1, a.2), state.decode(&b.1, b.2))?;
    let (ea, eb) = tokio::try_join!(
        state.embed(audio_a.samples, LabelSet::embedding()),
        state.embed(audio_b.samples, LabelSet::embedding())
    )?;
    let score = ecapa2_eval::cosine_similarity(&ea, &eb)
        .map_err(|e| Problem::new(axum::http::StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    Ok(Json(ScoreResponse { score }))
}
