//! The agent API under `/api/v1/agent`: sign-in, the queue and transcripts,
//! claiming and handing over, replies and internal notes, canned responses,
//! agent accounts (admins), and live events as Server-Sent Events.
//!
//! Every route but `login` requires a signed-in agent ([`Authed`]): a
//! `Authorization: Bearer` token, or the HttpOnly session cookie, in which
//! case writes must also carry the session's `X-CSRF-Token`. The route
//! table is built in one place ([`routes`]) and exported, so a test can walk
//! every route and prove none is open.

use crate::conversation::Actor;
use crate::core::agents::{self, SESSION_HOURS};
use crate::core::conversations::Request;
use crate::http::error::{ApiJson, ApiQuery, AppError, require_text};
use crate::http::state::App;
use crate::model::{
    Agent, AgentSession, Author, CannedResponse, Conversation, ConversationId, ConversationStatus,
    CustomerAddress, Delivery, Handling, Message, OutboundReason, OutboxEntry, Refusal, Role,
};
use crate::rules::templates::ReplyContext;
use crate::secrets;
use crate::store::UpdateError;
use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::handler::Handler;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, on};
use axum::{Json, Router};
use chrono::{Duration, Utc};
use futures_util::Stream;
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;

/// The session cookie's name.
pub const COOKIE: &str = "frontdesk_agent";
/// Longest agent reply or note, in bytes.
const MAX_TEXT: usize = 16 * 1024;
const MAX_LIST: usize = 500;
const MAX_TRANSCRIPT: usize = 2000;

/// Every agent route: (method, path under `/api/v1/agent`). Only `login`
/// is open.
pub type RouteTable = Vec<(Method, &'static str)>;

struct Table {
    router: Router<Arc<App>>,
    listed: RouteTable,
}

impl Table {
    fn add<H, T>(mut self, method: Method, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, Arc<App>>,
        T: 'static,
    {
        let filter = axum::routing::MethodFilter::try_from(method.clone())
            .unwrap_or(axum::routing::MethodFilter::GET);
        let route: MethodRouter<Arc<App>> = on(filter, handler);
        self.router = self.router.route(path, route);
        self.listed.push((method, path));
        self
    }
}

/// The agent API router and the list of its routes.
pub fn routes() -> (Router<Arc<App>>, RouteTable) {
    let table = Table {
        router: Router::new(),
        listed: Vec::new(),
    }
    .add(Method::POST, "/login", login)
    .add(Method::POST, "/logout", logout)
    .add(Method::GET, "/me", me)
    .add(Method::GET, "/conversations", list_conversations)
    .add(Method::GET, "/conversations/{id}", conversation_detail)
    .add(
        Method::GET,
        "/conversations/{id}/files/{hash}",
        conversation_file,
    )
    .add(Method::POST, "/conversations/{id}/claim", claim)
    .add(Method::POST, "/conversations/{id}/assign", assign)
    .add(Method::POST, "/conversations/{id}/release", release)
    .add(
        Method::POST,
        "/conversations/{id}/return-to-bot",
        return_to_bot,
    )
    .add(Method::POST, "/conversations/{id}/resolve", resolve)
    .add(Method::POST, "/conversations/{id}/pending", pending)
    .add(Method::POST, "/conversations/{id}/messages", reply)
    .add(Method::POST, "/conversations/{id}/notes", note)
    .add(Method::PUT, "/conversations/{id}/tags", set_tags)
    .add(
        Method::GET,
        "/conversations/{id}/canned",
        canned_for_conversation,
    )
    .add(Method::GET, "/canned", list_canned)
    .add(Method::POST, "/canned", create_canned)
    .add(Method::DELETE, "/canned/{name}", delete_canned)
    .add(Method::GET, "/agents", list_agents)
    .add(Method::POST, "/agents", create_agent)
    .add(Method::POST, "/agents/{username}/disable", disable_agent)
    .add(Method::GET, "/events", events);
    (table.router, table.listed)
}

fn unauthenticated() -> AppError {
    AppError::new(
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "sign in with POST /api/v1/agent/login and send the token as `Authorization: Bearer <token>` or the session cookie",
    )
}

fn forbidden(detail: &str) -> AppError {
    AppError::new(StatusCode::FORBIDDEN, "forbidden", detail)
}

fn conflict(refusal: Refusal) -> AppError {
    AppError::new(StatusCode::CONFLICT, refusal.code(), refusal.to_string())
}

/// A signed-in, enabled agent.
pub struct Authed {
    pub agent: Agent,
    session: AgentSession,
    token_hash: String,
}

impl Authed {
    /// The signed-in agent as the conversation rules see them.
    pub fn actor(&self) -> Actor<'_> {
        Actor {
            username: &self.agent.username,
            admin: self.is_admin(),
        }
    }

    fn is_admin(&self) -> bool {
        self.agent.role == Role::Admin
    }

    fn require_admin(&self) -> Result<(), AppError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(forbidden("only admins may do this"))
        }
    }
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_string())
}

