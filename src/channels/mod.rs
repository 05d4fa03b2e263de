//! Channels: the ways customers reach us. Each has an inbound side that
//! turns the channel's input into `InboundMessage`s for the `Inbox`, and an
//! outbound [`Channel`](crate::core::channel::Channel) the `Outbox` delivers through.

pub mod email;
pub mod telegram;
pub mod web;
use email::config::EmailConfig;
use serde::Deserialize;
use telegram::config::TelegramConfig;
use web::WebConfig;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelsConfig {
    #[serde(default)]
    pub web: WebConfig,
    /// Present when the gateway runs a Telegram bot.
    pub telegram: Option<TelegramConfig>,
    /// Present when the gateway reads a support mailbox.
    pub email: Option<EmailConfig>,
}
