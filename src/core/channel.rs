//! The outbound side of a channel, as the outbox sees it: a `Channel`
//! sends one entry to a conversation's customer and says whether a failure
//! is worth retrying. The channel adapters in `crate::channels` implement it.

use crate::model::{ChannelKind, Conversation, OutboxEntry};
use futures_util::future::BoxFuture;
use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::Arc;

/// One send at a time whose outcome a crash could leave unknown.
pub fn one_unconfirmed_send() -> NonZeroUsize {
    NonZeroUsize::MIN
}

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
