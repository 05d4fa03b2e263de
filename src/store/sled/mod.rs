//! The sled implementation of [`Store`]: one embedded database folder, one
//! tree per index (`<key>_<value>` names), serde-JSON values, a step (`step.rs`)
//! (all or none after a crash) for every change to a conversation and its
//! indexes, and the group-commit thread for durability.

mod accounts;
mod channel_state;
pub mod compact;
mod conversations;
mod customers;
mod export;
mod notices;
mod outbox;
mod reports;

use super::step::{self, Step, StepTree};

use super::commit::{GroupCommit, SharedCause};
use super::queue_ranks::QueueRanks;
use super::{
    Accepted, Change, Decision, ExportRecord, IntakeFacts, IntakeRule, NewConversation,
    OutboxBacklog, PendingTurn, Pickup, SCHEMA_VERSION, StatusChange, Store, StoreError,
    TurnOutcome, TurnRecorded, TurnRule, UpdateError, Updated, keys,
};
use super::{AccountStore, ChannelStateStore, ConversationStore, OutboxStore, ReportStore};
use crate::model::{
    Agent, AgentSession, CannedResponse, ChannelKind, Conversation, ConversationId,
    ConversationStatus, CustomerAddress, Delivery, InboundMessage, Message, MessageId,
    OutboundReason, OutboxEntry, Thread, WebSession,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, Mutex};

const META_SCHEMA: &[u8] = b"schema_version";
const META_NEXT_TICKET: &[u8] = b"next_ticket";
const FIRST_TICKET: u64 = 1001;

/// What the dedupe index remembers of an inbound channel id.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Seen {
    conversation_id: ConversationId,
    seq: u64,
}

pub struct SledStore {
    db: sled::Db,
    meta: sled::Tree,
    /// conversation id → Conversation
    conversations: sled::Tree,
    /// customer address key → conversation id (the customer's current one)
    customer_conversation: sled::Tree,
    /// ticket number → conversation id
    ticket_conversation: sled::Tree,
    /// conversation id ++ seq → Message
    messages: sled::Tree,
    /// channel ++ external id → Seen (promise 2)
    externalid_message: sled::Tree,
    /// conversation id ++ seq → () for customer turns not yet answered
    pending_turns: sled::Tree,
    /// priority ++ waiting since ++ conversation id → ()
    queue: sled::Tree,
    /// status ++ conversation id → ()
    status_index: sled::Tree,
    /// due time ++ outbox id → OutboxEntry
    outbox: sled::Tree,
    /// session token → WebSession
    token_websession: sled::Tree,
    /// username → Agent
    username_agent: sled::Tree,
    /// hash of session token → AgentSession
    tokenhash_agentsession: sled::Tree,
    /// name → CannedResponse
    name_canned: sled::Tree,
    /// content hash → bytes (attachments, raw mail)
    hash_blob: sled::Tree,
    /// customer address key ++ 0 ++ time ++ random → () per automatic reply
    customer_autoreply: sled::Tree,
    /// time ++ conversation id → Pickup
    time_pickup: sled::Tree,
    /// time ++ conversation id ++ unique id → StatusChange
    time_status_change: sled::Tree,
    /// time ++ random → AuditEntry (erasures)
    time_audit: sled::Tree,
    /// The trees steps write, in the order their records name them
    /// (`STEP_TREES`); the fields above are clones of them.
    step_trees: Vec<sled::Tree>,
    /// The last step, applied again at open (see [`step`]).
    last_step: sled::Tree,
    /// Held around every step, so changes apply one after another (an
    /// agent's claim and a bot turn never interleave). Flushing happens
    /// outside it.
    writer: Mutex<()>,
    /// Places in `queue`, counted in memory.
    queue_ranks: QueueRanks,
    commit: GroupCommit,
    /// The first flush error: after it, nothing more becomes durable.
    failure: Arc<Mutex<Option<String>>>,
    /// The data folder (for the erasure marker, see [`compact`]).
    dir: std::path::PathBuf,
}

type StepResult<T> = Result<T, StoreError>;

