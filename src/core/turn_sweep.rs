//! Customer turns left pending get handled again: a turn whose dispatcher
//! failed (the store was away for a moment), or whose instance died
//! between taking the message in and recording its reply, would otherwise
//! wait for a restart, or, on a shared database, for ever.
//!
//! The sweep runs once per desk (see [`crate::core::leader`]). Every
//! [`EVERY`] it reads the pending turns and resubmits those that were
//! already pending at the previous reading: a turn handled normally is
//! pending for milliseconds, so it is never seen twice. A turn handled
//! twice is harmless: the store records a turn once
//! ([`ConversationStore::record_turn`](crate::store::ConversationStore::record_turn)).

use crate::core::dispatcher::Dispatcher;
use crate::core::shutdown::Shutdown;
use crate::store::{PendingTurn, Store};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// How often pending turns are read.
pub const EVERY: Duration = Duration::from_secs(5);

/// Turns resubmitted at most per sweep, so a backlog is worked off in
/// steps instead of flooding the dispatcher.
const MAX_PER_SWEEP: usize = 1000;

/// The turns in `now` that were pending at the previous reading too.
fn stale(previous: &HashSet<PendingTurn>, now: &[PendingTurn]) -> Vec<PendingTurn> {
    now.iter()
        .filter(|turn| previous.contains(turn))
        .take(MAX_PER_SWEEP)
        .copied()
        .collect()
}

/// Sweeps until `shutdown`.
pub async fn run(store: Arc<dyn Store>, dispatcher: Dispatcher, mut shutdown: Shutdown) {
    let mut previous = HashSet::new();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = shutdown.stopped() => return,
        }
        let pending = match store.pending_turns().await {
            Ok(pending) => pending,
            Err(error) => {
                tracing::warn!(%error, "Cannot read the pending customer turns; trying again.");
                continue;
            }
        };
        let stale = stale(&previous, &pending);
        if !stale.is_empty() {
            tracing::warn!(
                turns = stale.len(),
                "Handling customer turns left pending (a failed attempt, or an instance that stopped)."
            );
        }
        for turn in stale {
            dispatcher.submit(turn).await;
        }
        previous = pending.into_iter().collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ConversationId;

    fn turn(seq: u64) -> PendingTurn {
        PendingTurn {
            conversation_id: ConversationId(uuid::Uuid::nil()),
            seq,
        }
    }

    #[test]
    fn only_turns_pending_at_two_readings_are_stale() {
        let previous: HashSet<_> = [turn(1), turn(2)].into_iter().collect();
        assert_eq!(stale(&previous, &[turn(2), turn(3)]), vec![turn(2)]);
        assert!(stale(&HashSet::new(), &[turn(1)]).is_empty());
    }
}
