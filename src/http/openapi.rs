//! The API document: OpenAPI 3.1 for the chat, agent and reports APIs,
//! generated from the handlers' own annotations (`utoipa`), served at
//! `/api/v1/openapi.json`. A test checks that it names every route the
//! router serves and that it validates.

use crate::http::state::App;
use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use std::sync::{Arc, OnceLock};
use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder};
use utoipa::openapi::security::{SecurityRequirement, SecurityScheme};

/// Where the document is served.
pub const PATH: &str = "/api/v1/openapi.json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Frontdesk",
        description = "The web chat API behind the widget, the agent API behind the console, and the leads' reports. Errors are `{\"error\", \"detail\"}` with a stable code."
    ),
    nest(
        (path = "/api/v1/chat", api = crate::http::chat::ChatApi),
        (path = "/api/v1/agent", api = crate::http::agent::AgentApi),
        (path = "/api/v1/reports", api = crate::http::reports::ReportsApi),
    ),
    paths(document),
    modifiers(&SignIn),
    tags(
        (name = "chat", description = "Web chat for visitors: a session token, messages posted with a client id (the dedupe key), the transcript by sequence number."),
        (name = "agent", description = "The agent console's API: sign-in, the queue, transcripts, changes, canned responses, accounts, live events."),
        (name = "reports", description = "The support leads' measures and the staffing forecast."),
        (name = "meta", description = "This document."),
    )
)]
struct Document;

/// The document as JSON, made once.
pub fn json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| Document::openapi().to_json().unwrap_or_default())
}

/// `GET /api/v1/openapi.json`: this document.
#[utoipa::path(
    get, path = "/api/v1/openapi.json", tag = "meta", security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object))
)]
async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], json())
}

pub fn routes() -> Router<Arc<App>> {
    Router::new().route(PATH, get(document))
}

/// The agent's two ways to prove a sign-in, required by every agent and
/// report operation that does not say otherwise (sign-in itself).
struct SignIn;

impl Modify for SignIn {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::http::agent::COOKIE,
                "The session cookie; writes must also send the session's X-CSRF-Token header",
            ))),
        );
        let required = vec![
            SecurityRequirement::new("bearer", Vec::<String>::new()),
            SecurityRequirement::new("cookie", Vec::<String>::new()),
        ];
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !(path.starts_with("/api/v1/agent") || path.starts_with("/api/v1/reports")) {
                continue;
            }
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                if operation.security.is_none() {
                    operation.security = Some(required.clone());
                }
            }
        }
    }
}
