//! The one place conversation changes are applied: it asks the rules in
//! [`transitions`](crate::conversation::transitions), has the store write the decision
//! atomically, waits for it to be durable, wakes the outbox for a reply,
//! and publishes the events and metrics of what changed, whoever asked.

use crate::conversation::transitions::{self, Actor};
use crate::core::events::{EventKind, Events};
use crate::core::outbox::Outbox;
use crate::model::{
    Conversation, ConversationId, ConversationStatus, OutboxEntry, Refusal, SlaState,
};
use crate::store::{Decision, Effects, Pickup, Store, UpdateError, Updated};
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// A change someone asks of a conversation.
#[derive(Debug, Clone)]
pub enum Request {
    Claim,
    Assign {
        to: String,
    },
    Release,
    Pending,
    ReturnToBot,
    /// Resolve, sending the satisfaction survey with it, if one is due.
    Resolve {
        survey: Option<OutboxEntry>,
    },
    /// An agent's reply, through the outbox.
    Reply(OutboxEntry),
    /// An internal note, never sent to the customer.
    Note(String),
    /// New tags, with the segment and priority they put the customer in.
    Retag {
        tags: Vec<String>,
        segment: Option<String>,
        priority: u8,
    },
    /// The SLA watcher announced a state to agents.
    AnnounceSla(SlaState),
}

impl Request {
    /// What this request does to `c`, by the rules.
    fn decide(
        &self,
        c: &Conversation,
        actor: Actor<'_>,
        now: DateTime<Utc>,
    ) -> Result<Decision, Refusal> {
        let mut effects = Effects::default();
        let after = match self {
            Request::Claim => transitions::claim(c, actor)?,
            Request::Assign { to } => transitions::assign(c, actor, to)?,
            Request::Release => transitions::release(c, actor, now)?,
            Request::Pending => transitions::pending(c, actor)?,
            Request::ReturnToBot => transitions::return_to_bot(c, actor)?,
            Request::Resolve { survey } => {
                effects.outbox.extend(survey.clone());
                transitions::resolve(c, actor, now)?
            }
            Request::Reply(entry) => {
                effects.outbox.push(entry.clone());
                transitions::reply(c, actor, now)?
            }
            Request::Note(text) => {
                effects.note = Some((actor.username.to_string(), text.clone()));
                c.clone()
            }
            Request::Retag {
                tags,
                segment,
                priority,
            } => transitions::retag(c, tags.clone(), segment.clone(), *priority),
            Request::AnnounceSla(state) => transitions::announce_sla(c, *state),
        };
        effects.pickup = pickup(c, &after, now);
        Ok(Decision { after, effects })
    }

    /// An agent's own words (reply, note): their console shows activity.
    fn is_activity(&self) -> bool {
        matches!(self, Request::Reply(_) | Request::Note(_))
    }
}

/// A waiting conversation taken by an agent, and how long it waited.
pub fn pickup(before: &Conversation, after: &Conversation, now: DateTime<Utc>) -> Option<Pickup> {
    (before.status == ConversationStatus::Waiting && after.status.human_owned()).then(|| Pickup {
        at: now,
        waited_ms: before
            .waiting_since
            .map_or(0, |since| (now - since).num_milliseconds().max(0) as u64),
    })
}

/// Applies conversation changes; cheap to clone.
#[derive(Clone)]
pub struct Conversations {
    store: Arc<dyn Store>,
    events: Arc<Events>,
    outbox: Outbox,
}

impl Conversations {
    pub fn new(store: Arc<dyn Store>, events: Arc<Events>, outbox: Outbox) -> Self {
        Self {
            store,
            events,
            outbox,
        }
    }

