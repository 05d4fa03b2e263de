//! What the channels keep between messages: cursors (the Telegram
//! offset), inbound ids already taken in, stored content (raw mail,
//! attachments), the automatic-reply count per sender, web chat sessions.

use super::StoreError;
use crate::model::{ChannelKind, ConversationId, CustomerAddress, WebSession};
use chrono::{DateTime, Utc};

#[async_trait::async_trait]
pub trait ChannelStateStore: Send + Sync {
    /// A channel's saved position (the Telegram update offset).
    async fn cursor(&self, name: &str) -> Result<Option<i64>, StoreError>;

    /// Saves a channel's position. Not durable until [`Store::sync`].
    async fn set_cursor(&self, name: &str, value: i64) -> Result<(), StoreError>;

    /// Where an inbound channel id already taken in was stored:
    /// (conversation, seq).
    async fn seen_external(
        &self,
        channel: ChannelKind,
        external_id: &str,
    ) -> Result<Option<(ConversationId, u64)>, StoreError>;

    /// Stores content under its hash and returns the hash. Not durable
    /// until [`Store::sync`].
    async fn put_blob(&self, bytes: &[u8]) -> Result<String, StoreError>;

    async fn blob(&self, hash: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Counts one automatic reply to `customer` (the per-sender cap of
    /// promise 6). Not exported: it only matters for a day.
    async fn record_auto_reply(
        &self,
        customer: &CustomerAddress,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Automatic replies to `customer` since `since`.
    async fn auto_replies_since(
        &self,
        customer: &CustomerAddress,
        since: DateTime<Utc>,
    ) -> Result<usize, StoreError>;

    async fn create_web_session(&self, session: &WebSession) -> Result<(), StoreError>;

    async fn web_session(&self, token: &str) -> Result<Option<WebSession>, StoreError>;
}
