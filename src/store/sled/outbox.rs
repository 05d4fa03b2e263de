//! The outbox on sled: entries keyed by due time, delivery appended to the
//! transcript in the same step.

use super::*;

#[async_trait::async_trait]
impl OutboxStore for SledStore {
    async fn due_outbox(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        self.due_from(Bound::Unbounded, now, limit)
    }

    async fn due_outbox_after(
        &self,
        after: &OutboxEntry,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        self.due_from(Bound::Excluded(keys::outbox(after).to_vec()), now, limit)
    }

    async fn next_outbox_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        match self.outbox.first().map_err(io)? {
            Some((k, _)) => {
                let ms = u64_of("outbox key", k.get(..8).unwrap_or(&[]))?;
                Ok(DateTime::from_timestamp_millis(ms as i64))
            }
            None => Ok(None),
        }
    }

    async fn outbox_backlog(&self) -> Result<OutboxBacklog, StoreError> {
        Ok(OutboxBacklog {
            depth: self.outbox.len() as u64,
            oldest_due: self.next_outbox_due().await?,
        })
    }

    async fn finish_delivery(
        &self,
        entry: &OutboxEntry,
        delivery: Delivery,
        at: DateTime<Utc>,
    ) -> Result<Option<Message>, StoreError> {
        let entry_key = keys::outbox(entry);
        let id = entry.conversation_id;
        let writer = self.lock_writer();
        self.step(&writer, |step| {
            if step.tree(OUTBOX).remove(&entry_key[..])?.is_none() {
                return Ok(None);
            }
            let old = step_conversation(&step.tree(CONVERSATIONS), id)?
                .ok_or(StoreError::ConversationNotFound(id))?;
            let mut new = old.clone();
            new.last_seq += 1;
            new.updated_at = at;
            match &delivery {
                Delivery::Failed { .. } => new.undelivered = true,
                Delivery::Delivered if entry.reason == OutboundReason::Agent => {
                    new.undelivered = false
                }
                Delivery::Delivered => {}
            }
            let message = Message::delivered(entry, new.last_seq, delivery.clone(), at);
            step.tree(MESSAGES)
                .insert(&keys::message(id, message.seq)[..], encode(&message)?);
            step_put_conversation(step, Some(&old), &new)?;
            Ok(Some(message))
        })
    }

    async fn reschedule_delivery(
        &self,
        entry: &OutboxEntry,
        updated: &OutboxEntry,
    ) -> Result<(), StoreError> {
        let old_key = keys::outbox(entry);
        let new_key = keys::outbox(updated);
        let bytes = encode(updated)?;
        let writer = self.lock_writer();
        self.step(&writer, |step| {
            let outbox = step.tree(OUTBOX);
            if outbox.remove(&old_key[..])?.is_some() {
                outbox.insert(&new_key[..], bytes.as_slice());
            }
            Ok(())
        })
    }

    async fn cancel_delivery(&self, entry: &OutboxEntry) -> Result<(), StoreError> {
        let writer = self.lock_writer();
        self.step(&writer, |step| {
            step.tree(OUTBOX).remove(keys::outbox(entry))?;
            Ok(())
        })
    }

    async fn lease_delivery(&self, entry: &OutboxEntry) -> Result<bool, StoreError> {
        // One process has the folder: whatever is still there is its own.
        self.outbox.contains_key(keys::outbox(entry)).map_err(io)
    }

    async fn renew_outbox_leases(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn outbox_of(&self, id: ConversationId) -> Result<Vec<OutboxEntry>, StoreError> {
        let all: Vec<OutboxEntry> = self.decode_all(&self.outbox, "outbox entry")?;
        Ok(all
            .into_iter()
            .filter(|e| e.conversation_id == id)
            .collect())
    }
}
