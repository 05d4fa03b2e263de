//! One error type for every HTTP handler: client faults say what was wrong,
//! internal faults say little and log the rest. Every error body is JSON
//! `{"error": "<code>", "detail": "<sentence>"}`.

use crate::core::inbox::InboxError;
use crate::store::StoreError;
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

/// Every error's JSON body.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable, machine-readable code (`unknown_session`, `not_found`, …).
    #[schema(value_type = String)]
    pub error: &'static str,
    /// A sentence for the developer reading it.
    pub detail: String,
}

#[derive(Debug)]
pub struct AppError {
    pub status: StatusCode,
    /// A stable, machine-readable code.
    pub error: &'static str,
    /// A sentence for the developer reading it.
    pub detail: String,
    retry_after_secs: Option<u64>,
}

impl AppError {
    pub fn new(status: StatusCode, error: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            error,
            detail: detail.into(),
            retry_after_secs: None,
        }
    }

    pub fn bad_request(error: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error, detail)
    }

    pub fn not_found(error: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, error, detail)
    }

    /// 429 with Retry-After (whole seconds, at least 1).
    pub fn too_many(detail: impl Into<String>, wait: std::time::Duration) -> Self {
        Self {
            retry_after_secs: Some(wait.as_secs_f64().ceil().max(1.0) as u64),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", detail)
        }
    }

    /// Seconds the client should wait, when the error says so.
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after_secs
    }

    /// 503 with Retry-After: we could not make the request durable.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self {
            retry_after_secs: Some(5),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail)
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.error,
            detail: self.detail,
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::ConversationNotFound(_) => {
                AppError::not_found("conversation_not_found", error.to_string())
            }
            StoreError::Io(_)
            | StoreError::Open { .. }
            | StoreError::InUse { .. }
            | StoreError::Flush(_)
            | StoreError::CommitStopped => {
                tracing::error!(%error, "Storage failed; refusing the request.");
                AppError::unavailable("storage is unavailable; nothing was stored, try again")
            }
            StoreError::Corrupt { .. } | StoreError::NewerSchema { .. } => {
                tracing::error!(%error, "Stored data could not be read.");
                AppError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "an internal error occurred",
                )
            }
        }
    }
}

impl From<InboxError> for AppError {
    fn from(error: InboxError) -> Self {
        match error {
            InboxError::Store(e) => e.into(),
        }
    }
}

/// Whether `error` comes from a body the client did not send in time.
pub fn is_body_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if e.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cause = e.source();
    }
    false
}

/// 408 for a body sent too slowly.
pub fn body_timeout() -> AppError {
    AppError::new(
        StatusCode::REQUEST_TIMEOUT,
        "request_timeout",
        "the request body did not arrive in time",
    )
}

impl From<JsonRejection> for AppError {
    fn from(rejection: JsonRejection) -> Self {
        if is_body_timeout(&rejection) {
            return body_timeout();
        }
        let status = rejection.status();
        let error = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            _ => "invalid_json",
        };
        // Schema errors (422 from axum) are plain bad requests to our clients.
        let status = if status == StatusCode::UNPROCESSABLE_ENTITY {
            StatusCode::BAD_REQUEST
        } else {
            status
        };
        AppError::new(status, error, rejection.body_text())
    }
}

impl From<QueryRejection> for AppError {
    fn from(rejection: QueryRejection) -> Self {
        AppError::bad_request("invalid_query", rejection.body_text())
    }
}

/// Checks a message text: not blank (400 `empty_message`) and at most
/// `limit` bytes (413 `message_too_large`).
pub fn require_text(text: &str, limit: usize) -> Result<(), AppError> {
    if text.trim().is_empty() {
        return Err(AppError::bad_request("empty_message", "`text` is empty"));
    }
    if text.len() > limit {
        return Err(AppError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "message_too_large",
            format!("`text` is {} bytes; the limit is {limit}", text.len()),
        ));
    }
    Ok(())
}

/// `axum::Json` whose rejections are JSON [`AppError`]s.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Json(value) = Json::<T>::from_request(req, state).await?;
        Ok(ApiJson(value))
    }
}

/// `axum::extract::Query` whose rejections are JSON [`AppError`]s.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(value) = Query::<T>::from_request_parts(parts, state).await?;
        Ok(ApiQuery(value))
    }
}
