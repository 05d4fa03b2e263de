//! Channel cursors, seen inbound ids, blobs, auto-reply counts and web
//! chat sessions on sled.

use super::*;

#[async_trait::async_trait]
impl ChannelStateStore for SledStore {
    async fn cursor(&self, name: &str) -> Result<Option<i64>, StoreError> {
        match self.meta.get(format!("cursor:{name}")).map_err(io)? {
            Some(b) => Ok(Some(u64_of("cursor", &b)? as i64)),
            None => Ok(None),
        }
    }

    async fn set_cursor(&self, name: &str, value: i64) -> Result<(), StoreError> {
        self.meta
            .insert(format!("cursor:{name}"), &(value as u64).to_be_bytes())
            .map_err(io)?;
        Ok(())
    }

    async fn seen_external(
        &self,
        channel: ChannelKind,
        external_id: &str,
    ) -> Result<Option<(ConversationId, u64)>, StoreError> {
        let key = keys::external_id(channel, external_id);
        let seen: Option<Seen> = get_decoded(&self.externalid_message, &key, "seen external id")?;
        Ok(seen.map(|s| (s.conversation_id, s.seq)))
    }

    async fn put_blob(&self, bytes: &[u8]) -> Result<String, StoreError> {
        let hash = crate::secrets::content_hash(bytes);
        self.hash_blob.insert(hash.as_bytes(), bytes).map_err(io)?;
        Ok(hash)
    }

    async fn blob(&self, hash: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .hash_blob
            .get(hash.as_bytes())
            .map_err(io)?
            .map(|v| v.to_vec()))
    }

    async fn record_auto_reply(
        &self,
        customer: &CustomerAddress,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut key = keys::autoreply_prefix(customer);
        key.extend_from_slice(&(at.timestamp_millis().max(0) as u64).to_be_bytes());
        key.extend_from_slice(MessageId::new().0.as_bytes());
        self.customer_autoreply.insert(key, &[][..]).map_err(io)?;
        Ok(())
    }

    async fn auto_replies_since(
        &self,
        customer: &CustomerAddress,
        since: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let prefix = keys::autoreply_prefix(customer);
        let mut from = prefix.clone();
        from.extend_from_slice(&(since.timestamp_millis().max(0) as u64).to_be_bytes());
        // Older marks no longer count: drop them on the way.
        for item in self.customer_autoreply.range(prefix.clone()..from.clone()) {
            let (k, _) = item.map_err(io)?;
            self.customer_autoreply.remove(k).map_err(io)?;
        }
        let mut count = 0;
        for item in self.customer_autoreply.range(from..) {
            let (k, _) = item.map_err(io)?;
            if !k.starts_with(&prefix) {
                break;
            }
            count += 1;
        }
        Ok(count)
    }

    async fn create_web_session(&self, session: &WebSession) -> Result<(), StoreError> {
        put_encoded(&self.token_websession, session.token.as_bytes(), session)
    }

    async fn web_session(&self, token: &str) -> Result<Option<WebSession>, StoreError> {
        get_decoded(&self.token_websession, token.as_bytes(), "web session")
    }
}
