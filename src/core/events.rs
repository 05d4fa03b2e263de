//! Events for agents: what changed, so consoles update live.
//!
//! Anything that changes what an agent would see publishes a small event
//! naming the conversation; consoles re-read what they show. A broadcast
//! channel: a console that falls behind gets a `resync` instead of
//! blocking anyone.

use crate::model::{Conversation, ConversationId, ConversationStatus};
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;
use tokio::sync::broadcast;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A conversation entered the waiting queue.
    Queued,
    /// The customer wrote.
    CustomerMessage,
    /// A bot or agent message reached the customer.
    Delivered,
    /// A message could not be delivered; an agent must act.
    DeliveryFailed,
    /// An agent reply or note was added.
    AgentActivity,
    /// The owner changed.
    Assigned,
    /// The status changed.
    StatusChanged,
    /// Its tags, segment or priority changed (an agent tagged it).
    Retagged,
    /// 80% of the first-response time is used.
    SlaNear,
    /// The first-response deadline passed without an answer.
    SlaBreached,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentEvent {
    #[serde(rename = "type")]
    pub kind: EventKind,
    pub conversation_id: ConversationId,
    pub ticket: u64,
    pub status: ConversationStatus,
    pub assigned_agent: Option<String>,
}

impl AgentEvent {
    pub fn new(kind: EventKind, conversation: &Conversation) -> Self {
        Self {
            kind,
            conversation_id: conversation.id,
            ticket: conversation.ticket,
            status: conversation.status,
            assigned_agent: conversation.assigned_agent.clone(),
        }
    }
}

/// Where events go besides this instance's consoles: to the other
/// instances on a shared store (see [`crate::core::relay`]).
pub type Forward = Box<dyn Fn(&AgentEvent) + Send + Sync>;

pub struct Events {
    sender: broadcast::Sender<AgentEvent>,
    forward: OnceLock<Forward>,
}

impl Default for Events {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(1024).0,
            forward: OnceLock::new(),
        }
    }
}

impl Events {
    /// Tells the consoles here and on other instances.
    pub fn publish(&self, kind: EventKind, conversation: &Conversation) {
        let event = AgentEvent::new(kind, conversation);
        if let Some(forward) = self.forward.get() {
            forward(&event);
        }
        self.publish_here(event);
    }

    /// Sends this instance's events to `forward` too (set once).
    pub fn forward_to(&self, forward: Forward) {
        let _ = self.forward.set(forward);
    }

    /// Tells this instance's consoles.
    pub fn publish_here(&self, event: AgentEvent) {
        // No subscriber is fine: nobody is watching.
        let _ = self.sender.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<AgentEvent> {
        self.sender.subscribe()
    }
}
