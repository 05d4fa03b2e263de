//! What an agent (or a watcher) may do to a conversation, as plain
//! functions: each takes the conversation as it is now and the request, and
//! returns the conversation as it must become, or why not.
//!
//! The rules the README states live here and nowhere else:
//! - anyone may claim a conversation no other agent owns; of two claims,
//!   the second sees the first and is refused;
//! - only the owner (or an admin) may release, set pending, reassign,
//!   return to the bot or resolve a conversation a person owns;
//! - releasing keeps the conversation's place in line;
//! - replying takes a conversation nobody owns; an agent's first answer
//!   keeps (or breaks) the first-response promise;
//! - resolving stamps the resolution promise and is refused twice.

use crate::model::{Conversation, ConversationStatus, Refusal, SlaState};
use chrono::{DateTime, Utc};

/// Who asks for a change.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    pub username: &'a str,
    /// Admins may act on conversations other agents own.
    pub admin: bool,
}

impl Actor<'static> {
    /// The gateway itself (the SLA watcher): acts on any conversation.
    pub const SYSTEM: Actor<'static> = Actor {
        username: "frontdesk",
        admin: true,
    };
}

/// Whether `actor` may act on a conversation someone else may own.
pub fn may_act(c: &Conversation, actor: Actor<'_>) -> Result<(), Refusal> {
    match &c.assigned_agent {
        Some(owner) if c.status.human_owned() && owner != actor.username && !actor.admin => {
            Err(Refusal::AssignedTo(owner.clone()))
        }
        _ => Ok(()),
    }
}

/// The conversation must be owned by a person, and by `actor` unless an admin.
fn owned(c: &Conversation, actor: Actor<'_>) -> Result<(), Refusal> {
    if !c.status.human_owned() {
        return Err(Refusal::NotAssigned);
    }
    may_act(c, actor)
}

/// Take the conversation.
pub fn claim(c: &Conversation, actor: Actor<'_>) -> Result<Conversation, Refusal> {
    // A resolved conversation reopens when the customer writes again, or
    // when an agent replies to it; a claim alone would reopen it unseen.
    if c.status == ConversationStatus::Resolved {
        return Err(Refusal::AlreadyResolved);
    }
    match &c.assigned_agent {
        Some(owner) if c.status.human_owned() && owner != actor.username => {
            Err(Refusal::ClaimedBy(owner.clone()))
        }
        _ => Ok(Conversation {
            status: ConversationStatus::Assigned,
            assigned_agent: Some(actor.username.to_string()),
            ..c.clone()
        }),
    }
}

/// Hand the conversation to another agent (its owner or an admin may).
pub fn assign(c: &Conversation, actor: Actor<'_>, to: &str) -> Result<Conversation, Refusal> {
    let owner_is_actor =
        c.assigned_agent.as_deref() == Some(actor.username) && c.status.human_owned();
    if !owner_is_actor && !actor.admin {
        return Err(Refusal::NotOwner);
    }
    Ok(Conversation {
        status: ConversationStatus::Assigned,
        assigned_agent: Some(to.to_string()),
        ..c.clone()
    })
}

/// Back to the waiting queue, keeping its place in line.
pub fn release(
    c: &Conversation,
    actor: Actor<'_>,
    now: DateTime<Utc>,
) -> Result<Conversation, Refusal> {
    owned(c, actor)?;
    Ok(Conversation {
        status: ConversationStatus::Waiting,
        assigned_agent: None,
        waiting_since: c.waiting_since.or(Some(now)),
        ..c.clone()
    })
}

/// The agent waits on the customer.
pub fn pending(c: &Conversation, actor: Actor<'_>) -> Result<Conversation, Refusal> {
    owned(c, actor)?;
    Ok(Conversation {
        status: ConversationStatus::Pending,
        ..c.clone()
    })
}

/// The bot answers again.
pub fn return_to_bot(c: &Conversation, actor: Actor<'_>) -> Result<Conversation, Refusal> {
    may_act(c, actor)?;
    Ok(Conversation {
        status: ConversationStatus::Bot,
        assigned_agent: None,
        waiting_since: None,
        ..c.clone()
    })
}

/// Done; the customer's next message reopens it.
pub fn resolve(
    c: &Conversation,
    actor: Actor<'_>,
    now: DateTime<Utc>,
) -> Result<Conversation, Refusal> {
    may_act(c, actor)?;
    if c.status == ConversationStatus::Resolved {
        return Err(Refusal::AlreadyResolved);
    }
    let mut after = Conversation {
        status: ConversationStatus::Resolved,
        waiting_since: None,
        ..c.clone()
    };
    if let Some(sla) = after.sla.as_mut() {
        sla.resolved_at.get_or_insert(now);
    }
    Ok(after)
}

