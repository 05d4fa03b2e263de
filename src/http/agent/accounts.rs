//! Agent accounts: listed for everyone, created and disabled by admins.

use super::Authed;
use super::views::{AgentList, AgentView};
use crate::core::agents;
use crate::http::error::{ApiJson, AppError, ErrorBody};
use crate::http::state::App;
use crate::model::Role;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::sync::Arc;

#[utoipa::path(
    get, path = "/agents", tag = "agent",
    responses((status = 200, description = "Agent accounts", body = AgentList), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Admins only", body = ErrorBody))
)]
pub(super) async fn list_agents(
    State(app): State<Arc<App>>,
    _authed: Authed,
) -> Result<Json<AgentList>, AppError> {
    let agents = app
        .store
        .agents()
        .await?
        .iter()
        .map(AgentView::from)
        .collect();
    Ok(Json(AgentList { agents }))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct NewAgent {
    username: String,
    password: String,
    #[serde(default = "default_role")]
    role: Role,
}

fn default_role() -> Role {
    Role::Agent
}

/// `POST /agents {"username","password","role"}` (admins).
#[utoipa::path(
    post, path = "/agents", tag = "agent", request_body = NewAgent,
    responses((status = 201, description = "Created", body = AgentView), (status = 400, description = "Malformed or refused input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Admins only", body = ErrorBody), (status = 409, description = "An agent by that name exists", body = ErrorBody))
)]
pub(super) async fn create_agent(
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
    Ok((StatusCode::CREATED, Json(AgentView::from(&agent))).into_response())
}

/// `POST /agents/{username}/disable` (admins): their sessions stop at once.
#[utoipa::path(
    post, path = "/agents/{username}/disable", tag = "agent",
    params(("username" = String, Path, description = "The agent")),
    responses((status = 200, description = "Disabled", body = AgentView), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Admins only", body = ErrorBody), (status = 404, description = "No agent by that name", body = ErrorBody))
)]
pub(super) async fn disable_agent(
    State(app): State<Arc<App>>,
    authed: Authed,
    Path(username): Path<String>,
) -> Result<Json<AgentView>, AppError> {
    authed.require_admin()?;
    let mut agent = app
        .store
        .agent(&username)
        .await?
        .ok_or_else(|| AppError::not_found("agent_not_found", "no agent by that name"))?;
    agent.disabled = true;
    app.store.put_agent(&agent).await?;
    app.store.sync().await?;
    Ok(Json(AgentView::from(&agent)))
}
