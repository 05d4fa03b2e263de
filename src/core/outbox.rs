//! The outbox worker: delivers every outbound message through its
//! customer's channel, durably and in order (promise 5).
//!
//! Entries live in the store ordered by due time. The worker takes what is
//! due, at most one entry per conversation at a time (so replies arrive in
//! order) and a bounded number overall. Success appends the message to the
//! transcript; a transient failure reschedules with exponential backoff (or
//! the channel's own retry-after); a permanent one is recorded as failed for
//! the agents. Automatic replies are dropped if a human took the
//! conversation before they went out (promise 4). Entries survive restarts.
//!
//! Before a send the worker takes a lease on the entry
//! ([`Store::lease_delivery`](crate::store::OutboxStore::lease_delivery)),
//! and renews its leases while it lives, so instances sharing a database
//! never deliver one entry at once, and a dead instance's deliveries are
//! taken over within seconds.
//!
//! A send is done once its record is on disk. A crash between the channel
//! taking a message and that flush leaves the entry due, so it goes out
//! again after the restart. Each channel caps how many such sends are
//! under way at once ([`Channel::unconfirmed_sends`], 1 by default), which
//! caps the duplicates one crash can cause there. Entries of a channel
//! with no turn free are passed over, so they hold up no other channel.

#[cfg(doc)]
use crate::core::channel::Channel;
use crate::core::channel::{Channels, SendError};
use crate::core::events::{EventKind, Events};
use crate::core::live::LiveUpdates;
use crate::core::metrics::{self, Outcome, Responder};
use crate::core::shutdown::Shutdown;
use crate::model::{Author, ChannelKind, Conversation, ConversationId, Message};
use crate::model::{Delivery, OutboundReason, OutboxEntry};
use crate::store::{LEASE_RENEWAL, OUTBOX_LEASE, Store, StoreError};
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// Deliveries running at once, across all conversations.
const MAX_IN_FLIGHT: usize = 64;
/// Due entries read at a time: a pass reads on past the entries waiting
/// for a busy channel, so they do not hide those behind them.
const PAGE: usize = 256;
/// Due entries read in one pass at most.
const MAX_SCAN: usize = 4096;
/// Conversations whose channel is remembered, at most.
const MAX_REMEMBERED: usize = 100_000;
/// A send that takes longer than this counts as a transient failure.
const SEND_TIMEOUT: Duration = Duration::from_secs(60);
// A lease is renewed several times while a send may still be running.
const _: () = assert!(LEASE_RENEWAL.as_secs() * 2 < OUTBOX_LEASE.as_secs());
/// After this many transient failures the delivery is given up (≈ 3 hours).
pub const MAX_ATTEMPTS: u32 = 20;
/// Longest pause between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(600);

/// What to do after a failed attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Retry {
    At(DateTime<Utc>),
    GiveUp(String),
}

/// The retry decision for an entry that failed its `attempts`-th time.
pub fn after_failure(error: &SendError, attempts: u32, now: DateTime<Utc>) -> Retry {
    match error {
        SendError::Permanent(message) => Retry::GiveUp(message.clone()),
        SendError::Transient { message, .. } if attempts >= MAX_ATTEMPTS => {
            Retry::GiveUp(format!("gave up after {attempts} attempts: {message}"))
        }
        SendError::Transient { retry_after, .. } => {
            let exponential = Duration::from_secs(1u64 << attempts.saturating_sub(1).min(20));
            let wait = exponential
                .min(MAX_BACKOFF)
                .max(retry_after.unwrap_or_default());
            Retry::At(now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX))
        }
    }
}

#[derive(Clone)]
pub struct Outbox {
    shared: Arc<Shared>,
}

struct Shared {
    store: Arc<dyn Store>,
    channels: Channels,
    live: Arc<LiveUpdates>,
    events: Arc<Events>,
    wake: Notify,
    /// Conversations with a delivery under way, to keep their order.
    in_flight: Mutex<HashSet<ConversationId>>,
    slots: Arc<Semaphore>,
    /// Per channel that has them, its turns for sends a crash could leave
    /// unknown ([`Channel::unconfirmed_sends`]).
    unconfirmed: HashMap<ChannelKind, Arc<Semaphore>>,
    /// Each conversation's channel, learned at its first delivery, so that
    /// entries of a channel with no turn free are passed over unread.
    channel_of: Mutex<HashMap<ConversationId, ChannelKind>>,
}