/// An agent's reply: it takes a conversation nobody owns, and the first
/// one keeps (or breaks) the first-response promise.
pub fn reply(
    c: &Conversation,
    actor: Actor<'_>,
    now: DateTime<Utc>,
) -> Result<Conversation, Refusal> {
    may_act(c, actor)?;
    let mut after = if c.status.human_owned() {
        c.clone()
    } else {
        Conversation {
            status: ConversationStatus::Assigned,
            assigned_agent: Some(actor.username.to_string()),
            ..c.clone()
        }
    };
    if let Some(sla) = after.sla.as_mut()
        && sla.first_response_at.is_none()
    {
        sla.first_response_at = Some(now);
    }
    Ok(after)
}

/// New tags, and the segment and priority they put the customer in. Any
/// agent may tag.
pub fn retag(
    c: &Conversation,
    tags: Vec<String>,
    segment: Option<String>,
    priority: u8,
) -> Conversation {
    Conversation {
        tags,
        segment,
        priority,
        ..c.clone()
    }
}

/// The service-level watcher announced `state`; never announce less.
pub fn announce_sla(c: &Conversation, state: SlaState) -> Conversation {
    let mut after = c.clone();
    if let Some(sla) = after.sla.as_mut() {
        sla.announced = sla.announced.max(state);
    }
    after
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::tests::{conversation, sla};

    const ANNA: Actor<'static> = Actor {
        username: "anna",
        admin: false,
    };
    const BEN: Actor<'static> = Actor {
        username: "ben",
        admin: false,
    };
    const BOSS: Actor<'static> = Actor {
        username: "boss",
        admin: true,
    };

    fn owned_by(status: ConversationStatus, agent: &str) -> Conversation {
        Conversation {
            status,
            assigned_agent: Some(agent.into()),
            ..conversation(ConversationStatus::Waiting)
        }
    }

    #[test]
    fn a_waiting_conversation_is_claimed_by_whoever_asks() {
        let after = claim(&conversation(ConversationStatus::Waiting), ANNA).expect("claimable");
        assert_eq!(after.status, ConversationStatus::Assigned);
        assert_eq!(after.assigned_agent.as_deref(), Some("anna"));
    }

    #[test]
    fn the_second_claim_is_refused_naming_the_owner() {
        let taken = owned_by(ConversationStatus::Assigned, "anna");
        assert_eq!(claim(&taken, BEN), Err(Refusal::ClaimedBy("anna".into())));
        let resolved = Conversation {
            status: ConversationStatus::Resolved,
            ..taken.clone()
        };
        assert_eq!(claim(&resolved, ANNA), Err(Refusal::AlreadyResolved));
        assert_eq!(claim(&resolved, BOSS), Err(Refusal::AlreadyResolved));
        assert_eq!(claim(&taken, BOSS), Err(Refusal::ClaimedBy("anna".into())));
        // Claiming one's own again is harmless.
        assert!(claim(&taken, ANNA).is_ok());
        // A pending conversation is owned too.
        let pending = owned_by(ConversationStatus::Pending, "anna");
        assert!(claim(&pending, BEN).is_err());
    }

    #[test]
    fn a_stale_owner_on_a_released_conversation_does_not_block_a_claim() {
        // Returned to the bot, a conversation keeps who had it.
        let returned = owned_by(ConversationStatus::Bot, "anna");
        assert_eq!(
            claim(&returned, BEN).map(|c| c.assigned_agent),
            Ok(Some("ben".into()))
        );
    }

    #[test]
    fn only_the_owner_or_an_admin_reassigns() {
        let mine = owned_by(ConversationStatus::Assigned, "anna");
        assert_eq!(
            assign(&mine, ANNA, "ben").map(|c| c.assigned_agent),
            Ok(Some("ben".into()))
        );
        assert_eq!(assign(&mine, BEN, "ben"), Err(Refusal::NotOwner));
        assert!(assign(&mine, BOSS, "ben").is_ok());
        // Nobody owns a waiting conversation: only an admin hands it out.
        let waiting = conversation(ConversationStatus::Waiting);
        assert_eq!(assign(&waiting, ANNA, "ben"), Err(Refusal::NotOwner));
        let assigned = assign(&waiting, BOSS, "ben").expect("admin assigns");
        assert_eq!(assigned.status, ConversationStatus::Assigned);
    }

    #[test]
    fn release_keeps_the_place_in_line_and_needs_the_owner() {
        let now = Utc::now();
        let queued_at = now - chrono::Duration::minutes(30);
        let mine = Conversation {
            waiting_since: Some(queued_at),
            ..owned_by(ConversationStatus::Assigned, "anna")
        };
        let released = release(&mine, ANNA, now).expect("owner releases");
        assert_eq!(released.status, ConversationStatus::Waiting);
        assert_eq!(released.assigned_agent, None);
        assert_eq!(released.waiting_since, Some(queued_at));
        assert_eq!(
            release(&mine, BEN, now),
            Err(Refusal::AssignedTo("anna".into()))
        );
        assert!(release(&mine, BOSS, now).is_ok());
        // Never queued before (claimed straight from the bot): queued now.
        let direct = owned_by(ConversationStatus::Assigned, "anna");
        assert_eq!(
            release(&direct, ANNA, now).map(|c| c.waiting_since),
            Ok(Some(now))
        );
        assert_eq!(
            release(&conversation(ConversationStatus::Waiting), ANNA, now),
            Err(Refusal::NotAssigned)
        );
    }

    #[test]
    fn pending_needs_an_owner_and_keeps_it() {
        let mine = owned_by(ConversationStatus::Assigned, "anna");
        let after = pending(&mine, ANNA).expect("owner sets pending");
        assert_eq!(after.status, ConversationStatus::Pending);
        assert_eq!(after.assigned_agent.as_deref(), Some("anna"));
        assert_eq!(pending(&mine, BEN), Err(Refusal::AssignedTo("anna".into())));
        assert_eq!(
            pending(&conversation(ConversationStatus::Bot), ANNA),
            Err(Refusal::NotAssigned)
        );
    }

    #[test]
    fn return_to_bot_leaves_the_queue_and_the_owner() {
        let waiting = Conversation {
            waiting_since: Some(Utc::now()),
            ..conversation(ConversationStatus::Waiting)
        };
        let after = return_to_bot(&waiting, BEN).expect("nobody owns it");
        assert_eq!(after.status, ConversationStatus::Bot);
        assert_eq!(after.waiting_since, None);
        let mine = owned_by(ConversationStatus::Pending, "anna");
        assert!(return_to_bot(&mine, BEN).is_err());
        assert_eq!(
            return_to_bot(&mine, ANNA).map(|c| c.assigned_agent),
            Ok(None)
        );
    }

    #[test]
    fn resolve_stamps_the_promise_once_and_is_refused_twice() {
        let now = Utc::now();
        let mine = Conversation {
            sla: Some(sla(now)),
            waiting_since: Some(now),
            ..owned_by(ConversationStatus::Assigned, "anna")
        };
        let resolved = resolve(&mine, ANNA, now).expect("owner resolves");
        assert_eq!(resolved.status, ConversationStatus::Resolved);
        assert_eq!(resolved.waiting_since, None);
        assert_eq!(
            resolved.assigned_agent.as_deref(),
            Some("anna"),
            "kept for reports"
        );
        assert_eq!(resolved.sla.and_then(|s| s.resolved_at), Some(now));
        assert_eq!(
            resolve(&mine, BEN, now),
            Err(Refusal::AssignedTo("anna".into()))
        );
        let done = owned_by(ConversationStatus::Resolved, "anna");
        assert_eq!(resolve(&done, ANNA, now), Err(Refusal::AlreadyResolved));
        // Anyone may close what nobody owns (the bot's conversations).
        assert!(resolve(&conversation(ConversationStatus::Bot), BEN, now).is_ok());
    }

    #[test]
    fn a_reply_takes_an_unowned_conversation_and_keeps_the_first_response_promise() {
        let now = Utc::now();
        let waiting = Conversation {
            sla: Some(sla(now - chrono::Duration::minutes(5))),
            ..conversation(ConversationStatus::Waiting)
        };
        let after = reply(&waiting, ANNA, now).expect("anyone may answer the queue");
        assert_eq!(after.status, ConversationStatus::Assigned);
        assert_eq!(after.assigned_agent.as_deref(), Some("anna"));
        assert_eq!(
            after.sla.as_ref().and_then(|s| s.first_response_at),
            Some(now)
        );
        // The second reply does not move the first response.
        let later = now + chrono::Duration::minutes(1);
        let again = reply(&after, ANNA, later).expect("owner replies again");
        assert_eq!(again.sla.and_then(|s| s.first_response_at), Some(now));
        // Someone else's conversation: refused.
        assert_eq!(
            reply(&after, BEN, later),
            Err(Refusal::AssignedTo("anna".into()))
        );
        // A pending conversation stays pending when its owner writes.
        let pending = owned_by(ConversationStatus::Pending, "anna");
        assert_eq!(
            reply(&pending, ANNA, now).map(|c| c.status),
            Ok(ConversationStatus::Pending)
        );
    }

    #[test]
    fn tags_move_the_segment_and_priority() {
        let c = conversation(ConversationStatus::Waiting);
        let after = retag(&c, vec!["vip".into()], Some("premium".into()), 9);
        assert_eq!(after.tags, vec!["vip".to_string()]);
        assert_eq!(after.segment.as_deref(), Some("premium"));
        assert_eq!(after.priority, 9);
        assert_eq!(after.status, c.status);
    }

    #[test]
    fn an_announced_sla_state_never_goes_back() {
        let now = Utc::now();
        let c = Conversation {
            sla: Some(sla(now)),
            ..conversation(ConversationStatus::Waiting)
        };
        let breached = announce_sla(&c, SlaState::Breached);
        assert_eq!(
            breached.sla.as_ref().map(|s| s.announced),
            Some(SlaState::Breached)
        );
        let still = announce_sla(&breached, SlaState::Near);
        assert_eq!(still.sla.map(|s| s.announced), Some(SlaState::Breached));
    }
}
