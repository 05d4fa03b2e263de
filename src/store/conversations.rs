//! Conversations and their transcripts: intake, the bot's turns, agents'
//! changes, the waiting queue. Every change is one atomic step whose
//! decision comes from the conversation rules (`crate::conversation`).

use super::{
    Accepted, Change, IntakeRule, NewConversation, PendingTurn, StoreError, TurnOutcome,
    TurnRecorded, TurnRule, UpdateError, Updated,
};
use crate::model::{
    Conversation, ConversationId, ConversationStatus, CustomerAddress, InboundMessage, Message,
    MessageId,
};

#[async_trait::async_trait]
pub trait ConversationStore: Send + Sync {
    /// Takes in a customer message in one atomic step: drop it if its
    /// `(channel, external_id)` was seen, find the conversation it joins
    /// (or open one), let `rule` decide what the message does to it, write
    /// both and mark the turn pending. Not durable until [`Store::sync`].
    async fn accept(
        &self,
        inbound: &InboundMessage,
        new: &NewConversation,
        rule: IntakeRule<'_>,
    ) -> Result<Accepted, StoreError>;

    async fn conversation(&self, id: ConversationId) -> Result<Option<Conversation>, StoreError>;

    async fn conversation_count(&self) -> Result<u64, StoreError>;

    async fn conversation_of(
        &self,
        customer: &CustomerAddress,
    ) -> Result<Option<Conversation>, StoreError>;

    async fn conversation_by_ticket(&self, ticket: u64)
    -> Result<Option<Conversation>, StoreError>;

    /// Transcript entries with `seq > after`, oldest first, at most `limit`.
    async fn messages_after(
        &self,
        id: ConversationId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Message>, StoreError>;

    async fn message(&self, id: ConversationId, seq: u64) -> Result<Option<Message>, StoreError>;

    /// Turns accepted but not yet answered, oldest first.
    async fn pending_turns(&self) -> Result<Vec<PendingTurn>, StoreError>;

    /// Applies what `rule` decides for a turn's outcome and clears the
    /// pending mark, atomically. A turn no longer pending (recorded
    /// already, by this instance or another) changes nothing and reports
    /// no replies queued.
    async fn record_turn(
        &self,
        outcome: &TurnOutcome,
        rule: TurnRule<'_>,
    ) -> Result<TurnRecorded, StoreError>;

    /// Waiting conversations, most urgent first: priority, then the
    /// unanswered first-response deadline (else the time it was queued).
    async fn waiting_queue(&self, limit: usize) -> Result<Vec<ConversationId>, StoreError>;

    /// 1-based place in the waiting queue a conversation has, or would have
    /// if it were queued now with its priority, among those waiting for
    /// the same team (or, without one, in the shared queue).
    async fn queue_position(&self, conversation: &Conversation) -> Result<u64, StoreError>;

    /// How many conversations have `status`, counted from the indexes
    /// without reading a conversation.
    async fn count_with_status(&self, status: ConversationStatus) -> Result<u64, StoreError>;

    /// Conversations with `status`, at most `limit`: the waiting ones in
    /// queue order, others newest first.
    async fn conversations_with_status(
        &self,
        status: ConversationStatus,
        limit: usize,
    ) -> Result<Vec<Conversation>, StoreError>;

    /// Changes a conversation atomically with the effects `change` decides.
    /// Changes never interleave with each other or with intake and turns,
    /// so of two agents claiming at once, the second sees the first's
    /// claim.
    async fn update_conversation(
        &self,
        id: ConversationId,
        change: Change<'_>,
    ) -> Result<Updated, UpdateError>;

    /// Marks a delivered outbound message as failed after all (an email
    /// bounce), flagging the conversation for agents. `None` if there is no
    /// such outbound message.
    async fn mark_bounced(
        &self,
        conversation: ConversationId,
        message: MessageId,
        error: &str,
    ) -> Result<Option<(Conversation, Message)>, StoreError>;
}
