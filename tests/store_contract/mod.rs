//! The `Store` contract: behaviour every backend must show, written once
//! against `Arc<dyn Store>` and run for each backend (sled today).

use chrono::{Duration, Utc};
use frontdesk::conversation::{intake::take_in, turn::after_turn};
use frontdesk::model::{
    ConversationStatus, CustomerAddress, Delivery, Handling, InboundMessage, OutboundReason,
    OutboxEntry, OutboxId, Thread,
};
use frontdesk::store::postgres::PgStore;
use frontdesk::store::sled::SledStore;
use frontdesk::store::{
    ConversationStore, Decision, Effects, ExportRecord, NewConversation, PendingTurn, Store,
    TurnOutcome,
};
use futures_util::future::BoxFuture;
use std::sync::Arc;

/// A fresh, empty store, and what must live as long as it (its folder, or
/// its database).
type Opened = (Arc<dyn Store>, Box<dyn std::any::Any + Send>);
type Backend = fn() -> BoxFuture<'static, Opened>;

mod durability;
mod erasure;
mod intake;
mod queue;

fn sled_backend() -> BoxFuture<'static, Opened> {
    Box::pin(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SledStore::open(dir.path()).expect("open sled");
        (Arc::new(store) as Arc<dyn Store>, Box::new(dir) as Box<_>)
    })
}

fn postgres_backend() -> BoxFuture<'static, Opened> {
    Box::pin(async {
        let config = crate::support::postgres::fresh_database().await;
        let store = PgStore::connect(&config).await.expect("open postgres");
        (Arc::new(store) as Arc<dyn Store>, Box::new(()) as Box<_>)
    })
}

/// Every backend the contract is checked on: a new backend is one line.
const BACKENDS: &[(&str, Backend)] = &[("sled", sled_backend), ("postgres", postgres_backend)];

fn inbound(chat: i64, id: &str, text: &str) -> InboundMessage {
    InboundMessage::text(
        CustomerAddress::Telegram { chat_id: chat },
        id.to_string(),
        text.to_string(),
        Utc::now(),
    )
}

fn new(priority: u8) -> NewConversation {
    NewConversation {
        priority,
        locale: "en".into(),
        segment: None,
        tags: Vec::new(),
    }
}

async fn reply(store: &dyn Store, turn: PendingTurn, handoff: bool, due_in_ms: i64) -> OutboxEntry {
    let now = Utc::now();
    let entry = OutboxEntry {
        id: OutboxId::new(),
        conversation_id: turn.conversation_id,
        reason: if handoff {
            OutboundReason::Handoff
        } else {
            OutboundReason::Answer
        },
        text: format!("reply to {}", turn.seq),
        intent: None,
        agent: None,
        created_at: now,
        due_at: now + Duration::milliseconds(due_in_ms),
        attempts: 0,
        last_error: None,
        options: Vec::new(),
        survey: None,
        invites_comment: false,
    };
    store
        .record_turn(
            &TurnOutcome {
                turn,
                locale: "en".into(),
                handoff,
                replies: vec![entry.clone()],
                sla: None,
                route: None,
            },
            &after_turn,
        )
        .await
        .expect("record turn");
    entry
}

fn turn_of(a: &frontdesk::store::Accepted) -> PendingTurn {
    PendingTurn {
        conversation_id: a.conversation.id,
        seq: a.message.seq,
    }
}

/// Hands a turn to a person with a first-response promise due in
/// `minutes`.
async fn hand_off_with_promise(store: &dyn Store, turn: PendingTurn, minutes: i64) {
    let now = Utc::now();
    store
        .record_turn(
            &TurnOutcome {
                turn,
                locale: "en".into(),
                handoff: true,
                replies: Vec::new(),
                sla: Some(frontdesk::model::Sla {
                    started_at: now,
                    first_response_due: now + Duration::minutes(minutes),
                    first_response_near: None,
                    first_response_at: None,
                    resolution_due: None,
                    resolution_near: None,
                    resolved_at: None,
                    announced: frontdesk::model::SlaState::Ok,
                }),
                route: None,
            },
            &after_turn,
        )
        .await
        .expect("record turn");
}

/// A change to `after` with nothing else written.
fn unchanged_effects(after: frontdesk::model::Conversation) -> Decision {
    Decision {
        after,
        effects: Effects::default(),
    }
}