fn bearer_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(|t| t.trim().to_string())
}

impl FromRequestParts<Arc<App>> for Authed {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, AppError> {
        let (token, via_cookie) = match bearer_token(&parts.headers) {
            Some(t) => (t, false),
            None => (
                cookie_token(&parts.headers).ok_or_else(unauthenticated)?,
                true,
            ),
        };
        let token_hash = secrets::token_hash(&token);
        let session = app
            .store
            .agent_session(&token_hash)
            .await?
            .ok_or_else(unauthenticated)?;
        if session.expires_at < Utc::now() {
            app.store.delete_agent_session(&token_hash).await?;
            return Err(unauthenticated());
        }
        let agent = app
            .store
            .agent(&session.username)
            .await?
            .filter(|a| !a.disabled)
            .ok_or_else(unauthenticated)?;
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if via_cookie && !safe {
            let sent = parts
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !secrets::constant_time_eq(sent, &session.csrf) {
                return Err(AppError::new(
                    StatusCode::FORBIDDEN,
                    "csrf_token_required",
                    "cookie-authenticated writes need the session's X-CSRF-Token header",
                ));
            }
        }
        Ok(Self {
            agent,
            session,
            token_hash,
        })
    }
}

fn agent_json(agent: &Agent) -> Value {
    json!({ "username": agent.username, "role": agent.role, "disabled": agent.disabled })
}

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

fn session_cookie(token: &str, max_age: i64, headers: &HeaderMap) -> HeaderValue {
    // Behind a TLS-terminating proxy the cookie must be Secure too.
    let secure = headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    let value = format!(
        "{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `POST /login`: 200 with a token, the CSRF token and the session cookie.
async fn login(
    State(app): State<Arc<App>>,
    peer: Option<axum::extract::Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    ApiJson(credentials): ApiJson<Credentials>,
) -> Result<Response, AppError> {
    let mut keys = vec![format!("user:{}", credentials.username.to_lowercase())];
    // Without a known peer address, throttle by account only rather than
    // lumping every client under one key.
    if let Some(peer) = peer {
        keys.push(format!("addr:{}", peer.0.0.ip()));
    }
    if let Some(wait) = app.login_throttle.wait_for(&keys) {
        let secs = wait.as_secs().max(1);
        let mut response = AppError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
            format!("too many failed sign-ins; try again in {secs} s"),
        )
        .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        return Ok(response);
    }
    let agent = app
        .store
        .agent(&credentials.username)
        .await?
        .filter(|a| !a.disabled);
    let checked = agent.clone();
    let password = credentials.password;
    let ok = tokio::task::spawn_blocking(move || match &checked {
        Some(agent) => agents::verify_password(agent, &password),
        None => {
            agents::verify_password(agents::decoy_agent(), &password);
            false
        }
    })
    .await
    .unwrap_or(false);
    let Some(agent) = agent.filter(|_| ok) else {
        app.login_throttle.failed(&keys);
        tracing::warn!("A sign-in failed.");
        return Err(AppError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "wrong username or password",
        ));
    };
    app.login_throttle.succeeded(&keys);
    let random =
        || secrets::random_token().map_err(|_| AppError::unavailable("cannot create a session"));
    let (token, csrf) = (random()?, random()?);
    let now = Utc::now();
    let session = AgentSession {
        username: agent.username.clone(),
        csrf: csrf.clone(),
        created_at: now,
        expires_at: now + Duration::hours(SESSION_HOURS),
    };
    app.store
        .put_agent_session(&secrets::token_hash(&token), &session)
        .await?;
    app.store.sync().await?;
    tracing::info!(agent = %agent.username, "An agent signed in.");
    let body = json!({ "token": token, "csrf": csrf, "agent": agent_json(&agent) });
    let cookie = session_cookie(&token, SESSION_HOURS * 3600, &headers);
    Ok(([(header::SET_COOKIE, cookie)], Json(body)).into_response())
}

