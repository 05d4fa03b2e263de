//! A customer's data across their conversations: finding it, erasing it
//! as [`conversation::erasure`](crate::conversation::erasure) decides, the
//! conversations `[retention]` erases, and the audit trail of erasures.

use super::StoreError;
use crate::model::{
    AuditEntry, ChannelKind, Conversation, ConversationId, CustomerAddress, Message,
};
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;

/// A conversation after erasure, and what the store must drop with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Erased {
    pub conversation: Conversation,
    pub messages: Vec<Message>,
    /// Files (attachments, original mails) its messages referred to.
    pub blobs: BTreeSet<String>,
    /// The dedupe keys of its inbound messages.
    pub seen: Vec<(ChannelKind, String)>,
}

/// What erasing a conversation does (`conversation::erasure::erase`).
pub type EraseRule<'a> =
    &'a (dyn Fn(&Conversation, &[Message], DateTime<Utc>) -> Erased + Send + Sync);

#[async_trait::async_trait]
pub trait CustomerStore: Send + Sync {
    /// Every conversation of `customer`, oldest first (a scan: for rare
    /// admin requests).
    async fn conversations_of_customer(
        &self,
        customer: &CustomerAddress,
    ) -> Result<Vec<Conversation>, StoreError>;

    /// Erases conversation `id` as `rule` decides, all or nothing: its
    /// record and transcript rewritten, its dedupe keys, pending turns and
    /// deliveries dropped, the customer's index no longer leading to it.
    /// `None` if there is no such conversation or it is erased already.
    async fn erase_conversation(
        &self,
        id: ConversationId,
        rule: EraseRule<'_>,
        at: DateTime<Utc>,
    ) -> Result<Option<Erased>, StoreError>;

    /// Deletes those of `hashes` no message refers to any more; how many.
    async fn drop_unreferenced_blobs(&self, hashes: &BTreeSet<String>) -> Result<u64, StoreError>;

    /// Deletes what is kept of `customer` outside conversations: their web
    /// chat sessions and their automatic-reply count.
    async fn forget_customer(&self, customer: &CustomerAddress) -> Result<(), StoreError>;

    /// Resolved conversations not erased yet and last changed before
    /// `before`, at most `limit`.
    async fn resolved_before(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<ConversationId>, StoreError>;

    async fn record_audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;

    /// Every audit entry, oldest first.
    async fn audit_log(&self) -> Result<Vec<AuditEntry>, StoreError>;
}
