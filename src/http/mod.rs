//! The HTTP surface: one function builds the whole `Router` (so tests can
//! drive it), mounting the web chat API, the widget and demo page, and the
//! health probes.

pub mod error;
mod pages;

use crate::app::App;
use crate::channels;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use error::AppError;
use std::sync::Arc;
use tower_http::trace::TraceLayer;

pub fn router(app: Arc<App>) -> Router {
    let body_limit = app.config.server.max_body_bytes;
    Router::new()
        .merge(pages::routes())
        .nest("/api/v1/chat", channels::web::routes())
        .fallback(|| async { AppError::not_found("not_found", "no such endpoint") })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(TraceLayer::new_for_http())
        .with_state(app)
}
