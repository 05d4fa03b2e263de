//! Canned responses: listed, rendered for one conversation, and managed by
//! admins (a response that does not render is refused).

use super::views::{CannedResponseList, RenderedCanned, RenderedCannedList};
use super::{Authed, checked_text, load};
use crate::core::agents;
use crate::http::error::{ApiJson, AppError, ErrorBody};
use crate::http::state::App;
use crate::model::{CannedResponse, Conversation};
use crate::rules::templates::ReplyContext;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

fn canned_context(c: &Conversation) -> ReplyContext {
    ReplyContext {
        ticket: c.ticket,
        customer_name: c.display_name.clone(),
        ..ReplyContext::default()
    }
}

/// `GET …/{id}/canned`: canned responses rendered for this conversation.
#[utoipa::path(
    get, path = "/conversations/{id}/canned", tag = "agent",
    params(("id" = String, Path, description = "Conversation id")),
    responses((status = 200, description = "Canned responses rendered for this conversation", body = RenderedCannedList), (status = 401, description = "Not signed in", body = ErrorBody), (status = 404, description = "No such conversation", body = ErrorBody))
)]
pub(super) async fn canned_for_conversation(
    State(app): State<Arc<App>>,
    _authed: Authed,
    Path(id): Path<String>,
) -> Result<Json<RenderedCannedList>, AppError> {
    let c = load(&app, &id).await?;
    let context = canned_context(&c);
    let mut items = Vec::new();
    for canned in app.store.canned().await? {
        match app
            .rules
            .templates
            .render_snippet(&canned.name, &canned.text, &context)
        {
            Ok(text) => items.push(RenderedCanned {
                name: canned.name,
                title: canned.title,
                text,
            }),
            Err(error) => {
                tracing::warn!(%error, name = %canned.name, "A canned response does not render.")
            }
        }
    }
    Ok(Json(RenderedCannedList { canned: items }))
}

/// `GET /canned`: every canned response, as written.
#[utoipa::path(
    get, path = "/canned", tag = "agent",
    responses((status = 200, description = "Canned responses", body = CannedResponseList), (status = 401, description = "Not signed in", body = ErrorBody))
)]
pub(super) async fn list_canned(
    State(app): State<Arc<App>>,
    _authed: Authed,
) -> Result<Json<CannedResponseList>, AppError> {
    Ok(Json(CannedResponseList {
        canned: app.store.canned().await?,
    }))
}

/// `POST /canned {"name","title","text"}` (admins): create or replace.
#[utoipa::path(
    post, path = "/canned", tag = "agent", request_body = CannedResponse,
    responses((status = 201, description = "Stored", body = CannedResponse), (status = 400, description = "Malformed or refused input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Admins only", body = ErrorBody))
)]
pub(super) async fn create_canned(
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
    Ok((StatusCode::CREATED, Json(canned)).into_response())
}

/// `DELETE /canned/{name}` (admins).
#[utoipa::path(
    delete, path = "/canned/{name}", tag = "agent",
    params(("name" = String, Path, description = "The canned response's name")),
    responses((status = 204, description = "Deleted"), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Admins only", body = ErrorBody), (status = 404, description = "No canned response by that name", body = ErrorBody))
)]
pub(super) async fn delete_canned(
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
