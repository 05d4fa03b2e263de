//! The one way a customer message enters: store it durably, then hand the
//! turn to the dispatcher.
//!
//! `accept` returns only after the message is flushed to disk, so a channel
//! that confirms upstream after it (HTTP 202, WebSocket `received`, Telegram
//! offset, IMAP `\Seen`) never confirms something a crash could lose. A
//! message whose channel id was already taken in is a no-op returning the
//! earlier result.

use crate::dispatcher::Dispatcher;
use crate::events::{EventKind, Events};
use crate::live::LiveUpdates;
use crate::model::InboundMessage;
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
}

impl Inbox {
    pub fn new(
        store: Arc<dyn Store>,
        dispatcher: Dispatcher,
        live: Arc<LiveUpdates>,
        events: Arc<Events>,
        defaults: NewConversation,
        locales: BTreeSet<String>,
    ) -> Self {
        Self {
            store,
            dispatcher,
            live,
            events,
            defaults,
            locales,
        }
    }

    /// How a conversation opened by this message starts: in the channel's
    /// reported language when we have templates for it.
    fn new_conversation(&self, inbound: &InboundMessage) -> NewConversation {
        let hinted = inbound
            .locale_hint
            .as_deref()
            .map(|hint| hint.split(['-', '_']).next().unwrap_or(hint).to_lowercase())
            .filter(|code| self.locales.contains(code));
        NewConversation {
            priority: self.defaults.priority,
            locale: hinted.unwrap_or_else(|| self.defaults.locale.clone()),
        }
    }

    /// Stores `inbound` durably and schedules its automatic reply.
    pub async fn accept(&self, inbound: InboundMessage) -> Result<Accepted, InboxError> {
        let span = tracing::info_span!(
            "accept",
            channel = %inbound.customer.channel(),
            conversation_id = tracing::field::Empty
        );
        async move {
            let accepted = self
                .store
                .accept(&inbound, &self.new_conversation(&inbound))?;
            tracing::Span::current().record(
                "conversation_id",
                tracing::field::display(accepted.conversation.id),
            );
            // Even a duplicate waits: its first copy may not be flushed yet.
            self.store.sync().await?;
            if accepted.duplicate {
                tracing::info!(seq = accepted.message.seq, "Dropped a message seen before.");
                return Ok(accepted);
            }
            tracing::debug!(seq = accepted.message.seq, "Stored a customer message.");
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
            Ok(accepted)
        }
        .instrument(span)
        .await
    }
}