impl Outbox {
    pub fn new(
        store: Arc<dyn Store>,
        channels: Channels,
        live: Arc<LiveUpdates>,
        events: Arc<Events>,
    ) -> Self {
        let unconfirmed = channels
            .iter()
            .filter_map(|(kind, channel)| {
                let turns = channel.unconfirmed_sends()?;
                Some((*kind, Arc::new(Semaphore::new(turns.max(1)))))
            })
            .collect();
        Self {
            shared: Arc::new(Shared {
                store,
                unconfirmed,
                channels,
                live,
                events,
                wake: Notify::new(),
                in_flight: Mutex::new(HashSet::new()),
                channel_of: Mutex::new(HashMap::new()),
                slots: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            }),
        }
    }

    /// Tells the worker new entries may be due.
    pub fn wake(&self) {
        self.shared.wake.notify_one();
    }

    /// Runs the worker until `shutdown` turns true.
    pub async fn run(self, shutdown: Shutdown) {
        let renewal = tokio::spawn(keep_leases(self.shared.store.clone(), shutdown.clone()));
        self.deliver_until(shutdown.clone()).await;
        let _ = renewal.await;
    }

    async fn deliver_until(&self, mut shutdown: Shutdown) {
        loop {
            let started = self.start_due().await;
            let pause = match (started, self.shared.store.next_outbox_due().await) {
                (Err(error), _) | (_, Err(error)) => {
                    tracing::error!(%error, "Cannot read the outbox; retrying in a second.");
                    Duration::from_secs(1)
                }
                (Ok(_), Ok(None)) => Duration::from_secs(5),
                (Ok(_), Ok(Some(due))) => (due - Utc::now())
                    .to_std()
                    // Due now but its conversation is busy: wait for a wake.
                    .unwrap_or(Duration::from_secs(1))
                    .min(Duration::from_secs(5)),
            };
            tokio::select! {
                _ = self.shared.wake.notified() => {}
                _ = tokio::time::sleep(pause) => {}
                _ = shutdown.stopped() => return,
            }
        }
    }

    /// Starts a delivery for every due entry whose conversation is idle
    /// and whose channel has a turn free, reading the due entries a page
    /// at a time.
    async fn start_due(&self) -> Result<usize, StoreError> {
        // With every slot taken there is nothing to start: the delivery
        // that frees one wakes the worker again.
        if self.shared.slots.available_permits() == 0 {
            return Ok(0);
        }
        let now = Utc::now();
        let mut page = self.shared.store.due_outbox(now, PAGE).await?;
        let (mut started, mut scanned) = (0, 0);
        // Turns of each channel taken by the deliveries started here.
        let mut taken: HashMap<ChannelKind, usize> = HashMap::new();
        loop {
            scanned += page.len();
            let next = (page.len() == PAGE && scanned < MAX_SCAN)
                .then(|| page.last().cloned())
                .flatten();
            for entry in page {
                let turns = self.shared.turns_free(entry.conversation_id);
                if let Some((channel, free)) = turns
                    && taken.get(&channel).copied().unwrap_or(0) >= free
                {
                    continue;
                }
                let Ok(permit) = self.shared.slots.clone().try_acquire_owned() else {
                    return Ok(started);
                };
                {
                    let mut busy = self
                        .shared
                        .in_flight
                        .lock()
                        .unwrap_or_else(|p| p.into_inner());
                    if !busy.insert(entry.conversation_id) {
                        continue;
                    }
                }
                if let Some((channel, _)) = turns {
                    *taken.entry(channel).or_default() += 1;
                }
                started += 1;
                let shared = self.shared.clone();
                tokio::spawn(async move {
                    let id = entry.conversation_id;
                    let span = tracing::info_span!("deliver", conversation_id = %id, outbox_id = %entry.id, reason = ?entry.reason);
                    let _ =
                        tracing::Instrument::instrument(shared.deliver(entry, permit), span).await;
                    shared
                        .in_flight
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&id);
                    shared.wake.notify_one();
                });
            }
            match next {
                Some(last) => page = self.shared.store.due_outbox_after(&last, now, PAGE).await?,
                None => return Ok(started),
            }
        }
    }
}

