//! What a new customer message does to its conversation, as a plain
//! function the store calls inside its atomic intake step.
//!
//! - A message to no conversation opens one, handled by the bot.
//! - A number on the scale of the survey the customer was just asked is
//!   its answer (a rating), and words right after the survey's thanks
//!   (which invite them) are its comment: neither reopens anything.
//! - Any other message reopens a resolved conversation: the bot handles it
//!   again, owned by no one, and a new service-level promise starts at the
//!   next hand-off.
//! - A customer writing while their agent waits on them (pending) gives the
//!   conversation back to that agent (assigned).
//! - Automatic mail (an out-of-office reply, a bounce) is kept but moves
//!   nothing.
//! - Only the customer names the conversation, not a bounce or a colleague
//!   writing into the thread.

use crate::model::{
    Author, Conversation, ConversationId, ConversationStatus, Handling, InboundMessage, Message,
    MessageId, Rating,
};
use crate::store::{IntakeFacts, NewConversation};

/// The conversation after `inbound`, and the transcript entry it becomes.
pub fn take_in(
    inbound: &InboundMessage,
    new: &NewConversation,
    facts: IntakeFacts<'_>,
    message_id: MessageId,
) -> (Conversation, Message) {
    let now = inbound.received_at;
    let last_of_resolved = match facts.existing {
        Some(c) if c.status == ConversationStatus::Resolved => facts.last_message,
        _ => None,
    };
    let rating = inbound.rating.or_else(|| {
        let kind = last_of_resolved?.survey?;
        let score: u8 = inbound.text.trim().parse().ok()?;
        kind.scale()
            .contains(&score)
            .then_some(Rating { kind, score })
    });
    let comment = rating.is_none()
        && inbound.handling.is_normal()
        && !inbound.text.trim().is_empty()
        && last_of_resolved.is_some_and(|m| m.invites_comment && m.author == Author::Bot);
    let silent = matches!(inbound.handling, Handling::Silent { .. });
    let opens = rating.is_none()
        && !comment
        && facts
            .existing
            .is_none_or(|c| c.status == ConversationStatus::Resolved && !silent);
    let mut conversation = match (facts.existing, facts.opened) {
        (Some(c), _) => c.clone(),
        (None, opened) => open(inbound, new, opened.unwrap_or((ConversationId::new(), 0))),
    };
    let moves_nothing = silent || rating.is_some() || comment;
    match conversation.status {
        ConversationStatus::Resolved if !moves_nothing => {
            conversation.status = ConversationStatus::Bot;
            conversation.assigned_agent = None;
            conversation.sla = None;
        }
        ConversationStatus::Pending if !moves_nothing => {
            conversation.status = ConversationStatus::Assigned;
        }
        _ => {}
    }
    if conversation.display_name.is_none() && conversation.customer == inbound.customer {
        conversation.display_name = inbound.display_name.clone();
    }
    conversation.last_seq += 1;
    conversation.updated_at = now;
    let message = Message {
        id: message_id,
        conversation_id: conversation.id,
        seq: conversation.last_seq,
        author: Author::Customer,
        text: inbound.text.clone(),
        at: now,
        external_id: Some(inbound.external_id.clone()),
        reason: None,
        delivery: None,
        intent: None,
        agent: None,
        opens,
        handling: inbound.handling.clone(),
        attachments: inbound.attachments.clone(),
        original: inbound.original.clone(),
        options: Vec::new(),
        survey: None,
        rating,
        invites_comment: false,
        survey_comment: comment,
    };
    (conversation, message)
}

