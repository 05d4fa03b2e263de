//! The email channel: a support mailbox read over IMAP, answered over SMTP,
//! that threads correctly and never loops.
//!
//! - [`imap`] watches the mailbox (IDLE, or polling) and takes in each new
//!   mail by UID, marking it `\Seen` only after it is stored durably.
//! - [`intake`] turns a raw mail into an `InboundMessage`: which
//!   conversation it joins (our Message-IDs in In-Reply-To/References, the
//!   customer's earlier Message-IDs, then the `[#ticket]` tag), whether the
//!   bot may answer it, its attachments; a bounce marks our delivery failed.
//! - [`parse`], [`quotes`] (with the language table of [`markers`]) and
//!   [`loop_guard`] are the pure reading of one mail, shown by `frontdesk
//!   email inspect` and measured by `frontdesk email eval`.
//! - [`smtp`] builds threaded replies and sends them; [`EmailChannel`] is
//!   the outbound side the outbox delivers through.

pub mod config;
pub mod eval;
pub mod html;
pub mod idle;
pub mod ids;
pub mod imap;
pub mod inspect;
pub mod intake;
pub mod loop_guard;
pub mod markers;
pub mod parse;
pub mod quotes;
pub mod smtp;

use crate::channels::email::config::EmailConfig;
use crate::core::channel::{Channel, SendError};
use crate::model::{ChannelKind, Conversation, OutboxEntry};
use crate::store::Store;
use futures_util::future::BoxFuture;
use lettre::AsyncTransport;
use std::sync::Arc;
use std::time::Duration;

/// Transcript entries read to build a reply's References chain.
const THREAD_READ_LIMIT: usize = 2000;

/// Outbound side of the channel.
pub struct EmailChannel {
    config: Arc<EmailConfig>,
    transport: smtp::Transport,
    store: Arc<dyn Store>,
}

impl EmailChannel {
    pub fn new(
        config: Arc<EmailConfig>,
        store: Arc<dyn Store>,
    ) -> Result<Self, smtp::SmtpSetupError> {
        let transport =
            smtp::transport(&config.smtp, Duration::from_secs(config.send_timeout_secs))?;
        Ok(Self {
            config,
            transport,
            store,
        })
    }
}

impl Channel for EmailChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Email
    }

    fn unconfirmed_sends(&self) -> Option<usize> {
        Some(self.config.unconfirmed_sends.get())
    }

    fn send<'a>(
        &'a self,
        conversation: &'a Conversation,
        entry: &'a OutboxEntry,
    ) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            let transcript = self
                .store
                .messages_after(conversation.id, 0, THREAD_READ_LIMIT)
                .await
                .map_err(|e| SendError::Transient {
                    message: e.to_string(),
                    retry_after: None,
                })?;
            let mail = smtp::build(&self.config, conversation, entry, &transcript)?;
            // lettre can hang on a stale pooled connection (lettre#743):
            // bound every send.
            let limit = Duration::from_secs(self.config.send_timeout_secs);
            match tokio::time::timeout(limit, self.transport.send(mail)).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(error)) => Err(smtp::classify(&error)),
                Err(_) => Err(SendError::Transient {
                    message: format!("the SMTP server did not answer within {limit:?}"),
                    retry_after: None,
                }),
            }
        })
    }
}
