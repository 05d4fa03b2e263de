//! The `Store` trait: every durable fact the gateway keeps, in domain terms.
//!
//! Channel adapters, the dispatcher, the outbox and the HTTP layer talk to
//! `Arc<dyn Store>`; the sled backend lives in [`sled`] and no sled type leaves
//! this folder. Writes become durable with [`Store::sync`], which joins a
//! group commit (one flush for every writer waiting at that moment), so
//! callers write, then `sync().await`, then confirm upstream (promise 1).

mod commit;
mod keys;
mod queue_ranks;
pub mod sled;
mod step;

/// The group commit, public so benchmarks can run raw sled behind it.
pub use commit::GroupCommit;

use crate::model::{
    Agent, AgentSession, CannedResponse, ChannelKind, Conversation, ConversationId,
    ConversationStatus, CustomerAddress, Delivery, InboundMessage, Message, MessageId, OutboxEntry,
    Refusal, WebSession,
};
use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

/// The schema version written by this build. Opening a store written with a
/// newer version is refused; older versions are migrated at open.
///
/// Version 4 writes changes as steps (`step.rs`) instead of sled
/// transactions: an older build would not complete a step a crash cut
/// short, so it must not open a version 4 store.
pub const SCHEMA_VERSION: u32 = 4;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The disk or the database failed; writes are not durable.
    #[error("storage failure: {0}")]
    Io(String),
    /// Stored bytes did not decode: a bug or corruption.
    #[error("stored data is corrupt at {what}: {detail}")]
    Corrupt { what: String, detail: String },
    #[error(
        "the data was written by schema version {found}, newer than this build's {supported}; upgrade frontdesk"
    )]
    NewerSchema { found: u32, supported: u32 },
    #[error("conversation {0} not found")]
    ConversationNotFound(ConversationId),
}

/// How a new conversation starts out when a customer first writes.
#[derive(Debug, Clone)]
pub struct NewConversation {
    pub priority: u8,
    pub locale: String,
    pub segment: Option<String>,
    /// The customer's tags, from their earlier conversation.
    pub tags: Vec<String>,
}

/// What [`Store::accept`] did with an inbound message.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub conversation: Conversation,
    pub message: Message,
    /// The channel id was seen before: nothing was written, and `message`
    /// is the earlier copy.
    pub duplicate: bool,
}

/// A customer message whose automatic reply has not been decided yet.
/// Written with the message and removed with the reply, so a crash in
/// between is redone at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingTurn {
    pub conversation_id: ConversationId,
    pub seq: u64,
}

/// The dispatcher's decision for one customer turn, applied atomically.
#[derive(Debug, Clone)]
pub struct TurnOutcome {
    pub turn: PendingTurn,
    /// The locale the reply was rendered in, remembered for the next turn.
    pub locale: String,
    /// Put the conversation in the waiting queue (if not already there).
    pub handoff: bool,
    /// Automatic replies to deliver. Dropped if a human took the
    /// conversation in the meantime.
    pub replies: Vec<OutboxEntry>,
    /// The promise that starts when this hand-off puts the conversation in
    /// the queue (`[sla]`), if one applies.
    pub sla: Option<crate::model::Sla>,
}

/// What [`Store::record_turn`] ended up doing.
#[derive(Debug, Clone)]
pub struct TurnRecorded {
    pub conversation: Conversation,
    /// False when a human owns the conversation and the replies were dropped.
    pub replies_queued: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// The conversation rules refused the change (the caller's fault).
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What else happens, atomically, with a conversation change.
#[derive(Debug, Clone, Default)]
pub struct Effects {
    /// Outbound messages to queue (an agent's reply, the bot's answer).
    pub outbox: Vec<OutboxEntry>,
    /// An internal note to append: (agent, text).
    pub note: Option<(String, String)>,
    /// A waiting conversation taken by an agent, for the pickup report.
    pub pickup: Option<Pickup>,
}

/// A conversation change the conversation rules decided: the state it
/// moves to and what goes with it. The store writes both in one step.
#[derive(Debug, Clone)]
pub struct Decision {
    pub after: Conversation,
    pub effects: Effects,
}

/// The result of [`Store::update_conversation`].
#[derive(Debug, Clone)]
pub struct Updated {
    pub before: Conversation,
    pub after: Conversation,
    /// The note appended, if any.
    pub note: Option<Message>,
}

/// A conversation change: given the current state, the decision or a
/// refusal. Called inside the store's atomic step, perhaps more than once.
pub type Change<'a> = &'a (dyn Fn(&Conversation) -> Result<Decision, Refusal> + Sync);

/// What the store knows when a customer message arrives, read inside the
/// intake step.
#[derive(Debug, Clone, Copy, Default)]
pub struct IntakeFacts<'a> {
    /// The conversation the message joins, if it exists.
    pub existing: Option<&'a Conversation>,
    /// The last transcript entry of `existing`.
    pub last_message: Option<&'a Message>,
    /// For a message that joins no conversation: the id and ticket number
    /// the store chose for the one it opens.
    pub opened: Option<(ConversationId, u64)>,
}

