//! Notices instances share: short JSON values one instance writes for the
//! others on the same store (a customer's transcript grew, an agent event).
//! They are wake-ups, not records: a reader re-reads what it shows from
//! the store, so a notice missed (an instance that was away longer than
//! notices are kept) costs a late update, never a fact.

use super::StoreError;
use tokio::sync::mpsc;

#[async_trait::async_trait]
pub trait NoticeStore: Send + Sync {
    /// Whether other instances may share this store, so that notices are
    /// worth sharing (false for sled: one process has the folder).
    fn shared(&self) -> bool;

    /// Shares `notices` with the other instances, in order.
    async fn share_notices(&self, notices: &[serde_json::Value]) -> Result<(), StoreError>;

    /// From now on, the notices other instances share, as they come, until
    /// the receiver is dropped. Empty, and closed at once, on a store
    /// nobody else shares.
    fn notices_from_others(&self) -> mpsc::Receiver<serde_json::Value>;
}
