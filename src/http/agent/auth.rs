//! Signing in and out: a bearer token and an HttpOnly session cookie, with
//! a CSRF token for cookie-authenticated writes; failed sign-ins are
//! throttled per account and per address.

use super::views::{AgentView, MeView, SignedIn};
use super::{Authed, COOKIE};
use crate::core::agents::{self, SESSION_HOURS};
use crate::http::error::{ApiJson, AppError, ErrorBody};
use crate::http::state::App;
use crate::model::AgentSession;
use crate::secrets;
use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{Duration, Utc};
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::Arc;

#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct Credentials {
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
#[utoipa::path(
    post, path = "/login", tag = "agent", request_body = Credentials, security(()),
    responses(
        (status = 200, description = "Signed in: the bearer token, the CSRF token, and the session cookie", body = SignedIn),
        (status = 400, description = "Malformed or refused input", body = ErrorBody), (status = 401, description = "Wrong username or password", body = ErrorBody),
        (status = 429, description = "Too many failed sign-ins; try again after Retry-After", body = ErrorBody),
    )
)]
pub(super) async fn login(
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
    let body = SignedIn {
        token: token.clone(),
        csrf,
        agent: AgentView::from(&agent),
    };
    let cookie = session_cookie(&token, SESSION_HOURS * 3600, &headers);
    Ok(([(header::SET_COOKIE, cookie)], Json(body)).into_response())
}

/// `POST /logout`: ends this session.
#[utoipa::path(
    post, path = "/logout", tag = "agent",
    responses((status = 204, description = "Signed out"), (status = 401, description = "Not signed in", body = ErrorBody))
)]
pub(super) async fn logout(
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

/// `GET /me`: the signed-in agent and the session's CSRF token.
#[utoipa::path(
    get, path = "/me", tag = "agent",
    responses((status = 200, description = "The signed-in agent", body = MeView), (status = 401, description = "Not signed in", body = ErrorBody))
)]
pub(super) async fn me(authed: Authed) -> Json<MeView> {
    Json(MeView {
        agent: AgentView::from(&authed.agent),
        csrf: authed.session.csrf.clone(),
    })
}