/// The rule for what a customer message does to its conversation
/// (`conversation::intake::take_in`): the conversation after it and the
/// transcript entry it becomes.
pub type IntakeRule =
    fn(&InboundMessage, &NewConversation, IntakeFacts<'_>, MessageId) -> (Conversation, Message);

/// The rule for what the bot's decision on a turn does
/// (`conversation::turn::after_turn`); `None` leaves the conversation as
/// it is and drops the replies.
pub type TurnRule = fn(&Conversation, &TurnOutcome, DateTime<Utc>) -> Option<Decision>;

/// An agent taking a waiting conversation: when, and how long it waited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pickup {
    pub at: DateTime<Utc>,
    pub waited_ms: u64,
}

/// A conversation changing state or owner: the event log the KPIs
/// (resolution time, first contact resolution, handling time) are read from.
/// Recorded by the store itself whenever a change, a turn or an intake
/// moves a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    pub at: DateTime<Utc>,
    pub conversation_id: ConversationId,
    pub from: ConversationStatus,
    pub to: ConversationStatus,
    /// The agent owning it after the change; for a resolution, who owned
    /// it when it was resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
}

impl StatusChange {
    /// The change from `before` to `after`, if the status or owner moved.
    pub fn between(before: &Conversation, after: &Conversation, at: DateTime<Utc>) -> Option<Self> {
        (before.status != after.status || before.assigned_agent != after.assigned_agent).then(
            || Self {
                at,
                conversation_id: after.id,
                from: before.status,
                to: after.status,
                agent: after.assigned_agent.clone(),
            },
        )
    }
}

/// One line of an export: the whole store is a sequence of these.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ExportRecord {
    Schema {
        version: u32,
        next_ticket: u64,
    },
    Conversation(Conversation),
    Message(Message),
    /// An inbound channel id already taken in (keeps intake idempotent
    /// across an export/import).
    SeenExternalId {
        channel: ChannelKind,
        external_id: String,
        conversation_id: ConversationId,
        seq: u64,
    },
    PendingTurn(PendingTurn),
    Outbox(OutboxEntry),
    WebSession(WebSession),
    Agent(Agent),
    Canned(CannedResponse),
    Pickup(Pickup),
    StatusChange(StatusChange),
    /// Stored content (attachments, raw mail), base64.
    Blob {
        hash: String,
        base64: String,
    },
}

