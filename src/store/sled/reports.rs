//! The status-change and pickup logs on sled.

use super::*;

#[async_trait::async_trait]
impl ReportStore for SledStore {
    async fn pickups_since(&self, since: DateTime<Utc>) -> Result<Vec<Pickup>, StoreError> {
        decode_since(&self.time_pickup, since, "pickup")
    }

    async fn status_changes_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<StatusChange>, StoreError> {
        decode_since(&self.time_status_change, since, "status change")
    }
}