async fn logout(
    State(app): State<Arc<App>>,
    authed: Authed,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    app.store.delete_agent_session(&authed.token_hash).await?;
    app.store.sync().await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, session_cookie("", 0, &headers))],
    )
        .into_response())
}

async fn me(authed: Authed) -> Json<Value> {
    let mut body = agent_json(&authed.agent);
    body["csrf"] = json!(authed.session.csrf);
    Json(body)
}

fn customer_label(c: &Conversation) -> String {
    if let Some(name) = &c.display_name {
        return name.clone();
    }
    match &c.customer {
        CustomerAddress::Web { .. } => format!("Web visitor #{}", c.ticket),
        CustomerAddress::Telegram { chat_id } => format!("Telegram {chat_id}"),
        CustomerAddress::Email { address } => address.clone(),
    }
}

fn preview(text: &str) -> String {
    let mut p: String = text.chars().take(120).collect();
    if p.len() < text.len() {
        p.push('…');
    }
    p
}

/// What lists and events show of a conversation.
async fn summary(app: &App, c: &Conversation) -> Result<Value, AppError> {
    // The customer's latest words say more than the bot's acknowledgment.
    let recent = app
        .store
        .messages_after(c.id, c.last_seq.saturating_sub(6), 6)
        .await?;
    let last = recent
        .iter()
        .rev()
        .find(|m| m.author == Author::Customer)
        .or(recent.last())
        .cloned();
    Ok(json!({
        "id": c.id,
        "ticket": c.ticket,
        "channel": c.channel(),
        "customer_name": customer_label(c),
        "status": c.status,
        "priority": c.priority,
        "assigned_agent": c.assigned_agent,
        "waiting_since": c.waiting_since,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "locale": c.locale,
        "undelivered": c.undelivered,
        "segment": c.segment,
        "tags": c.tags,
        // ok, near (80% used), breached, or met: the worse of the first
        // response and the resolution; with both deadlines.
        "sla": c.sla.as_ref().map(|s| json!({
            "state": s.state(chrono::Utc::now()),
            "first_response_due": s.first_response_due,
            "first_response": s.first_response_state(chrono::Utc::now()),
            "resolution_due": s.resolution_due,
            "resolution": s.resolution_state(chrono::Utc::now()),
        })),
        "subject": c.subject,
        "preview": last.map(|m| preview(&m.text)),
    }))
}

fn parse_status(text: &str) -> Result<ConversationStatus, AppError> {
    serde_json::from_value(json!(text)).map_err(|_| {
        AppError::bad_request(
            "invalid_status",
            "status is one of bot, waiting, assigned, pending, resolved",
        )
    })
}

#[derive(Deserialize)]
struct ListQuery {
    status: Option<String>,
    /// Only conversations assigned to this agent ("me" for oneself).
    agent: Option<String>,
    limit: Option<usize>,
}

