//! The HTTP surface: one function builds the whole `Router` (so tests can
//! drive it), mounting the web chat API, the agent API, the reports, the
//! widget, the demo page, the agent console, the survey rating page and the
//! health probes.

pub mod agent;
pub mod chat;
pub mod error;
pub mod openapi;
mod pages;
pub mod rating_page;
pub mod reports;
pub mod routes;
pub mod serve;
pub mod state;
pub mod telegram_webhook;
pub mod throttle;

use crate::http::state::App;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, Method, header};
use error::AppError;
use std::sync::Arc;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::TraceLayer;

/// Lets the configured sites call the chat API from the widget they embed.
fn cors(origins: &[String]) -> CorsLayer {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::CONTENT_TYPE])
        .max_age(std::time::Duration::from_secs(3600))
}

/// Where each API's routes are mounted.
const CHAT: &str = "/api/v1/chat";
const AGENT: &str = "/api/v1/agent";
const REPORTS: &str = "/api/v1/reports";

/// Every route of the chat, agent and reports APIs: (method, full path).
pub fn api_routes() -> Vec<(Method, String)> {
    let mut all = Vec::new();
    for (prefix, table) in [
        (CHAT, chat::routes().1),
        (AGENT, agent::routes().1),
        (REPORTS, reports::routes().1),
    ] {
        all.extend(table.into_iter().map(|(m, p)| (m, format!("{prefix}{p}"))));
    }
    all.push((Method::GET, openapi::PATH.to_string()));
    all
}

pub fn router(app: Arc<App>) -> Router {
    let body_limit = app.config.server.max_body_bytes;
    let body_timeout = std::time::Duration::from_secs(app.config.server.body_timeout_secs.max(1));
    Router::new()
        .merge(pages::routes())
        .merge(rating_page::routes())
        .nest(
            CHAT,
            chat::routes()
                .0
                .layer(cors(&app.config.channels.web.allowed_origins)),
        )
        .nest(AGENT, agent::routes().0)
        .nest(REPORTS, reports::routes().0)
        .merge(openapi::routes())
        .merge(crate::http::telegram_webhook::routes())
        .fallback(|| async { AppError::not_found("not_found", "no such endpoint") })
        .layer(DefaultBodyLimit::max(body_limit))
        // A client dribbling its body gets 408 (slow headers: `serve`).
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            body_timeout,
        ))
        // Spans name the path only: query strings carry session tokens.
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
            tracing::debug_span!("http", method = %request.method(), path = %request.uri().path())
        }))
        .with_state(app)
}
