//! Channels: the ways customers reach us. Each has an inbound side that
//! turns the channel's input into `InboundMessage`s for the `Inbox`, and an
//! outbound [`Channel`] the `Outbox` delivers through.

pub mod email;
pub mod telegram;
pub mod web;

use crate::model::{ChannelKind, Conversation, OutboxEntry};
use futures_util::future::BoxFuture;
use std::collections::HashMap;
use std::sync::Arc;

/// Why a delivery failed, and so whether to try again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth retrying later (network, rate limit, server busy).
    #[error("temporary failure: {message}")]
    Transient {
        message: String,
        /// The channel's own "retry after", if it gave one.
        retry_after: Option<std::time::Duration>,
    },
    /// Will never succeed (blocked, no such recipient); agents are told.
    #[error("{0}")]
    Permanent(String),
}

/// The outbound side of a channel.
pub trait Channel: Send + Sync {
    fn kind(&self) -> ChannelKind;

    /// Delivers one outbox entry to the conversation's customer.
    fn send<'a>(
        &'a self,
        conversation: &'a Conversation,
        entry: &'a OutboxEntry,
    ) -> BoxFuture<'a, Result<(), SendError>>;

    /// How many sends may be under way at once whose outcome a crash would
    /// leave unknown. Each such send goes out again after a restart, so
    /// this is the most duplicates one crash can cause on the channel.
    /// `None` when a delivery has nothing to take back (web chat: the
    /// transcript entry is the delivery, and a crash takes back both).
    fn unconfirmed_sends(&self) -> Option<usize> {
        None
    }
}

/// The outbound channels that are configured, by kind.
pub type Channels = HashMap<ChannelKind, Arc<dyn Channel>>;
