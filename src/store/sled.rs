//! The sled implementation of [`Store`]: one embedded database folder, one
//! tree per index (`<key>_<value>` names), serde-JSON values, a step (`step.rs`)
//! (all or none after a crash) for every change to a conversation and its
//! indexes, and the group-commit thread for durability.

use super::step::{self, Step, StepTree};

use super::commit::GroupCommit;
use super::queue_ranks::QueueRanks;
use super::{
    Accepted, Change, Decision, ExportRecord, IntakeFacts, IntakeRule, NewConversation,
    PendingTurn, Pickup, SCHEMA_VERSION, StatusChange, Store, StoreError, TurnOutcome,
    TurnRecorded, TurnRule, UpdateError, Updated, keys,
};
use crate::model::{
    Agent, AgentSession, Author, CannedResponse, ChannelKind, Conversation, ConversationId,
    ConversationStatus, CustomerAddress, Delivery, Handling, InboundMessage, Message, MessageId,
    OutboundReason, OutboxEntry, Thread, WebSession,
};
use chrono::{DateTime, Utc};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
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

fn io(e: impl std::fmt::Display) -> StoreError {
    StoreError::Io(e.to_string())
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
    if old_key != new_key {
        if let Some(k) = old_key {
            queue.remove(&k[..])?;
        }
        if let Some(k) = new_key {
            queue.insert(&k[..], &[][..]);
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

impl SledStore {
    /// Opens (or creates) the store in `dir`, checking the schema version.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .mode(sled::Mode::LowSpace)
            .cache_capacity(32 << 20)
            .open()
            .map_err(|e| {
                StoreError::Io(format!(
                    "cannot open the store at {}: {e}. If another frontdesk runs on this folder, stop it; \
                     if the data is damaged, move the folder aside and restore the last export with `frontdesk import`",
                    dir.display()
                ))
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
            step_trees,
            last_step: tree("last_step")?,
            writer: Mutex::new(()),
            queue_ranks: QueueRanks::default(),
            commit: GroupCommit::start(move || {
                flusher.flush().map(|_| ()).map_err(|e| {
                    let error = e.to_string();
                    // sled refuses every write after a failed flush: this
                    // database is done until it is opened again.
                    failure_seen
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .get_or_insert_with(|| error.clone());
                    error
                })
            })?,
            failure,
            db,
        };
        store.check_schema()?;
        if step::replay(&store.last_step, &store.step_trees)? {
            // Completed (again) and durable: it need not be applied twice.
            step::forget(&store.last_step)?;
            store.db.flush().map_err(io)?;
        }
        let mut queued = Vec::new();
        for key in store.queue.iter().keys() {
            if let Ok(key) = <[u8; 25]>::try_from(&key.map_err(io)?[..]) {
                queued.push(key);
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
                    self.queue.insert(k, &[][..]).map_err(io)?;
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
            self.queue.insert(k, &[][..]).map_err(io)?;
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

impl Store for SledStore {
    fn sync(&self) -> BoxFuture<'static, Result<(), StoreError>> {
        self.commit.sync().boxed()
    }

    fn accept(
        &self,
        inbound: &InboundMessage,
        new: &NewConversation,
        rule: IntakeRule,
    ) -> Result<Accepted, StoreError> {
        let channel = inbound.customer.channel();
        let external_key = keys::external_id(channel, &inbound.external_id);
        let customer_key = inbound.customer.key();
        // Ids and times are chosen outside: the closure may run more than once.
        let fresh_id = ConversationId::new();
        let message_id = MessageId::new();
        let now = inbound.received_at;
        let writer = self.lock_writer();
        let step = self.step(&writer, |step| {
            let (meta, conversations, customers, tickets, messages, seen_ids, pending) = (
                step.tree(META),
                step.tree(CONVERSATIONS),
                step.tree(CUSTOMERS),
                step.tree(TICKETS),
                step.tree(MESSAGES),
                step.tree(SEEN_IDS),
                step.tree(PENDING),
            );
            if let Some(bytes) = seen_ids.get(&external_key)? {
                let seen: Seen = decode("seen external id", &bytes)?;
                return Ok(AcceptStep::Duplicate(seen));
            }
            let existing = match inbound.thread {
                Thread::New => None,
                Thread::Conversation(id) => step_conversation(&conversations, id)?,
                Thread::Current => match customers.get(customer_key.as_bytes())? {
                    Some(id) => {
                        let id = conversation_id_of("customer index", &id)?;
                        step_conversation(&conversations, id)?
                    }
                    None => None,
                },
            };
            let last_message = match &existing {
                Some(c) => match messages.get(&keys::message(c.id, c.last_seq)[..])? {
                    Some(bytes) => Some(decode::<Message>("message", &bytes)?),
                    None => None,
                },
                None => None,
            };
            let opened = match &existing {
                Some(_) => None,
                None => {
                    let ticket = match meta.get(META_NEXT_TICKET)? {
                        Some(b) => u64_of("ticket counter", &b)?,
                        None => FIRST_TICKET,
                    };
                    meta.insert(META_NEXT_TICKET, &(ticket + 1).to_be_bytes());
                    tickets.insert(ticket.to_be_bytes(), &keys::conversation(fresh_id));
                    customers.insert(customer_key.as_bytes(), &keys::conversation(fresh_id));
                    Some((fresh_id, ticket))
                }
            };
            let facts = IntakeFacts {
                existing: existing.as_ref(),
                last_message: last_message.as_ref(),
                opened,
            };
            let (conversation, message) = rule(inbound, new, facts, message_id);
            let seq = message.seq;
            let message_key = keys::message(conversation.id, seq);
            messages.insert(&message_key[..], encode(&message)?);
            let seen = Seen {
                conversation_id: conversation.id,
                seq,
            };
            seen_ids.insert(external_key.as_slice(), encode(&seen)?);
            pending.insert(&message_key[..], &[][..]);
            step_put_conversation(step, existing.as_ref(), &conversation)?;
            let change = existing
                .as_ref()
                .and_then(|before| StatusChange::between(before, &conversation, now));
            Ok(AcceptStep::New(Box::new((conversation, message, change))))
        })?;
        match step {
            AcceptStep::New(step) => {
                let (conversation, message, change) = *step;
                self.queue_ranks.update(&conversation);
                if let Some(change) = change {
                    self.put_status_change(&change)?;
                }
                Ok(Accepted {
                    conversation,
                    message,
                    duplicate: false,
                })
            }
            AcceptStep::Duplicate(seen) => {
                let conversation = self
                    .conversation(seen.conversation_id)?
                    .ok_or(StoreError::ConversationNotFound(seen.conversation_id))?;
                let message = self
                    .message(seen.conversation_id, seen.seq)?
                    .ok_or_else(|| StoreError::Corrupt {
                        what: "transcript".into(),
                        detail: format!(
                            "message {} of conversation {} is missing",
                            seen.seq, seen.conversation_id
                        ),
                    })?;
                Ok(Accepted {
                    conversation,
                    message,
                    duplicate: true,
                })
            }
        }
    }

    fn conversation(&self, id: ConversationId) -> Result<Option<Conversation>, StoreError> {
        self.conversation_by_key(&keys::conversation(id))
    }

    fn conversation_count(&self) -> Result<u64, StoreError> {
        Ok(self.conversations.len() as u64)
    }

    fn conversation_of(
        &self,
        customer: &CustomerAddress,
    ) -> Result<Option<Conversation>, StoreError> {
        match self
            .customer_conversation
            .get(customer.key().as_bytes())
            .map_err(io)?
        {
            Some(id) => self.conversation_by_key(&id),
            None => Ok(None),
        }
    }

    fn messages_after(
        &self,
        id: ConversationId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Message>, StoreError> {
        let start = keys::message(id, after.saturating_add(1));
        let end = keys::message(id, u64::MAX);
        self.messages
            .range(start..=end)
            .take(limit)
            .map(|item| {
                let (_, v) = item.map_err(io)?;
                decode("message", &v)
            })
            .collect()
    }

    fn message(&self, id: ConversationId, seq: u64) -> Result<Option<Message>, StoreError> {
        get_decoded(&self.messages, &keys::message(id, seq), "message")
    }

    fn pending_turns(&self) -> Result<Vec<PendingTurn>, StoreError> {
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

    fn record_turn(
        &self,
        outcome: &TurnOutcome,
        rule: TurnRule,
    ) -> Result<TurnRecorded, StoreError> {
        let id = outcome.turn.conversation_id;
        let turn_key = keys::message(id, outcome.turn.seq);
        let now = Utc::now();
        let writer = self.lock_writer();
        self.step(&writer, |step| {
            let (conversations, outbox) = (step.tree(CONVERSATIONS), step.tree(OUTBOX));
            let old = step_conversation(&conversations, id)?
                .ok_or(StoreError::ConversationNotFound(id))?;
            step.tree(PENDING).remove(&turn_key[..])?;
            let Some(Decision { mut after, effects }) = rule(&old, outcome, now) else {
                return Ok((
                    TurnRecorded {
                        conversation: old,
                        replies_queued: false,
                    },
                    None,
                ));
            };
            after.updated_at = now;
            for entry in &effects.outbox {
                outbox.insert(&keys::outbox(entry)[..], encode(entry)?);
            }
            step_put_conversation(step, Some(&old), &after)?;
            let change = StatusChange::between(&old, &after, now);
            Ok((
                TurnRecorded {
                    conversation: after,
                    replies_queued: true,
                },
                change,
            ))
        })
        .and_then(|(recorded, change)| {
            self.queue_ranks.update(&recorded.conversation);
            if let Some(change) = change {
                self.put_status_change(&change)?;
            }
            Ok(recorded)
        })
    }

    fn waiting_queue(&self, limit: usize) -> Result<Vec<ConversationId>, StoreError> {
        self.queue
            .iter()
            .keys()
            .take(limit)
            .map(|k| {
                let k = k.map_err(io)?;
                conversation_id_of("queue", k.get(9..).unwrap_or(&[]))
            })
            .collect()
    }

    fn queue_position(&self, conversation: &Conversation) -> Result<u64, StoreError> {
        let key = keys::queue_of(conversation).unwrap_or_else(|| {
            keys::queue(
                conversation.priority,
                Utc::now().timestamp_millis(),
                conversation.id,
            )
        });
        Ok(self.queue_ranks.ahead_of(&key) + 1)
    }

    fn due_outbox(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<OutboxEntry>, StoreError> {
        self.due_from(Bound::Unbounded, now, limit)
    }

    fn due_outbox_after(
        &self,
        after: &OutboxEntry,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        self.due_from(Bound::Excluded(keys::outbox(after).to_vec()), now, limit)
    }

    fn next_outbox_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        match self.outbox.first().map_err(io)? {
            Some((k, _)) => {
                let ms = u64_of("outbox key", k.get(..8).unwrap_or(&[]))?;
                Ok(DateTime::from_timestamp_millis(ms as i64))
            }
            None => Ok(None),
        }
    }

    fn finish_delivery(
        &self,
        entry: &OutboxEntry,
        delivery: Delivery,
        at: DateTime<Utc>,
    ) -> Result<Option<Message>, StoreError> {
        let entry_key = keys::outbox(entry);
        let id = entry.conversation_id;
        // The transcript entry keeps the outbox id, so a channel's own
        // reference to the delivery (an email Message-ID) finds it again.
        let message_id = MessageId(entry.id.0);
        let writer = self.lock_writer();
        self.step(&writer, |step| {
            if step.tree(OUTBOX).remove(&entry_key[..])?.is_none() {
                return Ok(None);
            }
            let old = step_conversation(&step.tree(CONVERSATIONS), id)?
                .ok_or(StoreError::ConversationNotFound(id))?;
            let mut new = old.clone();
            new.last_seq += 1;
            new.updated_at = at;
            match &delivery {
                Delivery::Failed { .. } => new.undelivered = true,
                Delivery::Delivered if entry.reason == OutboundReason::Agent => {
                    new.undelivered = false
                }
                Delivery::Delivered => {}
            }
            let message = Message {
                id: message_id,
                conversation_id: id,
                seq: new.last_seq,
                author: entry.reason.author(),
                text: entry.text.clone(),
                at,
                external_id: None,
                reason: Some(entry.reason),
                delivery: Some(delivery.clone()),
                intent: entry.intent.clone(),
                agent: entry.agent.clone(),
                opens: false,
                handling: Handling::Normal,
                attachments: Vec::new(),
                original: None,
                options: entry.options.clone(),
                survey: entry.survey,
                rating: None,
                invites_comment: entry.invites_comment,
                survey_comment: false,
            };
            step.tree(MESSAGES)
                .insert(&keys::message(id, message.seq)[..], encode(&message)?);
            step_put_conversation(step, Some(&old), &new)?;
            Ok(Some(message))
        })
    }

    fn reschedule_delivery(
        &self,
        entry: &OutboxEntry,
        updated: &OutboxEntry,
    ) -> Result<(), StoreError> {
        let old_key = keys::outbox(entry);
        let new_key = keys::outbox(updated);
        let bytes = encode(updated)?;
        let writer = self.lock_writer();
        self.step(&writer, |step| {
            let outbox = step.tree(OUTBOX);
            if outbox.remove(&old_key[..])?.is_some() {
                outbox.insert(&new_key[..], bytes.as_slice());
            }
            Ok(())
        })
    }

    fn cancel_delivery(&self, entry: &OutboxEntry) -> Result<(), StoreError> {
        let writer = self.lock_writer();
        self.step(&writer, |step| {
            step.tree(OUTBOX).remove(keys::outbox(entry))?;
            Ok(())
        })
    }

    fn count_with_status(&self, status: ConversationStatus) -> Result<u64, StoreError> {
        let index = if status == ConversationStatus::Waiting {
            self.queue.iter()
        } else {
            let prefix = &keys::status(status, ConversationId(uuid::Uuid::nil()))[..1];
            self.status_index.scan_prefix(prefix)
        };
        let mut count = 0;
        for item in index.keys() {
            item.map_err(io)?;
            count += 1;
        }
        Ok(count)
    }

    fn outbox_holds(&self, entry: &OutboxEntry) -> Result<bool, StoreError> {
        self.outbox.contains_key(keys::outbox(entry)).map_err(io)
    }

    fn conversations_with_status(
        &self,
        status: ConversationStatus,
        limit: usize,
    ) -> Result<Vec<Conversation>, StoreError> {
        let ids: Vec<ConversationId> = if status == ConversationStatus::Waiting {
            self.waiting_queue(limit)?
        } else {
            let prefix = &keys::status(status, ConversationId(uuid::Uuid::nil()))[..1];
            self.status_index
                .scan_prefix(prefix)
                .keys()
                .rev()
                .take(limit)
                .map(|k| conversation_id_of("status index", k.map_err(io)?.get(1..).unwrap_or(&[])))
                .collect::<Result<_, _>>()?
        };
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(c) = self.conversation(id)? {
                found.push(c);
            }
        }
        Ok(found)
    }

    fn update_conversation(
        &self,
        id: ConversationId,
        change: Change<'_>,
    ) -> Result<Updated, UpdateError> {
        let now = Utc::now();
        let note_id = MessageId::new();
        let writer = self.lock_writer();
        let result = self.step(&writer, |step| {
            let (outbox, messages) = (step.tree(OUTBOX), step.tree(MESSAGES));
            let before = step_conversation(&step.tree(CONVERSATIONS), id)?
                .ok_or(StoreError::ConversationNotFound(id))?;
            let Decision { mut after, effects } = match change(&before) {
                Ok(decision) => decision,
                Err(refusal) => return Ok(Err(refusal)),
            };
            for entry in &effects.outbox {
                outbox.insert(&keys::outbox(entry)[..], encode(entry)?);
            }
            let note = match &effects.note {
                Some((agent, text)) => {
                    after.last_seq += 1;
                    let note = Message {
                        id: note_id,
                        conversation_id: id,
                        seq: after.last_seq,
                        author: Author::Note,
                        text: text.clone(),
                        at: now,
                        external_id: None,
                        reason: None,
                        delivery: None,
                        intent: None,
                        agent: Some(agent.clone()),
                        opens: false,
                        handling: Handling::Normal,
                        attachments: Vec::new(),
                        original: None,
                        options: Vec::new(),
                        survey: None,
                        rating: None,
                        invites_comment: false,
                        survey_comment: false,
                    };
                    messages.insert(&keys::message(id, note.seq)[..], encode(&note)?);
                    Some(note)
                }
                None => None,
            };
            after.updated_at = now;
            step_put_conversation(step, Some(&before), &after)?;
            Ok(Ok((
                Updated {
                    before,
                    after,
                    note,
                },
                effects.pickup,
            )))
        })?;
        let (updated, pickup) = result?;
        self.queue_ranks.update(&updated.after);
        if let Some(change) = StatusChange::between(&updated.before, &updated.after, now) {
            self.put_status_change(&change)?;
        }
        if let Some(pickup) = pickup {
            self.put_pickup(id, &pickup)?;
        }
        Ok(updated)
    }

    fn status_changes_since(&self, since: DateTime<Utc>) -> Result<Vec<StatusChange>, StoreError> {
        decode_since(&self.time_status_change, since, "status change")
    }

    fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn pickups_since(&self, since: DateTime<Utc>) -> Result<Vec<Pickup>, StoreError> {
        decode_since(&self.time_pickup, since, "pickup")
    }

    fn outbox_of(&self, id: ConversationId) -> Result<Vec<OutboxEntry>, StoreError> {
        let all: Vec<OutboxEntry> = self.decode_all(&self.outbox, "outbox entry")?;
        Ok(all
            .into_iter()
            .filter(|e| e.conversation_id == id)
            .collect())
    }

    fn put_agent(&self, agent: &Agent) -> Result<(), StoreError> {
        put_encoded(&self.username_agent, agent.username.as_bytes(), agent)
    }

    fn agent(&self, username: &str) -> Result<Option<Agent>, StoreError> {
        get_decoded(&self.username_agent, username.as_bytes(), "agent")
    }

    fn agents(&self) -> Result<Vec<Agent>, StoreError> {
        self.decode_all(&self.username_agent, "agent")
    }

    fn put_agent_session(
        &self,
        token_hash: &str,
        session: &AgentSession,
    ) -> Result<(), StoreError> {
        put_encoded(&self.tokenhash_agentsession, token_hash.as_bytes(), session)
    }

    fn agent_session(&self, token_hash: &str) -> Result<Option<AgentSession>, StoreError> {
        get_decoded(
            &self.tokenhash_agentsession,
            token_hash.as_bytes(),
            "agent session",
        )
    }

    fn delete_agent_session(&self, token_hash: &str) -> Result<(), StoreError> {
        self.tokenhash_agentsession
            .remove(token_hash.as_bytes())
            .map_err(io)?;
        Ok(())
    }

    fn put_canned(&self, canned: &CannedResponse) -> Result<(), StoreError> {
        put_encoded(&self.name_canned, canned.name.as_bytes(), canned)
    }

    fn canned(&self) -> Result<Vec<CannedResponse>, StoreError> {
        self.decode_all(&self.name_canned, "canned response")
    }

    fn delete_canned(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self
            .name_canned
            .remove(name.as_bytes())
            .map_err(io)?
            .is_some())
    }

    fn cursor(&self, name: &str) -> Result<Option<i64>, StoreError> {
        match self.meta.get(format!("cursor:{name}")).map_err(io)? {
            Some(b) => Ok(Some(u64_of("cursor", &b)? as i64)),
            None => Ok(None),
        }
    }

    fn set_cursor(&self, name: &str, value: i64) -> Result<(), StoreError> {
        self.meta
            .insert(format!("cursor:{name}"), &(value as u64).to_be_bytes())
            .map_err(io)?;
        Ok(())
    }

    fn seen_external(
        &self,
        channel: ChannelKind,
        external_id: &str,
    ) -> Result<Option<(ConversationId, u64)>, StoreError> {
        let key = keys::external_id(channel, external_id);
        let seen: Option<Seen> = get_decoded(&self.externalid_message, &key, "seen external id")?;
        Ok(seen.map(|s| (s.conversation_id, s.seq)))
    }

    fn conversation_by_ticket(&self, ticket: u64) -> Result<Option<Conversation>, StoreError> {
        match self
            .ticket_conversation
            .get(ticket.to_be_bytes())
            .map_err(io)?
        {
            Some(id) => self.conversation_by_key(&id),
            None => Ok(None),
        }
    }

    fn mark_bounced(
        &self,
        conversation: ConversationId,
        message: MessageId,
        error: &str,
    ) -> Result<Option<(Conversation, Message)>, StoreError> {
        let writer = self.lock_writer();
        // Found before the step: a step reads single keys.
        let mut found = None;
        for item in self
            .messages
            .scan_prefix(keys::conversation(conversation))
            .rev()
        {
            let (k, v) = item.map_err(io)?;
            let m: Message = decode("message", &v)?;
            if m.id == message && m.reason.is_some() {
                found = Some((k, m));
                break;
            }
        }
        let Some((key, mut bounced)) = found else {
            return Ok(None);
        };
        bounced.delivery = Some(Delivery::Failed {
            error: error.to_string(),
        });
        let encoded = encode(&bounced)?;
        let updated = self.step(&writer, |step| {
            let Some(old) = step_conversation(&step.tree(CONVERSATIONS), conversation)? else {
                return Ok(None);
            };
            let mut new = old.clone();
            new.undelivered = true;
            step.tree(MESSAGES).insert(&key[..], encoded.as_slice());
            step_put_conversation(step, Some(&old), &new)?;
            Ok(Some(new))
        })?;
        if let Some(c) = &updated {
            self.queue_ranks.update(c);
        }
        Ok(updated.map(|c| (c, bounced)))
    }

    fn put_blob(&self, bytes: &[u8]) -> Result<String, StoreError> {
        let hash = crate::secrets::content_hash(bytes);
        self.hash_blob.insert(hash.as_bytes(), bytes).map_err(io)?;
        Ok(hash)
    }

    fn blob(&self, hash: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .hash_blob
            .get(hash.as_bytes())
            .map_err(io)?
            .map(|v| v.to_vec()))
    }

    fn record_auto_reply(
        &self,
        customer: &CustomerAddress,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut key = keys::autoreply_prefix(customer);
        key.extend_from_slice(&(at.timestamp_millis().max(0) as u64).to_be_bytes());
        key.extend_from_slice(MessageId::new().0.as_bytes());
        self.customer_autoreply.insert(key, &[][..]).map_err(io)?;
        Ok(())
    }

    fn auto_replies_since(
        &self,
        customer: &CustomerAddress,
        since: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let prefix = keys::autoreply_prefix(customer);
        let mut from = prefix.clone();
        from.extend_from_slice(&(since.timestamp_millis().max(0) as u64).to_be_bytes());
        // Older marks no longer count: drop them on the way.
        for item in self.customer_autoreply.range(prefix.clone()..from.clone()) {
            let (k, _) = item.map_err(io)?;
            self.customer_autoreply.remove(k).map_err(io)?;
        }
        let mut count = 0;
        for item in self.customer_autoreply.range(from..) {
            let (k, _) = item.map_err(io)?;
            if !k.starts_with(&prefix) {
                break;
            }
            count += 1;
        }
        Ok(count)
    }

    fn create_web_session(&self, session: &WebSession) -> Result<(), StoreError> {
        put_encoded(&self.token_websession, session.token.as_bytes(), session)
    }

    fn web_session(&self, token: &str) -> Result<Option<WebSession>, StoreError> {
        get_decoded(&self.token_websession, token.as_bytes(), "web session")
    }

    fn export(
        &self,
        sink: &mut dyn FnMut(ExportRecord) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        sink(ExportRecord::Schema {
            version: SCHEMA_VERSION,
            next_ticket: self.next_ticket()?,
        })?;
        for v in self.token_websession.iter().values() {
            sink(ExportRecord::WebSession(decode(
                "web session",
                &v.map_err(io)?,
            )?))?;
        }
        for v in self.conversations.iter().values() {
            sink(ExportRecord::Conversation(decode(
                "conversation",
                &v.map_err(io)?,
            )?))?;
        }
        for v in self.messages.iter().values() {
            sink(ExportRecord::Message(decode("message", &v.map_err(io)?)?))?;
        }
        for item in self.externalid_message.iter() {
            let (k, v) = item.map_err(io)?;
            let seen: Seen = decode("seen external id", &v)?;
            let (channel, external_id) = split_external_key(&k)?;
            sink(ExportRecord::SeenExternalId {
                channel,
                external_id,
                conversation_id: seen.conversation_id,
                seq: seen.seq,
            })?;
        }
        for turn in self.pending_turns()? {
            sink(ExportRecord::PendingTurn(turn))?;
        }
        for v in self.outbox.iter().values() {
            sink(ExportRecord::Outbox(decode(
                "outbox entry",
                &v.map_err(io)?,
            )?))?;
        }
        for v in self.time_pickup.iter().values() {
            sink(ExportRecord::Pickup(decode("pickup", &v.map_err(io)?)?))?;
        }
        for v in self.time_status_change.iter().values() {
            sink(ExportRecord::StatusChange(decode(
                "status change",
                &v.map_err(io)?,
            )?))?;
        }
        for item in self.hash_blob.iter() {
            let (k, v) = item.map_err(io)?;
            sink(ExportRecord::Blob {
                hash: String::from_utf8_lossy(&k).into_owned(),
                base64: data_encoding::BASE64.encode(&v),
            })?;
        }
        Ok(())
    }

    fn import(&self, record: ExportRecord) -> Result<(), StoreError> {
        // These writes are not steps: the last step must never be applied
        // over them.
        let _writer = self.lock_writer();
        step::forget(&self.last_step)?;
        match record {
            ExportRecord::Schema {
                version,
                next_ticket,
            } => {
                if version > SCHEMA_VERSION {
                    return Err(StoreError::NewerSchema {
                        found: version,
                        supported: SCHEMA_VERSION,
                    });
                }
                let current = self.next_ticket()?;
                self.meta
                    .insert(META_NEXT_TICKET, &next_ticket.max(current).to_be_bytes())
                    .map_err(io)?;
            }
            ExportRecord::Conversation(c) => self.put_conversation_plain(&c)?,
            ExportRecord::Message(m) => {
                self.messages
                    .insert(keys::message(m.conversation_id, m.seq), encode(&m)?)
                    .map_err(io)?;
            }
            ExportRecord::SeenExternalId {
                channel,
                external_id,
                conversation_id,
                seq,
            } => {
                let seen = Seen {
                    conversation_id,
                    seq,
                };
                self.externalid_message
                    .insert(keys::external_id(channel, &external_id), encode(&seen)?)
                    .map_err(io)?;
            }
            ExportRecord::PendingTurn(t) => {
                self.pending_turns
                    .insert(keys::message(t.conversation_id, t.seq), &[][..])
                    .map_err(io)?;
            }
            ExportRecord::Outbox(e) => {
                self.outbox
                    .insert(keys::outbox(&e), encode(&e)?)
                    .map_err(io)?;
            }
            ExportRecord::WebSession(s) => self.create_web_session(&s)?,
            ExportRecord::Agent(a) => self.put_agent(&a)?,
            ExportRecord::Canned(c) => self.put_canned(&c)?,
            ExportRecord::Pickup(p) => {
                // The conversation part of the key only keeps keys apart.
                self.put_pickup(ConversationId::new(), &p)?;
            }
            ExportRecord::StatusChange(change) => self.put_status_change(&change)?,
            ExportRecord::Blob { hash, base64 } => {
                let bytes = data_encoding::BASE64
                    .decode(base64.as_bytes())
                    .map_err(|e| StoreError::Corrupt {
                        what: format!("blob {hash}"),
                        detail: e.to_string(),
                    })?;
                self.hash_blob.insert(hash.as_bytes(), bytes).map_err(io)?;
            }
        }
        Ok(())
    }
}

fn split_external_key(key: &[u8]) -> Result<(ChannelKind, String), StoreError> {
    let corrupt = || StoreError::Corrupt {
        what: "seen external id".into(),
        detail: "malformed key".into(),
    };
    let zero = key.iter().position(|b| *b == 0).ok_or_else(corrupt)?;
    let channel = match &key[..zero] {
        b"web" => ChannelKind::Web,
        b"telegram" => ChannelKind::Telegram,
        b"email" => ChannelKind::Email,
        _ => return Err(corrupt()),
    };
    let id = String::from_utf8(key[zero + 1..].to_vec()).map_err(|_| corrupt())?;
    Ok((channel, id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::intake::take_in;

    /// A step that a crash cut short right after its record (none of its
    /// writes made it) is applied when the store opens again.
    #[test]
    fn a_step_cut_short_by_a_crash_is_applied_at_open() {
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
            let accepted = store.accept(&first, &new, take_in).expect("accept");
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
                    .expect("read")
                    .map(|c| c.last_seq),
                Some(1),
                "the step's writes were not applied yet"
            );
            (conversation.id, second)
        };
        let store = SledStore::open(dir.path()).expect("reopen");
        let conversation = store.conversation(id).expect("read").expect("conversation");
        assert_eq!(conversation.last_seq, 2);
        let read = store
            .message(id, 2)
            .expect("read")
            .expect("the second message");
        assert_eq!(read.text, second.text);
        assert!(store.last_step.is_empty(), "a replayed step is forgotten");
    }
}