/// The trees a step may write, by their position in a step's record. The
/// order is part of the data format: add new trees at the end.
const STEP_TREES: [&str; 10] = [
    "meta",
    "conversationid_conversation",
    "customer_conversationid",
    "ticket_conversationid",
    "conversationseq_message",
    "externalid_seen",
    "conversationseq_pendingturn",
    "queue",
    "status_conversationid",
    "due_outboxentry",
];
const META: usize = 0;
const CONVERSATIONS: usize = 1;
const CUSTOMERS: usize = 2;
const TICKETS: usize = 3;
const MESSAGES: usize = 4;
const SEEN_IDS: usize = 5;
const PENDING: usize = 6;
const QUEUE: usize = 7;
const STATUS: usize = 8;
const OUTBOX: usize = 9;

fn io(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Io(Box::new(e))
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(io)
}

/// The values of a tree keyed by time (milliseconds first) from `since` on.
fn decode_since<T: DeserializeOwned>(
    tree: &sled::Tree,
    since: DateTime<Utc>,
    what: &str,
) -> Result<Vec<T>, StoreError> {
    tree.range(keys::time(since)..)
        .values()
        .map(|v| decode(what, &v.map_err(io)?))
        .collect()
}

fn decode<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        what: what.to_string(),
        detail: e.to_string(),
    })
}

/// Reads and decodes one value.
fn get_decoded<T: DeserializeOwned>(
    tree: &sled::Tree,
    key: &[u8],
    what: &str,
) -> Result<Option<T>, StoreError> {
    match tree.get(key).map_err(io)? {
        Some(bytes) => Ok(Some(decode(what, &bytes)?)),
        None => Ok(None),
    }
}

/// Encodes and writes one value.
fn put_encoded<T: Serialize>(tree: &sled::Tree, key: &[u8], value: &T) -> Result<(), StoreError> {
    tree.insert(key, encode(value)?).map_err(io)?;
    Ok(())
}

fn u64_of(what: &str, bytes: &[u8]) -> Result<u64, StoreError> {
    let array: [u8; 8] = bytes.try_into().map_err(|_| StoreError::Corrupt {
        what: what.to_string(),
        detail: format!("expected 8 bytes, found {}", bytes.len()),
    })?;
    Ok(u64::from_be_bytes(array))
}

fn conversation_id_of(what: &str, bytes: &[u8]) -> Result<ConversationId, StoreError> {
    uuid::Uuid::from_slice(bytes)
        .map(ConversationId)
        .map_err(|e| StoreError::Corrupt {
            what: what.to_string(),
            detail: e.to_string(),
        })
}

/// Reads a conversation inside a step.
fn step_conversation(
    conversations: &StepTree<'_, '_>,
    id: ConversationId,
) -> StepResult<Option<Conversation>> {
    match conversations.get(keys::conversation(id))? {
        Some(bytes) => Ok(Some(decode("conversation", &bytes)?)),
        None => Ok(None),
    }
}

/// The queue index's value for a waiting conversation: its team's name
/// (empty for the shared queue), so the places per team load at open.
fn team_value(c: &Conversation) -> Vec<u8> {
    c.team.clone().unwrap_or_default().into_bytes()
}

/// Writes a conversation in a step and keeps the queue and status indexes
/// in line.
fn step_put_conversation(
    step: &Step<'_>,
    old: Option<&Conversation>,
    new: &Conversation,
) -> StepResult<()> {
    let (conversations, queue, status) = (
        step.tree(CONVERSATIONS),
        step.tree(QUEUE),
        step.tree(STATUS),
    );
    let old_key = old.and_then(keys::queue_of);
    let new_key = keys::queue_of(new);
    if old_key != new_key || old.map(|o| &o.team) != Some(&new.team) {
        if let Some(k) = old_key {
            queue.remove(&k[..])?;
        }
        if let Some(k) = new_key {
            queue.insert(&k[..], team_value(new));
        }
    }
    if old.map(|o| o.status) != Some(new.status) {
        if let Some(o) = old {
            status.remove(&keys::status(o.status, o.id)[..])?;
        }
        status.insert(&keys::status(new.status, new.id)[..], &[][..]);
    }
    conversations.insert(&keys::conversation(new.id)[..], encode(new)?);
    Ok(())
}

