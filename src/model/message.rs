//! Transcript entries and what comes with them: authors, deliveries,
//! survey answers, attachments, and a customer message as a channel hands
//! it in.

use super::*;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Who wrote a transcript entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Author {
    Customer,
    Bot,
    Agent,
    /// An agent's internal note: never shown or sent to the customer.
    Note,
}

/// Why an outbound message exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OutboundReason {
    /// A plain "we got your message" receipt.
    Receipt,
    /// The answer of a matched intent.
    Answer,
    /// The acknowledgment that a person will reply (ticket, place in line).
    Handoff,
    /// Written by an agent.
    Agent,
    /// A satisfaction survey.
    Survey,
}

impl OutboundReason {
    /// Automatic messages are the bot's; they are dropped once a human owns
    /// the conversation (promise 4).
    pub fn is_automatic(self) -> bool {
        !matches!(self, OutboundReason::Agent)
    }

    pub fn author(self) -> Author {
        if self.is_automatic() {
            Author::Bot
        } else {
            Author::Agent
        }
    }
}

/// Delivery state of an outbound transcript entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum Delivery {
    Delivered,
    Failed { error: String },
}

/// One entry in a conversation's transcript. Outbound entries are appended
/// when they reach the customer, so the transcript is in the order the
/// customer saw it and a client's `after=SEQ` cursor never skips anything.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    /// Position in the transcript, from 1.
    pub seq: u64,
    pub author: Author,
    pub text: String,
    pub at: DateTime<Utc>,
    /// The channel's own id for inbound messages (dedupe key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<OutboundReason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<Delivery>,
    /// Name of the intent that produced a bot answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    /// The agent who wrote an agent message or note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// This customer message opened the conversation (or reopened a
    /// resolved one). Email acknowledges only such messages.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub opens: bool,
    /// How the bot treats this customer message.
    #[serde(default, skip_serializing_if = "Handling::is_normal")]
    pub handling: Handling,
    /// Files that came with the message (email attachments).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
    /// The message as the channel delivered it (the raw email), by blob hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original: Option<String>,
    /// Choices the bot offered with this message (buttons).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<ReplyOption>,
    /// The survey question this bot message asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub survey: Option<SurveyKind>,
    /// The customer's answer to a survey question.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<Rating>,
    /// A bot message that invites a survey comment (see [`OutboxEntry`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub invites_comment: bool,
    /// A customer's comment on the survey just answered.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub survey_comment: bool,
}

/// A satisfaction question asked after a conversation is resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SurveyKind {
    /// "How satisfied are you?" 1 to 5.
    Csat,
    /// "How likely are you to recommend us?" 0 to 10.
    Nps,
    /// "How easy was it?" 1 to 7.
    Ces,
}

impl SurveyKind {
    pub fn scale(self) -> std::ops::RangeInclusive<u8> {
        match self {
            SurveyKind::Csat => 1..=5,
            SurveyKind::Nps => 0..=10,
            SurveyKind::Ces => 1..=7,
        }
    }

    /// The template that asks it.
    pub fn template(self) -> &'static str {
        match self {
            SurveyKind::Csat => "survey_csat",
            SurveyKind::Nps => "survey_nps",
            SurveyKind::Ces => "survey_ces",
        }
    }
}

/// A customer's answer to a survey question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Rating {
    pub kind: SurveyKind,
    pub score: u8,
}

/// One choice offered to the customer when the bot asks which of two
/// questions they mean. Choosing it sends `label` as the customer's message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyOption {
    pub label: String,
    /// The intent that answers it.
    pub intent: String,
}

/// How the dispatcher treats a customer message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Handling {
    /// Answer it (intent or hand-off acknowledgment).
    #[default]
    Normal,
    /// Never answer it: it is automatic mail (an out-of-office reply, a
    /// bounce, a list post). `rule` says which check decided (promise 6).
    Silent { rule: String },
    /// Send nothing, queue it for a person (a mail that could not be read).
    HumanOnly { reason: String },
}

impl Handling {
    pub fn is_normal(&self) -> bool {
        *self == Handling::Normal
    }
}

