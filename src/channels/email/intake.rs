//! Taking in one raw mail: keep the original, read it, find its
//! conversation, decide whether the bot may answer, and hand it to the
//! inbox, which returns once it is durable.
//!
//! Threading, in order: a Message-ID of ours in In-Reply-To/References
//! names the conversation; else one of the customer's earlier mails there
//! (the dedupe index knows where each went); else a `[#ticket]` tag in the
//! subject, honoured only from the conversation's own customer, so a stranger
//! cannot write into someone else's ticket; else a new conversation.

use super::parse::{self, ParsedMail};
use super::{ids, loop_guard};
use crate::channels::email::config::EmailConfig;
use crate::core::events::{EventKind, Events};
use crate::core::inbox::{Inbox, InboxError};
use crate::model::{
    Attachment, ChannelKind, ConversationId, CustomerAddress, Handling, InboundMessage, MessageId,
    Thread,
};
use crate::store::{Accepted, Store, StoreError};
use chrono::Utc;
use regex::Regex;
use std::sync::{Arc, LazyLock};

/// The address used when a mail names no sender we could read.
pub const UNKNOWN_SENDER: &str = "unknown-sender@invalid";

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error(transparent)]
    Inbox(#[from] InboxError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Everything intake needs, shared by the IMAP loop.
#[derive(Clone)]
pub struct Intake {
    pub inbox: Inbox,
    pub store: Arc<dyn Store>,
    pub events: Arc<Events>,
    pub config: Arc<EmailConfig>,
}

static FROM_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?im)^from:[^\r\n]*?<?([a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,})>?")
        .expect("pattern compiles")
});

impl Intake {
    /// Stores `raw` durably and schedules its reply. `fallback_id` (the
    /// mailbox's UIDVALIDITY and UID) dedupes mails without a Message-ID.
    pub async fn take_in(&self, raw: &[u8], fallback_id: &str) -> Result<Accepted, IntakeError> {
        let accepted = self.stage(raw, fallback_id).await?;
        self.inbox.commit(std::slice::from_ref(&accepted)).await?;
        Ok(accepted)
    }

    /// Stores `raw`, not yet durable: the mailbox loop stages a batch, then
    /// commits it with one flush before marking any of it `\Seen`.
    pub async fn stage(&self, raw: &[u8], fallback_id: &str) -> Result<Accepted, IntakeError> {
        let original = self.store.put_blob(raw).await?;
        let own = self.config.own_addresses();
        let inbound = match parse::parse(raw, &own, self.config.domain()) {
            Ok(mail) => self.inbound(mail, fallback_id, original).await?,
            Err(unreadable) => {
                tracing::warn!(error = %unreadable, "An email could not be read; a person gets it as it is.");
                let sender = FROM_LINE
                    .captures(&String::from_utf8_lossy(raw))
                    .map(|c| c[1].to_lowercase())
                    .unwrap_or_else(|| UNKNOWN_SENDER.into());
                InboundMessage {
                    handling: Handling::HumanOnly {
                        reason: unreadable.to_string(),
                    },
                    thread: Thread::New,
                    original: Some(original),
                    ..InboundMessage::text(
                        CustomerAddress::Email { address: sender },
                        fallback_id.to_string(),
                        "(This email could not be read automatically; its original is kept for a person to read.)".into(),
                        Utc::now(),
                    )
                }
            }
        };
        Ok(self.inbox.stage(&inbound).await?)
    }

    async fn inbound(
        &self,
        mail: ParsedMail,
        fallback_id: &str,
        original: String,
    ) -> Result<InboundMessage, StoreError> {
        let sender = mail.from.clone();
        let address = sender.clone().unwrap_or_else(|| UNKNOWN_SENDER.into());
        let mut thread = self.thread_of(&mail, &address).await?;
        if let Some(bounce) = &mail.bounce
            && let Some(conversation) = self.record_bounce(bounce).await?
        {
            thread = Thread::Conversation(conversation);
        }
        let handling = match (mail.automatic, &sender) {
            (Some(rule), _) => Handling::Silent { rule: rule.into() },
            (None, None) => Handling::HumanOnly {
                reason: "the mail names no sender to reply to".into(),
            },
            (None, Some(_)) => Handling::Normal,
        };
        let mut attachments = Vec::new();
        for file in mail.attachments {
            let blob = if file.size <= self.config.max_attachment_bytes {
                Some(self.store.put_blob(&file.content).await?)
            } else {
                None
            };
            attachments.push(Attachment {
                name: file.name,
                content_type: file.content_type,
                size: file.size,
                blob,
            });
        }
        let text = if mail.text.trim().is_empty() {
            match attachments.len() {
                0 => "(empty email)".to_string(),
                n => format!("(no text, {n} attachment{})", if n == 1 { "" } else { "s" }),
            }
        } else {
            mail.text
        };
        Ok(InboundMessage {
            display_name: mail.from_name,
            thread,
            handling,
            subject: mail.subject,
            attachments,
            original: Some(original),
            ..InboundMessage::text(
                CustomerAddress::Email { address },
                mail.message_id.unwrap_or_else(|| fallback_id.to_string()),
                text,
                Utc::now(),
            )
        })
    }

    /// Which conversation a mail continues (see the module doc).
    async fn thread_of(&self, mail: &ParsedMail, sender: &str) -> Result<Thread, StoreError> {
        let domain = self.config.domain();
        for reference in mail.thread_references() {
            if let Some((conversation, _)) = ids::parse_ours(reference, domain) {
                if self.store.conversation(conversation).await?.is_some() {
                    return Ok(Thread::Conversation(conversation));
                }
                continue;
            }
            if let Some((conversation, _)) = self
                .store
                .seen_external(ChannelKind::Email, reference)
                .await?
            {
                return Ok(Thread::Conversation(conversation));
            }
        }
        if let Some(ticket) = mail.ticket
            && let Some(conversation) = self.store.conversation_by_ticket(ticket).await?
            && conversation.customer
                == (CustomerAddress::Email {
                    address: sender.to_string(),
                })
        {
            return Ok(Thread::Conversation(conversation.id));
        }
        Ok(Thread::New)
    }

    /// Marks the deliveries a bounce reports as failed; returns the
    /// conversation the bounce belongs to.
    async fn record_bounce(
        &self,
        bounce: &loop_guard::Bounce,
    ) -> Result<Option<ConversationId>, StoreError> {
        let mut belongs = None;
        for id in &bounce.ours {
            let Some((conversation, entry)) = ids::parse_ours(id, self.config.domain()) else {
                continue;
            };
            belongs.get_or_insert(conversation);
            if !bounce.failed {
                continue;
            }
            let error = format!(
                "bounced: {}",
                bounce
                    .diagnostic
                    .as_deref()
                    .unwrap_or("the receiving server could not deliver it")
            );
            if let Some((conversation, _)) = self
                .store
                .mark_bounced(conversation, MessageId(entry.0), &error)
                .await?
            {
                tracing::warn!(conversation_id = %conversation.id, "A reply bounced; the delivery is marked failed for the agents.");
                self.events
                    .publish(EventKind::DeliveryFailed, &conversation);
            }
        }
        Ok(belongs)
    }
}
