//! A customer's data on request, and the `[retention]` job.
//!
//! - Export: everything kept about one customer, as JSON.
//! - Erasure: each of their conversations as
//!   [`conversation::erasure`](crate::conversation::erasure) decides (the
//!   record and the transcript's skeleton stay for the reports, every word
//!   goes), the files no one else sent, their web sessions and their
//!   automatic-reply count; one audit entry with counts only.
//! - Retention: resolved conversations untouched for `resolved_days` are
//!   erased the same way, hourly, by one instance of the desk.

use crate::conversation::erasure;
use crate::model::{
    AuditAction, AuditEntry, ChannelKind, Conversation, ConversationId, CustomerAddress, Message,
};
use crate::store::{Store, StoreError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

/// How an admin names a customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CustomerSelector {
    /// The customer of this ticket (any channel).
    Ticket(u64),
    Email(String),
    Telegram(i64),
}

#[derive(Debug, thiserror::Error)]
pub enum CustomerError {
    #[error("no customer with {0}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The customer `selector` names.
pub async fn customer_of(
    store: &dyn Store,
    selector: &CustomerSelector,
) -> Result<CustomerAddress, CustomerError> {
    let found = match selector {
        CustomerSelector::Ticket(ticket) => store
            .conversation_by_ticket(*ticket)
            .await?
            .filter(|c| c.erased_at.is_none())
            .map(|c| c.customer),
        CustomerSelector::Email(address) => Some(CustomerAddress::Email {
            address: address.trim().to_lowercase(),
        }),
        CustomerSelector::Telegram(chat_id) => {
            Some(CustomerAddress::Telegram { chat_id: *chat_id })
        }
    };
    let named = || match selector {
        CustomerSelector::Ticket(t) => format!("ticket #{t}"),
        CustomerSelector::Email(a) => format!("the address {a}"),
        CustomerSelector::Telegram(id) => format!("the Telegram chat {id}"),
    };
    found.ok_or_else(|| CustomerError::NotFound(named()))
}

/// Everything kept about one customer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CustomerData {
    #[schema(value_type = Object)]
    pub customer: CustomerAddress,
    pub channel: ChannelKind,
    pub conversations: Vec<ConversationData>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConversationData {
    #[schema(value_type = Object)]
    pub conversation: Conversation,
    #[schema(value_type = Vec<Object>)]
    pub messages: Vec<Message>,
}

/// Most transcript entries exported per conversation.
const TRANSCRIPT_LIMIT: usize = 100_000;

pub async fn export_customer(
    store: &dyn Store,
    customer: &CustomerAddress,
) -> Result<CustomerData, CustomerError> {
    let mut conversations = Vec::new();
    for conversation in store.conversations_of_customer(customer).await? {
        let messages = store
            .messages_after(conversation.id, 0, TRANSCRIPT_LIMIT)
            .await?;
        conversations.push(ConversationData {
            conversation,
            messages,
        });
    }
    if conversations.is_empty() {
        return Err(CustomerError::NotFound(format!(
            "the customer {}",
            customer.key()
        )));
    }
    Ok(CustomerData {
        customer: customer.clone(),
        channel: customer.channel(),
        conversations,
    })
}

/// Erases one customer everywhere; `actor` goes in the audit entry.
pub async fn erase_customer(
    store: &dyn Store,
    customer: &CustomerAddress,
    actor: &str,
) -> Result<AuditEntry, CustomerError> {
    let ids: Vec<ConversationId> = store
        .conversations_of_customer(customer)
        .await?
        .iter()
        .map(|c| c.id)
        .collect();
    if ids.is_empty() {
        return Err(CustomerError::NotFound(format!(
            "the customer {}",
            customer.key()
        )));
    }
    let entry = erase_conversations(store, &ids, actor, AuditAction::EraseCustomer).await?;
    store.forget_customer(customer).await?;
    store.sync().await?;
    Ok(entry)
}

/// Erases `ids` and the files only they referred to, and records it; the
/// caller makes it durable.
async fn erase_conversations(
    store: &dyn Store,
    ids: &[ConversationId],
    actor: &str,
    action: AuditAction,
) -> Result<AuditEntry, StoreError> {
    let at = Utc::now();
    let (mut conversations, mut messages) = (0, 0);
    let mut blobs = BTreeSet::new();
    for id in ids {
        if let Some(erased) = store.erase_conversation(*id, &erasure::erase, at).await? {
            conversations += 1;
            messages += erased.messages.len() as u64;
            blobs.extend(erased.blobs);
        }
    }
    let files = store.drop_unreferenced_blobs(&blobs).await?;
    let entry = AuditEntry {
        at,
        actor: actor.to_string(),
        action,
        conversations,
        messages,
        files,
    };
    store.record_audit(&entry).await?;
    tracing::info!(
        actor,
        ?action,
        conversations,
        messages,
        files,
        "Erased personal data."
    );
    Ok(entry)
}

/// How often the retention job looks, and how many it erases at a time.
const RETENTION_EVERY: Duration = Duration::from_secs(3600);
const RETENTION_BATCH: usize = 500;

/// Erases resolved conversations untouched for `days`, now and hourly,
/// until `shutdown`.
pub async fn run_retention(
    store: Arc<dyn Store>,
    days: u32,
    mut shutdown: crate::core::shutdown::Shutdown,
) {
    loop {
        if let Err(error) = retain(store.as_ref(), days, Utc::now()).await {
            tracing::warn!(%error, "The retention job failed; it tries again within the hour.");
        }
        tokio::select! {
            _ = tokio::time::sleep(RETENTION_EVERY) => {}
            _ = shutdown.stopped() => return,
        }
    }
}

/// One pass of the retention job at `now`; how many it erased.
pub async fn retain(store: &dyn Store, days: u32, now: DateTime<Utc>) -> Result<u64, StoreError> {
    let before = now - chrono::Duration::days(i64::from(days));
    let mut erased = 0;
    loop {
        let ids = store.resolved_before(before, RETENTION_BATCH).await?;
        if ids.is_empty() {
            return Ok(erased);
        }
        let entry = erase_conversations(store, &ids, "retention", AuditAction::Retention).await?;
        store.sync().await?;
        erased += entry.conversations;
        if entry.conversations == 0 {
            return Ok(erased);
        }
    }
}