/// `GET /conversations?status=…`: the waiting queue in service order
/// (priority, then wait), other statuses newest first.
async fn list_conversations(
    State(app): State<Arc<App>>,
    authed: Authed,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Value>, AppError> {
    let status = parse_status(query.status.as_deref().unwrap_or("waiting"))?;
    let limit = query.limit.unwrap_or(200).min(MAX_LIST);
    let agent = match query.agent.as_deref() {
        Some("me") => Some(authed.agent.username.clone()),
        other => other.map(str::to_string),
    };
    let mut items = Vec::new();
    for c in app
        .store
        .conversations_with_status(status, MAX_LIST)
        .await?
    {
        if agent.is_some() && c.assigned_agent != agent {
            continue;
        }
        items.push(summary(&app, &c).await?);
        if items.len() == limit {
            break;
        }
    }
    Ok(Json(json!({ "conversations": items })))
}

fn conversation_id(text: &str) -> Result<ConversationId, AppError> {
    text.parse()
        .map_err(|_| AppError::not_found("conversation_not_found", "no conversation with that id"))
}

async fn load(app: &App, id: &str) -> Result<Conversation, AppError> {
    let id = conversation_id(id)?;
    app.store.conversation(id).await?.ok_or_else(|| {
        AppError::not_found("conversation_not_found", "no conversation with that id")
    })
}

fn message_json(m: &Message) -> Value {
    let (delivered, error) = match &m.delivery {
        Some(Delivery::Delivered) => (Some(true), None),
        Some(Delivery::Failed { error }) => (Some(false), Some(error.clone())),
        None => (None, None),
    };
    json!({
        "seq": m.seq,
        "author": m.author,
        "internal": m.author == Author::Note,
        "text": m.text,
        "at": m.at,
        "agent": m.agent,
        "intent": m.intent,
        "reason": m.reason,
        "delivered": delivered,
        "error": error,
        "attachments": m.attachments,
        "original": m.original,
        "rating": m.rating,
        "survey_comment": m.survey_comment,
        "not_answered_because": match &m.handling {
            Handling::Normal => None,
            Handling::Silent { rule } => Some(format!("automatic mail ({rule})")),
            Handling::HumanOnly { reason } => Some(reason.clone()),
        },
    })
}

/// `GET /conversations/{id}/files/{hash}`: an attachment or the original
/// mail of a message in this conversation. Always a download, never shown
/// inline, so a hostile file cannot run in the console's origin.
async fn conversation_file(
    State(app): State<Arc<App>>,
    _authed: Authed,
    Path((id, hash)): Path<(String, String)>,
) -> Result<axum::response::Response, AppError> {
    use axum::response::IntoResponse;
    let c = load(&app, &id).await?;
    let messages = app.store.messages_after(c.id, 0, MAX_TRANSCRIPT).await?;
    let not_found = || AppError::not_found("file_not_found", "no such file in this conversation");
    let name = messages
        .iter()
        .find_map(|m| {
            if m.original.as_deref() == Some(hash.as_str()) {
                return Some(format!("message-{}.eml", m.seq));
            }
            m.attachments
                .iter()
                .find(|a| a.blob.as_deref() == Some(hash.as_str()))
                .map(|a| a.name.clone())
        })
        .ok_or_else(not_found)?;
    let bytes = app.store.blob(&hash).await?.ok_or_else(not_found)?;
    let safe_name: String = name
        .chars()
        .map(|ch| {
            if ch.is_ascii_alphanumeric() || ".-_".contains(ch) {
                ch
            } else {
                '_'
            }
        })
        .collect();
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/octet-stream".to_string(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{safe_name}\""),
            ),
            (
                axum::http::header::X_CONTENT_TYPE_OPTIONS,
                "nosniff".to_string(),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// `GET /conversations/{id}`: the conversation, its whole transcript with
/// notes marked internal, and replies still on their way.
async fn conversation_detail(
    State(app): State<Arc<App>>,
    _authed: Authed,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let c = load(&app, &id).await?;
    let messages: Vec<Value> = app
        .store
        .messages_after(c.id, 0, MAX_TRANSCRIPT)
        .await?
        .iter()
        .map(message_json)
        .collect();
    let sending: Vec<Value> = app
        .store
        .outbox_of(c.id)
        .await?
        .iter()
        .map(|e| {
            json!({
                "id": e.id, "reason": e.reason, "text": e.text, "agent": e.agent,
                "attempts": e.attempts, "last_error": e.last_error, "due_at": e.due_at,
            })
        })
        .collect();
    Ok(Json(json!({
        "conversation": summary(&app, &c).await?,
        "messages": messages,
        "sending": sending,
    })))
}

/// Applies a request through the conversation service and answers with
/// the summary (and the note, for a note).
async fn apply(
    app: &App,
    id: &str,
    authed: &Authed,
    request: Request,
) -> Result<Json<Value>, AppError> {
    let id = conversation_id(id)?;
    let updated = app
        .conversations
        .apply(id, authed.actor(), request)
        .await
        .map_err(|e| match e {
            UpdateError::Refused(refusal) => conflict(refusal),
            UpdateError::Store(e) => e.into(),
        })?;
    let mut body = json!({ "conversation": summary(app, &updated.after).await? });
    if let Some(note) = &updated.note {
        body["note"] = message_json(note);
    }
    Ok(Json(body))
}

/// `POST …/claim`: take the conversation. Of two agents claiming at once,
/// one gets 200 and the other 409.
async fn claim(
    State(app): State<Arc<App>>,
    authed: Authed,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    apply(&app, &id, &authed, Request::Claim).await
}

#[derive(Deserialize)]
struct AssignTo {
    agent: String,
}

/// `POST …/assign {"agent"}`: hand to another agent (owner or admin).
async fn assign(
    State(app): State<Arc<App>>,
    authed: Authed,
    Path(id): Path<String>,
    ApiJson(to): ApiJson<AssignTo>,
) -> Result<Json<Value>, AppError> {
    let target = app
        .store
        .agent(&to.agent)
        .await?
        .filter(|a| !a.disabled)
        .ok_or_else(|| AppError::bad_request("unknown_agent", "no enabled agent by that name"))?;
    apply(
        &app,
        &id,
        &authed,
        Request::Assign {
            to: target.username,
        },
    )
    .await
}

/// `POST …/release`: back to the waiting queue, keeping its place in line.
async fn release(
    State(app): State<Arc<App>>,
    authed: Authed,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    apply(&app, &id, &authed, Request::Release).await
}

/// `POST …/pending`: the agent waits on the customer.
async fn pending(
    State(app): State<Arc<App>>,
    authed: Authed,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    apply(&app, &id, &authed, Request::Pending).await
}

/// `POST …/return-to-bot`: the bot answers again.
async fn return_to_bot(
    State(app): State<Arc<App>>,
    authed: Authed,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    apply(&app, &id, &authed, Request::ReturnToBot).await
}

/// `POST …/resolve`: done; the customer's next message reopens it.
async fn resolve(
    State(app): State<Arc<App>>,
    authed: Authed,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    // The satisfaction survey goes out with the resolution, atomically.
    let current = load(&app, &id).await?;
    let transcript = app
        .store
        .messages_after(current.id, 0, MAX_TRANSCRIPT)
        .await?;
    let survey = crate::service_levels::surveys::on_resolve(
        &app.rules.templates,
        app.config.surveys.as_ref(),
        &current,
        &transcript,
    );
    apply(&app, &id, &authed, Request::Resolve { survey }).await
}

#[derive(Deserialize)]
struct TagsBody {
    tags: Vec<String>,
}

/// Most tags one customer carries.
const MAX_TAGS: usize = 20;

/// `PUT …/tags {"tags": ["vip"]}`: the customer's tags, which segments may
/// match (`[[segments]] tags`). The conversation's segment and priority
/// follow at once, so a tagged customer moves up the queue. Any agent may
/// tag.
async fn set_tags(
    State(app): State<Arc<App>>,
    authed: Authed,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TagsBody>,
) -> Result<Json<Value>, AppError> {
    let mut tags = body.tags;
    tags.sort();
    tags.dedup();
    if tags.len() > MAX_TAGS {
        return Err(AppError::bad_request(
            "invalid_tags",
            format!("at most {MAX_TAGS} tags"),
        ));
    }
    if let Some(bad) = tags
        .iter()
        .find(|t| !crate::service_levels::segments::valid_tag(t))
    {
        return Err(AppError::bad_request(
            "invalid_tags",
            format!(
                "{:?} is not a tag: use 1 to 40 of a-z, 0-9, _ and -",
                bad.chars().take(60).collect::<String>()
            ),
        ));
    }
    let current = load(&app, &id).await?;
    let segment = crate::service_levels::segments::after_tagging(
        &app.config.segments,
        &current.customer,
        current.segment.as_deref(),
        &tags,
    );
    let request = Request::Retag {
        tags,
        segment: segment.map(|s| s.name.clone()),
        priority: segment.map_or(app.config.queue.default_priority, |s| s.priority),
    };
    apply(&app, &id, &authed, request).await
}

#[derive(Deserialize)]
struct TextBody {
    text: String,
}

fn checked_text(text: &str) -> Result<String, AppError> {
    require_text(text, MAX_TEXT)?;
    Ok(text.trim_end().to_string())
}

/// `POST …/messages {"text"}`: reply to the customer on their own channel,
/// through the outbox. Replying takes an unowned conversation.
async fn reply(
    State(app): State<Arc<App>>,
    authed: Authed,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TextBody>,
) -> Result<Response, AppError> {
    let text = checked_text(&body.text)?;
    let entry = OutboxEntry::due_now(
        conversation_id(&id)?,
        OutboundReason::Agent,
        text,
        None,
        Some(authed.agent.username.clone()),
    );
    let Json(mut body) = apply(&app, &id, &authed, Request::Reply(entry.clone())).await?;
    body["sending"] = json!({ "id": entry.id, "text": entry.text });
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// `POST …/notes {"text"}`: an internal note, never sent to the customer.
async fn note(
    State(app): State<Arc<App>>,
    authed: Authed,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TextBody>,
) -> Result<Response, AppError> {
    let text = checked_text(&body.text)?;
    let Json(body) = apply(&app, &id, &authed, Request::Note(text)).await?;
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

fn canned_context(c: &Conversation) -> ReplyContext {
    ReplyContext {
        ticket: c.ticket,
        customer_name: c.display_name.clone(),
        ..ReplyContext::default()
    }
}

/// `GET …/{id}/canned`: canned responses rendered for this conversation.
async fn canned_for_conversation(
    State(app): State<Arc<App>>,
    _authed: Authed,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let c = load(&app, &id).await?;
    let context = canned_context(&c);
    let mut items = Vec::new();
    for canned in app.store.canned().await? {
        match app
            .rules
            .templates
            .render_snippet(&canned.name, &canned.text, &context)
        {
            Ok(text) => {
                items.push(json!({ "name": canned.name, "title": canned.title, "text": text }))
            }
            Err(error) => {
                tracing::warn!(%error, name = %canned.name, "A canned response does not render.")
            }
        }
    }
    Ok(Json(json!({ "canned": items })))
}

async fn list_canned(
    State(app): State<Arc<App>>,
    _authed: Authed,
) -> Result<Json<Value>, AppError> {
    Ok(Json(json!({ "canned": app.store.canned().await? })))
}

/// `POST /canned {"name","title","text"}` (admins): create or replace.
async fn create_canned(
    State(app): State<Arc<App>>,
    authed: Authed,
    ApiJson(canned): ApiJson<CannedResponse>,
) -> Result<Response, AppError> {
    authed.require_admin()?;
    agents::validate_username(&canned.name).map_err(|_| {
        AppError::bad_request(
            "invalid_canned",
            "`name` is 1 to 64 letters, digits, '.', '_' or '-'",
        )
    })?;
    if canned.title.trim().is_empty() || canned.title.chars().count() > 100 {
        return Err(AppError::bad_request(
            "invalid_canned",
            "`title` is 1 to 100 characters",
        ));
    }
    checked_text(&canned.text)?;
    app.rules
        .templates
        .render_snippet(
            &canned.name,
            &canned.text,
            &crate::rules::templates::Templates::sample_context(),
        )
        .map_err(|e| AppError::bad_request("invalid_template", e.to_string()))?;
    app.store.put_canned(&canned).await?;
    app.store.sync().await?;
    Ok((StatusCode::CREATED, Json(json!(canned))).into_response())
}

async fn delete_canned(
    State(app): State<Arc<App>>,
    authed: Authed,
    Path(name): Path<String>,
) -> Result<StatusCode, AppError> {
    authed.require_admin()?;
    if !app.store.delete_canned(&name).await? {
        return Err(AppError::not_found(
            "canned_not_found",
            "no canned response by that name",
        ));
    }
    app.store.sync().await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_agents(
    State(app): State<Arc<App>>,
    _authed: Authed,
) -> Result<Json<Value>, AppError> {
    let agents: Vec<Value> = app.store.agents().await?.iter().map(agent_json).collect();
    Ok(Json(json!({ "agents": agents })))
}

#[derive(Deserialize)]
struct NewAgent {
    username: String,
    password: String,
    #[serde(default = "default_role")]
    role: Role,
}

fn default_role() -> Role {
    Role::Agent
}

/// `POST /agents {"username","password","role"}` (admins).
async fn create_agent(
    State(app): State<Arc<App>>,
    authed: Authed,
    ApiJson(new): ApiJson<NewAgent>,
) -> Result<Response, AppError> {
    authed.require_admin()?;
    if app.store.agent(&new.username).await?.is_some() {
        return Err(AppError::new(
            StatusCode::CONFLICT,
            "agent_exists",
            "an agent by that name exists",
        ));
    }
    let agent = tokio::task::spawn_blocking(move || {
        agents::new_agent(&new.username, &new.password, new.role)
    })
    .await
    .map_err(|_| AppError::unavailable("cannot create the agent right now"))?
    .map_err(|e| AppError::bad_request("invalid_agent", e.to_string()))?;
    app.store.put_agent(&agent).await?;
    app.store.sync().await?;
    Ok((StatusCode::CREATED, Json(agent_json(&agent))).into_response())
}

async fn disable_agent(
    State(app): State<Arc<App>>,
    authed: Authed,
    Path(username): Path<String>,
) -> Result<Json<Value>, AppError> {
    authed.require_admin()?;
    let mut agent = app
        .store
        .agent(&username)
        .await?
        .ok_or_else(|| AppError::not_found("agent_not_found", "no agent by that name"))?;
    agent.disabled = true;
    app.store.put_agent(&agent).await?;
    app.store.sync().await?;
    Ok(Json(agent_json(&agent)))
}

/// `GET /events`: Server-Sent Events, one per change an agent should see.
async fn events(
    State(app): State<Arc<App>>,
    _authed: Authed,
) -> Sse<impl Stream<Item = Result<Event, std::convert::Infallible>>> {
    let receiver = app.events.subscribe();
    let shutdown = app.shutdown.clone();
    let stream = futures_util::stream::unfold(
        (receiver, shutdown),
        |(mut receiver, mut shutdown)| async move {
            use tokio::sync::broadcast::error::RecvError;
            let event = tokio::select! {
                received = receiver.recv() => match received {
                    Ok(event) => Event::default()
                        .event("change")
                        .json_data(&event)
                        .unwrap_or_else(|_| Event::default().event("resync").data("{}")),
                    // Fell behind: the console re-reads everything.
                    Err(RecvError::Lagged(_)) => Event::default().event("resync").data("{}"),
                    Err(RecvError::Closed) => return None,
                },
                _ = shutdown.stopped() => return None,
            };
            Some((Ok(event), (receiver, shutdown)))
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::default())
}
