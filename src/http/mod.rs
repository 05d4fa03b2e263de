//! The HTTP surface: one function builds the whole `Router` (so tests can
//! drive it), mounting the web chat API, the agent API, the widget, the demo
//! page, the agent console and the health probes.

pub mod agent_api;
pub mod error;
mod pages;

use crate::app::App;
use crate::channels;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use error::AppError;
use std::sync::Arc;
use tower_http::trace::TraceLayer;

pub fn router(app: Arc<App>) -> Router {
    let body_limit = app.config.server.max_body_bytes;
    Router::new()
        .merge(pages::routes())
        .nest("/api/v1/chat", channels::web::routes())
        .nest("/api/v1/agent", agent_api::routes().0)
        .fallback(|| async { AppError::not_found("not_found", "no such endpoint") })
        .layer(DefaultBodyLimit::max(body_limit))
        // Spans name the path only: query strings carry session tokens.
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
            tracing::debug_span!("http", method = %request.method(), path = %request.uri().path())
        }))
        .with_state(app)
}