/// Renews this instance's outbox leases until `shutdown`, so that other
/// instances leave its deliveries alone while it lives.
async fn keep_leases(store: Arc<dyn Store>, mut shutdown: Shutdown) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(LEASE_RENEWAL) => {}
            _ = shutdown.stopped() => return,
        }
        if let Err(error) = store.renew_outbox_leases().await {
            tracing::warn!(%error, "Cannot renew this instance's outbox leases; another instance may take its deliveries over.");
        }
    }
}

impl Shared {
    /// The conversation's channel and its turns free, if it is known and
    /// caps its unconfirmed sends.
    fn turns_free(&self, id: ConversationId) -> Option<(ChannelKind, usize)> {
        let channel_of = self.channel_of.lock().unwrap_or_else(|p| p.into_inner());
        let channel = *channel_of.get(&id)?;
        let turns = self.unconfirmed.get(&channel)?;
        Some((channel, turns.available_permits()))
    }

    fn remember_channel(&self, id: ConversationId, channel: ChannelKind) {
        let mut channel_of = self.channel_of.lock().unwrap_or_else(|p| p.into_inner());
        if channel_of.len() >= MAX_REMEMBERED {
            channel_of.clear();
        }
        channel_of.insert(id, channel);
    }

    /// Delivers `entry` while holding `_slot`, one of the deliveries under
    /// way, and on a channel that caps its unconfirmed sends one of its
    /// turns. Without a turn free it leaves the entry due: the delivery
    /// that holds the turn wakes the worker when it ends.
    async fn deliver(
        &self,
        entry: OutboxEntry,
        _slot: OwnedSemaphorePermit,
    ) -> Result<(), StoreError> {
        // The entry was read before its conversation was marked busy here,
        // so the delivery before this one may have sent it meanwhile, or
        // another instance may have taken it. Now that this delivery holds
        // the conversation here, the store lends it the entry, or says no.
        if !self.store.lease_delivery(&entry).await? {
            tracing::debug!("Skipped an outbox entry delivered, rescheduled or taken elsewhere.");
            return Ok(());
        }
        let Some(conversation) = self.store.conversation(entry.conversation_id).await? else {
            tracing::warn!("Dropped an outbound message whose conversation is gone.");
            return self.store.cancel_delivery(&entry).await;
        };
        let channel = conversation.channel();
        self.remember_channel(entry.conversation_id, channel);
        let _turn = match self.unconfirmed.get(&channel) {
            Some(turns) => match turns.clone().try_acquire_owned() {
                Ok(turn) => Some(turn),
                Err(_) => return Ok(()),
            },
            None => None,
        };
        if entry.reason.is_automatic() && conversation.status.human_owned() {
            tracing::info!("Dropped an automatic reply: an agent owns the conversation.");
            metrics::delivery(channel, Outcome::Dropped);
            return self.store.cancel_delivery(&entry).await;
        }
        let result = match self.channels.get(&channel) {
            None => Err(SendError::Permanent(format!(
                "the {channel} channel is not configured"
            ))),
            Some(ch) => {
                match tokio::time::timeout(SEND_TIMEOUT, ch.send(&conversation, &entry)).await {
                    Ok(result) => result,
                    Err(_) => Err(SendError::Transient {
                        message: format!(
                            "no answer from the {channel} channel within {SEND_TIMEOUT:?}"
                        ),
                        retry_after: None,
                    }),
                }
            }
        };
        let now = Utc::now();
        let delivery = match result {
            Ok(()) => Delivery::Delivered,
            Err(error) => {
                let attempts = entry.attempts + 1;
                match after_failure(&error, attempts, now) {
                    Retry::At(due_at) => {
                        tracing::warn!(%error, attempts, %due_at, "Delivery failed; will retry.");
                        let updated = OutboxEntry {
                            attempts,
                            due_at,
                            last_error: Some(error.to_string()),
                            ..entry.clone()
                        };
                        metrics::delivery(channel, Outcome::Retry);
                        return self.store.reschedule_delivery(&entry, &updated).await;
                    }
                    Retry::GiveUp(error) => {
                        tracing::error!(%error, attempts, "Delivery failed for good; the customer did not get the message.");
                        Delivery::Failed { error }
                    }
                }
            }
        };
        let finished = self.store.finish_delivery(&entry, delivery, now).await?;
        // A send cannot be taken back: make its record durable at once, so
        // a crash re-sends only what was in flight, not the last half
        // second of deliveries. Web chat delivery is the transcript entry
        // itself: a crash takes back both, and the entry (with the same
        // message id) is delivered again, once; the next flush covers it.
        if !channel.delivers_by_transcript() {
            self.store.sync().await?;
        }
        if let Some(message) = finished {
            self.live.publish(&conversation.customer.key(), message.seq);
            let kind = match message.delivery {
                Some(Delivery::Failed { .. }) => {
                    metrics::delivery_failed(channel);
                    metrics::delivery(channel, Outcome::Failed);
                    EventKind::DeliveryFailed
                }
                _ => {
                    metrics::reply_delivered(channel, entry.reason);
                    metrics::delivery(channel, Outcome::Delivered);
                    if entry.reason == OutboundReason::Agent {
                        self.first_agent_reply(&conversation, &message).await?;
                    }
                    EventKind::Delivered
                }
            };
            self.events.publish(kind, &conversation);
        }
        Ok(())
    }

