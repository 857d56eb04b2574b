//! Extractors whose rejections are problem details too (axum's own answer in plain text).

use crate::problem::Problem;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

/// The whole body (within the body limit: 413 beyond).
pub struct Body(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(req, state)
            .await
            .map(Body)
            .map_err(|e| {
                let status = e.status();
                let detail = if status == StatusCode::PAYLOAD_TOO_LARGE {
                    "the request body is over this service's size limit".to_string()
                } else {
                    e.body_text()
                };
                Problem::new(status, detail)
            })
    }
}

/// Query parameters (400 with the reason when they do not parse).
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|e| Problem::bad_request(e.body_text()))
    }
}

/// Path parameters (400 with the reason when they do not parse).
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|e| Problem::bad_request(e.body_text()))
    }
}

/// A multipart form (400 when the body is not one).
pub struct Multipart(pub axum::extract::Multipart);

impl<S: Send + Sync> FromRequest<S> for Multipart {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Multipart::from_request(req, state)
            .await
            .map(Multipart)
            .map_err(|e| Problem::new(e.status(), e.body_text()))
    }
}

impl Multipart {
    /// Every file part, as `(field name, file name, bytes)`, in order.
    pub async fn files(mut self) -> Result<Vec<(String, String, Bytes)>, Problem> {
        let mut out = Vec::new();
        loop {
            let field = self
                .0
                .next_field()
                .await
                .map_err(|e| Problem::new(e.status(), e.body_text()))?;
            let Some(field) = field else {
                return Ok(out);
            };
            let name = field.name().unwrap_or("").to_string();
            let file = field.file_name().unwrap_or(&name).to_string();
            let bytes = field
                .bytes()
                .await
                .map_err(|e| Problem::new(e.status(), e.body_text()))?;
            out.push((name, file, bytes));
        }
    }
}
