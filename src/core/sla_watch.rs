//! The service-level watcher: tells agents when a conversation's promise
//! (`crate::service_levels::sla`) is close to breaking and when it broke.
//!
//! Every `check_secs` it looks at the conversations waiting for or owned
//! by a person. When 80% of a promise's time is used without an agent's
//! answer (or resolution), it publishes `sla_near`; past the deadline,
//! `sla_breached`, and it posts a JSON notice to `breach_webhook` for
//! supervisors. The worse of the two promises counts, and each state is
//! announced once (recorded on the conversation), so a restart does not
//! announce it again. Deadlines and 80% marks are set at the hand-off in
//! business time (see `crate::service_levels::sla::promise`).

use crate::conversation::Actor;
use crate::core::conversations::{Conversations, Request};
use crate::core::shutdown::Shutdown;
use crate::model::{Conversation, ConversationStatus, SlaState};
use crate::service_levels::sla::SlaConfig;
use crate::store::{Store, StoreError, UpdateError};
use chrono::Utc;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// Conversations of one status looked at per check.
const SCAN_LIMIT: usize = 10_000;
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the watcher until `shutdown`.
pub async fn run(
    store: Arc<dyn Store>,
    conversations: Conversations,
    config: SlaConfig,
    mut shutdown: Shutdown,
) {
    let client = reqwest::Client::builder()
        .timeout(WEBHOOK_TIMEOUT)
        .build()
        .unwrap_or_default();
    loop {
        if let Err(error) = check(store.as_ref(), &conversations, &config, &client).await {
            tracing::error!(%error, "Cannot check the first-response deadlines; retrying at the next check.");
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(config.check_secs)) => {}
            _ = shutdown.stopped() => return,
        }
    }
}

/// One pass: announces every state reached and not yet announced.
pub async fn check(
    store: &dyn Store,
    conversations: &Conversations,
    config: &SlaConfig,
    client: &reqwest::Client,
) -> Result<(), StoreError> {
    let now = Utc::now();
    for status in [
        ConversationStatus::Waiting,
        ConversationStatus::Assigned,
        ConversationStatus::Pending,
    ] {
        for conversation in store.conversations_with_status(status, SCAN_LIMIT).await? {
            let Some(sla) = &conversation.sla else {
                continue;
            };
            let state = sla.state(now);
            if !matches!(state, SlaState::Near | SlaState::Breached) || state <= sla.announced {
                continue;
            }
            let updated = match conversations
                .apply(conversation.id, Actor::SYSTEM, Request::AnnounceSla(state))
                .await
            {
                Ok(updated) => updated.after,
                Err(UpdateError::Store(e)) => return Err(e),
                Err(UpdateError::Refused(_)) => continue,
            };
            if state == SlaState::Breached
                && let Some(hook) = &config.breach_webhook
            {
                notify(client, hook, &updated).await;
            }
        }
    }
    Ok(())
}

/// Posts the breach notice; a failure is logged (the console still shows
/// the breach).
async fn notify(client: &reqwest::Client, hook: &str, conversation: &Conversation) {
    let body = json!({
        "type": "sla_breached",
        "conversation_id": conversation.id,
        "ticket": conversation.ticket,
        "channel": conversation.channel(),
        "segment": conversation.segment,
        "status": conversation.status,
        "assigned_agent": conversation.assigned_agent,
        "started_at": conversation.sla.as_ref().map(|s| s.started_at),
        "first_response_due": conversation.sla.as_ref().map(|s| s.first_response_due),
        "resolution_due": conversation.sla.as_ref().and_then(|s| s.resolution_due),
        // Which promises are broken: first_response, resolution.
        "breached": conversation.sla.as_ref().map(|s| {
            let now = chrono::Utc::now();
            let mut broken = Vec::new();
            if s.first_response_state(now) == SlaState::Breached {
                broken.push("first_response");
            }
            if s.resolution_state(now) == Some(SlaState::Breached) {
                broken.push("resolution");
            }
            broken
        }),
    });
    match client.post(hook).json(&body).send().await {
        Ok(r) if r.status().is_success() => {}
        Ok(r) => tracing::warn!(status = %r.status(), "The SLA breach webhook refused the notice."),
        Err(error) => tracing::warn!(%error, "Could not post to the SLA breach webhook."),
    }
}
