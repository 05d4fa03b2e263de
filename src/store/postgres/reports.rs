//! The status-change and pickup logs on PostgreSQL.

use super::{PgStore, column, db};
use crate::store::{Pickup, ReportStore, StatusChange, StoreError};
use chrono::{DateTime, Utc};

#[async_trait::async_trait]
impl ReportStore for PgStore {
    async fn pickups_since(&self, since: DateTime<Utc>) -> Result<Vec<Pickup>, StoreError> {
        let client = self.client().await?;
        client
            .query(
                "SELECT data FROM pickups WHERE at >= $1 ORDER BY at, id",
                &[&since],
            )
            .await
            .map_err(db)?
            .iter()
            .map(|row| column(row, 0, "pickup"))
            .collect()
    }

    async fn status_changes_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<StatusChange>, StoreError> {
        let client = self.client().await?;
        client
            .query(
                "SELECT data FROM status_changes WHERE at >= $1 ORDER BY at, id",
                &[&since],
            )
            .await
            .map_err(db)?
            .iter()
            .map(|row| column(row, 0, "status change"))
            .collect()
    }
}
