//! An outbound message waiting in the outbox.

use super::*;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An outbound message waiting for delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub id: OutboxId,
    pub conversation_id: ConversationId,
    pub reason: OutboundReason,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    /// The agent who wrote it (agent replies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When the next delivery attempt is due.
    pub due_at: DateTime<Utc>,
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Choices to offer with the message (buttons where the channel has them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<ReplyOption>,
    /// The survey question this message asks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub survey: Option<SurveyKind>,
    /// The survey's last word, which invites a comment: the customer's
    /// next message is kept as the comment and reopens nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub invites_comment: bool,
}

impl OutboxEntry {
    /// A new entry, due at once.
    pub fn due_now(
        conversation_id: ConversationId,
        reason: OutboundReason,
        text: String,
        intent: Option<String>,
        agent: Option<String>,
    ) -> Self {
        let now = Utc::now();
        Self {
            id: OutboxId::new(),
            conversation_id,
            reason,
            text,
            intent,
            agent,
            created_at: now,
            due_at: now,
            attempts: 0,
            last_error: None,
            options: Vec::new(),
            survey: None,
            invites_comment: false,
        }
    }
}
