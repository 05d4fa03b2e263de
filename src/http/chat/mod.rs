//! The web chat API: the JSON API and WebSocket behind the widget.
//!
//! A visitor opens a session (an unguessable token), posts messages with a
//! client-chosen `client_id` (the dedupe key: a retried post is answered
//! with the first result), and reads its transcript by sequence number,
//! either by long-polling `GET /messages?after=SEQ&wait=S` or over the
//! WebSocket, which replays from `after` on reconnect. Outbound delivery on
//! this channel is the transcript append the outbox makes on success; the
//! visitor's next read sees it.

mod socket;
pub mod views;

use crate::http::error::{ApiJson, ApiQuery, AppError, ErrorBody, require_text};
use crate::http::routes::{RouteTable, Routes};
use crate::http::state::App;
use crate::model::{
    ConversationStatus, CustomerAddress, InboundMessage, VerifiedIdentity, WebSession,
};
use crate::service_levels::segments;
use crate::service_levels::waiting;
use crate::store::Accepted;
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;

use axum::http::Method;
use chrono::Utc;
use serde::Deserialize;
use socket::websocket;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;
use views::{Messages, Place, Receipt, SessionCreated, Visible};

/// Longest `wait` a long poll may ask for.
const MAX_WAIT: Duration = Duration::from_secs(30);
/// Most transcript entries returned by one read.
const PAGE: usize = 200;
const MAX_CLIENT_ID: usize = 128;
const MAX_NAME: usize = 100;
const MAX_EMAIL: usize = 254;

/// The chat API's part of the API document (paths under `/api/v1/chat`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(create_session, post_message, get_messages, socket::websocket))]
pub struct ChatApi;

