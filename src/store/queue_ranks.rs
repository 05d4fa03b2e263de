//! Places in the waiting queue, kept in memory beside the sled queue index.
//!
//! A customer handed to a person is told their place in line, which is the
//! number of queue keys before theirs. sled can only count those by walking
//! them, so with thousands waiting (a busy day, an outage) every hand-off
//! cost a walk of the whole queue. This mirror holds the queue keys sorted
//! (loaded from the index at open, updated after every committed
//! conversation write), so a place is a binary search. The sled index stays
//! the record of who waits; the mirror only answers "how many ahead".

use super::keys;
use crate::model::{Conversation, ConversationId};
use std::collections::HashMap;
use std::sync::Mutex;

type QueueKey = [u8; 25];

#[derive(Default)]
struct Ranks {
    /// Every queue key, ascending.
    sorted: Vec<QueueKey>,
    /// Each queued conversation's key.
    by_id: HashMap<ConversationId, QueueKey>,
}

#[derive(Default)]
pub struct QueueRanks {
    ranks: Mutex<Ranks>,
}

impl QueueRanks {
    /// From the queue index's keys (conversation id in bytes 9..25).
    pub fn load(queue_keys: impl Iterator<Item = QueueKey>) -> Self {
        let mut ranks = Ranks::default();
        for key in queue_keys {
            if let Ok(id) = uuid::Uuid::from_slice(&key[9..]) {
                ranks.by_id.insert(ConversationId(id), key);
                ranks.sorted.push(key);
            }
        }
        ranks.sorted.sort_unstable();
        Self {
            ranks: Mutex::new(ranks),
        }
    }

    /// Follows a committed write of `conversation`: out of the queue, in,
    /// or to another place.
    pub fn update(&self, conversation: &Conversation) {
        let new_key = keys::queue_of(conversation);
        let mut ranks = self.ranks.lock().unwrap_or_else(|p| p.into_inner());
        let old_key = ranks.by_id.get(&conversation.id).copied();
        if old_key == new_key {
            return;
        }
        if let Some(old) = old_key {
            if let Ok(at) = ranks.sorted.binary_search(&old) {
                ranks.sorted.remove(at);
            }
            ranks.by_id.remove(&conversation.id);
        }
        if let Some(new) = new_key {
            let at = ranks.sorted.partition_point(|k| *k < new);
            ranks.sorted.insert(at, new);
            ranks.by_id.insert(conversation.id, new);
        }
    }

    /// How many queued keys sort before `key`.
    pub fn ahead_of(&self, key: &QueueKey) -> u64 {
        let ranks = self.ranks.lock().unwrap_or_else(|p| p.into_inner());
        ranks.sorted.partition_point(|k| k < key) as u64
    }
}
