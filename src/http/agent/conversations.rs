//! Conversations for agents: the queue and other lists, one conversation
//! with its transcript and files, and every change an agent asks for
//! (claim, assign, release, pending, return to the bot, resolve, tags,
//! replies and notes), applied by the conversation service.

use super::views::{Changed, ConversationList, Detail, MessageView, Queued, SendingView, Summary};
use super::{Authed, MAX_LIST, MAX_TRANSCRIPT, checked_text, conflict, conversation_id, load};
use crate::core::conversations::Request;
use crate::http::error::{ApiJson, ApiQuery, AppError, ErrorBody};
use crate::http::state::App;
use crate::model::{ConversationStatus, OutboundReason, OutboxEntry};
use crate::store::UpdateError;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::sync::Arc;

fn parse_status(text: &str) -> Result<ConversationStatus, AppError> {
    serde_json::from_value(serde_json::Value::from(text)).map_err(|_| {
        AppError::bad_request(
            "invalid_status",
            "status is one of bot, waiting, assigned, pending, resolved",
        )
    })
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ListQuery {
    status: Option<String>,
    /// Only conversations assigned to this agent ("me" for oneself).
    agent: Option<String>,
    limit: Option<usize>,
}

/// `GET /conversations?status=…`: the waiting queue in service order
/// (priority, then wait), other statuses newest first.
#[utoipa::path(
    get, path = "/conversations", tag = "agent", params(ListQuery),
    responses((status = 200, description = "Conversations", body = ConversationList), (status = 400, description = "Malformed or refused input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody))
)]
pub(super) async fn list_conversations(
    State(app): State<Arc<App>>,
    authed: Authed,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<ConversationList>, AppError> {
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
        items.push(Summary::of(&app, &c).await?);
        if items.len() == limit {
            break;
        }
    }
    Ok(Json(ConversationList {
        conversations: items,
    }))
}

/// `GET /conversations/{id}/files/{hash}`: an attachment or the original
/// mail of a message in this conversation. Always a download, never shown
/// inline, so a hostile file cannot run in the console's origin.
#[utoipa::path(
    get, path = "/conversations/{id}/files/{hash}", tag = "agent",
    params(("id" = String, Path, description = "Conversation id"), ("hash" = String, Path, description = "The file's content hash")),
    responses(
        (status = 200, description = "The file, as a download", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 401, description = "Not signed in", body = ErrorBody), (status = 404, description = "No such file in this conversation", body = ErrorBody),
    )
)]
pub(super) async fn conversation_file(
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
#[utoipa::path(
    get, path = "/conversations/{id}", tag = "agent", params(("id" = String, Path, description = "Conversation id")),
    responses((status = 200, description = "The conversation and its transcript", body = Detail), (status = 400, description = "Malformed or refused input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 404, description = "No such conversation", body = ErrorBody))
)]
pub(super) async fn conversation_detail(
    State(app): State<Arc<App>>,
    _authed: Authed,
    Path(id): Path<String>,
) -> Result<Json<Detail>, AppError> {
    let c = load(&app, &id).await?;
    let messages = app
        .store
        .messages_after(c.id, 0, MAX_TRANSCRIPT)
        .await?
        .iter()
        .map(MessageView::from)
        .collect();
    let sending = app
        .store
        .outbox_of(c.id)
        .await?
        .iter()
        .map(SendingView::from)
        .collect();
    Ok(Json(Detail {
        conversation: Summary::of(&app, &c).await?,
        messages,
        sending,
    }))
}

/// Applies a request through the conversation service and answers with
/// the summary (and the note, for a note).
async fn apply(
    app: &App,
    id: &str,
    authed: &Authed,
    request: Request,
) -> Result<Json<Changed>, AppError> {
    let id = conversation_id(id)?;
    let updated = app
        .conversations
        .apply(id, authed.actor(), request)
        .await
        .map_err(|e| match e {
            UpdateError::Refused(refusal) => conflict(refusal),
            UpdateError::Store(e) => e.into(),
        })?;
    Ok(Json(Changed {
        conversation: Summary::of(app, &updated.after).await?,
        note: updated.note.as_ref().map(MessageView::from),
        sending: None,
    }))
}

/// `POST …/claim`: take the conversation. Of two agents claiming at once,
/// one gets 200 and the other 409.
#[utoipa::path(
    post, path = "/conversations/{id}/claim", tag = "agent", params(("id" = String, Path, description = "Conversation id")),
    responses(
        (status = 200, description = "The conversation after the change", body = Changed),
        (status = 400, description = "Malformed or refused input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 404, description = "No such conversation", body = ErrorBody), (status = 409, description = "Refused by the conversation's state (another agent owns it, it is resolved, ...)", body = ErrorBody),
    )
)]
pub(super) async fn claim(
    State(app): State<Arc<App>>,
    authed: Authed,
    Path(id): Path<String>,
) -> Result<Json<Changed>, AppError> {
    apply(&app, &id, &authed, Request::Claim).await
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct AssignTo {
    agent: String,
}

/// `POST …/assign {"agent"}`: hand to another agent (owner or admin).
#[utoipa::path(
    post, path = "/conversations/{id}/assign", tag = "agent", params(("id" = String, Path, description = "Conversation id")),
    request_body = AssignTo,
    responses(
        (status = 200, description = "The conversation after the change", body = Changed),
        (status = 400, description = "Malformed or refused input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 404, description = "No such conversation", body = ErrorBody), (status = 409, description = "Refused by the conversation's state (another agent owns it, it is resolved, ...)", body = ErrorBody),
    )
)]
pub(super) async fn assign(
    State(app): State<Arc<App>>,
    authed: Authed,
    Path(id): Path<String>,
    ApiJson(to): ApiJson<AssignTo>,
) -> Result<Json<Changed>, AppError> {
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
#[utoipa::path(
    post, path = "/conversations/{id}/release", tag = "agent", params(("id" = String, Path, description = "Conversation id")),
    responses(
        (status = 200, description = "The conversation after the change", body = Changed),
        (status = 400, description = "Malformed or refused input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 404, description = "No such conversation", body = ErrorBody), (status = 409, description = "Refused by the conversation's state (another agent owns it, it is resolved, ...)", body = ErrorBody),
    )
)]
pub(super) async fn release(
    State(app): State<Arc<App>>,
    authed: Authed,
    Path(id): Path<String>,
) -> Result<Json<Changed>, AppError> {
    apply(&app, &id, &authed, Request::Release).await
}

