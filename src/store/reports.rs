//! The event logs the support leads' reports are read from.

use super::{Pickup, StatusChange, StoreError};
use chrono::{DateTime, Utc};

#[async_trait::async_trait]
pub trait ReportStore: Send + Sync {
    /// Pickups (a waiting conversation taken by an agent) since `since`,
    /// oldest first, as [`Effects::pickup`] recorded them.
    async fn pickups_since(&self, since: DateTime<Utc>) -> Result<Vec<Pickup>, StoreError>;

    /// Status and owner changes since `since`, oldest first. Recorded by
    /// [`Store::accept`], [`Store::record_turn`] and
    /// [`Store::update_conversation`].
    async fn status_changes_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<StatusChange>, StoreError>;
}
