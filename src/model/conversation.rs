//! Conversations: where one stands, its service-level promises, and why
//! a change to one is refused.

use super::*;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a conversation stands. Only `Assigned` and `Pending` mean a human
/// owns it, and then the bot stays silent (promise 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// When the customer's data was erased (on request, or by `[retention]`):
    /// the record stays for the counts, without a word of its content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erased_at: Option<DateTime<Utc>>,
    /// The team whose queue and agents serve it (`[[teams]]`), set by
    /// routing at the hand-off or by a transfer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// Why it is in that team: the routing rule that matched, or the
    /// agent who transferred it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routed_by: Option<String>,
}

/// Where routing sent a conversation handed to a person, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub team: String,
    /// The rule that matched, as agents see it (`rule 2: language = zh`).
    pub reason: String,
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
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
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