/// `POST …/pending`: the agent waits on the customer.
#[utoipa::path(
    post, path = "/conversations/{id}/pending", tag = "agent", params(("id" = String, Path, description = "Conversation id")),
    responses(
        (status = 200, description = "The conversation after the change", body = Changed),
        (status = 400, description = "Malformed or refused input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 404, description = "No such conversation", body = ErrorBody), (status = 409, description = "Refused by the conversation's state (another agent owns it, it is resolved, ...)", body = ErrorBody),
    )
)]
pub(super) async fn pending(
    State(app): State<Arc<App>>,
    authed: Authed,
    Path(id): Path<String>,
) -> Result<Json<Changed>, AppError> {
    apply(&app, &id, &authed, Request::Pending).await
}

/// `POST …/return-to-bot`: the bot answers again.
#[utoipa::path(
    post, path = "/conversations/{id}/return-to-bot", tag = "agent", params(("id" = String, Path, description = "Conversation id")),
    responses(
        (status = 200, description = "The conversation after the change", body = Changed),
        (status = 400, description = "Malformed or refused input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 404, description = "No such conversation", body = ErrorBody), (status = 409, description = "Refused by the conversation's state (another agent owns it, it is resolved, ...)", body = ErrorBody),
    )
)]
pub(super) async fn return_to_bot(
    State(app): State<Arc<App>>,
    authed: Authed,
    Path(id): Path<String>,
) -> Result<Json<Changed>, AppError> {
    apply(&app, &id, &authed, Request::ReturnToBot).await
}

/// `POST …/resolve`: done; the customer's next message reopens it.
#[utoipa::path(
    post, path = "/conversations/{id}/resolve", tag = "agent", params(("id" = String, Path, description = "Conversation id")),
    responses(
        (status = 200, description = "The conversation after the change", body = Changed),
        (status = 400, description = "Malformed or refused input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 404, description = "No such conversation", body = ErrorBody), (status = 409, description = "Refused by the conversation's state (another agent owns it, it is resolved, ...)", body = ErrorBody),
    )
)]
pub(super) async fn resolve(
    State(app): State<Arc<App>>,
    authed: Authed,
    Path(id): Path<String>,
) -> Result<Json<Changed>, AppError> {
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

#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct TagsBody {
    tags: Vec<String>,
}

/// Most tags one customer carries.
const MAX_TAGS: usize = 20;

/// `PUT …/tags {"tags": ["vip"]}`: the customer's tags, which segments may
/// match (`[[segments]] tags`). The conversation's segment and priority
/// follow at once, so a tagged customer moves up the queue. Any agent may
/// tag.
#[utoipa::path(
    put, path = "/conversations/{id}/tags", tag = "agent", params(("id" = String, Path, description = "Conversation id")),
    request_body = TagsBody,
    responses(
        (status = 200, description = "The conversation after the change", body = Changed),
        (status = 400, description = "Malformed or refused input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 404, description = "No such conversation", body = ErrorBody), (status = 409, description = "Refused by the conversation's state (another agent owns it, it is resolved, ...)", body = ErrorBody),
    )
)]
pub(super) async fn set_tags(
    State(app): State<Arc<App>>,
    authed: Authed,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TagsBody>,
) -> Result<Json<Changed>, AppError> {
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

#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct TextBody {
    text: String,
}

/// `POST …/messages {"text"}`: reply to the customer on their own channel,
/// through the outbox. Replying takes an unowned conversation.
#[utoipa::path(
    post, path = "/conversations/{id}/messages", tag = "agent", params(("id" = String, Path, description = "Conversation id")),
    request_body = TextBody,
    responses(
        (status = 202, description = "The conversation, and the reply queued for delivery", body = Changed),
        (status = 400, description = "Malformed or refused input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 404, description = "No such conversation", body = ErrorBody), (status = 409, description = "Refused by the conversation's state (another agent owns it, it is resolved, ...)", body = ErrorBody),
    )
)]
pub(super) async fn reply(
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
    body.sending = Some(Queued {
        id: entry.id,
        text: entry.text,
    });
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// `POST …/notes {"text"}`: an internal note, never sent to the customer.
#[utoipa::path(
    post, path = "/conversations/{id}/notes", tag = "agent", params(("id" = String, Path, description = "Conversation id")),
    request_body = TextBody,
    responses(
        (status = 201, description = "The conversation and the note", body = Changed),
        (status = 400, description = "Malformed or refused input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 404, description = "No such conversation", body = ErrorBody), (status = 409, description = "Refused by the conversation's state (another agent owns it, it is resolved, ...)", body = ErrorBody),
    )
)]
pub(super) async fn note(
    State(app): State<Arc<App>>,
    authed: Authed,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TextBody>,
) -> Result<Response, AppError> {
    let text = checked_text(&body.text)?;
    let Json(body) = apply(&app, &id, &authed, Request::Note(text)).await?;
    Ok((StatusCode::CREATED, Json(body)).into_response())
}
