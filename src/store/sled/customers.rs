//! A customer's data on sled: their conversations by scan, erasure as one
//! step per conversation, files and sessions left behind, the audit tree.

use super::*;
use crate::model::AuditEntry;
use crate::store::customers::{CustomerStore, EraseRule, Erased};
use std::collections::BTreeSet;

#[async_trait::async_trait]
impl CustomerStore for SledStore {
    async fn conversations_of_customer(
        &self,
        customer: &CustomerAddress,
    ) -> Result<Vec<Conversation>, StoreError> {
        let mut found: Vec<Conversation> = Vec::new();
        for v in self.conversations.iter().values() {
            let c: Conversation = decode("conversation", &v.map_err(io)?)?;
            if c.customer == *customer && c.erased_at.is_none() {
                found.push(c);
            }
        }
        found.sort_by_key(|c| c.created_at);
        Ok(found)
    }

    async fn erase_conversation(
        &self,
        id: ConversationId,
        rule: EraseRule<'_>,
        at: DateTime<Utc>,
    ) -> Result<Option<Erased>, StoreError> {
        let writer = self.lock_writer();
        // Read before the step (a step reads single keys); the writer lock
        // keeps them as read.
        let Some(before) = self.conversation_by_key(&keys::conversation(id))? else {
            return Ok(None);
        };
        if before.erased_at.is_some() {
            return Ok(None);
        }
        let messages: Vec<Message> = self
            .messages
            .scan_prefix(keys::conversation(id))
            .values()
            .map(|v| decode("message", &v.map_err(io)?))
            .collect::<Result<_, _>>()?;
        let deliveries: Vec<OutboxEntry> = self
            .decode_all::<OutboxEntry>(&self.outbox, "outbox entry")?
            .into_iter()
            .filter(|e| e.conversation_id == id)
            .collect();
        let erased = rule(&before, &messages, at);
        // Before the change: its old values stay in sled's log until the
        // next open rewrites the folder without them.
        compact::mark(&self.dir)?;
        self.step(&writer, |step| {
            let (customers, stored, seen, pending, outbox) = (
                step.tree(CUSTOMERS),
                step.tree(MESSAGES),
                step.tree(SEEN_IDS),
                step.tree(PENDING),
                step.tree(OUTBOX),
            );
            for m in &erased.messages {
                stored.insert(&keys::message(id, m.seq)[..], encode(m)?);
                pending.remove(&keys::message(id, m.seq)[..])?;
            }
            for (channel, external_id) in &erased.seen {
                seen.remove(keys::external_id(*channel, external_id))?;
            }
            for entry in &deliveries {
                outbox.remove(&keys::outbox(entry)[..])?;
            }
            let customer_key = before.customer.key();
            if let Some(current) = customers.get(customer_key.as_bytes())?
                && conversation_id_of("customer index", &current)? == id
            {
                customers.remove(customer_key.as_bytes())?;
            }
            step_put_conversation(step, Some(&before), &erased.conversation)
        })?;
        self.queue_ranks.update(&erased.conversation);
        Ok(Some(erased))
    }

    async fn drop_unreferenced_blobs(&self, hashes: &BTreeSet<String>) -> Result<u64, StoreError> {
        if hashes.is_empty() {
            return Ok(0);
        }
        let mut unreferenced = hashes.clone();
        for v in self.messages.iter().values() {
            let m: Message = decode("message", &v.map_err(io)?)?;
            for hash in m.attachments.iter().filter_map(|a| a.blob.as_ref()) {
                unreferenced.remove(hash);
            }
            if let Some(hash) = &m.original {
                unreferenced.remove(hash);
            }
        }
        let mut dropped = 0;
        for hash in unreferenced {
            if self
                .hash_blob
                .remove(hash.as_bytes())
                .map_err(io)?
                .is_some()
            {
                dropped += 1;
            }
        }
        Ok(dropped)
    }

    async fn forget_customer(&self, customer: &CustomerAddress) -> Result<(), StoreError> {
        if let CustomerAddress::Web { session_id } = customer {
            for item in self.token_websession.iter() {
                let (k, v) = item.map_err(io)?;
                let session: WebSession = decode("web session", &v)?;
                if session.id == *session_id {
                    self.token_websession.remove(k).map_err(io)?;
                }
            }
        }
        for key in self
            .customer_autoreply
            .scan_prefix(keys::autoreply_prefix(customer))
            .keys()
        {
            self.customer_autoreply
                .remove(key.map_err(io)?)
                .map_err(io)?;
        }
        Ok(())
    }

    async fn resolved_before(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<ConversationId>, StoreError> {
        let prefix = &keys::status(
            ConversationStatus::Resolved,
            ConversationId(uuid::Uuid::nil()),
        )[..1];
        let mut found = Vec::new();
        for k in self.status_index.scan_prefix(prefix).keys() {
            let id = conversation_id_of("status index", k.map_err(io)?.get(1..).unwrap_or(&[]))?;
            if let Some(c) = self.conversation_by_key(&keys::conversation(id))?
                && c.erased_at.is_none()
                && c.updated_at < before
            {
                found.push(id);
                if found.len() == limit {
                    break;
                }
            }
        }
        Ok(found)
    }

    async fn record_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        put_encoded(&self.time_audit, &audit_key(entry), entry)
    }

    async fn audit_log(&self) -> Result<Vec<AuditEntry>, StoreError> {
        self.decode_all(&self.time_audit, "audit entry")
    }
}

/// Time-ordered and unique: the time, then random bytes.
pub(super) fn audit_key(entry: &AuditEntry) -> Vec<u8> {
    let mut key = keys::time(entry.at).to_vec();
    key.extend_from_slice(&uuid::Uuid::new_v4().as_bytes()[..8]);
    key
}
