//! The registry endpoints (with `--db`): enroll, list, remove, verify, identify.

use super::extract::{Body, Multipart, Path, Query};
use crate::problem::{AudioProblems, NotFound, Problem, Unauthorized};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use ecapa2::LabelSet;
use ecapa2_registry::{EnrollmentInfo, NewEnrollment, SpeakerInfo};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A speaker as listed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SpeakerOut {
    /// Speaker name.
    pub name: String,
    /// Number of enrollments.
    pub enrollments: usize,
    /// Seconds of enrolled audio.
    pub duration_s: f64,
    /// First enrollment (UTC, RFC 3339).
    pub created_at: String,
    /// Last change (UTC, RFC 3339).
    pub updated_at: String,
}

impl From<SpeakerInfo> for SpeakerOut {
    fn from(s: SpeakerInfo) -> Self {
        Self {
            name: s.name,
            enrollments: s.enrollments,
            duration_s: s.duration_s,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

/// Every speaker.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SpeakerList {
    /// Speakers by name.
    pub speakers: Vec<SpeakerOut>,
    /// The decision threshold, if set.
    pub threshold: Option<f64>,
}

/// One enrollment.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EnrollmentOut {
    /// Its id (for removal).
    pub id: i64,
    /// Where it came from.
    pub source: String,
    /// Seconds of audio.
    pub duration_s: f64,
    /// When (UTC, RFC 3339).
    pub created_at: String,
}

impl From<EnrollmentInfo> for EnrollmentOut {
    fn from(e: EnrollmentInfo) -> Self {
        Self {
            id: e.id,
            source: e.source,
            duration_s: e.duration_s,
            created_at: e.created_at,
        }
    }
}

/// A speaker with its enrollments.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SpeakerDetailOut {
    /// The speaker.
    pub speaker: SpeakerOut,
    /// Its enrollments, oldest first.
    pub enrollments: Vec<EnrollmentOut>,
}

/// What an enrollment request added.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EnrollResponse {
    /// The speaker.
    pub speaker: String,
    /// Ids of the enrollments, one per recording sent.
    pub enrollment_ids: Vec<i64>,
    /// Per recording: `false` when the speaker already had this audio (a retried request;
    /// nothing was stored and the id is the earlier enrollment's).
    pub new: Vec<bool>,
    /// The speaker's enrollments now.
    pub enrollments: usize,
}

/// What a removal took away.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RemoveResponse {
    /// The speaker concerned.
    pub speaker: String,
    /// Enrollments removed.
    pub removed_enrollments: usize,
}

/// A verification decision.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VerifyResponse {
    /// The claimed speaker.
    pub speaker: String,
    /// The decision score: AS-normalised when the registry has a cohort, else `raw_score`.
    pub score: f64,
    /// Cosine similarity to the speaker's centroid.
    pub raw_score: f64,
    /// Whether `score` is AS-normalised.
    pub normalized: bool,
    /// The registry's threshold (null until one is set).
    pub threshold: Option<f64>,
    /// `score >= threshold` (null without a threshold).
    pub accepted: Option<bool>,
}

/// One identification candidate.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CandidateOut {
    /// Speaker name.
    pub speaker: String,
    /// The decision score (AS-normalised when the registry has a cohort).
    pub score: f64,
    /// Cosine similarity to its centroid.
    pub raw_score: f64,
    /// `score >= threshold` (null without a threshold).
    pub accepted: Option<bool>,
}

/// The closest speakers, best first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IdentifyResponse {
    /// Candidates, best first.
    pub candidates: Vec<CandidateOut>,
    /// The registry's threshold (null until one is set).
    pub threshold: Option<f64>,
}

/// Query of an enrollment.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct EnrollQuery {
    /// A name for where the audio came from (default: the file name, or `upload`).
    source: Option<String>,
}

/// Query of `/v1/verify`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct VerifyQuery {
    /// The claimed speaker.
    speaker: String,
}

/// Query of `/v1/identify`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct IdentifyQuery {
    /// How many candidates (default 5, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    top: Option<usize>,
}

const PROBLEM: &str = "application/problem+json";

/// List the enrolled speakers.
#[utoipa::path(
    get, path = "/v1/speakers", tag = "registry",
    responses(
        (status = 200, description = "Every speaker", body = SpeakerList),
        NotFound
    )
)]
pub async fn list_speakers(
    State(state): State<Arc<AppState>>,
) -> Result<Json<SpeakerList>, Problem> {
    state
        .with_registry(|reg| {
            Ok(Json(SpeakerList {
                speakers: reg.speakers()?.into_iter().map(Into::into).collect(),
                threshold: reg.threshold()?.map(|t| t.value),
            }))
        })
        .await
}