/// A file that came with a customer message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Attachment {
    pub name: String,
    pub content_type: String,
    /// Size in bytes as received.
    pub size: u64,
    /// Hash of the stored content; `None` when it was over the size limit
    /// and only its description was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blob: Option<String>,
}

impl Message {
    /// An agent's internal note, entry `seq` of `conversation_id`.
    pub fn note(
        id: MessageId,
        conversation_id: ConversationId,
        seq: u64,
        agent: &str,
        text: &str,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            conversation_id,
            seq,
            author: Author::Note,
            text: text.to_string(),
            at,
            external_id: None,
            reason: None,
            delivery: None,
            intent: None,
            agent: Some(agent.to_string()),
            opens: false,
            handling: Handling::Normal,
            attachments: Vec::new(),
            original: None,
            options: Vec::new(),
            survey: None,
            rating: None,
            invites_comment: false,
            survey_comment: false,
        }
    }

    /// The transcript entry an outbox entry becomes once delivered (or
    /// given up): entry `seq`, keeping the outbox id, so a channel's own
    /// reference to the delivery (an email Message-ID) finds it again.
    pub fn delivered(entry: &OutboxEntry, seq: u64, delivery: Delivery, at: DateTime<Utc>) -> Self {
        Self {
            id: MessageId(entry.id.0),
            conversation_id: entry.conversation_id,
            seq,
            author: entry.reason.author(),
            text: entry.text.clone(),
            at,
            external_id: None,
            reason: Some(entry.reason),
            delivery: Some(delivery),
            intent: entry.intent.clone(),
            agent: entry.agent.clone(),
            opens: false,
            handling: Handling::Normal,
            attachments: Vec::new(),
            original: None,
            options: entry.options.clone(),
            survey: entry.survey,
            rating: None,
            invites_comment: entry.invites_comment,
            survey_comment: false,
        }
    }

    /// Whether the customer sees this entry (notes and failed deliveries
    /// they never received are not shown).
    pub fn visible_to_customer(&self) -> bool {
        self.author != Author::Note && !matches!(self.delivery, Some(Delivery::Failed { .. }))
    }
}

/// A customer message as a channel adapter hands it to the inbox.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundMessage {
    pub customer: CustomerAddress,
    /// The channel's own id for this message; seeing it again is a no-op.
    pub external_id: String,
    pub text: String,
    pub display_name: Option<String>,
    pub received_at: DateTime<Utc>,
    /// The language the channel says the customer uses (Telegram's
    /// `language_code`), for a new conversation's locale.
    pub locale_hint: Option<String>,
    /// Which conversation the message belongs to.
    pub thread: Thread,
    pub handling: Handling,
    /// The subject, for a conversation this message opens (email).
    pub subject: Option<String>,
    pub attachments: Vec<Attachment>,
    /// Blob hash of the message as received (the raw email).
    pub original: Option<String>,
    /// Verified attributes of the customer (a signed web identity), for
    /// the segment of a new conversation.
    pub attributes: std::collections::BTreeMap<String, String>,
    /// A survey answer given on the rating page (not in words); stored as
    /// the rating and reopens nothing.
    pub rating: Option<Rating>,
}

impl InboundMessage {
    /// A plain text message joining the customer's current conversation.
    pub fn text(
        customer: CustomerAddress,
        external_id: String,
        text: String,
        received_at: DateTime<Utc>,
    ) -> Self {
        Self {
            customer,
            external_id,
            text,
            display_name: None,
            received_at,
            locale_hint: None,
            thread: Thread::Current,
            handling: Handling::Normal,
            subject: None,
            attachments: Vec::new(),
            original: None,
            attributes: std::collections::BTreeMap::new(),
            rating: None,
        }
    }
}

/// Which conversation an inbound message joins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Thread {
    /// The customer's current conversation, opened if there is none (chat).
    Current,
    /// This conversation, found by the channel (an email reply's
    /// references); a new one if it no longer exists.
    Conversation(ConversationId),
    /// A new conversation (an email that starts a new thread).
    New,
}
