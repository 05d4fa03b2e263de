//! The durable outbox: entries ordered by due time, delivered, rescheduled
//! or dropped (promise 5).
//!
//! Several instances may share one outbox. An instance takes an entry with
//! [`OutboxStore::lease_delivery`] before it sends it; the lease lasts
//! [`OUTBOX_LEASE`] and [`OutboxStore::renew_outbox_leases`] extends every
//! lease this instance holds, so a living instance keeps its entries for
//! as long as their sends take, and a dead one loses them within
//! [`OUTBOX_LEASE`]. Finishing, rescheduling or dropping an entry changes
//! it only while this instance still holds its lease, so an entry taken
//! over is never recorded twice. One store in one process has nobody to
//! share with: its leases always succeed.

use super::StoreError;
use crate::model::{ConversationId, Delivery, Message, OutboxEntry};
use chrono::{DateTime, Utc};
use std::time::Duration;

/// How long a lease on an outbox entry lasts unless renewed.
pub const OUTBOX_LEASE: Duration = Duration::from_secs(15);

/// How often an instance renews its leases: well within [`OUTBOX_LEASE`].
pub const LEASE_RENEWAL: Duration = Duration::from_secs(5);

#[async_trait::async_trait]
pub trait OutboxStore: Send + Sync {
    /// Outbox entries due at or before `now`, earliest first, except those
    /// another instance holds.
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

    /// How many deliveries wait (due or not) and the earliest due time of
    /// any, leased or not, for the metrics.
    async fn outbox_backlog(&self) -> Result<OutboxBacklog, StoreError>;

    /// Removes a delivered (or permanently failed) entry and appends it to
    /// the transcript. `None` if the entry was already gone, or its lease
    /// lost.
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

    /// Takes `entry` for this instance to deliver. False if it is no
    /// longer waiting as it was read (delivered, given up, rescheduled or
    /// cancelled since), or another instance holds it or another entry of
    /// its conversation (replies go out in order).
    async fn lease_delivery(&self, entry: &OutboxEntry) -> Result<bool, StoreError>;

    /// Extends every lease this instance holds by [`OUTBOX_LEASE`].
    async fn renew_outbox_leases(&self) -> Result<(), StoreError>;

    /// Outbox entries of one conversation not yet delivered.
    async fn outbox_of(&self, id: ConversationId) -> Result<Vec<OutboxEntry>, StoreError>;
}

/// The deliveries waiting, for operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxBacklog {
    pub depth: u64,
    pub oldest_due: Option<DateTime<Utc>>,
}