/// A conversation opened by `inbound`, with the id and ticket the store chose.
fn open(
    inbound: &InboundMessage,
    new: &NewConversation,
    (id, ticket): (ConversationId, u64),
) -> Conversation {
    let now = inbound.received_at;
    Conversation {
        id,
        ticket,
        customer: inbound.customer.clone(),
        display_name: inbound.display_name.clone(),
        status: ConversationStatus::Bot,
        priority: new.priority,
        locale: new.locale.clone(),
        created_at: now,
        updated_at: now,
        waiting_since: None,
        assigned_agent: None,
        last_seq: 0,
        undelivered: false,
        subject: inbound.subject.clone(),
        segment: new.segment.clone(),
        sla: None,
        tags: new.tags.clone(),
        erased_at: None,
        team: None,
        routed_by: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::tests::{conversation, sla};
    use crate::model::{CustomerAddress, SurveyKind};
    use chrono::Utc;

    fn new() -> NewConversation {
        NewConversation {
            priority: 3,
            locale: "en".into(),
            segment: Some("premium".into()),
            tags: vec!["vip".into()],
        }
    }

    fn inbound(text: &str) -> InboundMessage {
        InboundMessage::text(
            CustomerAddress::Web {
                session_id: uuid::Uuid::nil(),
            },
            "m1".into(),
            text.into(),
            Utc::now(),
        )
    }

    fn bot_message(survey: Option<SurveyKind>, invites_comment: bool) -> Message {
        let (_, message) = take_in(
            &inbound("x"),
            &new(),
            IntakeFacts::default(),
            MessageId::new(),
        );
        Message {
            author: Author::Bot,
            survey,
            invites_comment,
            ..message
        }
    }

    fn into(c: &Conversation, text: &str, last: Option<&Message>) -> (Conversation, Message) {
        let facts = IntakeFacts {
            existing: Some(c),
            last_message: last,
            opened: None,
        };
        take_in(&inbound(text), &new(), facts, MessageId::new())
    }

    #[test]
    fn a_first_message_opens_a_bot_conversation_as_configured() {
        let id = ConversationId::new();
        let facts = IntakeFacts {
            opened: Some((id, 1042)),
            ..IntakeFacts::default()
        };
        let (c, m) = take_in(&inbound("hello"), &new(), facts, MessageId::new());
        assert_eq!(
            (c.id, c.ticket, c.status),
            (id, 1042, ConversationStatus::Bot)
        );
        assert_eq!((c.priority, c.segment.as_deref()), (3, Some("premium")));
        assert_eq!(c.tags, vec!["vip".to_string()]);
        assert_eq!((c.last_seq, m.seq), (1, 1));
        assert!(m.opens, "the first message opens the conversation");
        assert_eq!(m.author, Author::Customer);
    }

    #[test]
    fn a_message_in_an_open_conversation_appends_and_opens_nothing() {
        let c = Conversation {
            last_seq: 4,
            ..conversation(ConversationStatus::Waiting)
        };
        let (after, m) = into(&c, "any news?", None);
        assert_eq!(after.status, ConversationStatus::Waiting);
        assert_eq!(m.seq, 5);
        assert!(!m.opens);
    }

    #[test]
    fn a_customer_message_reopens_a_resolved_case_for_the_bot() {
        let c = Conversation {
            status: ConversationStatus::Resolved,
            assigned_agent: Some("anna".into()),
            sla: Some(sla(Utc::now())),
            ..conversation(ConversationStatus::Resolved)
        };
        let (after, m) = into(&c, "it broke again", None);
        assert_eq!(after.status, ConversationStatus::Bot);
        assert_eq!(after.assigned_agent, None);
        assert_eq!(after.sla, None, "a new case gets a new promise");
        assert!(m.opens);
    }

    #[test]
    fn a_customer_message_hands_a_pending_case_back_to_its_agent() {
        let c = Conversation {
            assigned_agent: Some("anna".into()),
            ..conversation(ConversationStatus::Pending)
        };
        let (after, _) = into(&c, "here is the photo", None);
        assert_eq!(after.status, ConversationStatus::Assigned);
        assert_eq!(after.assigned_agent.as_deref(), Some("anna"));
    }

    #[test]
    fn automatic_mail_reopens_nothing() {
        for status in [ConversationStatus::Resolved, ConversationStatus::Pending] {
            let c = conversation(status);
            let mut bounce = inbound("Delivery failed");
            bounce.handling = Handling::Silent {
                rule: "mailer-daemon".into(),
            };
            let facts = IntakeFacts {
                existing: Some(&c),
                ..IntakeFacts::default()
            };
            let (after, m) = take_in(&bounce, &new(), facts, MessageId::new());
            assert_eq!(after.status, status);
            assert!(!m.opens);
        }
    }

    #[test]
    fn a_score_on_the_survey_scale_is_its_answer_and_reopens_nothing() {
        let resolved = conversation(ConversationStatus::Resolved);
        let asked = bot_message(Some(SurveyKind::Csat), false);
        let (after, m) = into(&resolved, " 4 ", Some(&asked));
        assert_eq!(after.status, ConversationStatus::Resolved);
        assert_eq!(
            m.rating,
            Some(Rating {
                kind: SurveyKind::Csat,
                score: 4
            })
        );
        assert!(!m.opens);
        // Off the scale, or not a number: a new question that reopens.
        let (after, m) = into(&resolved, "9", Some(&asked));
        assert_eq!((after.status, m.rating), (ConversationStatus::Bot, None));
        let (after, _) = into(&resolved, "four", Some(&asked));
        assert_eq!(after.status, ConversationStatus::Bot);
        // NPS runs 0 to 10.
        let nps = bot_message(Some(SurveyKind::Nps), false);
        assert_eq!(
            into(&resolved, "0", Some(&nps)).1.rating.map(|r| r.score),
            Some(0)
        );
    }

    #[test]
    fn a_number_without_a_survey_just_asked_is_not_a_rating() {
        let resolved = conversation(ConversationStatus::Resolved);
        let (after, m) = into(&resolved, "4", Some(&bot_message(None, false)));
        assert_eq!((after.status, m.rating), (ConversationStatus::Bot, None));
        // A survey asked in a conversation that is open again does not count.
        let open = conversation(ConversationStatus::Bot);
        let asked = bot_message(Some(SurveyKind::Csat), false);
        assert_eq!(into(&open, "4", Some(&asked)).1.rating, None);
    }

    #[test]
    fn words_right_after_the_survey_thanks_are_its_comment() {
        let resolved = conversation(ConversationStatus::Resolved);
        let thanks = bot_message(None, true);
        let (after, m) = into(&resolved, "the courier was rude", Some(&thanks));
        assert_eq!(after.status, ConversationStatus::Resolved);
        assert!(m.survey_comment);
        assert!(!m.opens);
        // Blank text is no comment; an agent's message invites none.
        let (_, blank) = into(&resolved, "  ", Some(&thanks));
        assert!(!blank.survey_comment);
        let from_agent = Message {
            author: Author::Agent,
            ..thanks.clone()
        };
        let (after, m) = into(&resolved, "one more thing", Some(&from_agent));
        assert!(!m.survey_comment);
        assert_eq!(after.status, ConversationStatus::Bot);
    }

    #[test]
    fn a_rating_from_the_rating_page_needs_no_words() {
        let resolved = conversation(ConversationStatus::Resolved);
        let mut rated = inbound("");
        rated.rating = Some(Rating {
            kind: SurveyKind::Nps,
            score: 10,
        });
        let facts = IntakeFacts {
            existing: Some(&resolved),
            ..IntakeFacts::default()
        };
        let (after, m) = take_in(&rated, &new(), facts, MessageId::new());
        assert_eq!(after.status, ConversationStatus::Resolved);
        assert_eq!(m.rating.map(|r| r.score), Some(10));
    }

    #[test]
    fn only_the_customer_names_the_conversation() {
        let c = conversation(ConversationStatus::Bot);
        let mut named = inbound("hi");
        named.customer = c.customer.clone();
        named.display_name = Some("Lin".into());
        let facts = IntakeFacts {
            existing: Some(&c),
            ..IntakeFacts::default()
        };
        let (after, _) = take_in(&named, &new(), facts, MessageId::new());
        assert_eq!(after.display_name.as_deref(), Some("Lin"));
        let mut colleague = named.clone();
        colleague.customer = CustomerAddress::Email {
            address: "colleague@example.com".into(),
        };
        colleague.display_name = Some("Someone else".into());
        let facts = IntakeFacts {
            existing: Some(&c),
            ..IntakeFacts::default()
        };
        let (after, _) = take_in(&colleague, &new(), facts, MessageId::new());
        assert_eq!(after.display_name, None);
    }
}
