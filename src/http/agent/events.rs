//! Live events for agent consoles, as Server-Sent Events: one per change
//! an agent should see, and `resync` when a console fell behind.

use super::Authed;
use crate::http::error::ErrorBody;
use crate::http::state::App;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use std::sync::Arc;

/// `GET /events`: Server-Sent Events, one per change an agent should see.
#[utoipa::path(
    get, path = "/events", tag = "agent",
    responses(
        (status = 200, description = "`change` events (a conversation summary and what happened) and `resync` when the console fell behind", content_type = "text/event-stream", body = String),
        (status = 401, description = "Not signed in", body = ErrorBody),
    )
)]
pub(super) async fn events(
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
