//! Every waiting conversation's place in line and expected wait, computed
//! once per queue change and shared by all the web chat sockets watching.
//!
//! A task listens for the agent events that move the queue (a conversation
//! queued, taken, or changing status), reads the queue once, and publishes
//! the new view; each socket looks up its own conversation in it. So a
//! change costs one pass over the queue, not one per waiting visitor, and
//! a burst of changes (thousands of mails handed off) one pass per
//! [`MIN_INTERVAL`], not one per change.

use crate::core::events::{EventKind, Events};
use crate::core::shutdown::Shutdown;
use crate::model::ConversationId;
use crate::service_levels::waiting;
use crate::store::{Store, StoreError};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{broadcast, watch};

/// Place in line (from 1) and expected wait in minutes, per waiting
/// conversation.
pub type Places = Arc<HashMap<ConversationId, (u64, u64)>>;

/// Conversations read from the queue per pass.
const QUEUE_LIMIT: usize = 100_000;

/// Shortest time between two passes: places shown live are at most this
/// much behind.
pub const MIN_INTERVAL: std::time::Duration = std::time::Duration::from_millis(500);

/// The current view, for sockets to watch.
pub fn channel() -> (watch::Sender<Places>, watch::Receiver<Places>) {
    watch::channel(Places::default())
}

/// Reads the queue: places in service order, waits from recent pickups.
pub async fn compute(store: &dyn Store, minutes_per_customer: u32) -> Result<Places, StoreError> {
    let recent = waiting::recent_pickups(store).await?;
    let places = store
        .waiting_queue(QUEUE_LIMIT)
        .await?
        .into_iter()
        .zip(1u64..)
        .map(|(id, position)| {
            let wait = waiting::expected_wait_minutes(position, &recent, minutes_per_customer);
            (id, (position, wait))
        })
        .collect();
    Ok(Arc::new(places))
}

/// Keeps `view` current until `shutdown`.
pub async fn run(
    store: Arc<dyn Store>,
    events: Arc<Events>,
    minutes_per_customer: u32,
    view: watch::Sender<Places>,
    mut shutdown: Shutdown,
) {
    let mut changes = events.subscribe();
    loop {
        let pass = tokio::time::Instant::now();
        match compute(store.as_ref(), minutes_per_customer).await {
            Ok(places) => {
                view.send_replace(places);
            }
            Err(error) => {
                tracing::warn!(%error, "Cannot read the waiting queue for the live places.")
            }
        }
        // Wait for a change that can move the queue.
        loop {
            let change = tokio::select! {
                change = changes.recv() => change,
                _ = shutdown.stopped() => return,
            };
            match change {
                Ok(e)
                    if matches!(
                        e.kind,
                        EventKind::Queued
                            | EventKind::Assigned
                            | EventKind::StatusChanged
                            | EventKind::Retagged
                    ) =>
                {
                    break;
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => break,
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
        // Changes arriving meanwhile are covered by the next pass.
        tokio::select! {
            _ = tokio::time::sleep_until(pass + MIN_INTERVAL) => {}
            _ = shutdown.stopped() => return,
        }
        while !matches!(
            changes.try_recv(),
            Err(broadcast::error::TryRecvError::Empty | broadcast::error::TryRecvError::Closed)
        ) {}
    }
}
