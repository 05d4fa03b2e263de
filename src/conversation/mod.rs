//! The conversation rules, as plain functions.
//!
//! Every status transition is a function from the conversation as it is
//! and a request to the conversation as it must become, or a
//! [`Refusal`](crate::model::Refusal): [`transitions`] for what agents and
//! watchers ask, [`intake`] for what a customer message does, [`turn`] for
//! what the bot's decision does, [`erasure`] for what erasing a customer's
//! data keeps. The store calls them inside its atomic
//! steps and only persists what they decide;
//! [`Conversations`](crate::core::conversations::Conversations) applies
//! agents' and watchers' requests and publishes what changed.

pub mod erasure;
pub mod intake;
pub mod transitions;
pub mod turn;

pub use transitions::Actor;

#[cfg(test)]
pub(crate) mod tests {
    //! Conversations to try the rules on.

    use crate::model::{
        Conversation, ConversationId, ConversationStatus, CustomerAddress, Sla, SlaState,
    };
    use chrono::{DateTime, Utc};

    pub fn conversation(status: ConversationStatus) -> Conversation {
        let now = Utc::now();
        Conversation {
            id: ConversationId::new(),
            ticket: 1001,
            customer: CustomerAddress::Telegram { chat_id: 7 },
            display_name: None,
            status,
            priority: 0,
            locale: "en".into(),
            created_at: now,
            updated_at: now,
            waiting_since: None,
            assigned_agent: None,
            last_seq: 1,
            undelivered: false,
            subject: None,
            segment: None,
            sla: None,
            tags: Vec::new(),
            erased_at: None,
            team: None,
            routed_by: None,
        }
    }

    /// An unanswered one-hour first-response promise started at `start`.
    pub fn sla(start: DateTime<Utc>) -> Sla {
        Sla {
            started_at: start,
            first_response_due: start + chrono::Duration::hours(1),
            first_response_near: None,
            first_response_at: None,
            resolution_due: Some(start + chrono::Duration::hours(8)),
            resolution_near: None,
            resolved_at: None,
            announced: SlaState::Ok,
        }
    }
}