/// How long opening waits for a folder this process has just let go of:
/// sled's own threads release its lock a moment after the last handle is
/// dropped (longer on a loaded machine), so a restart in the same process
/// would otherwise find it still locked.
const LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_secs(3);

/// Opens the sled database in `dir`, waiting up to [`LOCK_PATIENCE`] for
/// its lock; another process holding it still fails after that.
fn open_db(dir: &Path) -> Result<sled::Db, sled::Error> {
    let started = std::time::Instant::now();
    loop {
        let opened = sled::Config::new()
            .path(dir)
            .mode(sled::Mode::LowSpace)
            .cache_capacity(32 << 20)
            .open();
        match opened {
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock")
                    && started.elapsed() < LOCK_PATIENCE =>
            {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

impl SledStore {
    /// Opens (or creates) the store in `dir`, checking the schema version.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        if compact::run_if_due(dir)? {
            tracing::info!("Removed erased data from the data folder's files.");
        }
        let db = open_db(dir).map_err(|e| match e {
            sled::Error::Io(e) if e.to_string().contains("could not acquire lock") => {
                StoreError::InUse {
                    path: dir.to_path_buf(),
                }
            }
            e => StoreError::Open {
                path: dir.to_path_buf(),
                source: Box::new(e),
            },
        })?;
        let tree = |name: &str| db.open_tree(name).map_err(io);
        let flusher = db.clone();
        let failure = Arc::new(Mutex::new(None));
        let failure_seen = failure.clone();
        // The trees steps write are named once, in `STEP_TREES`.
        let step_trees: Vec<sled::Tree> = STEP_TREES
            .iter()
            .map(|name| tree(name))
            .collect::<Result<_, _>>()?;
        let indexed = |index: usize| step_trees[index].clone();
        let mut store = SledStore {
            meta: indexed(META),
            conversations: indexed(CONVERSATIONS),
            customer_conversation: indexed(CUSTOMERS),
            ticket_conversation: indexed(TICKETS),
            messages: indexed(MESSAGES),
            externalid_message: indexed(SEEN_IDS),
            pending_turns: indexed(PENDING),
            queue: indexed(QUEUE),
            status_index: indexed(STATUS),
            outbox: indexed(OUTBOX),
            token_websession: tree("token_websession")?,
            username_agent: tree("username_agent")?,
            tokenhash_agentsession: tree("tokenhash_agentsession")?,
            name_canned: tree("name_canned")?,
            hash_blob: tree("hash_blob")?,
            customer_autoreply: tree("customer_autoreply")?,
            time_pickup: tree("time_pickup")?,
            time_status_change: tree("time_status_change")?,
            time_audit: tree("time_audit")?,
            step_trees,
            last_step: tree("last_step")?,
            writer: Mutex::new(()),
            queue_ranks: QueueRanks::default(),
            commit: GroupCommit::start(move || {
                flusher.flush().map(|_| ()).map_err(|e| {
                    // sled refuses every write after a failed flush: this
                    // database is done until it is opened again.
                    failure_seen
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .get_or_insert_with(|| e.to_string());
                    std::sync::Arc::new(e) as SharedCause
                })
            })?,
            failure,
            db,
            dir: dir.to_path_buf(),
        };
        store.check_schema()?;
        if step::replay(&store.last_step, &store.step_trees)? {
            // Completed (again) and durable: it need not be applied twice.
            step::forget(&store.last_step)?;
            store.db.flush().map_err(io)?;
        }
        let mut queued = Vec::new();
        for entry in store.queue.iter() {
            let (key, team) = entry.map_err(io)?;
            if let Ok(key) = <[u8; 25]>::try_from(&key[..]) {
                let team = (!team.is_empty()).then(|| String::from_utf8_lossy(&team).into_owned());
                queued.push((key, team));
            }
        }
        store.queue_ranks = QueueRanks::load(queued.into_iter());
        Ok(store)
    }

    /// Refuses newer data and migrates older data to this version.
    fn check_schema(&self) -> Result<(), StoreError> {
        let found = match self.meta.get(META_SCHEMA).map_err(io)? {
            Some(bytes) => u64_of("schema version", &bytes)? as u32,
            None if self.conversations.is_empty() => SCHEMA_VERSION,
            None => 1,
        };
        if found > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                found,
                supported: SCHEMA_VERSION,
            });
        }
        if found < 2 {
            // Version 2 added the status index.
            tracing::info!(from = found, to = SCHEMA_VERSION, "Migrating the store.");
            for v in self.conversations.iter().values() {
                let c: Conversation = decode("conversation", &v.map_err(io)?)?;
                self.status_index
                    .insert(keys::status(c.status, c.id), &[][..])
                    .map_err(io)?;
            }
        }
        if found < 3 {
            // Version 3 orders the queue by first-response deadline.
            tracing::info!(
                from = found,
                to = SCHEMA_VERSION,
                "Rebuilding the waiting queue."
            );
            self.queue.clear().map_err(io)?;
            for v in self.conversations.iter().values() {
                let c: Conversation = decode("conversation", &v.map_err(io)?)?;
                if let Some(k) = keys::queue_of(&c) {
                    self.queue.insert(k, team_value(&c)).map_err(io)?;
                }
            }
        }
        if found != SCHEMA_VERSION || self.meta.get(META_SCHEMA).map_err(io)?.is_none() {
            self.meta
                .insert(META_SCHEMA, &u64::from(SCHEMA_VERSION).to_be_bytes())
                .map_err(io)?;
            self.db.flush().map_err(io)?;
        }
        Ok(())
    }

    fn lock_writer(&self) -> std::sync::MutexGuard<'_, ()> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `change` as a step (see [`step`]): its writes apply when it
    /// returns `Ok`, all or none after a crash, and not at all when it
    /// returns an error. The writer lock must be held.
    fn step<T>(
        &self,
        _writer: &std::sync::MutexGuard<'_, ()>,
        change: impl FnOnce(&Step<'_>) -> StepResult<T>,
    ) -> Result<T, StoreError> {
        let step = Step::new(&self.step_trees);
        let result = change(&step)?;
        step.commit(&self.last_step)?;
        Ok(result)
    }

    fn decode_all<T: DeserializeOwned>(
        &self,
        tree: &sled::Tree,
        what: &str,
    ) -> Result<Vec<T>, StoreError> {
        tree.iter()
            .values()
            .map(|v| decode(what, &v.map_err(io)?))
            .collect()
    }

    /// Every turn not answered yet, in arrival order per conversation.
    fn pending_turn_list(&self) -> Result<Vec<PendingTurn>, StoreError> {
        let mut turns = Vec::new();
        for item in self.pending_turns.iter() {
            let (k, _) = item.map_err(io)?;
            let conversation_id = conversation_id_of("pending turn", k.get(..16).unwrap_or(&[]))?;
            let seq = keys::seq_of_message(&k).ok_or_else(|| StoreError::Corrupt {
                what: "pending turn".into(),
                detail: "short key".into(),
            })?;
            turns.push(PendingTurn {
                conversation_id,
                seq,
            });
        }
        // Keys are grouped by conversation; replay in arrival order overall.
        turns.sort_by_key(|t| (t.conversation_id, t.seq));
        Ok(turns)
    }

    fn next_ticket(&self) -> Result<u64, StoreError> {
        match self.meta.get(META_NEXT_TICKET).map_err(io)? {
            Some(b) => u64_of("ticket counter", &b),
            None => Ok(FIRST_TICKET),
        }
    }

    /// Outbox entries from `start` on that are due at or before `now`,
    /// earliest first.
    fn due_from(
        &self,
        start: Bound<Vec<u8>>,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let end = Bound::Excluded(keys::outbox_upper_bound(now.timestamp_millis()).to_vec());
        self.outbox
            .range::<Vec<u8>, _>((start, end))
            .values()
            .take(limit)
            .map(|v| decode("outbox entry", &v.map_err(io)?))
            .collect()
    }

    fn conversation_by_key(&self, key: &[u8]) -> Result<Option<Conversation>, StoreError> {
        get_decoded(&self.conversations, key, "conversation")
    }

    fn put_pickup(&self, id: ConversationId, pickup: &Pickup) -> Result<(), StoreError> {
        put_encoded(&self.time_pickup, &keys::timed(pickup.at, id), pickup)
    }

    fn put_status_change(&self, change: &StatusChange) -> Result<(), StoreError> {
        let mut key = keys::timed(change.at, change.conversation_id);
        // Two changes of one conversation in one millisecond stay apart.
        key.extend_from_slice(&self.db.generate_id().map_err(io)?.to_be_bytes());
        put_encoded(&self.time_status_change, &key, change)
    }

    fn put_conversation_plain(&self, c: &Conversation) -> Result<(), StoreError> {
        let id_key = keys::conversation(c.id);
        if let Some(old) = self.conversation_by_key(&id_key)? {
            if let Some(k) = keys::queue_of(&old) {
                self.queue.remove(k).map_err(io)?;
            }
            self.status_index
                .remove(keys::status(old.status, old.id))
                .map_err(io)?;
        }
        self.conversations.insert(id_key, encode(c)?).map_err(io)?;
        self.customer_conversation
            .insert(c.customer.key().as_bytes(), &id_key[..])
            .map_err(io)?;
        self.ticket_conversation
            .insert(c.ticket.to_be_bytes(), &id_key[..])
            .map_err(io)?;
        if let Some(k) = keys::queue_of(c) {
            self.queue.insert(k, team_value(c)).map_err(io)?;
        }
        self.status_index
            .insert(keys::status(c.status, c.id), &[][..])
            .map_err(io)?;
        self.queue_ranks.update(c);
        Ok(())
    }
}

