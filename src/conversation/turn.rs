//! What the bot's decision on a customer turn does to the conversation, as
//! a plain function the store calls inside its atomic turn step.
//!
//! - A person owns the conversation: the bot stays silent (promise 4); its
//!   replies are dropped and nothing else changes.
//! - A hand-off puts the conversation in the waiting queue from now, in
//!   the team routing chose; its first-response clock starts then, unless
//!   an unanswered promise is already running (a customer writing again
//!   keeps their place).
//! - The locale the reply was rendered in is remembered for the next turn.

use crate::model::{Conversation, ConversationStatus};
use crate::store::{Decision, Effects, TurnOutcome};
use chrono::{DateTime, Utc};

/// The conversation after `outcome`, with the replies to queue; `None`
/// when a person owns it and the bot must stay silent.
pub fn after_turn(c: &Conversation, outcome: &TurnOutcome, now: DateTime<Utc>) -> Option<Decision> {
    if c.status.human_owned() {
        return None;
    }
    let mut after = c.clone();
    after.locale = outcome.locale.clone();
    if outcome.handoff && after.status != ConversationStatus::Waiting {
        after.status = ConversationStatus::Waiting;
        after.waiting_since = Some(now);
        let running = after
            .sla
            .as_ref()
            .is_some_and(|s| s.first_response_at.is_none());
        if let (Some(sla), false) = (&outcome.sla, running) {
            after.sla = Some(sla.clone());
        }
        after.team = outcome.route.as_ref().map(|r| r.team.clone());
        after.routed_by = outcome.route.as_ref().map(|r| r.reason.clone());
    }
    Some(Decision {
        after,
        effects: Effects {
            outbox: outcome.replies.clone(),
            ..Effects::default()
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::tests::{conversation, sla};
    use crate::model::{OutboundReason, OutboxEntry};
    use crate::store::PendingTurn;

    fn outcome(c: &Conversation, handoff: bool) -> TurnOutcome {
        TurnOutcome {
            turn: PendingTurn {
                conversation_id: c.id,
                seq: 1,
            },
            locale: "zh".into(),
            handoff,
            replies: vec![OutboxEntry::due_now(
                c.id,
                OutboundReason::Handoff,
                "a person will reply".into(),
                None,
                None,
            )],
            sla: Some(sla(Utc::now())),
            route: Some(crate::model::Route {
                team: "billing".into(),
                reason: "rule 1: intent = payment_issue".into(),
            }),
        }
    }

    #[test]
    fn the_bot_stays_silent_when_a_person_owns_the_conversation() {
        for status in [ConversationStatus::Assigned, ConversationStatus::Pending] {
            let c = conversation(status);
            assert!(after_turn(&c, &outcome(&c, true), Utc::now()).is_none());
        }
    }

    #[test]
    fn an_answer_queues_the_reply_and_remembers_the_locale() {
        let c = conversation(ConversationStatus::Bot);
        let decision = after_turn(&c, &outcome(&c, false), Utc::now()).expect("bot answers");
        assert_eq!(decision.after.status, ConversationStatus::Bot);
        assert_eq!(decision.after.locale, "zh");
        assert_eq!(decision.effects.outbox.len(), 1);
        assert_eq!(decision.after.sla, None, "no promise without a hand-off");
    }

    #[test]
    fn a_handoff_queues_the_conversation_and_starts_its_promise() {
        let now = Utc::now();
        let c = conversation(ConversationStatus::Bot);
        let turn = outcome(&c, true);
        let decision = after_turn(&c, &turn, now).expect("bot hands off");
        assert_eq!(decision.after.status, ConversationStatus::Waiting);
        assert_eq!(decision.after.waiting_since, Some(now));
        assert_eq!(decision.after.sla, turn.sla);
        assert_eq!(decision.after.team.as_deref(), Some("billing"));
        assert_eq!(
            decision.after.routed_by.as_deref(),
            Some("rule 1: intent = payment_issue")
        );
    }

    #[test]
    fn a_customer_writing_again_keeps_their_place_and_running_promise() {
        let queued_at = Utc::now() - chrono::Duration::minutes(20);
        let running = sla(queued_at);
        let c = Conversation {
            waiting_since: Some(queued_at),
            sla: Some(running.clone()),
            ..conversation(ConversationStatus::Waiting)
        };
        let decision = after_turn(&c, &outcome(&c, true), Utc::now()).expect("still the bot's");
        assert_eq!(decision.after.waiting_since, Some(queued_at));
        assert_eq!(decision.after.sla, Some(running));
        assert_eq!(decision.after.team, None, "the team it waits for stays");
    }

    #[test]
    fn an_answered_promise_is_replaced_at_the_next_handoff() {
        let earlier = Utc::now() - chrono::Duration::hours(3);
        let answered = crate::model::Sla {
            first_response_at: Some(earlier),
            ..sla(earlier)
        };
        let c = Conversation {
            sla: Some(answered),
            ..conversation(ConversationStatus::Bot)
        };
        let turn = outcome(&c, true);
        let decision = after_turn(&c, &turn, Utc::now()).expect("bot hands off");
        assert_eq!(decision.after.sla, turn.sla);
    }
}
