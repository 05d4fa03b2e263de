//! The domain's nouns: channels, customer addresses, ids, conversations,
//! messages and outbox entries. Plain serde types with no behaviour beyond
//! small invariants, shared by every other module and by every store backend.

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// The ways a customer can reach us. Closed set: a new channel is a new variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    Web,
    Telegram,
    Email,
}

impl ChannelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Web => "web",
            ChannelKind::Telegram => "telegram",
            ChannelKind::Email => "email",
        }
    }

    /// Whether delivering is appending to the transcript (web chat: the
    /// visitor reads it), so a delivery has nothing to take back.
    pub fn delivers_by_transcript(self) -> bool {
        self == ChannelKind::Web
    }
}

impl fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where replies to a customer go. The conversation's address decides the
/// outbound channel, so an agent never picks one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "channel", rename_all = "lowercase")]
pub enum CustomerAddress {
    /// A web chat session, by its public id (never the secret session token).
    Web { session_id: Uuid },
    /// A Telegram private chat.
    Telegram { chat_id: i64 },
    /// An email address, stored lowercased.
    Email { address: String },
}

impl CustomerAddress {
    pub fn channel(&self) -> ChannelKind {
        match self {
            CustomerAddress::Web { .. } => ChannelKind::Web,
            CustomerAddress::Telegram { .. } => ChannelKind::Telegram,
            CustomerAddress::Email { .. } => ChannelKind::Email,
        }
    }

    /// A stable string key for indexing conversations by customer.
    pub fn key(&self) -> String {
        match self {
            CustomerAddress::Web { session_id } => format!("web:{session_id}"),
            CustomerAddress::Telegram { chat_id } => format!("telegram:{chat_id}"),
            CustomerAddress::Email { address } => format!("email:{}", address.to_lowercase()),
        }
    }
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        #[schema(value_type = String, format = Uuid)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new time-ordered (UUIDv7) id, so store keys sort by creation.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

uuid_id!(
    /// Identifies a conversation.
    ConversationId
);
uuid_id!(
    /// Identifies a message in a transcript.
    MessageId
);
uuid_id!(
    /// Identifies an outbox entry (one outbound message on its way).
    OutboxId
);

mod accounts;
mod audit;
mod conversation;
mod message;
mod outbox;

pub use accounts::*;
pub use audit::*;
pub use conversation::*;
pub use message::*;
pub use outbox::*;