/// The result of the accept transaction before the duplicate case is
/// resolved into full records.
enum AcceptStep {
    Duplicate(Seen),
    New(Box<(Conversation, Message, Option<StatusChange>)>),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::intake::take_in;

    /// A step that a crash cut short right after its record (none of its
    /// writes made it) is applied when the store opens again.
    #[tokio::test]
    async fn a_step_cut_short_by_a_crash_is_applied_at_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        let new = NewConversation {
            priority: 0,
            locale: "en".into(),
            segment: None,
            tags: Vec::new(),
        };
        let first = InboundMessage::text(
            CustomerAddress::Telegram { chat_id: 7 },
            "1".into(),
            "Where is my order?".into(),
            Utc::now(),
        );
        let (id, second) = {
            let store = SledStore::open(dir.path()).expect("open");
            let accepted = store.accept(&first, &new, &take_in).await.expect("accept");
            let mut conversation = accepted.conversation.clone();
            conversation.last_seq = 2;
            let second = Message {
                seq: 2,
                id: MessageId::new(),
                text: "And a refund?".into(),
                ..accepted.message.clone()
            };
            let step = Step::new(&store.step_trees);
            step.tree(MESSAGES).insert(
                &keys::message(conversation.id, 2)[..],
                encode(&second).expect("encode"),
            );
            step_put_conversation(&step, Some(&accepted.conversation), &conversation)
                .expect("conversation");
            step.record_only(&store.last_step).expect("record");
            store.db.flush().expect("flush");
            assert_eq!(
                store
                    .conversation(conversation.id)
                    .await
                    .expect("read")
                    .map(|c| c.last_seq),
                Some(1),
                "the step's writes were not applied yet"
            );
            (conversation.id, second)
        };
        let store = SledStore::open(dir.path()).expect("reopen");
        let conversation = store
            .conversation(id)
            .await
            .expect("read")
            .expect("conversation");
        assert_eq!(conversation.last_seq, 2);
        let read = store
            .message(id, 2)
            .await
            .expect("read")
            .expect("the second message");
        assert_eq!(read.text, second.text);
        assert!(store.last_step.is_empty(), "a replayed step is forgotten");
    }
}
