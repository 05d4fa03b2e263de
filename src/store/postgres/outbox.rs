//! The outbox on PostgreSQL: entries ordered by their due key (due time,
//! then id); finishing a delivery removes the entry and appends it to the
//! transcript in one transaction, and only if the entry is still there as
//! it was read and this instance still holds its lease.
//!
//! A lease is taken under the conversation's row lock, so two instances
//! cannot take two entries of one conversation at once (replies go out in
//! order), and with `SKIP LOCKED` on the entry, so an instance passes over
//! an entry another is finishing instead of waiting for it. Lease times
//! are the database's clock, so instances need not agree on the time.

use super::conversations::put_outbox;
use super::{PgStore, column, conversation_for_update, db, encode, put_conversation};
use crate::model::{ConversationId, Delivery, Message, OutboundReason, OutboxEntry};
use crate::store::{OUTBOX_LEASE, OutboxBacklog, OutboxStore, StoreError, keys};
use chrono::{DateTime, Utc};

fn entries(rows: &[tokio_postgres::Row]) -> Result<Vec<OutboxEntry>, StoreError> {
    rows.iter()
        .map(|row| column(row, 0, "outbox entry"))
        .collect()
}

#[async_trait::async_trait]
impl OutboxStore for PgStore {
    async fn due_outbox(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT data FROM outbox WHERE due_key < $1 AND NOT held_by_other(outbox, $3)
                 ORDER BY due_key LIMIT $2",
                &[
                    &keys::outbox_upper_bound(now.timestamp_millis()).to_vec(),
                    &(limit as i64),
                    &self.instance,
                ],
            )
            .await
            .map_err(db)?;
        entries(&rows)
    }

    async fn due_outbox_after(
        &self,
        after: &OutboxEntry,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT data FROM outbox
                 WHERE due_key > $1 AND due_key < $2 AND NOT held_by_other(outbox, $4)
                 ORDER BY due_key LIMIT $3",
                &[
                    &keys::outbox(after).to_vec(),
                    &keys::outbox_upper_bound(now.timestamp_millis()).to_vec(),
                    &(limit as i64),
                    &self.instance,
                ],
            )
            .await
            .map_err(db)?;
        entries(&rows)
    }

    async fn outbox_backlog(&self) -> Result<OutboxBacklog, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one("SELECT count(*), min(due_at) FROM outbox", &[])
            .await
            .map_err(db)?;
        Ok(OutboxBacklog {
            depth: row.get::<_, i64>(0) as u64,
            oldest_due: row.get(1),
        })
    }

    async fn next_outbox_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let client = self.client().await?;
        // An entry another instance holds is due, for this one, when its
        // lease runs out.
        let row = client
            .query_one(
                "SELECT min(CASE WHEN held_by_other(outbox, $1)
                                 THEN greatest(due_at, lease_until) ELSE due_at END)
                 FROM outbox",
                &[&self.instance],
            )
            .await
            .map_err(db)?;
        // To the millisecond, as the due key orders entries.
        let due: Option<DateTime<Utc>> = row.get(0);
        Ok(due.and_then(|t| DateTime::from_timestamp_millis(t.timestamp_millis())))
    }

    async fn finish_delivery(
        &self,
        entry: &OutboxEntry,
        delivery: Delivery,
        at: DateTime<Utc>,
    ) -> Result<Option<Message>, StoreError> {
        let id = entry.conversation_id;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let old = conversation_for_update(&tx, id)
            .await?
            .ok_or(StoreError::ConversationNotFound(id))?;
        let removed = tx
            .execute(
                "DELETE FROM outbox WHERE id = $1 AND due_key = $2 AND lease_owner = $3",
                &[&entry.id.0, &keys::outbox(entry).to_vec(), &self.instance],
            )
            .await
            .map_err(db)?;
        if removed == 0 {
            return Ok(None);
        }
        let mut new = old.clone();
        new.last_seq += 1;
        new.updated_at = at;
        match &delivery {
            Delivery::Failed { .. } => new.undelivered = true,
            Delivery::Delivered if entry.reason == OutboundReason::Agent => new.undelivered = false,
            Delivery::Delivered => {}
        }
        let message = Message::delivered(entry, new.last_seq, delivery.clone(), at);
        tx.execute(
            "INSERT INTO messages (conversation_id, seq, data) VALUES ($1, $2, $3)",
            &[&id.0, &(message.seq as i64), &encode(&message)?],
        )
        .await
        .map_err(db)?;
        put_conversation(&tx, &new).await?;
        tx.commit().await.map_err(db)?;
        Ok(Some(message))
    }

    async fn reschedule_delivery(
        &self,
        entry: &OutboxEntry,
        updated: &OutboxEntry,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE outbox SET due_key = $3, due_at = $4, data = $5,
                                   lease_owner = NULL, lease_until = NULL
                 WHERE id = $1 AND due_key = $2 AND lease_owner = $6",
                &[
                    &entry.id.0,
                    &keys::outbox(entry).to_vec(),
                    &keys::outbox(updated).to_vec(),
                    &updated.due_at,
                    &encode(updated)?,
                    &self.instance,
                ],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn cancel_delivery(&self, entry: &OutboxEntry) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "DELETE FROM outbox WHERE id = $1 AND due_key = $2 AND lease_owner = $3",
                &[&entry.id.0, &keys::outbox(entry).to_vec(), &self.instance],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn lease_delivery(&self, entry: &OutboxEntry) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        // Under the conversation's lock, so that no other instance leases
        // another of its entries meanwhile. (An entry whose conversation
        // is gone is leased too: to be dropped.)
        tx.execute(
            "SELECT 1 FROM conversations WHERE id = $1 FOR UPDATE",
            &[&entry.conversation_id.0],
        )
        .await
        .map_err(db)?;
        let leased = tx
            .execute(
                "UPDATE outbox
                 SET lease_owner = $3, lease_until = now() + make_interval(secs => $4)
                 WHERE id = (SELECT id FROM outbox
                             WHERE id = $1 AND due_key = $2 AND NOT held_by_other(outbox, $3)
                             FOR UPDATE SKIP LOCKED)
                   AND NOT EXISTS (SELECT 1 FROM outbox other
                                   WHERE other.conversation_id = outbox.conversation_id
                                     AND other.id <> outbox.id
                                     AND held_by_other(other, $3))",
                &[
                    &entry.id.0,
                    &keys::outbox(entry).to_vec(),
                    &self.instance,
                    &OUTBOX_LEASE.as_secs_f64(),
                ],
            )
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(leased == 1)
    }

    async fn renew_outbox_leases(&self) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE outbox SET lease_until = now() + make_interval(secs => $2)
                 WHERE lease_owner = $1",
                &[&self.instance, &OUTBOX_LEASE.as_secs_f64()],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn outbox_of(&self, id: ConversationId) -> Result<Vec<OutboxEntry>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT data FROM outbox WHERE conversation_id = $1 ORDER BY due_key",
                &[&id.0],
            )
            .await
            .map_err(db)?;
        entries(&rows)
    }
}

/// Writes one outbox entry (an import).
pub(super) async fn import_entry(
    client: &impl deadpool_postgres::GenericClient,
    entry: &OutboxEntry,
) -> Result<(), StoreError> {
    put_outbox(client, entry).await
}