/// One speaker and its enrollments.
#[utoipa::path(
    get, path = "/v1/speakers/{speaker}", tag = "registry",
    params(("speaker" = String, Path, description = "Speaker name")),
    responses(
        (status = 200, description = "The speaker", body = SpeakerDetailOut),
        (status = 400, description = "Bad path", body = Problem, content_type = PROBLEM),
        NotFound
    )
)]
pub async fn get_speaker(
    State(state): State<Arc<AppState>>,
    Path(speaker): Path<String>,
) -> Result<Json<SpeakerDetailOut>, Problem> {
    state
        .with_registry(move |reg| {
            let d = reg.speaker(&speaker)?;
            Ok(Json(SpeakerDetailOut {
                speaker: d.info.into(),
                enrollments: d.enrollments.into_iter().map(Into::into).collect(),
            }))
        })
        .await
}

/// Enroll a speaker (created on its first enrollment) from one recording in the body, or
/// several as multipart file fields (all or nothing).
#[utoipa::path(
    post, path = "/v1/speakers/{speaker}/enrollments", tag = "registry",
    params(("speaker" = String, Path, description = "Speaker name"), EnrollQuery),
    request_body(
        description = "An audio file, JSON samples, or a multipart form of audio files",
        content(
            ([u8] = "application/octet-stream"),
            (crate::audio_input::SamplesBody = "application/json"),
            ("multipart/form-data")
        )
    ),
    security(("api_key" = [])),
    responses(
        (status = 201, description = "Enrolled", body = EnrollResponse),
        (status = 200, description = "Already enrolled (a retried request): nothing stored", body = EnrollResponse),
        AudioProblems,
        Unauthorized,
        NotFound
    )
)]
pub async fn enroll(
    State(state): State<Arc<AppState>>,
    Path(speaker): Path<String>,
    Query(query): Query<EnrollQuery>,
    headers: HeaderMap,
    request: axum::extract::Request,
) -> Result<(StatusCode, Json<EnrollResponse>), Problem> {
    let speaker = ecapa2_registry::normalize_name(&speaker)?;
    let identity = state.registry_identity()?.clone();
    let labels: LabelSet = identity.label.parse().map_err(Problem::from)?;
    let is_multipart = crate::audio_input::media_type(&headers) == "multipart/form-data";
    // Decode and embed every recording first: a bad one refuses the request before any write.
    let mut items = Vec::new();
    if is_multipart {
        let form =
            <Multipart as axum::extract::FromRequest<()>>::from_request(request, &()).await?;
        let files = form.files().await?;
        if files.is_empty() {
            return Err(Problem::bad_request("the form has no files"));
        }
        for (_, file, _) in &files {
            ecapa2_registry::check_source(file)?;
        }
        // Every part decoded and checked before any is embedded: a bad part refuses the
        // request before it costs engine time.
        let mut decoded = Vec::with_capacity(files.len());
        for (_, file, bytes) in files {
            let audio = state.decode(&file, bytes).await?;
            decoded.push((file, audio));
        }
        for (file, audio) in decoded {
            let (digest, samples) = digest_of(audio.samples).await?;
            let embedding = state.embed(samples, labels).await?;
            items.push((file, audio.duration_s, embedding, digest));
        }
    } else {
        let Body(body) =
            <Body as axum::extract::FromRequest<()>>::from_request(request, &()).await?;
        let source = query.source.clone().unwrap_or_else(|| "upload".into());
        ecapa2_registry::check_source(&source)?;
        let audio = state.audio_from_body(&source, &headers, body).await?;
        let (digest, samples) = digest_of(audio.samples).await?;
        let embedding = state.embed(samples, labels).await?;
        items.push((source, audio.duration_s, embedding, digest));
    }
    let response = state
        .with_registry(move |reg| {
            let new: Vec<NewEnrollment<'_>> = items
                .iter()
                .map(|(source, seconds, e, digest)| {
                    NewEnrollment::new(source, *seconds, e).with_digest(*digest)
                })
                .collect();
            let done = reg.enroll(&identity, &speaker, &new)?;
            let enrollments = reg.speaker(&speaker)?.info.enrollments;
            Ok(EnrollResponse {
                speaker,
                enrollment_ids: done.iter().map(|e| e.id).collect(),
                new: done.iter().map(|e| e.new).collect(),
                enrollments,
            })
        })
        .await?;
    let status = if response.new.contains(&true) {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(response)))
}

/// Remove a speaker and all its enrollments.
#[utoipa::path(
    delete, path = "/v1/speakers/{speaker}", tag = "registry",
    params(("speaker" = String, Path, description = "Speaker name")),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "Removed", body = RemoveResponse),
        (status = 400, description = "Bad path", body = Problem, content_type = PROBLEM),
        Unauthorized,
        NotFound
    )
)]
pub async fn remove_speaker(
    State(state): State<Arc<AppState>>,
    Path(speaker): Path<String>,
) -> Result<Json<RemoveResponse>, Problem> {
    state
        .with_registry(move |reg| {
            let removed_enrollments = reg.remove_speaker(&speaker)?;
            Ok(Json(RemoveResponse {
                speaker,
                removed_enrollments,
            }))
        })
        .await
}

