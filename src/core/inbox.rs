//! The one way a customer message enters: store it durably, then hand the
//! turn to the dispatcher.
//!
//! `accept` returns only after the message is flushed to disk, so a channel
//! that confirms upstream after it (HTTP 202, WebSocket `received`, Telegram
//! offset, IMAP `\Seen`) never confirms something a crash could lose. A
//! message whose channel id was already taken in is a no-op returning the
//! earlier result. A channel taking in many at once (a mailbox catching up)
//! `stage`s each and `commit`s them together: one flush for the lot, and
//! nothing confirmed upstream before it.

use crate::conversation::intake::take_in;
use crate::core::dispatcher::Dispatcher;
use crate::core::events::{EventKind, Events};
use crate::core::live::LiveUpdates;
use crate::model::InboundMessage;
use crate::service_levels::segments;
use crate::service_levels::segments::SegmentConfig;
use crate::store::{Accepted, NewConversation, PendingTurn, Store, StoreError};
use std::collections::BTreeSet;
use std::sync::Arc;
use tracing::Instrument;

#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Clone)]
pub struct Inbox {
    store: Arc<dyn Store>,
    dispatcher: Dispatcher,
    live: Arc<LiveUpdates>,
    events: Arc<Events>,
    /// How conversations opened by new customers start out.
    defaults: NewConversation,
    /// Locales that have templates.
    locales: BTreeSet<String>,
    /// Who is served first (`[[segments]]`).
    segments: Vec<SegmentConfig>,
}

impl Inbox {
    pub fn new(
        store: Arc<dyn Store>,
        dispatcher: Dispatcher,
        live: Arc<LiveUpdates>,
        events: Arc<Events>,
        defaults: NewConversation,
        locales: BTreeSet<String>,
        segments: Vec<SegmentConfig>,
    ) -> Self {
        Self {
            store,
            dispatcher,
            live,
            events,
            defaults,
            locales,
            segments,
        }
    }

    /// How a conversation opened by this message starts: in the channel's
    /// reported language when we have templates for it, with the priority
    /// of the customer's segment.
    async fn new_conversation(&self, inbound: &InboundMessage) -> NewConversation {
        let hinted = inbound
            .locale_hint
            .as_deref()
            .map(|hint| hint.split(['-', '_']).next().unwrap_or(hint).to_lowercase())
            .filter(|code| self.locales.contains(code));
        // Tags agents gave the customer stay with them into a new thread
        // (a new email); otherwise the customer's conversation, if any,
        // is continued and keeps its own.
        let tags = match inbound.thread {
            crate::model::Thread::Conversation(_) | crate::model::Thread::Current => Vec::new(),
            crate::model::Thread::New => self
                .store
                .conversation_of(&inbound.customer)
                .await
                .ok()
                .flatten()
                .map(|c| c.tags)
                .unwrap_or_default(),
        };
        let segment = segments::segment_of(
            &self.segments,
            &inbound.customer,
            &inbound.attributes,
            &tags,
        );
        NewConversation {
            priority: segment.map_or(self.defaults.priority, |s| s.priority),
            locale: hinted.unwrap_or_else(|| self.defaults.locale.clone()),
            segment: segment.map(|s| s.name.clone()),
            tags,
        }
    }

    /// Stores `inbound` durably and schedules its automatic reply.
    pub async fn accept(&self, inbound: InboundMessage) -> Result<Accepted, InboxError> {
        let accepted = self.stage(&inbound).await?;
        self.commit(std::slice::from_ref(&accepted)).await?;
        Ok(accepted)
    }

    /// Writes `inbound` to the store, not yet durable: a channel taking in
    /// many messages at once (a mailbox catching up) stages each, then
    /// commits them together with one flush. Nothing staged may be
    /// confirmed upstream before [`Inbox::commit`] returns.
    pub async fn stage(&self, inbound: &InboundMessage) -> Result<Accepted, InboxError> {
        let span = tracing::info_span!(
            "accept",
            channel = %inbound.customer.channel(),
            conversation_id = tracing::field::Empty
        );
        let new = self
            .new_conversation(inbound)
            .instrument(span.clone())
            .await;
        let accepted = self
            .store
            .accept(inbound, &new, &take_in)
            .instrument(span.clone())
            .await?;
        span.record(
            "conversation_id",
            tracing::field::display(accepted.conversation.id),
        );
        Ok(accepted)
    }

    /// Makes staged messages durable (one group-commit flush), then
    /// schedules their automatic replies in order. Duplicates wait for the
    /// flush too (their first copy may not be on disk yet) but get nothing.
    pub async fn commit(&self, staged: &[Accepted]) -> Result<(), InboxError> {
        // On a failed flush the turns stay pending, redone at start-up.
        self.store.sync().await?;
        let now = chrono::Utc::now();
        for accepted in staged {
            if !accepted.duplicate {
                crate::core::metrics::acknowledged(
                    accepted.conversation.channel(),
                    accepted.message.at,
                    now,
                );
            }
            let span = tracing::info_span!(
                "accept",
                channel = %accepted.conversation.channel(),
                conversation_id = %accepted.conversation.id
            );
            self.announce(accepted).instrument(span).await;
        }
        Ok(())
    }

    async fn announce(&self, accepted: &Accepted) {
        if accepted.duplicate {
            tracing::info!(seq = accepted.message.seq, "Dropped a message seen before.");
            return;
        }
        tracing::debug!(seq = accepted.message.seq, "Stored a customer message.");
        crate::core::metrics::message_received(accepted.conversation.channel());
        self.live
            .publish(&accepted.conversation.customer.key(), accepted.message.seq);
        self.events
            .publish(EventKind::CustomerMessage, &accepted.conversation);
        self.dispatcher
            .submit(PendingTurn {
                conversation_id: accepted.conversation.id,
                seq: accepted.message.seq,
            })
            .await;
    }
}