    /// Measures the first human response when `delivered` is the
    /// conversation's first agent message: from the hand-off (the SLA
    /// clock's start, else the hand-off acknowledgment, else the customer's
    /// first message), whatever `[sla]` says, as the reports count it.
    async fn first_agent_reply(
        &self,
        conversation: &Conversation,
        delivered: &Message,
    ) -> Result<(), StoreError> {
        let earlier = self
            .store
            .messages_after(conversation.id, 0, delivered.seq.saturating_sub(1) as usize)
            .await?;
        if earlier.iter().all(|m| m.author != Author::Agent) {
            let handed_at = conversation
                .sla
                .as_ref()
                .map(|sla| sla.started_at)
                .or_else(|| {
                    let handoff = Some(OutboundReason::Handoff);
                    earlier.iter().find(|m| m.reason == handoff).map(|m| m.at)
                })
                .or_else(|| earlier.first().map(|m| m.at))
                .unwrap_or(conversation.created_at);
            metrics::first_response(
                conversation.channel(),
                Responder::Agent,
                handed_at,
                delivered.at,
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::{intake::take_in, turn::after_turn};
    use crate::core::channel::Channel;
    use crate::model::{Conversation, CustomerAddress, InboundMessage, OutboundReason};
    use crate::store::sled::SledStore;
    use crate::store::{NewConversation, PendingTurn, TurnOutcome};
    use futures_util::future::BoxFuture;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A Telegram-like channel that counts what it is given, and answers
    /// at once or, when `stuck`, never.
    struct FakeTelegram {
        sends: Arc<AtomicUsize>,
        stuck: bool,
    }

    impl Channel for FakeTelegram {
        fn kind(&self) -> ChannelKind {
            ChannelKind::Telegram
        }
        fn send<'a>(
            &'a self,
            _: &'a Conversation,
            _: &'a OutboxEntry,
        ) -> BoxFuture<'a, Result<(), SendError>> {
            self.sends.fetch_add(1, Ordering::SeqCst);
            if self.stuck {
                Box::pin(std::future::pending())
            } else {
                Box::pin(async { Ok(()) })
            }
        }
        fn unconfirmed_sends(&self) -> Option<usize> {
            Some(1)
        }
    }

    fn new_conversation() -> NewConversation {
        NewConversation {
            priority: 0,
            locale: "en".into(),
            segment: None,
            tags: Vec::new(),
        }
    }

    /// Accepts a message from `customer` and queues one answer to it.
    async fn queue_answer(store: &dyn Store, customer: CustomerAddress) -> ConversationId {
        let accepted = store
            .accept(
                &InboundMessage::text(
                    customer,
                    uuid::Uuid::new_v4().to_string(),
                    "hi".into(),
                    Utc::now(),
                ),
                &new_conversation(),
                &take_in,
            )
            .await
            .expect("accept");
        let id = accepted.conversation.id;
        let reply = OutboxEntry::due_now(id, OutboundReason::Answer, "hello".into(), None, None);
        store
            .record_turn(
                &TurnOutcome {
                    turn: PendingTurn {
                        conversation_id: id,
                        seq: accepted.message.seq,
                    },
                    locale: "en".into(),
                    handoff: false,
                    replies: vec![reply],
                    sla: None,
                    route: None,
                },
                &after_turn,
            )
            .await
            .expect("turn");
        id
    }

    /// More answers wait for a stuck channel than the worker reads at a
    /// time; a web chat answer due after them still goes out.
    #[tokio::test]
    async fn a_channel_with_no_turn_free_holds_up_no_other() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).expect("store"));
        for chat_id in 0..(PAGE as i64 + 50) {
            queue_answer(store.as_ref(), CustomerAddress::Telegram { chat_id }).await;
        }
        let web = queue_answer(
            store.as_ref(),
            CustomerAddress::Web {
                session_id: uuid::Uuid::new_v4(),
            },
        )
        .await;
        let stuck: Arc<dyn Channel> = Arc::new(FakeTelegram {
            sends: Arc::new(AtomicUsize::new(0)),
            stuck: true,
        });
        let web_channel: Arc<dyn Channel> = Arc::new(crate::channels::web::WebChannel);
        let outbox = Outbox::new(
            store.clone(),
            Channels::from([
                (ChannelKind::Telegram, stuck),
                (ChannelKind::Web, web_channel),
            ]),
            Arc::new(LiveUpdates::default()),
            Arc::new(Events::default()),
        );
        let (stop, shutdown) = Shutdown::channel();
        let worker = tokio::spawn(outbox.run(shutdown));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while store
            .messages_after(web, 0, 10)
            .await
            .expect("transcript")
            .len()
            < 2
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the web chat answer waited behind the stuck channel"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        stop.stop();
        let _ = worker.await;
    }

    /// The worker reads due entries before it marks their conversations
    /// busy, so it can hold a copy of an entry the delivery before it has
    /// just sent. Delivering that copy must send nothing.
    #[tokio::test]
    async fn an_entry_read_before_its_delivery_finished_is_not_sent_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).expect("store"));
        let id = queue_answer(store.as_ref(), CustomerAddress::Telegram { chat_id: 7 }).await;
        let sends = Arc::new(AtomicUsize::new(0));
        let channel: Arc<dyn Channel> = Arc::new(FakeTelegram {
            sends: sends.clone(),
            stuck: false,
        });
        let outbox = Outbox::new(
            store.clone(),
            Channels::from([(ChannelKind::Telegram, channel)]),
            Arc::new(LiveUpdates::default()),
            Arc::new(Events::default()),
        );
        let copy = store
            .due_outbox(Utc::now(), 10)
            .await
            .expect("due")
            .remove(0);
        let slot = || {
            outbox
                .shared
                .slots
                .clone()
                .try_acquire_owned()
                .expect("slot")
        };
        outbox
            .shared
            .deliver(copy.clone(), slot())
            .await
            .expect("deliver");
        outbox
            .shared
            .deliver(copy, slot())
            .await
            .expect("deliver the copy");
        assert_eq!(sends.load(Ordering::SeqCst), 1, "sent once");
        let transcript = store.messages_after(id, 0, 10).await.expect("transcript");
        assert_eq!(transcript.len(), 2, "the question and one answer");
        assert!(
            store
                .due_outbox(Utc::now(), 10)
                .await
                .expect("due")
                .is_empty()
        );
    }

    fn transient(retry_after: Option<u64>) -> SendError {
        SendError::Transient {
            message: "busy".into(),
            retry_after: retry_after.map(Duration::from_secs),
        }
    }

    #[test]
    fn backoff_doubles_then_caps() {
        let now = Utc::now();
        let wait = |n| match after_failure(&transient(None), n, now) {
            Retry::At(t) => (t - now).num_seconds(),
            Retry::GiveUp(e) => panic!("gave up: {e}"),
        };
        assert_eq!([wait(1), wait(2), wait(3), wait(4)], [1, 2, 4, 8]);
        assert_eq!(wait(15), 600);
    }

    #[test]
    fn retry_after_is_honoured() {
        let now = Utc::now();
        assert_eq!(
            after_failure(&transient(Some(30)), 1, now),
            Retry::At(now + chrono::Duration::seconds(30))
        );
    }

    #[test]
    fn permanent_errors_and_too_many_attempts_give_up() {
        let now = Utc::now();
        assert!(matches!(
            after_failure(&SendError::Permanent("blocked".into()), 1, now),
            Retry::GiveUp(e) if e == "blocked"
        ));
        assert!(matches!(
            after_failure(&transient(None), MAX_ATTEMPTS, now),
            Retry::GiveUp(_)
        ));
    }
}
