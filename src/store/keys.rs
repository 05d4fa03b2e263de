//! Byte layouts of the sled keys. Big-endian numbers so that sled's
//! lexicographic order is numeric order: transcripts by sequence, the queue
//! by urgency then wait, the outbox by due time.

use crate::model::{ChannelKind, Conversation, ConversationId, OutboxEntry};

pub fn conversation(id: ConversationId) -> [u8; 16] {
    *id.0.as_bytes()
}

pub fn message(id: ConversationId, seq: u64) -> [u8; 24] {
    let mut k = [0u8; 24];
    k[..16].copy_from_slice(id.0.as_bytes());
    k[16..].copy_from_slice(&seq.to_be_bytes());
    k
}

pub fn seq_of_message(key: &[u8]) -> Option<u64> {
    let bytes: [u8; 8] = key.get(16..24)?.try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

pub fn external_id(channel: ChannelKind, external_id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(12 + external_id.len());
    k.extend_from_slice(channel.as_str().as_bytes());
    k.push(0);
    k.extend_from_slice(external_id.as_bytes());
    k
}

/// Queue order: higher priority first, then longer wait, then id.
pub fn queue(priority: u8, waiting_since_ms: i64, id: ConversationId) -> [u8; 25] {
    let mut k = [0u8; 25];
    k[0] = u8::MAX - priority;
    k[1..9].copy_from_slice(&(waiting_since_ms.max(0) as u64).to_be_bytes());
    k[9..].copy_from_slice(id.0.as_bytes());
    k
}

/// The queue key of a conversation, if it is waiting: by priority, then
/// by its first-response deadline while that is unanswered (so a customer
/// with a tighter promise goes ahead), else by how long it has waited.
pub fn queue_of(c: &Conversation) -> Option<[u8; 25]> {
    let deadline = c
        .sla
        .as_ref()
        .filter(|s| s.first_response_at.is_none())
        .map(|s| s.first_response_due);
    match (c.status, deadline.or(c.waiting_since)) {
        (crate::model::ConversationStatus::Waiting, Some(at)) => {
            Some(queue(c.priority, at.timestamp_millis(), c.id))
        }
        _ => None,
    }
}

/// Status index: conversations by status, then by (time-ordered) id.
pub fn status(status: crate::model::ConversationStatus, id: ConversationId) -> [u8; 17] {
    use crate::model::ConversationStatus::*;
    let mut k = [0u8; 17];
    k[0] = match status {
        Bot => 0,
        Waiting => 1,
        Assigned => 2,
        Pending => 3,
        Resolved => 4,
    };
    k[1..].copy_from_slice(id.0.as_bytes());
    k
}

/// The automatic-reply marks of one customer share this prefix.
pub fn autoreply_prefix(customer: &crate::model::CustomerAddress) -> Vec<u8> {
    let mut k = customer.key().into_bytes();
    k.push(0);
    k
}

pub fn outbox(entry: &OutboxEntry) -> [u8; 24] {
    let mut k = [0u8; 24];
    k[..8].copy_from_slice(&(entry.due_at.timestamp_millis().max(0) as u64).to_be_bytes());
    k[8..].copy_from_slice(entry.id.0.as_bytes());
    k
}

pub fn outbox_upper_bound(due_ms: i64) -> [u8; 8] {
    ((due_ms.max(0) as u64).saturating_add(1)).to_be_bytes()
}

/// Milliseconds since the epoch, big-endian: keys that sort by time.
pub fn time(at: chrono::DateTime<chrono::Utc>) -> [u8; 8] {
    (at.timestamp_millis().max(0) as u64).to_be_bytes()
}

/// A time-ordered event key: the time, then the conversation.
pub fn timed(at: chrono::DateTime<chrono::Utc>, id: ConversationId) -> Vec<u8> {
    let mut key = time(at).to_vec();
    key.extend_from_slice(&conversation(id));
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn queue_keys_sort_by_priority_then_wait() {
        let id = ConversationId(Uuid::nil());
        let urgent_late = queue(9, 2_000, id);
        let normal_early = queue(1, 1_000, id);
        let normal_late = queue(1, 2_000, id);
        assert!(urgent_late < normal_early);
        assert!(normal_early < normal_late);
    }

    #[test]
    fn message_keys_sort_numerically() {
        let id = ConversationId(Uuid::nil());
        assert!(message(id, 9) < message(id, 10));
        assert_eq!(seq_of_message(&message(id, 300)), Some(300));
    }
}
