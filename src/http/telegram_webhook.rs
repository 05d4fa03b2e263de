//! Webhook mode: Telegram posts each update to
//! `/api/v1/telegram/webhook` with our secret in
//! `X-Telegram-Bot-Api-Secret-Token`. The update is stored and flushed
//! before the 200; any failure answers non-2xx, and Telegram retries.

use crate::http::error::AppError;
use crate::http::state::App;
use crate::secrets;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use std::sync::Arc;

pub const PATH: &str = "/api/v1/telegram/webhook";

pub fn routes() -> Router<Arc<App>> {
    Router::new().route(PATH, post(receive))
}

async fn receive(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, AppError> {
    let (Some(bot), Some(expected)) = (
        app.telegram.as_ref(),
        app.config
            .channels
            .telegram
            .as_ref()
            .and_then(|t| t.webhook_secret.as_deref()),
    ) else {
        return Err(AppError::not_found(
            "not_found",
            "the Telegram webhook is not enabled",
        ));
    };
    let sent = headers
        .get("x-telegram-bot-api-secret-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !secrets::constant_time_eq(sent, expected) {
        tracing::warn!("Refused a Telegram webhook call with a wrong secret.");
        return Err(AppError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "wrong or missing secret token",
        ));
    }
    let update = crate::channels::telegram::parse::read_update(&body)
        .map_err(|e| AppError::bad_request("invalid_update", e.to_string()))?;
    crate::channels::telegram::poll::take_in(bot, &app.inbox, &update)
        .await
        .map_err(|_| AppError::unavailable("the update could not be stored; retry"))?;
    Ok(StatusCode::OK)
}
