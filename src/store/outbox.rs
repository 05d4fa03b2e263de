//! The durable outbox: entries ordered by due time, delivered, rescheduled
//! or dropped (promise 5).

use super::StoreError;
use crate::model::{ConversationId, Delivery, Message, OutboxEntry};
use chrono::{DateTime, Utc};

#[async_trait::async_trait]
pub trait OutboxStore: Send + Sync {
    /// Outbox entries due at or before `now`, earliest first.
    async fn due_outbox(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, StoreError>;

    /// The due entries that come after `after` (the last of a page).
    async fn due_outbox_after(
        &self,
        after: &OutboxEntry,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, StoreError>;

    /// When the earliest outbox entry is due, if any.
    async fn next_outbox_due(&self) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Removes a delivered (or permanently failed) entry and appends it to
    /// the transcript. `None` if the entry was already gone.
    async fn finish_delivery(
        &self,
        entry: &OutboxEntry,
        delivery: Delivery,
        at: DateTime<Utc>,
    ) -> Result<Option<Message>, StoreError>;

    /// Moves an entry to a later due time (after a transient failure).
    async fn reschedule_delivery(
        &self,
        entry: &OutboxEntry,
        updated: &OutboxEntry,
    ) -> Result<(), StoreError>;

    /// Drops an entry without delivering it.
    async fn cancel_delivery(&self, entry: &OutboxEntry) -> Result<(), StoreError>;

    /// Whether `entry` is still waiting in the outbox as it was read: not
    /// delivered, given up, rescheduled or cancelled since.
    async fn outbox_holds(&self, entry: &OutboxEntry) -> Result<bool, StoreError>;

    /// Outbox entries of one conversation not yet delivered.
    async fn outbox_of(&self, id: ConversationId) -> Result<Vec<OutboxEntry>, StoreError>;
}
