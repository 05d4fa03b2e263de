//! What the chat API answers and the frames its WebSocket sends, as typed
//! views: the widget's whole protocol, in one place.

use crate::http::error::AppError;
use crate::model::{Author, ConversationId, Message, MessageId};
use crate::store::Accepted;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// A chat session created: its secret token.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionCreated {
    pub session: String,
}

/// A message taken in, durably.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Receipt {
    pub message_id: MessageId,
    pub conversation_id: ConversationId,
    pub ticket: u64,
    pub seq: u64,
}

impl From<&Accepted> for Receipt {
    fn from(accepted: &Accepted) -> Self {
        Self {
            message_id: accepted.message.id,
            conversation_id: accepted.conversation.id,
            ticket: accepted.conversation.ticket,
            seq: accepted.message.seq,
        }
    }
}

/// A transcript entry as the visitor sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Visible {
    pub seq: u64,
    /// customer, bot or agent.
    #[schema(value_type = String)]
    pub from: &'static str,
    pub text: String,
    pub at: DateTime<Utc>,
    /// Buttons: choosing one sends its label as the visitor's message.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

impl Visible {
    /// What the visitor sees of `message`, if anything (notes and failed
    /// deliveries are not shown).
    pub fn of(message: &Message) -> Option<Self> {
        let from = match message.author {
            _ if !message.visible_to_customer() => return None,
            Author::Customer => "customer",
            Author::Bot => "bot",
            Author::Agent | Author::Note => "agent",
        };
        Some(Self {
            seq: message.seq,
            from,
            text: message.text.clone(),
            at: message.at,
            options: message.options.iter().map(|o| o.label.clone()).collect(),
        })
    }
}

/// The visitor's place in the waiting queue and the expected wait; both
/// null once they leave it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Place {
    pub position: Option<u64>,
    pub wait_minutes: Option<u64>,
}

impl Place {
    pub const NONE: Place = Place {
        position: None,
        wait_minutes: None,
    };
}

/// A long poll's answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Messages {
    pub messages: Vec<Visible>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<Place>,
}

/// A frame the WebSocket sends the visitor.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Frame {
    Message(Visible),
    Queue(Place),
    Received {
        #[serde(flatten)]
        receipt: Receipt,
        client_id: String,
    },
    Error {
        client_id: Option<String>,
        error: &'static str,
        detail: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        retry_after_secs: Option<u64>,
    },
}

impl Frame {
    /// The error frame for `error`, answering `client_id`'s message if known.
    pub fn error(client_id: Option<&str>, error: &AppError) -> Self {
        Frame::Error {
            client_id: client_id.map(str::to_string),
            error: error.error,
            detail: error.detail.clone(),
            retry_after_secs: error.retry_after_secs(),
        }
    }

    pub fn to_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}