    /// Applies `request` by `actor` to conversation `id`, durably, and
    /// publishes what changed.
    pub async fn apply(
        &self,
        id: ConversationId,
        actor: Actor<'_>,
        request: Request,
    ) -> Result<Updated, UpdateError> {
        let now = Utc::now();
        let decide = |c: &Conversation| request.decide(c, actor, now);
        let updated = self.store.update_conversation(id, &decide).await?;
        self.store.sync().await?;
        if matches!(
            request,
            Request::Reply(_) | Request::Resolve { survey: Some(_) }
        ) {
            self.outbox.wake();
        }
        self.publish(&updated, &request, now);
        Ok(updated)
    }

    fn publish(&self, updated: &Updated, request: &Request, now: DateTime<Utc>) {
        let (before, after) = (&updated.before, &updated.after);
        if before.assigned_agent != after.assigned_agent {
            self.events.publish(EventKind::Assigned, after);
        }
        if let Some(pickup) = pickup(before, after, now) {
            crate::core::metrics::picked_up(pickup.waited_ms as f64 / 1000.0);
        }
        if before.status != after.status {
            if after.status == ConversationStatus::Resolved {
                crate::core::metrics::resolved(after.channel(), after.created_at, now);
            }
            self.events.publish(EventKind::StatusChanged, after);
            if after.status == ConversationStatus::Waiting {
                self.events.publish(EventKind::Queued, after);
            }
        }
        if (&before.tags, before.priority) != (&after.tags, after.priority) {
            self.events.publish(EventKind::Retagged, after);
        }
        if request.is_activity() {
            self.events.publish(EventKind::AgentActivity, after);
        }
        let announced = |c: &Conversation| c.sla.as_ref().map_or(SlaState::Ok, |s| s.announced);
        if announced(after) > announced(before) {
            match announced(after) {
                SlaState::Near => {
                    crate::core::metrics::sla_event("near");
                    tracing::info!(conversation_id = %after.id, "A first-response deadline is close.");
                    self.events.publish(EventKind::SlaNear, after);
                }
                SlaState::Breached => {
                    crate::core::metrics::sla_event("breached");
                    tracing::warn!(conversation_id = %after.id, "A first-response deadline was missed.");
                    self.events.publish(EventKind::SlaBreached, after);
                }
                SlaState::Ok | SlaState::Met => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::tests::conversation;

    #[test]
    fn a_pickup_is_a_waiting_conversation_taken_by_a_person() {
        let now = Utc::now();
        let waiting = Conversation {
            waiting_since: Some(now - chrono::Duration::seconds(90)),
            ..conversation(ConversationStatus::Waiting)
        };
        let claimed = Conversation {
            status: ConversationStatus::Assigned,
            ..waiting.clone()
        };
        assert_eq!(
            pickup(&waiting, &claimed, now).map(|p| p.waited_ms),
            Some(90_000)
        );
        let bot = conversation(ConversationStatus::Bot);
        let assigned = Conversation {
            status: ConversationStatus::Assigned,
            ..bot.clone()
        };
        assert_eq!(pickup(&bot, &assigned, now), None, "never queued");
        let released = Conversation {
            status: ConversationStatus::Waiting,
            ..claimed.clone()
        };
        assert_eq!(pickup(&claimed, &released, now), None);
    }

    #[test]
    fn every_request_records_a_pickup_when_it_takes_a_waiting_conversation() {
        let now = Utc::now();
        let waiting = conversation(ConversationStatus::Waiting);
        let anna = Actor {
            username: "anna",
            admin: false,
        };
        let reply = OutboxEntry::due_now(
            waiting.id,
            crate::model::OutboundReason::Agent,
            "hello".into(),
            None,
            Some("anna".into()),
        );
        for request in [Request::Claim, Request::Reply(reply)] {
            let decision = request.decide(&waiting, anna, now).expect("allowed");
            assert!(decision.effects.pickup.is_some(), "{request:?}");
        }
        let note = Request::Note("call back".into())
            .decide(&waiting, anna, now)
            .expect("allowed");
        assert!(note.effects.pickup.is_none());
        assert_eq!(note.effects.note, Some(("anna".into(), "call back".into())));
    }
}