/// Remove one enrollment (the speaker goes with its last one).
#[utoipa::path(
    delete, path = "/v1/speakers/{speaker}/enrollments/{id}", tag = "registry",
    params(
        ("speaker" = String, Path, description = "Speaker name"),
        ("id" = i64, Path, description = "Enrollment id")
    ),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "Removed", body = RemoveResponse),
        (status = 400, description = "Bad path", body = Problem, content_type = PROBLEM),
        Unauthorized,
        NotFound
    )
)]
pub async fn remove_enrollment(
    State(state): State<Arc<AppState>>,
    Path((speaker, id)): Path<(String, i64)>,
) -> Result<Json<RemoveResponse>, Problem> {
    state
        .with_registry(move |reg| {
            // The id must belong to the speaker in the path.
            let owned = reg
                .speaker(&speaker)?
                .enrollments
                .iter()
                .any(|e| e.id == id);
            if !owned {
                return Err(Problem::new(
                    StatusCode::NOT_FOUND,
                    format!("speaker {speaker:?} has no enrollment #{id}"),
                ));
            }
            reg.remove_enrollment(id)?;
            Ok(Json(RemoveResponse {
                speaker,
                removed_enrollments: 1,
            }))
        })
        .await
}

/// Is this recording the claimed speaker?
#[utoipa::path(
    post, path = "/v1/verify", tag = "registry",
    params(VerifyQuery),
    request_body(
        description = "An audio file or JSON samples",
        content(
            ([u8] = "application/octet-stream"),
            (crate::audio_input::SamplesBody = "application/json")
        )
    ),
    responses(
        (status = 200, description = "Score and decision", body = VerifyResponse),
        AudioProblems,
        NotFound
    )
)]
pub async fn verify(
    State(state): State<Arc<AppState>>,
    Query(query): Query<VerifyQuery>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Json<VerifyResponse>, Problem> {
    // Unknown speaker: answer before spending engine time.
    let speaker = query.speaker;
    let known = speaker.clone();
    state
        .with_registry(move |reg| Ok(reg.centroid(&known).map(|_| ())?))
        .await?;
    let (identity, embedding) = query_embedding(&state, &headers, body).await?;
    state
        .with_registry(move |reg| {
            let v = reg.verify(&identity, &speaker, &embedding)?;
            Ok(Json(VerifyResponse {
                speaker,
                score: f64::from(v.score),
                raw_score: f64::from(v.raw_score),
                normalized: v.normalized,
                threshold: v.threshold,
                accepted: v.accepted,
            }))
        })
        .await
}

/// Which enrolled speakers sound most like this recording?
#[utoipa::path(
    post, path = "/v1/identify", tag = "registry",
    params(IdentifyQuery),
    request_body(
        description = "An audio file or JSON samples",
        content(
            ([u8] = "application/octet-stream"),
            (crate::audio_input::SamplesBody = "application/json")
        )
    ),
    responses(
        (status = 200, description = "Candidates, best first", body = IdentifyResponse),
        AudioProblems,
        NotFound
    )
)]
pub async fn identify(
    State(state): State<Arc<AppState>>,
    Query(query): Query<IdentifyQuery>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Json<IdentifyResponse>, Problem> {
    let top = query.top.unwrap_or(5);
    if !(1..=1000).contains(&top) {
        return Err(Problem::bad_request(format!(
            "top={top}: expected 1..=1000"
        )));
    }
    let (identity, embedding) = query_embedding(&state, &headers, body).await?;
    state
        .with_registry(move |reg| {
            let candidates = reg
                .identify(&identity, &embedding, top)?
                .into_iter()
                .map(|c| CandidateOut {
                    speaker: c.speaker,
                    score: f64::from(c.score),
                    raw_score: f64::from(c.raw_score),
                    accepted: c.accepted,
                })
                .collect();
            Ok(Json(IdentifyResponse {
                candidates,
                threshold: reg.threshold()?.map(|t| t.value),
            }))
        })
        .await
}

/// The digest that makes a retried enrollment recognisable, hashed off the async threads.
async fn digest_of(
    samples: Vec<f32>,
) -> Result<(ecapa2_registry::ContentDigest, Vec<f32>), Problem> {
    tokio::task::spawn_blocking(move || (ecapa2_registry::audio_digest(&samples), samples))
        .await
        .map_err(Problem::internal)
}

/// The registry's feature of the recording in a verify/identify request.
async fn query_embedding(
    state: &AppState,
    headers: &HeaderMap,
    body: axum::body::Bytes,
) -> Result<(ecapa2_registry::ModelIdentity, Vec<f32>), Problem> {
    let identity = state.registry_identity()?.clone();
    let labels: LabelSet = identity.label.parse().map_err(Problem::from)?;
    let audio = state.audio_from_body("request body", headers, body).await?;
    let embedding = state.embed(audio.samples, labels).await?;
    Ok((identity, embedding))
}
