//! Our own Message-IDs: `<frontdesk.CONVERSATION.OUTBOX@domain>`.
//!
//! Each outgoing mail's id is derived from its outbox entry, so a retried
//! send is the same message (the customer's client shows it once), and a
//! reply's In-Reply-To or a bounce names the conversation and the delivery
//! without any lookup table. Ticket tags (`[#1042]`) in subjects are the
//! fallback when a client drops the threading headers.

use crate::model::{ConversationId, OutboxId};
use regex::Regex;
use std::sync::LazyLock;

/// The Message-ID of the mail an outbox entry becomes.
pub fn message_id(conversation: ConversationId, entry: OutboxId, domain: &str) -> String {
    format!("<frontdesk.{conversation}.{entry}@{domain}>")
}

static OURS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)<?frontdesk\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})@([a-z0-9.-]+)>?",
    )
    .expect("message id pattern compiles")
});

/// The conversation and outbox entry a Message-ID of ours names, if it is
/// one of ours for `domain`.
pub fn parse_ours(id: &str, domain: &str) -> Option<(ConversationId, OutboxId)> {
    let caps = OURS.captures(id)?;
    if !caps[3].eq_ignore_ascii_case(domain) {
        return None;
    }
    Some((caps[1].parse().ok()?, caps[2].parse().ok()?))
}

/// Every Message-ID of ours in `text` (a bounce quoting our headers).
pub fn ours_in(text: &str, domain: &str) -> Vec<String> {
    OURS.find_iter(text)
        .map(|m| m.as_str())
        .filter(|id| parse_ours(id, domain).is_some())
        .map(|id| format!("<{}>", id.trim_start_matches('<').trim_end_matches('>')))
        .collect()
}

static TICKET: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\[#(\d{1,18})\]").expect("ticket pattern compiles"));

/// The ticket number tagged in a subject (`Re: Your order [#1042]`).
pub fn ticket_in(subject: &str) -> Option<u64> {
    TICKET.captures(subject)?[1].parse().ok()
}

/// A Message-ID in the canonical `<id>` form, or `None` if it has no text.
pub fn canonical(id: &str) -> Option<String> {
    let inner = id
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    (!inner.is_empty() && !inner.contains(char::is_whitespace)).then(|| format!("<{inner}>"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_ids_round_trip_and_others_are_not_ours() {
        let c = ConversationId::new();
        let o = OutboxId::new();
        let id = message_id(c, o, "example.test");
        assert_eq!(parse_ours(&id, "example.test"), Some((c, o)));
        assert_eq!(parse_ours(&id, "other.test"), None);
        assert_eq!(parse_ours("<CAF=abc@mail.gmail.com>", "example.test"), None);
        let text = format!("Message-ID: {id}\r\nIn-Reply-To: <x@y>\r\nReferences: {id}");
        assert_eq!(ours_in(&text, "example.test"), vec![id.clone(), id]);
    }

    #[test]
    fn ticket_tags_and_canonical_ids() {
        assert_eq!(ticket_in("Re: Your order question [#1042]"), Some(1042));
        assert_eq!(ticket_in("Re: order #1042"), None);
        assert_eq!(ticket_in("[#99999999999999999999]"), None);
        assert_eq!(canonical(" abc@x "), Some("<abc@x>".into()));
        assert_eq!(canonical("<abc@x>"), Some("<abc@x>".into()));
        assert_eq!(canonical("<>"), None);
    }
}
