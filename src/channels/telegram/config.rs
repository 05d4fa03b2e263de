//! `[channels.telegram]`: the bot, how updates reach us, and how many
//! replies may be under way at once.

use crate::core::channel::one_unconfirmed_send;
use serde::Deserialize;
use std::num::NonZeroUsize;

/// How Telegram tells us about new messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TelegramMode {
    /// The gateway long-polls `getUpdates`.
    #[default]
    Polling,
    /// Telegram posts updates to `webhook_url`.
    Webhook,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramConfig {
    /// The bot token from @BotFather; use `${TELEGRAM_BOT_TOKEN}`.
    pub token: String,
    #[serde(default)]
    pub mode: TelegramMode,
    /// The Bot API server (Telegram's by default; tests and self-hosted Bot
    /// API servers set their own).
    #[serde(default = "default_telegram_api")]
    pub api_url: String,
    /// Public HTTPS URL Telegram posts to (webhook mode); it must reach
    /// this gateway's `/api/v1/telegram/webhook`.
    pub webhook_url: Option<String>,
    /// Shared secret Telegram sends in X-Telegram-Bot-Api-Secret-Token.
    pub webhook_secret: Option<String>,
    /// Long-poll timeout in seconds (polling mode; at most 15, below the
    /// HTTP client's 17 s).
    #[serde(default = "default_poll_timeout")]
    pub poll_timeout_secs: u32,
    /// Replies sent at once whose outcome a crash could leave unknown: each
    /// may go out again after a restart (the Bot API cannot say whether a
    /// message arrived). 1 (the default) means at most one duplicate reply
    /// per crash; more send faster over a slow link.
    #[serde(default = "one_unconfirmed_send")]
    pub unconfirmed_sends: NonZeroUsize,
}

fn default_telegram_api() -> String {
    "https://api.telegram.org".into()
}
fn default_poll_timeout() -> u32 {
    10
}