/// The chat API's routes, under `/api/v1/chat`.
pub fn routes() -> (Router<Arc<App>>, RouteTable) {
    Routes::default()
        .add(Method::POST, "/sessions", create_session)
        .add(Method::POST, "/messages", post_message)
        .add(Method::GET, "/messages", get_messages)
        .add(Method::GET, "/ws", websocket)
        .into_parts()
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewSession {
    name: Option<String>,
    email: Option<String>,
    /// The host site's user id, its attributes, and its HMAC-SHA256 over
    /// both (see `segments`): only a valid signature makes them count.
    user_id: Option<String>,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
    signature: Option<String>,
}

/// Longest user id and attribute value of a signed identity.
const MAX_IDENTITY_FIELD: usize = 200;
const MAX_ATTRIBUTES: usize = 32;

/// The visitor's identity if the host site signed it; unsigned or forged
/// identities are ignored (the visitor is then simply anonymous).
fn verified_identity(
    identity_secret: Option<&str>,
    request: &NewSession,
) -> Result<Option<VerifiedIdentity>, AppError> {
    let Some(user_id) = &request.user_id else {
        return Ok(None);
    };
    let too_long = user_id.len() > MAX_IDENTITY_FIELD
        || request.attributes.len() > MAX_ATTRIBUTES
        || request
            .attributes
            .iter()
            .any(|(k, v)| k.len() > MAX_IDENTITY_FIELD || v.len() > MAX_IDENTITY_FIELD);
    if too_long {
        return Err(AppError::bad_request(
            "invalid_session",
            format!(
                "an identity has at most {MAX_ATTRIBUTES} attributes and {MAX_IDENTITY_FIELD} bytes per value"
            ),
        ));
    }
    let Some(secret) = identity_secret else {
        tracing::debug!("Ignored a visitor identity: no identity_secret is configured.");
        return Ok(None);
    };
    let signature = request.signature.as_deref().unwrap_or_default();
    if !segments::verify_identity(secret, user_id, &request.attributes, signature) {
        tracing::warn!("Ignored a visitor identity whose signature does not verify.");
        return Ok(None);
    }
    Ok(Some(VerifiedIdentity {
        user_id: user_id.clone(),
        attributes: request.attributes.clone(),
    }))
}

fn new_token() -> Result<String, AppError> {
    crate::secrets::random_token().map_err(|e| {
        tracing::error!(error = %e, "No randomness for a session token.");
        AppError::unavailable("cannot create a session right now")
    })
}

fn clean_optional(
    value: Option<String>,
    max: usize,
    field: &str,
) -> Result<Option<String>, AppError> {
    let Some(value) = value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
    else {
        return Ok(None);
    };
    if value.chars().count() > max || value.chars().any(char::is_control) {
        return Err(AppError::bad_request(
            "invalid_session",
            format!("`{field}` must be at most {max} characters with no control characters"),
        ));
    }
    Ok(Some(value))
}

/// What a visitor's `POST /sessions` body asks for, checked.
#[derive(Debug)]
pub struct SessionRequest {
    pub display_name: Option<String>,
    pub email: Option<String>,
    /// Present only when the host site's signature verifies.
    pub identity: Option<VerifiedIdentity>,
}

/// Reads and checks a `POST /sessions` body (empty is fine): every fault is
/// a 400 with what was wrong.
pub fn read_session_request(
    body: &[u8],
    identity_secret: Option<&str>,
) -> Result<SessionRequest, AppError> {
    let request: NewSession = if body.iter().all(u8::is_ascii_whitespace) {
        NewSession::default()
    } else {
        serde_json::from_slice(body)
            .map_err(|e| AppError::bad_request("invalid_json", e.to_string()))?
    };
    let identity = verified_identity(identity_secret, &request)?;
    let display_name = clean_optional(request.name, MAX_NAME, "name")?;
    let email = clean_optional(request.email, MAX_EMAIL, "email")?;
    if email.as_deref().is_some_and(|e| !e.contains('@')) {
        return Err(AppError::bad_request(
            "invalid_session",
            "`email` is not an email address",
        ));
    }
    Ok(SessionRequest {
        display_name,
        email,
        identity,
    })
}

/// Checks a visitor message's `client_id` and text (HTTP and WebSocket).
pub fn check_message(client_id: &str, text: &str, max_bytes: usize) -> Result<(), AppError> {
    if client_id.is_empty() || client_id.len() > MAX_CLIENT_ID {
        return Err(AppError::bad_request(
            "invalid_client_id",
            format!("`client_id` must be 1 to {MAX_CLIENT_ID} bytes, unique per message"),
        ));
    }
    require_text(text, max_bytes)
}

/// Reads a WebSocket frame's text: the message it carries as
/// `(client_id, text)`, unchecked (see [`check_message`]).
pub fn read_frame(text: &str) -> Result<(String, String), AppError> {
    match serde_json::from_str::<ClientFrame>(text) {
        Ok(ClientFrame::Message { client_id, text }) => Ok((client_id, text)),
        Err(e) => Err(AppError::bad_request("invalid_json", e.to_string())),
    }
}

/// 429 when `client` sent more than its address may.
fn check_address(app: &App, client: SocketAddr) -> Result<(), AppError> {
    app.address_throttle.check(&client.ip()).map_err(|wait| {
        tracing::warn!(address = %client.ip(), "Too many chat requests from one address.");
        AppError::too_many("too many requests from your address; try again later", wait)
    })
}

/// `POST /sessions` with an optional `{"name", "email"}` body.
#[utoipa::path(
    post, path = "/sessions", tag = "chat", request_body(content = Option<NewSession>, description = "Optional: the visitor's name and email, and an identity signed by the host site"),
    responses((status = 201, description = "The session's secret token", body = SessionCreated), (status = 400, description = "Malformed or refused input", body = ErrorBody), (status = 429, description = "Too many requests; try again after Retry-After", body = ErrorBody))
)]
async fn create_session(
    State(app): State<Arc<App>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<(StatusCode, Json<SessionCreated>), AppError> {
    check_address(&app, client)?;
    let body = body.map_err(|rejection| {
        if crate::http::error::is_body_timeout(&rejection) {
            crate::http::error::body_timeout()
        } else {
            AppError::new(rejection.status(), "invalid_body", rejection.body_text())
        }
    })?;
    let SessionRequest {
        display_name,
        email,
        identity,
    } = read_session_request(&body, app.config.channels.web.identity_secret.as_deref())?;
    let session = WebSession {
        id: Uuid::new_v4(),
        token: new_token()?,
        display_name,
        email,
        created_at: Utc::now(),
        identity,
    };
    app.store.create_web_session(&session).await?;
    app.store.sync().await?;
    Ok((
        StatusCode::CREATED,
        Json(SessionCreated {
            session: session.token,
        }),
    ))
}

pub(super) async fn session_of(app: &App, token: &str) -> Result<WebSession, AppError> {
    app.store.web_session(token).await?.ok_or_else(|| {
        AppError::not_found(
            "unknown_session",
            "no chat session with that token; create one with POST /api/v1/chat/sessions",
        )
    })
}

pub(super) fn address(session: &WebSession) -> CustomerAddress {
    CustomerAddress::Web {
        session_id: session.id,
    }
}

/// Validates and takes in one visitor message (HTTP and WebSocket alike).
pub(super) async fn submit(
    app: &App,
    session: &WebSession,
    client_id: &str,
    text: &str,
) -> Result<Accepted, AppError> {
    check_message(client_id, text, app.config.channels.web.max_message_bytes)?;
    app.session_throttle.check(&session.id).map_err(|wait| {
        tracing::warn!("A chat session is sending too fast.");
        AppError::too_many(
            "you are sending messages too fast; wait a moment and send again",
            wait,
        )
    })?;
    let inbound = InboundMessage {
        display_name: session.display_name.clone(),
        attributes: session
            .identity
            .as_ref()
            .map(|i| i.attributes.clone())
            .unwrap_or_default(),
        ..InboundMessage::text(
            address(session),
            // Client ids are the visitor's own: scope them to the session.
            format!("{}:{client_id}", session.id),
            text.to_string(),
            Utc::now(),
        )
    };
    Ok(app.inbox.accept(inbound).await?)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct PostMessage {
    session: String,
    client_id: String,
    text: String,
}

/// `POST /messages`: 202 once the message is durable.
#[utoipa::path(
    post, path = "/messages", tag = "chat", request_body = PostMessage,
    responses(
        (status = 202, description = "Stored durably; a retry with the same client_id gets the same receipt", body = Receipt),
        (status = 400, description = "Malformed or refused input", body = ErrorBody), (status = 404, description = "No chat session with that token", body = ErrorBody), (status = 413, description = "Too large", body = ErrorBody), (status = 429, description = "Too many requests; try again after Retry-After", body = ErrorBody), (status = 503, description = "Storage unavailable: nothing was stored; retry after Retry-After", body = ErrorBody),
    )
)]
async fn post_message(
    State(app): State<Arc<App>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    ApiJson(body): ApiJson<PostMessage>,
) -> Result<(StatusCode, Json<Receipt>), AppError> {
    check_address(&app, client)?;
    let session = session_of(&app, &body.session).await?;
    let accepted = submit(&app, &session, &body.client_id, &body.text).await?;
    Ok((StatusCode::ACCEPTED, Json(Receipt::from(&accepted))))
}

