//! The agent API under `/api/v1/agent`: sign-in, the queue and transcripts,
//! claiming and handing over, replies and internal notes, canned responses,
//! agent accounts (admins), and live events as Server-Sent Events.
//!
//! Every route but `login` requires a signed-in agent ([`Authed`]): a
//! `Authorization: Bearer` token, or the HttpOnly session cookie, in which
//! case writes must also carry the session's `X-CSRF-Token`. The route
//! table is built in one place ([`routes`]) and exported, so a test can walk
//! every route and prove none is open.

mod accounts;
mod auth;
mod canned;
mod conversations;
mod customers;
mod events;
pub mod views;

use crate::conversation::Actor;
use crate::http::error::{AppError, require_text};
use crate::http::routes::{RouteTable, Routes};
use crate::http::state::App;
use crate::model::{Agent, AgentSession, Conversation, ConversationId, Refusal, Role};
use crate::secrets;
use accounts::{create_agent, disable_agent, list_agents};
use auth::{login, logout, me};
use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use canned::{canned_for_conversation, create_canned, delete_canned, list_canned};
use chrono::Utc;
use conversations::{
    assign, claim, conversation_detail, conversation_file, list_conversations, note, pending,
    release, reply, resolve, return_to_bot, set_tags,
};
use events::events;
use std::sync::Arc;

/// The session cookie's name.
pub const COOKIE: &str = "frontdesk_agent";
/// Longest agent reply or note, in bytes.
pub(super) const MAX_TEXT: usize = 16 * 1024;
pub(super) const MAX_LIST: usize = 500;
pub(super) const MAX_TRANSCRIPT: usize = 2000;

/// The agent API's part of the API document (paths under `/api/v1/agent`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    auth::login,
    auth::logout,
    auth::me,
    conversations::list_conversations,
    conversations::conversation_detail,
    conversations::conversation_file,
    conversations::claim,
    conversations::assign,
    conversations::release,
    conversations::return_to_bot,
    conversations::resolve,
    conversations::pending,
    conversations::reply,
    conversations::note,
    conversations::set_tags,
    canned::canned_for_conversation,
    canned::list_canned,
    canned::create_canned,
    canned::delete_canned,
    accounts::list_agents,
    accounts::create_agent,
    accounts::disable_agent,
    customers::export_customer,
    customers::erase_customer,
    customers::audit_log,
    events::events,
))]
pub struct AgentApi;

/// The agent API router and the list of its routes.
/// Every route (paths under `/api/v1/agent`) but `login` needs a sign-in.
pub fn routes() -> (Router<Arc<App>>, RouteTable) {
    Routes::default()
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
        .add(
            Method::POST,
            "/customers/export",
            customers::export_customer,
        )
        .add(Method::POST, "/customers/erase", customers::erase_customer)
        .add(Method::GET, "/audit", customers::audit_log)
        .add(Method::GET, "/events", events)
        .into_parts()
}

fn unauthenticated() -> AppError {
    AppError::new(
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "sign in with POST /api/v1/agent/login and send the token as `Authorization: Bearer <token>` or the session cookie",
    )
}

pub(super) fn forbidden(detail: &str) -> AppError {
    AppError::new(StatusCode::FORBIDDEN, "forbidden", detail)
}

pub(super) fn conflict(refusal: Refusal) -> AppError {
    AppError::new(StatusCode::CONFLICT, refusal.code(), refusal.to_string())
}

/// A signed-in, enabled agent.
pub struct Authed {
    pub agent: Agent,
    pub(super) session: AgentSession,
    pub(super) token_hash: String,
}

impl Authed {
    /// The signed-in agent as the conversation rules see them.
    pub fn actor(&self) -> Actor<'_> {
        Actor {
            username: &self.agent.username,
            admin: self.is_admin(),
        }
    }

    pub(super) fn is_admin(&self) -> bool {
        self.agent.role == Role::Admin
    }

    pub(super) fn require_admin(&self) -> Result<(), AppError> {
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
            .filter(|a| {
                a.password_changed_at
                    .is_none_or(|at| session.created_at >= at)
            })
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

pub(super) fn conversation_id(text: &str) -> Result<ConversationId, AppError> {
    text.parse()
        .map_err(|_| AppError::not_found("conversation_not_found", "no conversation with that id"))
}

pub(super) async fn load(app: &App, id: &str) -> Result<Conversation, AppError> {
    let id = conversation_id(id)?;
    app.store.conversation(id).await?.ok_or_else(|| {
        AppError::not_found("conversation_not_found", "no conversation with that id")
    })
}

pub(super) fn checked_text(text: &str) -> Result<String, AppError> {
    require_text(text, MAX_TEXT)?;
    Ok(text.trim_end().to_string())
}
