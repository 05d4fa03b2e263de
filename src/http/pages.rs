//! Static pages and probes: the demo page hosting the chat widget, the
//! widget's script and style, the agent console, `/healthz` (alive),
//! `/readyz` (store readable, workers running) and `/metrics` (Prometheus).

use crate::assets;
use crate::http::error::AppError;
use crate::http::state::App;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use std::sync::Arc;

/// Pages may load only our own script, style and connections: customer text
/// can never become running code.
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'";

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route(
            "/",
            get(|| async { asset("index.html", "text/html; charset=utf-8") }),
        )
        .route(
            "/widget.js",
            get(|| async { asset("widget.js", "text/javascript; charset=utf-8") }),
        )
        .route(
            "/widget.css",
            get(|| async { asset("widget.css", "text/css; charset=utf-8") }),
        )
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({ "status": "ok" })) }),
        )
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route(
            "/agent",
            get(|| async { axum::response::Redirect::permanent("/agent/") }),
        )
        .route(
            "/agent/",
            get(|| async { asset("agent/index.html", "text/html; charset=utf-8") }),
        )
        .route(
            "/agent/agent.js",
            get(|| async { asset("agent/agent.js", "text/javascript; charset=utf-8") }),
        )
        .route(
            "/agent/agent.css",
            get(|| async { asset("agent/agent.css", "text/css; charset=utf-8") }),
        )
}

fn asset(path: &str, content_type: &'static str) -> Response {
    match assets::web_asset(path) {
        Some(bytes) => (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CONTENT_SECURITY_POLICY, PAGE_CSP),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            bytes.into_owned(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn readyz(State(app): State<Arc<App>>) -> Response {
    match app.readiness().await {
        Ok(()) => Json(serde_json::json!({
            "status": "ready",
            "store": app.store.backend(),
        }))
        .into_response(),
        Err(problem) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "status": "not_ready", "detail": problem })),
        )
            .into_response(),
    }
}

/// `GET /metrics`: Prometheus text (counts only: no text, no addresses).
async fn metrics(State(app): State<Arc<App>>) -> Result<Response, AppError> {
    let text = crate::core::metrics::render(app.store.as_ref()).await?;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}