/// The visitor's transcript after `after`, and the last sequence read.
pub(super) async fn transcript_after(
    app: &App,
    session: &WebSession,
    after: u64,
) -> Result<(Vec<Visible>, u64), AppError> {
    let Some(conversation) = app.store.conversation_of(&address(session)).await? else {
        return Ok((Vec::new(), after));
    };
    let messages = app
        .store
        .messages_after(conversation.id, after, PAGE)
        .await?;
    let last = messages.last().map_or(after, |m| m.seq);
    Ok((messages.iter().filter_map(Visible::of).collect(), last))
}

/// The visitor's place in the waiting queue and the expected wait, while
/// their conversation waits for a person: from the shared view, or read
/// directly when the view has not caught up with a hand-off yet.
pub(super) async fn queue_place(
    app: &App,
    session: &WebSession,
) -> Result<Option<Place>, AppError> {
    let Some(conversation) = app.store.conversation_of(&address(session)).await? else {
        return Ok(None);
    };
    if conversation.status != ConversationStatus::Waiting {
        return Ok(None);
    }
    let known = app.places.borrow().get(&conversation.id).copied();
    let (position, wait) = match known {
        Some(place) => place,
        None => {
            waiting::place_of(
                app.store.as_ref(),
                &conversation,
                app.config.queue.minutes_per_customer,
            )
            .await?
        }
    };
    Ok(Some(Place {
        position: Some(position),
        wait_minutes: Some(wait),
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ReadQuery {
    session: String,
    #[serde(default)]
    after: u64,
    #[serde(default)]
    wait: u64,
}

/// `GET /messages?session=…&after=SEQ[&wait=SECONDS]`.
#[utoipa::path(
    get, path = "/messages", tag = "chat", params(ReadQuery),
    responses((status = 200, description = "Transcript entries after `after` (waiting up to `wait` seconds for one), and the place in line", body = Messages), (status = 400, description = "Malformed or refused input", body = ErrorBody), (status = 404, description = "No chat session with that token", body = ErrorBody))
)]
async fn get_messages(
    State(app): State<Arc<App>>,
    ApiQuery(query): ApiQuery<ReadQuery>,
) -> Result<Json<Messages>, AppError> {
    let session = session_of(&app, &query.session).await?;
    let mut updates = app.live.subscribe(&address(&session).key());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(query.wait).min(MAX_WAIT);
    let mut shutdown = app.shutdown.clone();
    loop {
        updates.borrow_and_update();
        let (messages, _) = transcript_after(&app, &session, query.after).await?;
        if !messages.is_empty() || tokio::time::Instant::now() >= deadline {
            let queue = queue_place(&app, &session).await?;
            return Ok(Json(Messages { messages, queue }));
        }
        tokio::select! {
            _ = updates.changed() => {}
            _ = tokio::time::sleep_until(deadline) => {}
            _ = shutdown.stopped() => {
                return Ok(Json(Messages {
                    messages: Vec::new(),
                    queue: None,
                }));
            }
        }
    }
}

/// A frame the visitor sends.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientFrame {
    Message { client_id: String, text: String },
}
