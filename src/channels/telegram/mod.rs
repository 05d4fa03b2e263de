//! The Telegram channel: a bot that never loses or repeats a message.
//!
//! Inbound comes from the gateway's own `getUpdates` loop ([`poll`]) or its
//! own webhook route (`crate::http::telegram_webhook`), never teloxide's dispatcher, because
//! that confirms updates to Telegram before they are stored. Each update is
//! taken in (stored and flushed) before Telegram is told we have it: the
//! next poll's offset, or the webhook's 200. Outbound goes through the
//! outbox: plain text (nothing to escape), split on line boundaries at
//! Telegram's 4096 characters, with a "Talk to a person" button under bot
//! answers.

pub mod config;
pub mod parse;
pub mod poll;

use crate::channels::telegram::config::TelegramConfig;
use crate::core::channel::{Channel, SendError};
use crate::model::{ChannelKind, Conversation, CustomerAddress, OutboundReason, OutboxEntry};
use futures_util::future::BoxFuture;
use teloxide::payloads::SendMessageSetters;
use teloxide::prelude::Requester;
use teloxide::types::{ChatId, InlineKeyboardButton, InlineKeyboardMarkup};
use teloxide::{ApiError, Bot, RequestError};

/// Telegram's limit on one message's text, in characters.
pub const MAX_MESSAGE_CHARS: usize = 4096;

/// A bot client for the configured Bot API server.
pub fn bot(config: &TelegramConfig) -> Result<Bot, url::ParseError> {
    Ok(Bot::new(&config.token).set_api_url(url::Url::parse(&config.api_url)?))
}

/// Splits `text` into pieces of at most `max` characters, at line breaks
/// where it can, else at spaces, else anywhere.
pub fn split_text(text: &str, max: usize) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while rest.chars().count() > max {
        let cut = rest.char_indices().nth(max).map_or(rest.len(), |(i, _)| i);
        let window = &rest[..cut];
        let at = window
            .rfind('\n')
            .or_else(|| window.rfind(' '))
            .filter(|at| *at > 0)
            .unwrap_or(cut);
        pieces.push(rest[..at].trim_end().to_string());
        rest = rest[at..].trim_start_matches(['\n', ' ']);
    }
    if !rest.is_empty() || pieces.is_empty() {
        pieces.push(rest.to_string());
    }
    pieces
}

/// Whether a failed request is worth retrying.
pub fn classify(error: &RequestError) -> SendError {
    match error {
        RequestError::RetryAfter(seconds) => SendError::Transient {
            message: "Telegram asks to slow down".into(),
            retry_after: Some(seconds.duration()),
        },
        RequestError::Network(_) | RequestError::Io(_) | RequestError::InvalidJson { .. } => {
            SendError::Transient {
                message: error.to_string(),
                retry_after: None,
            }
        }
        RequestError::Api(ApiError::Unknown(text))
            if [
                "Internal Server Error",
                "Bad Gateway",
                "Gateway",
                "Too Many Requests",
            ]
            .iter()
            .any(|t| text.contains(t)) =>
        {
            SendError::Transient {
                message: error.to_string(),
                retry_after: None,
            }
        }
        // Blocked, chat not found, deactivated, malformed: retrying won't help.
        other => SendError::Permanent(other.to_string()),
    }
}

/// The label of the "Talk to a person" button.
fn human_button_label(locale: &str) -> &'static str {
    match locale {
        "zh" => "转人工客服",
        _ => "Talk to a person",
    }
}

/// Outbound side of the channel.
pub struct TelegramChannel {
    pub bot: Bot,
    /// See [`Channel::unconfirmed_sends`].
    pub unconfirmed_sends: usize,
}

impl Channel for TelegramChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Telegram
    }

    fn unconfirmed_sends(&self) -> Option<usize> {
        Some(self.unconfirmed_sends)
    }

    fn send<'a>(
        &'a self,
        conversation: &'a Conversation,
        entry: &'a OutboxEntry,
    ) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            let CustomerAddress::Telegram { chat_id } = conversation.customer else {
                return Err(SendError::Permanent("not a Telegram conversation".into()));
            };
            let pieces = split_text(&entry.text, MAX_MESSAGE_CHARS);
            let last = pieces.len() - 1;
            for (i, piece) in pieces.into_iter().enumerate() {
                let mut request = self.bot.send_message(ChatId(chat_id), piece);
                if i == last && entry.reason == OutboundReason::Survey && !entry.options.is_empty()
                {
                    // A survey's scale as buttons, six to a row.
                    let buttons: Vec<InlineKeyboardButton> = entry
                        .options
                        .iter()
                        .enumerate()
                        .map(|(n, o)| {
                            InlineKeyboardButton::callback(
                                o.label.clone(),
                                format!("{}{}", parse::PICK_PREFIX, n + 1),
                            )
                        })
                        .collect();
                    let rows: Vec<Vec<InlineKeyboardButton>> =
                        buttons.chunks(6).map(<[_]>::to_vec).collect();
                    request = request.reply_markup(InlineKeyboardMarkup::new(rows));
                } else if i == last && entry.reason == OutboundReason::Answer {
                    // The options of a clarifying question, one per row,
                    // then the way to a person.
                    let mut rows: Vec<Vec<InlineKeyboardButton>> = entry
                        .options
                        .iter()
                        .enumerate()
                        .map(|(n, o)| {
                            vec![InlineKeyboardButton::callback(
                                o.label.clone(),
                                format!("{}{}", parse::PICK_PREFIX, n + 1),
                            )]
                        })
                        .collect();
                    rows.push(vec![InlineKeyboardButton::callback(
                        human_button_label(&conversation.locale),
                        parse::HUMAN_BUTTON,
                    )]);
                    request = request.reply_markup(InlineKeyboardMarkup::new(rows));
                }
                request.await.map_err(|e| classify(&e))?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_texts_split_on_lines_and_nothing_is_lost() {
        let text = format!(
            "{}\n{}\n{}",
            "a".repeat(3000),
            "b".repeat(3000),
            "c".repeat(10)
        );
        let pieces = split_text(&text, 4096);
        assert_eq!(
            pieces,
            vec![
                "a".repeat(3000),
                format!("{}\n{}", "b".repeat(3000), "c".repeat(10))
            ]
        );
        let unbroken = "字".repeat(9000);
        let pieces = split_text(&unbroken, 4096);
        assert!(pieces.iter().all(|p| p.chars().count() <= 4096));
        assert_eq!(pieces.concat(), unbroken);
        assert_eq!(split_text("short", 4096), vec!["short"]);
    }

    #[test]
    fn errors_are_transient_or_permanent() {
        let retry = RequestError::RetryAfter(teloxide::types::Seconds::from_seconds(7));
        assert!(
            matches!(classify(&retry), SendError::Transient { retry_after: Some(d), .. } if d.as_secs() == 7)
        );
        assert!(matches!(
            classify(&RequestError::Api(ApiError::BotBlocked)),
            SendError::Permanent(_)
        ));
        assert!(matches!(
            classify(&RequestError::Api(ApiError::ChatNotFound)),
            SendError::Permanent(_)
        ));
        assert!(matches!(
            classify(&RequestError::Api(ApiError::Unknown(
                "Internal Server Error".into()
            ))),
            SendError::Transient { .. }
        ));
    }
}
