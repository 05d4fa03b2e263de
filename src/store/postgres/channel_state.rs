//! Channel cursors, seen inbound ids, blobs, automatic-reply counts and
//! web chat sessions on PostgreSQL.

use super::{PgStore, column, db, encode};
use crate::model::{ChannelKind, ConversationId, CustomerAddress, WebSession};
use crate::store::{ChannelStateStore, StoreError};
use chrono::{DateTime, Utc};

#[async_trait::async_trait]
impl ChannelStateStore for PgStore {
    async fn cursor(&self, name: &str) -> Result<Option<i64>, StoreError> {
        let client = self.client().await?;
        Ok(client
            .query_opt("SELECT value FROM cursors WHERE name = $1", &[&name])
            .await
            .map_err(db)?
            .map(|row| row.get(0)))
    }

    async fn set_cursor(&self, name: &str, value: i64) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO cursors (name, value) VALUES ($1, $2)
                 ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
                &[&name, &value],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn seen_external(
        &self,
        channel: ChannelKind,
        external_id: &str,
    ) -> Result<Option<(ConversationId, u64)>, StoreError> {
        let client = self.client().await?;
        super::conversations::seen(&client, channel.as_str(), external_id).await
    }

    async fn put_blob(&self, bytes: &[u8]) -> Result<String, StoreError> {
        let hash = crate::secrets::content_hash(bytes);
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO blobs (hash, bytes) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&hash, &bytes],
            )
            .await
            .map_err(db)?;
        Ok(hash)
    }

    async fn blob(&self, hash: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let client = self.client().await?;
        Ok(client
            .query_opt("SELECT bytes FROM blobs WHERE hash = $1", &[&hash])
            .await
            .map_err(db)?
            .map(|row| row.get(0)))
    }

    async fn record_auto_reply(
        &self,
        customer: &CustomerAddress,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO auto_replies (customer_key, at) VALUES ($1, $2)",
                &[&customer.key(), &at],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn auto_replies_since(
        &self,
        customer: &CustomerAddress,
        since: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let client = self.client().await?;
        let key = customer.key();
        // Older marks no longer count: drop them on the way.
        client
            .execute(
                "DELETE FROM auto_replies WHERE customer_key = $1 AND at < $2",
                &[&key, &since],
            )
            .await
            .map_err(db)?;
        let n: i64 = client
            .query_one(
                "SELECT count(*) FROM auto_replies WHERE customer_key = $1 AND at >= $2",
                &[&key, &since],
            )
            .await
            .map_err(db)?
            .get(0);
        Ok(n as usize)
    }

    async fn create_web_session(&self, session: &WebSession) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO web_sessions (token, data) VALUES ($1, $2)
                 ON CONFLICT (token) DO UPDATE SET data = EXCLUDED.data",
                &[&session.token, &encode(session)?],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn web_session(&self, token: &str) -> Result<Option<WebSession>, StoreError> {
        let client = self.client().await?;
        match client
            .query_opt("SELECT data FROM web_sessions WHERE token = $1", &[&token])
            .await
            .map_err(db)?
        {
            Some(row) => Ok(Some(column(&row, 0, "web session")?)),
            None => Ok(None),
        }
    }
}
