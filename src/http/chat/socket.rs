//! The web chat WebSocket: the visitor's transcript live from where they
//! left off, their place in line, and messages sent as frames; a visitor
//! who stops reading is let go.

use super::views::{Frame, Place, Receipt};
use super::{address, queue_place, read_frame, session_of, submit, transcript_after};
use crate::http::error::{ApiQuery, AppError, ErrorBody};
use crate::http::state::App;
use crate::model::WebSession;
use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message as WsFrame, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct SocketQuery {
    session: String,
    #[serde(default)]
    after: u64,
}

/// `GET /ws?session=…&after=SEQ`: the transcript live, and message sending.
#[utoipa::path(
    get, path = "/ws", tag = "chat", params(SocketQuery),
    responses(
        (status = 101, description = "A WebSocket: the server sends `message`, `queue`, `received` and `error` frames (JSON); the visitor sends `{\"client_id\", \"text\"}`"),
        (status = 400, description = "Not a WebSocket request", body = ErrorBody),
        (status = 404, description = "No chat session with that token", body = ErrorBody),
    )
)]
pub(super) async fn websocket(
    State(app): State<Arc<App>>,
    ApiQuery(query): ApiQuery<SocketQuery>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, AppError> {
    let session = session_of(&app, &query.session).await?;
    let upgrade =
        upgrade.map_err(|e| AppError::bad_request("websocket_required", e.body_text()))?;
    let max = app.config.server.max_body_bytes;
    Ok(upgrade
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| run_socket(app, session, query.after, socket)))
}

async fn run_socket(app: Arc<App>, session: WebSession, after: u64, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    // A visitor who stops reading fills the socket's buffers; past this
    // wait the socket is closed, so the task and its memory are let go.
    let patience = Duration::from_secs(app.config.channels.web.ws_send_timeout_secs.max(1));

    // Replies to the visitor's own frames, handed from the reader to the writer.
    let (replies, mut pending_replies) = mpsc::channel::<Frame>(16);
    let mut updates = app.live.subscribe(&address(&session).key());
    // Queue changes (someone queued or taken) move the visitor's place.
    let mut places = app.places.clone();
    let mut shutdown = app.shutdown.clone();

    let writer = async {
        let mut cursor = after;
        let mut place_sent: Option<Place> = None;
        loop {
            updates.borrow_and_update();
            loop {
                let (messages, last) = transcript_after(&app, &session, cursor)
                    .await
                    .map_err(|_| ())?;
                for message in messages {
                    let frame = Frame::Message(message).to_text();
                    send_within(&mut sink, patience, WsFrame::Text(frame.into())).await?;
                }
                if last == cursor {
                    break;
                }
                cursor = last;
            }
            let place = queue_place(&app, &session).await.map_err(|_| ())?;
            if place != place_sent {
                // Leaving the queue is said too: `position` null.
                let frame = Frame::Queue(place.unwrap_or(Place::NONE)).to_text();
                send_within(&mut sink, patience, WsFrame::Text(frame.into())).await?;
                place_sent = place;
            }
            // Wait for something that can change what the visitor sees.
            tokio::select! {
                changed = updates.changed() => changed.map_err(|_| ())?,
                changed = places.changed() => changed.map_err(|_| ())?,
                reply = pending_replies.recv() => {
                    let reply = reply.ok_or(())?;
                    send_within(&mut sink, patience, WsFrame::Text(reply.to_text().into())).await?;
                }
                _ = shutdown.stopped() => {
                    let _ = send_within(&mut sink, patience, WsFrame::Close(None)).await;
                    return Err(());
                }
            }
        }
        // The loop only ends by `?` or `return`; this names the error type.
        #[allow(unreachable_code)]
        Ok::<(), ()>(())
    };

    let reader = async {
        while let Some(Ok(frame)) = stream.next().await {
            let reply = match frame {
                WsFrame::Text(text) => handle_frame(&app, &session, text.as_str()).await,
                WsFrame::Binary(_) => Frame::error(
                    None,
                    &AppError::bad_request("invalid_frame", "send JSON text frames"),
                ),
                WsFrame::Close(_) => break,
                WsFrame::Ping(_) | WsFrame::Pong(_) => continue,
            };
            if replies.send(reply).await.is_err() {
                break;
            }
        }
    };

    tokio::select! {
        _ = writer => {}
        _ = reader => {}
    }
}

/// Sends one frame, giving up on a visitor who has not read for `patience`.
async fn send_within(
    sink: &mut futures_util::stream::SplitSink<WebSocket, WsFrame>,
    patience: Duration,
    frame: WsFrame,
) -> Result<(), ()> {
    match tokio::time::timeout(patience, sink.send(frame)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(()),
        Err(_) => {
            tracing::info!("Closing a web chat socket whose visitor does not read.");
            Err(())
        }
    }
}

async fn handle_frame(app: &App, session: &WebSession, text: &str) -> Frame {
    let (client_id, text) = match read_frame(text) {
        Ok(message) => message,
        Err(error) => return Frame::error(None, &error),
    };
    match submit(app, session, &client_id, &text).await {
        Ok(accepted) => Frame::Received {
            receipt: Receipt::from(&accepted),
            client_id,
        },
        Err(error) => Frame::error(Some(&client_id), &error),
    }
}
