//! Live updates and agent events across instances. On a store several
//! instances share, what one instance publishes ([`LiveUpdates`],
//! [`Events`]) is also written to the store as a notice, and the notices of
//! the others are published here: an agent whose console is connected to
//! instance B sees the message instance A took in, and a visitor's
//! WebSocket on B gets the reply A's dispatcher wrote.
//!
//! Publishing never waits for the database: notices queue in memory (up
//! to [`QUEUE`]; past that the oldest news is dropped with a warning, as
//! notices are wake-ups, not records) and one task shares them in batches,
//! after the changes they tell of have committed.

use crate::core::events::{AgentEvent, Events};
use crate::core::live::LiveUpdates;
use crate::core::shutdown::Shutdown;
use crate::store::Store;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Notices waiting to be shared, at most.
const QUEUE: usize = 8192;
/// Notices shared in one statement, at most.
const BATCH: usize = 512;

/// What one instance tells the others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "notice", rename_all = "snake_case")]
enum Notice {
    /// A customer's transcript reached `seq`.
    Transcript { customer: String, seq: u64 },
    /// Something agents see changed.
    Agent(AgentEvent),
}

/// Connects `live` and `events` to the other instances on `store`, until
/// `shutdown`. Nothing to do (and no task started) on a store nobody
/// else shares.
pub fn start(
    store: Arc<dyn Store>,
    live: Arc<LiveUpdates>,
    events: Arc<Events>,
    shutdown: Shutdown,
) -> Vec<tokio::task::JoinHandle<()>> {
    if !store.shared() {
        return Vec::new();
    }
    let (outgoing, queued) = mpsc::channel(QUEUE);
    let to_share = outgoing.clone();
    live.forward_to(Box::new(move |customer, seq| {
        queue(
            &to_share,
            Notice::Transcript {
                customer: customer.to_string(),
                seq,
            },
        )
    }));
    events.forward_to(Box::new(move |event| {
        queue(&outgoing, Notice::Agent(event.clone()))
    }));
    let incoming = store.notices_from_others();
    vec![
        tokio::spawn(share(store, queued, shutdown.clone())),
        tokio::spawn(hear(incoming, live, events, shutdown)),
    ]
}

fn queue(outgoing: &mpsc::Sender<Notice>, notice: Notice) {
    if outgoing.try_send(notice).is_err() {
        tracing::warn!(
            "Too many updates waiting to reach the other instances; one was dropped (their screens catch up on the next)."
        );
    }
}

/// Shares queued notices in batches until `shutdown`.
async fn share(store: Arc<dyn Store>, mut queued: mpsc::Receiver<Notice>, mut shutdown: Shutdown) {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        tokio::select! {
            count = queued.recv_many(&mut batch, BATCH) => if count == 0 { return },
            _ = shutdown.stopped() => return,
        }
        let values: Vec<serde_json::Value> = batch
            .drain(..)
            .filter_map(|notice| serde_json::to_value(notice).ok())
            .collect();
        // A database that is away is retried a few times, then the news
        // is dropped: screens re-read what they show on the next one.
        for attempt in 1..=3 {
            match store.share_notices(&values).await {
                Ok(()) => break,
                Err(error) if attempt == 3 => {
                    tracing::warn!(%error, notices = values.len(), "Could not tell the other instances of updates; their screens catch up on the next.");
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200 * attempt)).await,
            }
        }
    }
}

/// Publishes here what other instances share, until `shutdown`.
async fn hear(
    mut incoming: mpsc::Receiver<serde_json::Value>,
    live: Arc<LiveUpdates>,
    events: Arc<Events>,
    mut shutdown: Shutdown,
) {
    loop {
        let value = tokio::select! {
            value = incoming.recv() => match value {
                Some(value) => value,
                None => return,
            },
            _ = shutdown.stopped() => return,
        };
        match serde_json::from_value(value) {
            Ok(Notice::Transcript { customer, seq }) => live.publish_here(&customer, seq),
            Ok(Notice::Agent(event)) => events.publish_here(event),
            // A newer release's notice during a rolling upgrade.
            Err(error) => tracing::debug!(%error, "Ignored a notice of an unknown kind."),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::events::EventKind;
    use crate::model::{ConversationId, ConversationStatus};

    #[test]
    fn notices_read_back_as_written() {
        for notice in [
            Notice::Transcript {
                customer: "web:abc".into(),
                seq: 7,
            },
            Notice::Agent(AgentEvent {
                kind: EventKind::CustomerMessage,
                conversation_id: ConversationId(uuid::Uuid::new_v4()),
                ticket: 1001,
                status: ConversationStatus::Waiting,
                assigned_agent: Some("ann".into()),
            }),
        ] {
            let value = serde_json::to_value(&notice).expect("json");
            assert_eq!(
                serde_json::from_value::<Notice>(value).expect("back"),
                notice
            );
        }
    }
}