/// Durable state of the gateway. Methods are synchronous and fast (in-memory
/// for sled) except [`Store::sync`], which waits for durability.
pub trait Store: Send + Sync + 'static {
    /// Resolves once every write made before the call is on disk.
    fn sync(&self) -> BoxFuture<'static, Result<(), StoreError>>;

    /// Why the store can no longer make writes durable (a full or failing
    /// disk), once that happened; it stays so until the store is opened
    /// again.
    fn failure(&self) -> Option<String>;

    /// Takes in a customer message in one atomic step: drop it if its
    /// `(channel, external_id)` was seen, find the conversation it joins
    /// (or open one), let `rule` decide what the message does to it, write
    /// both and mark the turn pending. Not durable until [`Store::sync`].
    fn accept(
        &self,
        inbound: &InboundMessage,
        new: &NewConversation,
        rule: IntakeRule,
    ) -> Result<Accepted, StoreError>;

    fn conversation(&self, id: ConversationId) -> Result<Option<Conversation>, StoreError>;

    fn conversation_count(&self) -> Result<u64, StoreError>;

    fn conversation_of(
        &self,
        customer: &CustomerAddress,
    ) -> Result<Option<Conversation>, StoreError>;

    /// Transcript entries with `seq > after`, oldest first, at most `limit`.
    fn messages_after(
        &self,
        id: ConversationId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Message>, StoreError>;

    fn message(&self, id: ConversationId, seq: u64) -> Result<Option<Message>, StoreError>;

    /// Turns accepted but not yet answered, oldest first.
    fn pending_turns(&self) -> Result<Vec<PendingTurn>, StoreError>;

    /// Applies what `rule` decides for a turn's outcome and clears the
    /// pending mark, atomically.
    fn record_turn(
        &self,
        outcome: &TurnOutcome,
        rule: TurnRule,
    ) -> Result<TurnRecorded, StoreError>;

    /// Waiting conversations, most urgent first: priority, then the
    /// unanswered first-response deadline (else the time it was queued).
    fn waiting_queue(&self, limit: usize) -> Result<Vec<ConversationId>, StoreError>;

    /// 1-based place in the waiting queue a conversation has, or would have
    /// if it were queued now with its priority.
    fn queue_position(&self, conversation: &Conversation) -> Result<u64, StoreError>;

    /// Outbox entries due at or before `now`, earliest first.
    fn due_outbox(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<OutboxEntry>, StoreError>;

    /// The due entries that come after `after` (the last of a page).
    fn due_outbox_after(
        &self,
        after: &OutboxEntry,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, StoreError>;

    /// When the earliest outbox entry is due, if any.
    fn next_outbox_due(&self) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Removes a delivered (or permanently failed) entry and appends it to
    /// the transcript. `None` if the entry was already gone.
    fn finish_delivery(
        &self,
        entry: &OutboxEntry,
        delivery: Delivery,
        at: DateTime<Utc>,
    ) -> Result<Option<Message>, StoreError>;

    /// Moves an entry to a later due time (after a transient failure).
    fn reschedule_delivery(
        &self,
        entry: &OutboxEntry,
        updated: &OutboxEntry,
    ) -> Result<(), StoreError>;

    /// Drops an entry without delivering it.
    fn cancel_delivery(&self, entry: &OutboxEntry) -> Result<(), StoreError>;

    /// Whether `entry` is still waiting in the outbox as it was read: not
    /// delivered, given up, rescheduled or cancelled since.
    fn outbox_holds(&self, entry: &OutboxEntry) -> Result<bool, StoreError>;

    /// How many conversations have `status`, counted from the indexes
    /// without reading a conversation.
    fn count_with_status(&self, status: ConversationStatus) -> Result<u64, StoreError>;

    /// Conversations with `status`, at most `limit`: the waiting ones in
    /// queue order, others newest first.
    fn conversations_with_status(
        &self,
        status: ConversationStatus,
        limit: usize,
    ) -> Result<Vec<Conversation>, StoreError>;

    /// Changes a conversation atomically with the effects `change` decides.
    /// Changes never interleave with each other or with intake and turns,
    /// so of two agents claiming at once, the second sees the first's
    /// claim.
    fn update_conversation(
        &self,
        id: ConversationId,
        change: Change<'_>,
    ) -> Result<Updated, UpdateError>;

    /// Pickups (a waiting conversation taken by an agent) since `since`,
    /// oldest first, as [`Effects::pickup`] recorded them.
    fn pickups_since(&self, since: DateTime<Utc>) -> Result<Vec<Pickup>, StoreError>;

    /// Status and owner changes since `since`, oldest first. Recorded by
    /// [`Store::accept`], [`Store::record_turn`] and
    /// [`Store::update_conversation`].
    fn status_changes_since(&self, since: DateTime<Utc>) -> Result<Vec<StatusChange>, StoreError>;

    /// Outbox entries of one conversation not yet delivered.
    fn outbox_of(&self, id: ConversationId) -> Result<Vec<OutboxEntry>, StoreError>;

    fn put_agent(&self, agent: &Agent) -> Result<(), StoreError>;

    fn agent(&self, username: &str) -> Result<Option<Agent>, StoreError>;

    fn agents(&self) -> Result<Vec<Agent>, StoreError>;

    /// Stores a sign-in under the hash of its token.
    fn put_agent_session(&self, token_hash: &str, session: &AgentSession)
    -> Result<(), StoreError>;

    fn agent_session(&self, token_hash: &str) -> Result<Option<AgentSession>, StoreError>;

    fn delete_agent_session(&self, token_hash: &str) -> Result<(), StoreError>;

    fn put_canned(&self, canned: &CannedResponse) -> Result<(), StoreError>;

    fn canned(&self) -> Result<Vec<CannedResponse>, StoreError>;

    /// False if there was none by that name.
    fn delete_canned(&self, name: &str) -> Result<bool, StoreError>;

    /// A channel's saved position (the Telegram update offset).
    fn cursor(&self, name: &str) -> Result<Option<i64>, StoreError>;

    /// Saves a channel's position. Not durable until [`Store::sync`].
    fn set_cursor(&self, name: &str, value: i64) -> Result<(), StoreError>;

    /// Where an inbound channel id already taken in was stored:
    /// (conversation, seq).
    fn seen_external(
        &self,
        channel: ChannelKind,
        external_id: &str,
    ) -> Result<Option<(ConversationId, u64)>, StoreError>;

    fn conversation_by_ticket(&self, ticket: u64) -> Result<Option<Conversation>, StoreError>;

    /// Marks a delivered outbound message as failed after all (an email
    /// bounce), flagging the conversation for agents. `None` if there is no
    /// such outbound message.
    fn mark_bounced(
        &self,
        conversation: ConversationId,
        message: MessageId,
        error: &str,
    ) -> Result<Option<(Conversation, Message)>, StoreError>;

    /// Stores content under its hash and returns the hash. Not durable
    /// until [`Store::sync`].
    fn put_blob(&self, bytes: &[u8]) -> Result<String, StoreError>;

    fn blob(&self, hash: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Counts one automatic reply to `customer` (the per-sender cap of
    /// promise 6). Not exported: it only matters for a day.
    fn record_auto_reply(
        &self,
        customer: &CustomerAddress,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Automatic replies to `customer` since `since`.
    fn auto_replies_since(
        &self,
        customer: &CustomerAddress,
        since: DateTime<Utc>,
    ) -> Result<usize, StoreError>;

    fn create_web_session(&self, session: &WebSession) -> Result<(), StoreError>;

    fn web_session(&self, token: &str) -> Result<Option<WebSession>, StoreError>;

    /// Every record, in an order that [`Store::import`] accepts.
    fn export(
        &self,
        sink: &mut dyn FnMut(ExportRecord) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;

    /// Writes one exported record (into an empty store).
    fn import(&self, record: ExportRecord) -> Result<(), StoreError>;
}
