//! The domain's nouns: channels, customer addresses, ids, conversations,
//! messages and outbox entries. Plain serde types with no behaviour beyond
//! small invariants, shared by every other module and by every store backend.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// The ways a customer can reach us. Closed set: a new channel is a new variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
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

/// Where a conversation stands. Only `Assigned` and `Pending` mean a human
/// owns it, and then the bot stays silent (promise 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConversationStatus {
    /// The bot is handling it.
    Bot,
    /// Queued for a human.
    Waiting,
    /// An agent owns it.
    Assigned,
    /// An agent owns it and waits on the customer.
    Pending,
    /// Done; a new customer message reopens it.
    Resolved,
}

impl ConversationStatus {
    pub fn human_owned(self) -> bool {
        matches!(
            self,
            ConversationStatus::Assigned | ConversationStatus::Pending
        )
    }
}

/// One customer's thread with us on one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: ConversationId,
    /// The short number humans quote ("ticket #1042").
    pub ticket: u64,
    pub customer: CustomerAddress,
    /// What the customer calls themselves, if they said.
    pub display_name: Option<String>,
    pub status: ConversationStatus,
    /// Higher is served first.
    pub priority: u8,
    /// The locale replies are rendered in; follows the customer's last
    /// confidently detected language.
    pub locale: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Set while `Waiting`: the queue orders by priority, then by this.
    pub waiting_since: Option<DateTime<Utc>>,
    pub assigned_agent: Option<String>,
    /// Sequence number of the last transcript entry.
    pub last_seq: u64,
    /// A reply to this customer could not be delivered; agents must act.
    #[serde(default)]
    pub undelivered: bool,
    /// The email subject the conversation started with (replies keep it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The customer's segment (`[[segments]]`), which set its priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
    /// The first-response promise, from the moment it was handed to a
    /// person (`[sla]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla: Option<Sla>,
    /// Labels agents put on the customer (`vip`, `reseller`); segments may
    /// match them. A new conversation of the customer keeps them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// A conversation's service-level deadlines (first response, and
/// resolution when a target is set) and how they are going. Deadlines and
/// the 80% marks are computed in business time when the hand-off happens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sla {
    /// When the clock started: the hand-off to a person.
    pub started_at: DateTime<Utc>,
    pub first_response_due: DateTime<Utc>,
    /// When 80% of the first-response time (in business time) is used;
    /// absent in data from before it was stored, then 80% of wall-clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_response_near: Option<DateTime<Utc>>,
    /// When an agent first answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_response_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution_due: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution_near: Option<DateTime<Utc>>,
    /// When an agent resolved it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<DateTime<Utc>>,
    /// The worst state already announced to agents (and the webhook).
    #[serde(default)]
    pub announced: SlaState,
}

/// Where a first-response promise stands.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum SlaState {
    /// Less than 80% of the time used.
    #[default]
    Ok,
    /// 80% or more used, no answer yet.
    Near,
    /// Past the deadline without an answer (or answered late).
    Breached,
    /// Answered in time.
    Met,
}

impl Sla {
    /// The first-response promise at `now`.
    pub fn first_response_state(&self, now: DateTime<Utc>) -> SlaState {
        clock(
            self.started_at,
            self.first_response_near,
            self.first_response_due,
            self.first_response_at,
            now,
        )
    }

    /// The resolution promise at `now`, if there is one.
    pub fn resolution_state(&self, now: DateTime<Utc>) -> Option<SlaState> {
        let due = self.resolution_due?;
        Some(clock(
            self.started_at,
            self.resolution_near,
            due,
            self.resolved_at,
            now,
        ))
    }

    /// Both promises at `now`: the worse of the two (met only when both
    /// are).
    pub fn state(&self, now: DateTime<Utc>) -> SlaState {
        let first = self.first_response_state(now);
        match self.resolution_state(now) {
            None => first,
            Some(resolution) => {
                // Breached, then near, then still running, then met.
                let rank = |s: SlaState| match s {
                    SlaState::Breached => 3,
                    SlaState::Near => 2,
                    SlaState::Ok => 1,
                    SlaState::Met => 0,
                };
                if rank(resolution) > rank(first) {
                    resolution
                } else {
                    first
                }
            }
        }
    }
}

/// One promise: met or late once `done`, else ok, near (from `near`, or
/// 80% of the wall-clock span) or breached.
fn clock(
    started: DateTime<Utc>,
    near: Option<DateTime<Utc>>,
    due: DateTime<Utc>,
    done: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> SlaState {
    if let Some(done) = done {
        return if done <= due {
            SlaState::Met
        } else {
            SlaState::Breached
        };
    }
    let near = near.unwrap_or_else(|| started + (due - started) * 8 / 10);
    if now > due {
        SlaState::Breached
    } else if now >= near {
        SlaState::Near
    } else {
        SlaState::Ok
    }
}

impl Conversation {
    pub fn channel(&self) -> ChannelKind {
        self.customer.channel()
    }
}

/// Who wrote a transcript entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Author {
    Customer,
    Bot,
    Agent,
    /// An agent's internal note: never shown or sent to the customer.
    Note,
}

/// Why an outbound message exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// A web chat visitor's session. The token is the secret the browser holds;
/// the id is what appears in the customer address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebSession {
    pub id: Uuid,
    pub token: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Who the host site says the visitor is, when it signed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<VerifiedIdentity>,
}

/// A web chat visitor's identity as the host site signed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiedIdentity {
    pub user_id: String,
    pub attributes: std::collections::BTreeMap<String, String>,
}

/// What an agent may do beyond handling conversations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Agent,
    /// Also manages agents and canned responses, and reassigns anything.
    Admin,
}

/// A person who answers customers in the console.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agent {
    pub username: String,
    /// Argon2id PHC string; never leaves the server.
    pub password_hash: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

/// A signed-in agent. Stored under a hash of its token, so a copy of the
/// database does not hold usable tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentSession {
    pub username: String,
    /// Must accompany cookie-authenticated writes (X-CSRF-Token).
    pub csrf: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A reply text agents insert in one click; a template with the
/// conversation's variables (`customer_name`, `ticket`, config `[vars]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CannedResponse {
    pub name: String,
    pub title: String,
    pub text: String,
}

/// Why the conversation rules refused a change: the caller asked for
/// something the conversation's state or owner does not allow (HTTP 409).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("already claimed by {0}")]
    ClaimedBy(String),
    #[error("the conversation is assigned to {0}")]
    AssignedTo(String),
    #[error("only the conversation's owner or an admin can reassign it")]
    NotOwner,
    #[error("the conversation is not assigned to anyone")]
    NotAssigned,
    #[error("the conversation is already resolved")]
    AlreadyResolved,
}

impl Refusal {
    /// A stable code for API clients.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::ClaimedBy(_) => "already_claimed",
            Refusal::AssignedTo(_) => "assigned_to_another",
            Refusal::NotOwner => "not_owner",
            Refusal::NotAssigned => "not_assigned",
            Refusal::AlreadyResolved => "already_resolved",
        }
    }
}
