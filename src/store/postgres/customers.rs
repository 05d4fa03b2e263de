//! A customer's data on PostgreSQL: their conversations by address (an
//! expression index), erasure as one transaction per conversation, files
//! and sessions left behind, the audit table.

use super::conversations::put_message;
use super::{PgStore, column, conversation_for_update, db, encode, put_conversation};
use crate::model::{AuditEntry, Conversation, ConversationId, CustomerAddress, Message};
use crate::store::StoreError;
use crate::store::customers::{CustomerStore, EraseRule, Erased};
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;

#[async_trait::async_trait]
impl CustomerStore for PgStore {
    async fn conversations_of_customer(
        &self,
        customer: &CustomerAddress,
    ) -> Result<Vec<Conversation>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT data FROM conversations WHERE data->'customer' = $1
                 AND NOT data ? 'erased_at' ORDER BY data->>'created_at', id",
                &[&encode(customer)?],
            )
            .await
            .map_err(db)?;
        rows.iter()
            .map(|row| column(row, 0, "conversation"))
            .collect()
    }

    async fn erase_conversation(
        &self,
        id: ConversationId,
        rule: EraseRule<'_>,
        at: DateTime<Utc>,
    ) -> Result<Option<Erased>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let Some(before) = conversation_for_update(&tx, id).await? else {
            return Ok(None);
        };
        if before.erased_at.is_some() {
            return Ok(None);
        }
        let messages: Vec<Message> = tx
            .query(
                "SELECT data FROM messages WHERE conversation_id = $1 ORDER BY seq",
                &[&id.0],
            )
            .await
            .map_err(db)?
            .iter()
            .map(|row| column(row, 0, "message"))
            .collect::<Result<_, _>>()?;
        let erased = rule(&before, &messages, at);
        for m in &erased.messages {
            put_message(&tx, m).await?;
        }
        for (channel, external_id) in &erased.seen {
            tx.execute(
                "DELETE FROM seen_ids WHERE channel = $1 AND external_id = $2",
                &[&channel.as_str(), external_id],
            )
            .await
            .map_err(db)?;
        }
        for table in ["pending_turns", "outbox"] {
            tx.execute(
                &format!("DELETE FROM {table} WHERE conversation_id = $1"),
                &[&id.0],
            )
            .await
            .map_err(db)?;
        }
        tx.execute(
            "DELETE FROM customers WHERE customer_key = $1 AND conversation_id = $2",
            &[&before.customer.key(), &id.0],
        )
        .await
        .map_err(db)?;
        put_conversation(&tx, &erased.conversation).await?;
        tx.commit().await.map_err(db)?;
        Ok(Some(erased))
    }

    async fn drop_unreferenced_blobs(&self, hashes: &BTreeSet<String>) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let mut dropped = 0;
        for hash in hashes {
            let attachment = serde_json::json!([{ "blob": hash }]);
            dropped += client
                .execute(
                    "DELETE FROM blobs WHERE hash = $1 AND NOT EXISTS (
                         SELECT 1 FROM messages
                         WHERE data->'attachments' @> $2 OR data->>'original' = $1)",
                    &[hash, &attachment],
                )
                .await
                .map_err(db)?;
        }
        Ok(dropped)
    }

    async fn forget_customer(&self, customer: &CustomerAddress) -> Result<(), StoreError> {
        let client = self.client().await?;
        if let CustomerAddress::Web { session_id } = customer {
            client
                .execute(
                    "DELETE FROM web_sessions WHERE data->>'id' = $1",
                    &[&session_id.to_string()],
                )
                .await
                .map_err(db)?;
        }
        client
            .execute(
                "DELETE FROM auto_replies WHERE customer_key = $1",
                &[&customer.key()],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn resolved_before(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<ConversationId>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id FROM conversations WHERE status = 'resolved'
                 AND NOT data ? 'erased_at' AND (data->>'updated_at')::timestamptz < $1
                 ORDER BY id LIMIT $2",
                &[&before, &(limit as i64)],
            )
            .await
            .map_err(db)?;
        Ok(rows.iter().map(|row| ConversationId(row.get(0))).collect())
    }

    async fn record_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO audit (at, data) VALUES ($1, $2)",
                &[&entry.at, &encode(entry)?],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn audit_log(&self) -> Result<Vec<AuditEntry>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query("SELECT data FROM audit ORDER BY at, id", &[])
            .await
            .map_err(db)?;
        rows.iter()
            .map(|row| column(row, 0, "audit entry"))
            .collect()
    }
}
