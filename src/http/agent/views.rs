//! What the agent API answers, as typed views: the shape of every response
//! body is here, in one place, built from the model.

use crate::http::error::AppError;
use crate::http::state::App;
use crate::model::{
    Agent, Attachment, Author, CannedResponse, ChannelKind, Conversation, ConversationId,
    ConversationStatus, CustomerAddress, Delivery, Handling, Message, OutboundReason, OutboxEntry,
    OutboxId, Rating, Role, SlaState,
};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// An agent account, without its password hash.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AgentView {
    pub username: String,
    pub role: Role,
    pub disabled: bool,
}

impl From<&Agent> for AgentView {
    fn from(agent: &Agent) -> Self {
        Self {
            username: agent.username.clone(),
            role: agent.role,
            disabled: agent.disabled,
        }
    }
}

/// The signed-in agent and the CSRF token cookie-authenticated writes send.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MeView {
    #[serde(flatten)]
    pub agent: AgentView,
    pub csrf: String,
}

/// A new sign-in: the bearer token, the CSRF token and who signed in.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SignedIn {
    pub token: String,
    pub csrf: String,
    pub agent: AgentView,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AgentList {
    pub agents: Vec<AgentView>,
}

/// A conversation's service-level state: the worse of the first response
/// and the resolution (ok, near when 80% is used, breached, or met), with
/// both deadlines.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SlaView {
    pub state: SlaState,
    pub first_response_due: DateTime<Utc>,
    pub first_response: SlaState,
    pub resolution_due: Option<DateTime<Utc>>,
    pub resolution: Option<SlaState>,
}

/// What lists and events show of a conversation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Summary {
    pub id: ConversationId,
    pub ticket: u64,
    pub channel: ChannelKind,
    pub customer_name: String,
    pub status: ConversationStatus,
    pub priority: u8,
    pub assigned_agent: Option<String>,
    pub waiting_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub locale: String,
    pub undelivered: bool,
    pub segment: Option<String>,
    pub tags: Vec<String>,
    pub sla: Option<SlaView>,
    pub subject: Option<String>,
    /// The start of the customer's latest words (else the latest entry).
    pub preview: Option<String>,
}

impl Summary {
    /// The summary of `c`, reading its latest entries.
    pub async fn of(app: &App, c: &Conversation) -> Result<Self, AppError> {
        // The customer's latest words say more than the bot's acknowledgment.
        let recent = app
            .store
            .messages_after(c.id, c.last_seq.saturating_sub(6), 6)
            .await?;
        let last = recent
            .iter()
            .rev()
            .find(|m| m.author == Author::Customer)
            .or(recent.last());
        let now = Utc::now();
        Ok(Self {
            id: c.id,
            ticket: c.ticket,
            channel: c.channel(),
            customer_name: customer_label(c),
            status: c.status,
            priority: c.priority,
            assigned_agent: c.assigned_agent.clone(),
            waiting_since: c.waiting_since,
            created_at: c.created_at,
            updated_at: c.updated_at,
            locale: c.locale.clone(),
            undelivered: c.undelivered,
            segment: c.segment.clone(),
            tags: c.tags.clone(),
            sla: c.sla.as_ref().map(|s| SlaView {
                state: s.state(now),
                first_response_due: s.first_response_due,
                first_response: s.first_response_state(now),
                resolution_due: s.resolution_due,
                resolution: s.resolution_state(now),
            }),
            subject: c.subject.clone(),
            preview: last.map(|m| preview(&m.text)),
        })
    }
}

/// How agents see a customer who gave no name.
fn customer_label(c: &Conversation) -> String {
    if let Some(name) = &c.display_name {
        return name.clone();
    }
    match &c.customer {
        CustomerAddress::Web { .. } => format!("Web visitor #{}", c.ticket),
        CustomerAddress::Telegram { chat_id } => format!("Telegram {chat_id}"),
        CustomerAddress::Email { address } => address.clone(),
    }
}

fn preview(text: &str) -> String {
    let mut p: String = text.chars().take(120).collect();
    if p.len() < text.len() {
        p.push('…');
    }
    p
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConversationList {
    pub conversations: Vec<Summary>,
}

/// One transcript entry as agents see it: notes marked internal, the
/// delivery's outcome, and why the bot did not answer, if it did not.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MessageView {
    pub seq: u64,
    pub author: Author,
    pub internal: bool,
    pub text: String,
    pub at: DateTime<Utc>,
    pub agent: Option<String>,
    pub intent: Option<String>,
    pub reason: Option<OutboundReason>,
    pub delivered: Option<bool>,
    pub error: Option<String>,
    pub attachments: Vec<Attachment>,
    pub original: Option<String>,
    pub rating: Option<Rating>,
    pub survey_comment: bool,
    pub not_answered_because: Option<String>,
}

impl From<&Message> for MessageView {
    fn from(m: &Message) -> Self {
        let (delivered, error) = match &m.delivery {
            Some(Delivery::Delivered) => (Some(true), None),
            Some(Delivery::Failed { error }) => (Some(false), Some(error.clone())),
            None => (None, None),
        };
        Self {
            seq: m.seq,
            author: m.author,
            internal: m.author == Author::Note,
            text: m.text.clone(),
            at: m.at,
            agent: m.agent.clone(),
            intent: m.intent.clone(),
            reason: m.reason,
            delivered,
            error,
            attachments: m.attachments.clone(),
            original: m.original.clone(),
            rating: m.rating,
            survey_comment: m.survey_comment,
            not_answered_because: match &m.handling {
                Handling::Normal => None,
                Handling::Silent { rule } => Some(format!("automatic mail ({rule})")),
                Handling::HumanOnly { reason } => Some(reason.clone()),
            },
        }
    }
}

/// A reply still on its way to the customer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SendingView {
    pub id: OutboxId,
    pub reason: OutboundReason,
    pub text: String,
    pub agent: Option<String>,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub due_at: DateTime<Utc>,
}

impl From<&OutboxEntry> for SendingView {
    fn from(e: &OutboxEntry) -> Self {
        Self {
            id: e.id,
            reason: e.reason,
            text: e.text.clone(),
            agent: e.agent.clone(),
            attempts: e.attempts,
            last_error: e.last_error.clone(),
            due_at: e.due_at,
        }
    }
}

/// A conversation with its whole transcript and replies on their way.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Detail {
    pub conversation: Summary,
    pub messages: Vec<MessageView>,
    pub sending: Vec<SendingView>,
}

/// The answer to a change: the conversation after it, the note it added,
/// and the reply it queued.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Changed {
    pub conversation: Summary,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<MessageView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sending: Option<Queued>,
}

/// A reply queued for delivery.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Queued {
    pub id: OutboxId,
    pub text: String,
}

/// A canned response rendered for one conversation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RenderedCanned {
    pub name: String,
    pub title: String,
    pub text: String,
}

/// Canned responses rendered for one conversation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RenderedCannedList {
    pub canned: Vec<RenderedCanned>,
}

/// Canned responses as written.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CannedResponseList {
    pub canned: Vec<CannedResponse>,
}
