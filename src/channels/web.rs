//! The web chat channel's outbound side. A reply reaches a web visitor by
//! being appended to the transcript, which the outbox does on success; the
//! visitor's next read (long poll or WebSocket, `crate::http::chat`) sees it.

use crate::core::channel::{Channel, SendError};
use crate::core::dispatcher::AckPolicy;
use crate::model::{ChannelKind, Conversation, OutboxEntry};
use futures_util::future::BoxFuture;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Longest customer message accepted, in bytes of UTF-8.
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: usize,
    #[serde(default)]
    pub ack: AckPolicy,
    /// Sites that embed the widget from another origin, such as
    /// `"https://shop.example"` (CORS). The gateway's own pages need none.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// The secret the host site signs visitor identities with (HMAC-SHA256),
    /// so segments can trust a visitor's user id and attributes. Use
    /// `${ENV_VAR}`. Without it, identities are ignored.
    pub identity_secret: Option<String>,
    /// Messages one chat session may send a minute (HTTP and WebSocket);
    /// more get 429 with Retry-After. 0: no limit.
    #[serde(default = "default_session_messages_per_minute")]
    pub session_messages_per_minute: u32,
    /// Messages and new sessions one client address may send a minute, over
    /// all its sessions. Behind a reverse proxy every visitor has the
    /// proxy's address: raise it or set 0 (no limit).
    #[serde(default = "default_address_requests_per_minute")]
    pub address_requests_per_minute: u32,
    /// Seconds a frame may wait on a visitor who does not read before the
    /// WebSocket is closed (the visitor can reconnect and replay).
    #[serde(default = "default_ws_send_timeout")]
    pub ws_send_timeout_secs: u64,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_message_bytes: default_max_message_bytes(),
            ack: AckPolicy::default(),
            allowed_origins: Vec::new(),
            identity_secret: None,
            session_messages_per_minute: default_session_messages_per_minute(),
            address_requests_per_minute: default_address_requests_per_minute(),
            ws_send_timeout_secs: default_ws_send_timeout(),
        }
    }
}

fn default_session_messages_per_minute() -> u32 {
    30
}
fn default_address_requests_per_minute() -> u32 {
    600
}
fn default_ws_send_timeout() -> u64 {
    10
}

fn yes() -> bool {
    true
}
fn default_max_message_bytes() -> usize {
    4096
}

/// Outbound side: the outbox's transcript append is the delivery.
pub struct WebChannel;

impl Channel for WebChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Web
    }

    fn send<'a>(
        &'a self,
        _conversation: &'a Conversation,
        _entry: &'a OutboxEntry,
    ) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async { Ok(()) })
    }
}
