//! Places in the waiting queue, kept in memory beside the sled queue index.
//!
//! A customer handed to a person is told their place in line, which is the
//! number of queue keys before theirs. sled can only count those by walking
//! them, so with thousands waiting (a busy day, an outage) every hand-off
//! cost a walk of the whole queue. This mirror holds the queue keys sorted
//! (loaded from the index at open, updated after every committed
//! conversation write), so a place is a binary search. The sled index stays
//! the record of who waits; the mirror only answers "how many ahead".
//! With teams, each team's queue is a line of its own: a customer is
//! told their place among those waiting for the same team.

use super::keys;
use crate::model::{Conversation, ConversationId};
use std::collections::HashMap;
use std::sync::Mutex;

type QueueKey = [u8; 25];
/// The team whose line a key is in (`None`: the shared queue).
type Line = Option<String>;

#[derive(Default)]
struct Ranks {
    /// Every queue key of each line, ascending.
    sorted: HashMap<Line, Vec<QueueKey>>,
    /// Each queued conversation's line and key.
    by_id: HashMap<ConversationId, (Line, QueueKey)>,
}

impl Ranks {
    fn insert(&mut self, id: ConversationId, line: Line, key: QueueKey) {
        let keys = self.sorted.entry(line.clone()).or_default();
        let at = keys.partition_point(|k| *k < key);
        keys.insert(at, key);
        self.by_id.insert(id, (line, key));
    }

    fn remove(&mut self, id: ConversationId) {
        if let Some((line, key)) = self.by_id.remove(&id)
            && let Some(keys) = self.sorted.get_mut(&line)
            && let Ok(at) = keys.binary_search(&key)
        {
            keys.remove(at);
        }
    }
}

#[derive(Default)]
pub struct QueueRanks {
    ranks: Mutex<Ranks>,
}

impl QueueRanks {
    /// From the queue index: each key (conversation id in bytes 9..25) and
    /// its team.
    pub fn load(queue: impl Iterator<Item = (QueueKey, Line)>) -> Self {
        let mut ranks = Ranks::default();
        for (key, line) in queue {
            if let Ok(id) = uuid::Uuid::from_slice(&key[9..]) {
                ranks.by_id.insert(ConversationId(id), (line.clone(), key));
                ranks.sorted.entry(line).or_default().push(key);
            }
        }
        for keys in ranks.sorted.values_mut() {
            keys.sort_unstable();
        }
        Self {
            ranks: Mutex::new(ranks),
        }
    }

    /// Follows a committed write of `conversation`: out of the queue, in,
    /// or to another place or team.
    pub fn update(&self, conversation: &Conversation) {
        let new = keys::queue_of(conversation).map(|k| (conversation.team.clone(), k));
        let mut ranks = self.ranks.lock().unwrap_or_else(|p| p.into_inner());
        if ranks.by_id.get(&conversation.id) == new.as_ref() {
            return;
        }
        ranks.remove(conversation.id);
        if let Some((line, key)) = new {
            ranks.insert(conversation.id, line, key);
        }
    }

    /// How many keys of `team`'s line sort before `key`.
    pub fn ahead_of(&self, team: Option<&str>, key: &QueueKey) -> u64 {
        let ranks = self.ranks.lock().unwrap_or_else(|p| p.into_inner());
        ranks
            .sorted
            .get(&team.map(str::to_string))
            .map_or(0, |keys| keys.partition_point(|k| k < key) as u64)
    }
}
