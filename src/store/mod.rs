//! The store: every durable fact the gateway keeps, in domain terms.
//!
//! The interface is seven async traits by concern ([`ConversationStore`],
//! [`OutboxStore`], [`AccountStore`], [`ChannelStateStore`],
//! [`ReportStore`], [`NoticeStore`], [`CustomerStore`]) that [`Store`] puts together with
//! durability, failure and export. Channel adapters, the dispatcher, the outbox and the HTTP
//! layer talk to `Arc<dyn Store>`; the sled backend lives in [`sled`] and
//! no sled type leaves this folder. The store keeps facts: what a change
//! does is decided by the conversation rules it is handed.
//!
//! # Durability
//!
//! A write is visible to every reader as soon as its call returns, and
//! durable once a [`Store::sync`] that started after it has returned: a
//! backend may group the writes of many callers into one flush (sled's
//! group commit) or make each call durable by itself (a database that
//! commits each call's transaction, where `sync` has nothing left to do).
//! So callers write, then `sync().await`, then confirm upstream (promise 1).

mod accounts;
mod channel_state;
mod commit;
mod conversations;
pub mod customers;
mod keys;
mod notices;
mod outbox;
pub mod postgres;
mod queue_ranks;
mod reports;
pub mod sled;
mod step;

pub use accounts::AccountStore;
pub use channel_state::ChannelStateStore;
pub use conversations::ConversationStore;
pub use customers::CustomerStore;
pub use notices::NoticeStore;
pub use outbox::{LEASE_RENEWAL, OUTBOX_LEASE, OutboxBacklog, OutboxStore};
pub use reports::ReportStore;

/// `[store]`: where the desk keeps its state. The embedded sled store (the
/// default, in `[server] data_dir`) serves one instance; PostgreSQL serves
/// several.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(tag = "backend", rename_all = "lowercase")]
pub enum StoreConfig {
    Sled(SledConfig),
    Postgres(postgres::PostgresConfig),
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig::Sled(SledConfig {})
    }
}

/// The sled store takes no settings of its own: its folder is `[server]
/// data_dir`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SledConfig {}

/// The group commit, public so benchmarks can run raw sled behind it.
pub use commit::{GroupCommit, SharedCause};

use crate::model::{
    Agent, CannedResponse, ChannelKind, Conversation, ConversationId, ConversationStatus,
    InboundMessage, Message, MessageId, OutboxEntry, Refusal, WebSession,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The schema version written by this build. Opening a store written with a
/// newer version is refused; older versions are migrated at open.
///
/// Version 4 writes changes as steps (`step.rs`) instead of sled
/// transactions: an older build would not complete a step a crash cut
/// short, so it must not open a version 4 store.
pub const SCHEMA_VERSION: u32 = 4;

/// The cause of a storage failure, kept for the error chain.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The disk or the database failed; writes are not durable.
    #[error("storage failure: {0}")]
    Io(#[source] Cause),
    /// The store could not be opened (locked by another process, damaged).
    #[error(
        "cannot open the store at {}: {source}. If another frontdesk runs on this folder, stop it; \
         if the data is damaged, move the folder aside and restore the last export with `frontdesk import`",
        path.display()
    )]
    Open {
        path: std::path::PathBuf,
        #[source]
        source: Cause,
    },
    /// Another process holds the sled folder (a running gateway).
    #[error(
        "{} is in use by another process: a gateway that serves no control socket (an older \
         build), or another command; let it finish or stop it",
        path.display()
    )]
    InUse { path: std::path::PathBuf },
    /// A flush failed. Every writer that waited on it gets the same cause,
    /// so it is shared.
    #[error("flushing the store failed: {0}")]
    Flush(#[source] SharedCause),
    /// The thread that makes writes durable is gone (the store is closing).
    #[error("the store's commit thread has stopped")]
    CommitStopped,
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
    /// The team this hand-off puts the conversation in the queue of.
    pub route: Option<crate::model::Route>,
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
pub type IntakeRule<'r> = &'r (
        dyn Fn(
    &InboundMessage,
    &NewConversation,
    IntakeFacts<'_>,
    MessageId,
) -> (Conversation, Message)
            + Sync
    );

/// The rule for what the bot's decision on a turn does
/// (`conversation::turn::after_turn`); `None` leaves the conversation as
/// it is and drops the replies.
pub type TurnRule<'r> =
    &'r (dyn Fn(&Conversation, &TurnOutcome, DateTime<Utc>) -> Option<Decision> + Sync);

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
    Audit(crate::model::AuditEntry),
    /// Stored content (attachments, raw mail), base64.
    Blob {
        hash: String,
        base64: String,
    },
}

/// Durable state of the gateway: every concern's store, plus durability,
/// failure and the export that moves a desk between backends.
#[async_trait::async_trait]
pub trait Store:
    ConversationStore
    + OutboxStore
    + AccountStore
    + ChannelStateStore
    + ReportStore
    + CustomerStore
    + NoticeStore
    + 'static
{
    /// Which backend this is ("sled", "postgres"), for probes and logs.
    fn backend(&self) -> &'static str;

    /// Takes the job `name` for this instance, if no other instance holds
    /// it: jobs that must run once per desk (mail polling, the SLA
    /// watcher) run only while their [`Leadership`] is held.
    async fn lead(&self, name: &str) -> Result<Option<Leadership>, StoreError>;

    /// Resolves once every write that returned before the call is durable.
    async fn sync(&self) -> Result<(), StoreError>;

    /// Why the store can no longer make writes durable (a full or failing
    /// disk), once that happened; it stays so until the store is opened
    /// again.
    fn failure(&self) -> Option<String>;

    /// Every record as of one moment (a consistent snapshot, taken while
    /// the gateway serves), in an order that [`Store::import`] accepts. On
    /// sled, changes wait while it is read; PostgreSQL reads one snapshot.
    async fn export(
        &self,
        sink: &mut (dyn FnMut(ExportRecord) -> Result<(), StoreError> + Send),
    ) -> Result<(), StoreError>;

    /// Writes one exported record (into an empty store).
    async fn import(&self, record: ExportRecord) -> Result<(), StoreError>;

    /// Whether erased data still sits in the store's files until it is
    /// opened again (sled's log; see `sled::compact`). The gateway then
    /// restarts itself to remove it.
    fn compaction_due(&self) -> bool {
        false
    }
}

/// A hold on a job that must run on one instance of the desk at a time (a
/// mailbox poller, the SLA watcher). Dropping it lets another instance
/// take the job.
pub struct Leadership {
    keeper: Box<dyn KeepLeadership>,
}

/// What keeps a [`Leadership`]: it tells when the hold is lost (the
/// database connection holding it died).
#[async_trait::async_trait]
pub trait KeepLeadership: Send {
    /// Resolves once the hold is lost; never, for a hold that cannot be.
    async fn lost(&mut self);
}

/// A hold nothing can take away: the only instance (the sled store).
struct Sole;

#[async_trait::async_trait]
impl KeepLeadership for Sole {
    async fn lost(&mut self) {
        std::future::pending::<()>().await;
    }
}

impl Leadership {
    pub fn new(keeper: Box<dyn KeepLeadership>) -> Self {
        Self { keeper }
    }

    /// The hold of the only instance there is.
    pub fn sole() -> Self {
        Self::new(Box::new(Sole))
    }

    /// Resolves once the hold is lost.
    pub async fn lost(&mut self) {
        self.keeper.lost().await;
    }
}
