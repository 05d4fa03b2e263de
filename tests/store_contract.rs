//! The `Store` contract: behaviour every backend must show, written once
//! against `Arc<dyn Store>` and run for each backend (sled today).

use chrono::{Duration, Utc};
use frontdesk::conversation::{intake::take_in, turn::after_turn};
use frontdesk::model::{
    ConversationStatus, CustomerAddress, Delivery, Handling, InboundMessage, OutboundReason,
    OutboxEntry, OutboxId, Thread,
};
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

fn sled_backend() -> BoxFuture<'static, Opened> {
    Box::pin(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SledStore::open(dir.path()).expect("open sled");
        (Arc::new(store) as Arc<dyn Store>, Box::new(dir) as Box<_>)
    })
}

/// Every backend the contract is checked on: a new backend is one line.
const BACKENDS: &[(&str, Backend)] = &[("sled", sled_backend)];

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

#[tokio::test]
async fn accept_is_idempotent_by_channel_id() {
    for (name, backend) in BACKENDS {
        let (store, _dir) = backend().await;
        let a = store
            .accept(&inbound(1, "u1", "hello"), &new(0), &take_in)
            .await
            .expect("accept");
        let b = store
            .accept(&inbound(1, "u1", "hello again"), &new(0), &take_in)
            .await
            .expect("accept");
        assert!(!a.duplicate && b.duplicate, "{name}");
        assert_eq!(a.message, b.message, "{name}: the first copy is returned");
        assert_eq!(
            store
                .messages_after(a.conversation.id, 0, 10)
                .await
                .expect("read")
                .len(),
            1,
            "{name}"
        );
        assert_eq!(
            store.pending_turns().await.expect("pending").len(),
            1,
            "{name}"
        );
        let c = store
            .accept(&inbound(1, "u2", "second"), &new(0), &take_in)
            .await
            .expect("accept");
        assert_eq!(
            (c.conversation.id, c.message.seq),
            (a.conversation.id, 2),
            "{name}: same customer, same conversation"
        );
        // Channel ids are unique per channel: adapters scope them (web
        // chat prefixes the session), so another chat with the same id is
        // still a copy, while another channel's same id is not.
        let d = store
            .accept(&inbound(2, "u1", "other chat"), &new(0), &take_in)
            .await
            .expect("accept");
        assert!(d.duplicate, "{name}");
        let mut email = inbound(0, "u1", "by mail");
        email.customer = CustomerAddress::Email {
            address: "a@b.test".into(),
        };
        let e = store
            .accept(&email, &new(0), &take_in)
            .await
            .expect("accept");
        assert!(!e.duplicate, "{name}");
        assert_ne!(e.conversation.ticket, a.conversation.ticket, "{name}");
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
            },
            &after_turn,
        )
        .await
        .expect("record turn");
}

#[tokio::test]
async fn within_a_priority_the_tighter_first_response_promise_goes_first() {
    for (name, backend) in BACKENDS {
        let (store, _dir) = backend().await;
        let hour = store
            .accept(&inbound(1, "a", "x"), &new(0), &take_in)
            .await
            .expect("accept");
        hand_off_with_promise(store.as_ref(), turn_of(&hour), 60).await;
        let ten_minutes = store
            .accept(&inbound(2, "b", "x"), &new(0), &take_in)
            .await
            .expect("accept");
        hand_off_with_promise(store.as_ref(), turn_of(&ten_minutes), 10).await;
        let urgent_but_low = store
            .accept(&inbound(3, "c", "x"), &new(5), &take_in)
            .await
            .expect("accept");
        hand_off_with_promise(store.as_ref(), turn_of(&urgent_but_low), 240).await;
        assert_eq!(
            store.waiting_queue(10).await.expect("queue"),
            vec![
                urgent_but_low.conversation.id,
                ten_minutes.conversation.id,
                hour.conversation.id
            ],
            "{name}: priority first, then the earlier deadline"
        );
    }
}

#[tokio::test]
async fn queue_orders_by_priority_then_wait() {
    for (name, backend) in BACKENDS {
        let (store, _dir) = backend().await;
        let normal_early = store
            .accept(&inbound(1, "a", "x"), &new(0), &take_in)
            .await
            .expect("accept");
        reply(store.as_ref(), turn_of(&normal_early), true, 0).await;
        std::thread::sleep(std::time::Duration::from_millis(5));
        let normal_late = store
            .accept(&inbound(2, "b", "x"), &new(0), &take_in)
            .await
            .expect("accept");
        reply(store.as_ref(), turn_of(&normal_late), true, 0).await;
        let premium_late = store
            .accept(&inbound(3, "c", "x"), &new(9), &take_in)
            .await
            .expect("accept");
        reply(store.as_ref(), turn_of(&premium_late), true, 0).await;
        let answered = store
            .accept(&inbound(4, "d", "x"), &new(9), &take_in)
            .await
            .expect("accept");
        reply(store.as_ref(), turn_of(&answered), false, 0).await;

        let queue = store.waiting_queue(10).await.expect("queue");
        assert_eq!(
            queue,
            vec![
                premium_late.conversation.id,
                normal_early.conversation.id,
                normal_late.conversation.id
            ],
            "{name}"
        );
        let late = store
            .conversation(normal_late.conversation.id)
            .await
            .expect("read")
            .expect("exists");
        assert_eq!(late.status, ConversationStatus::Waiting, "{name}");
        assert_eq!(
            store.queue_position(&late).await.expect("position"),
            3,
            "{name}"
        );
        // A second hand-off turn keeps the original place in line.
        let again = store
            .accept(&inbound(2, "b2", "still there?"), &new(0), &take_in)
            .await
            .expect("accept");
        reply(store.as_ref(), turn_of(&again), true, 0).await;
        assert_eq!(
            store.waiting_queue(10).await.expect("queue").len(),
            3,
            "{name}"
        );
        assert!(
            store.pending_turns().await.expect("pending").is_empty(),
            "{name}"
        );
        // What /metrics reports, counted from the indexes alone.
        for status in [
            ConversationStatus::Waiting,
            ConversationStatus::Bot,
            ConversationStatus::Assigned,
        ] {
            assert_eq!(
                store.count_with_status(status).await.expect("count"),
                store
                    .conversations_with_status(status, 100)
                    .await
                    .expect("list")
                    .len() as u64,
                "{name}: {status:?}"
            );
        }
        assert_eq!(
            store
                .count_with_status(ConversationStatus::Waiting)
                .await
                .expect("count"),
            3,
            "{name}"
        );
    }
}

/// Every waiting conversation's place is its place in the queue, through
/// hand-offs at several priorities and promises, claims, a priority
/// change, a resolution and a reopening, and after opening the store again.
#[tokio::test]
async fn a_place_in_line_is_the_place_in_the_queue() {
    async fn assert_places(store: &dyn Store, what: &str) {
        let queue = store.waiting_queue(1000).await.expect("queue");
        for (i, id) in queue.iter().enumerate() {
            let c = store
                .conversation(*id)
                .await
                .expect("read")
                .expect("exists");
            assert_eq!(
                store.queue_position(&c).await.expect("position"),
                i as u64 + 1,
                "{what}: place of conversation {i} of {}",
                queue.len()
            );
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut ids = Vec::new();
    {
        let store = SledStore::open(dir.path()).expect("open");
        for chat in 0..40 {
            let a = store
                .accept(
                    &inbound(chat, &format!("m{chat}"), "x"),
                    &new((chat % 3) as u8),
                    &take_in,
                )
                .await
                .expect("accept");
            if chat % 4 == 0 {
                reply(&store, turn_of(&a), true, 0).await;
            } else {
                hand_off_with_promise(&store, turn_of(&a), 5 + (chat * 7) % 50).await;
            }
            ids.push(a.conversation.id);
        }
        assert_places(&store, "after the hand-offs").await;
        for id in ids.iter().step_by(5) {
            set(&store, *id, &|c| {
                c.status = ConversationStatus::Assigned;
                c.assigned_agent = Some("ann".into());
            })
            .await;
        }
        set(&store, ids[7], &|c| c.priority = 9).await;
        set(&store, ids[0], &|c| c.status = ConversationStatus::Resolved).await;
        assert_places(&store, "after claims, a priority change and a resolution").await;
        let back = store
            .accept(&inbound(0, "again", "hello?"), &new(0), &take_in)
            .await
            .expect("reopen");
        hand_off_with_promise(&store, turn_of(&back), 1).await;
        assert_places(&store, "after a reopening").await;
    }
    let store = SledStore::open(dir.path()).expect("open again");
    assert_places(&store, "after opening the store again").await;
}

#[tokio::test]
async fn outbox_is_due_ordered_and_delivery_appends_to_the_transcript() {
    for (name, backend) in BACKENDS {
        let (store, _dir) = backend().await;
        let a = store
            .accept(&inbound(1, "a", "x"), &new(0), &take_in)
            .await
            .expect("accept");
        let later = reply(store.as_ref(), turn_of(&a), false, 60_000).await;
        let b = store
            .accept(&inbound(2, "b", "y"), &new(0), &take_in)
            .await
            .expect("accept");
        let now_entry = reply(store.as_ref(), turn_of(&b), false, 0).await;

        let due = store.due_outbox(Utc::now(), 10).await.expect("due");
        assert_eq!(due, vec![now_entry.clone()], "{name}: only what is due");
        let tomorrow = Utc::now() + Duration::days(1);
        assert_eq!(
            store
                .due_outbox_after(&now_entry, tomorrow, 10)
                .await
                .expect("page"),
            vec![later.clone()],
            "{name}: the page after an entry starts past it"
        );
        assert!(
            store.outbox_holds(&now_entry).await.expect("holds"),
            "{name}"
        );
        assert_eq!(
            store.next_outbox_due().await.expect("next"),
            Some(trunc_ms(now_entry.due_at)),
            "{name}"
        );

        let delivered = store
            .finish_delivery(&now_entry, Delivery::Delivered, Utc::now())
            .await
            .expect("finish")
            .expect("entry existed");
        assert_eq!(delivered.seq, 2, "{name}");
        assert_eq!(delivered.text, now_entry.text, "{name}");
        assert!(
            store
                .finish_delivery(&now_entry, Delivery::Delivered, Utc::now())
                .await
                .expect("finish")
                .is_none(),
            "{name}: twice is a no-op"
        );
        assert!(
            !store.outbox_holds(&now_entry).await.expect("holds"),
            "{name}: a delivered entry is no longer held"
        );

        let retried = OutboxEntry {
            attempts: 1,
            due_at: Utc::now() - Duration::seconds(1),
            ..later.clone()
        };
        store
            .reschedule_delivery(&later, &retried)
            .await
            .expect("reschedule");
        assert_eq!(
            store.due_outbox(Utc::now(), 10).await.expect("due"),
            vec![retried.clone()],
            "{name}"
        );
        store.cancel_delivery(&retried).await.expect("cancel");
        assert!(
            store
                .due_outbox(Utc::now() + Duration::days(1), 10)
                .await
                .expect("due")
                .is_empty(),
            "{name}"
        );
        assert_eq!(
            store
                .messages_after(a.conversation.id, 0, 10)
                .await
                .expect("read")
                .len(),
            1,
            "{name}: cancelled is not in the transcript"
        );
    }
}

fn trunc_ms(t: chrono::DateTime<Utc>) -> chrono::DateTime<Utc> {
    chrono::DateTime::from_timestamp_millis(t.timestamp_millis()).expect("ms")
}

#[tokio::test]
async fn replies_are_dropped_when_a_human_owns_the_conversation() {
    for (name, backend) in BACKENDS {
        let (store, _dir) = backend().await;
        let a = store
            .accept(&inbound(1, "a", "x"), &new(0), &take_in)
            .await
            .expect("accept");
        let mut owned = a.conversation.clone();
        owned.status = ConversationStatus::Assigned;
        owned.assigned_agent = Some("ann".into());
        store
            .import(ExportRecord::Conversation(owned))
            .await
            .expect("put");
        let entry = reply(store.as_ref(), turn_of(&a), false, 0).await;
        assert!(
            store
                .due_outbox(Utc::now(), 10)
                .await
                .expect("due")
                .iter()
                .all(|e| e.id != entry.id),
            "{name}"
        );
        assert!(
            store.pending_turns().await.expect("pending").is_empty(),
            "{name}: the turn is done"
        );
    }
}

#[tokio::test]
async fn a_customer_message_reopens_a_resolved_conversation_and_pending_returns_to_assigned() {
    for (name, backend) in BACKENDS {
        let (store, _dir) = backend().await;
        let a = store
            .accept(&inbound(1, "a", "x"), &new(0), &take_in)
            .await
            .expect("accept");
        for (before, after) in [
            (ConversationStatus::Resolved, ConversationStatus::Bot),
            (ConversationStatus::Pending, ConversationStatus::Assigned),
        ] {
            let mut c = store
                .conversation(a.conversation.id)
                .await
                .expect("read")
                .expect("exists");
            c.status = before;
            c.assigned_agent = Some("ann".into());
            store
                .import(ExportRecord::Conversation(c))
                .await
                .expect("put");
            let next = store
                .accept(
                    &inbound(1, &format!("{before:?}"), "back"),
                    &new(0),
                    &take_in,
                )
                .await
                .expect("accept");
            assert_eq!(next.conversation.id, a.conversation.id, "{name}");
            assert_eq!(next.conversation.status, after, "{name}");
            if after == ConversationStatus::Bot {
                assert_eq!(
                    next.conversation.assigned_agent, None,
                    "{name}: reopened, owned by no one"
                );
            }
        }
    }
}

#[tokio::test]
async fn automatic_mail_in_a_thread_reopens_nothing_and_renames_no_one() {
    for (name, backend) in BACKENDS {
        let (store, _dir) = backend().await;
        let alice = CustomerAddress::Email {
            address: "alice@customer.test".into(),
        };
        let first = store
            .accept(
                &InboundMessage::text(alice, "<1@c>".into(), "hi".into(), Utc::now()),
                &new(0),
                &take_in,
            )
            .await
            .expect("accept");
        let mut c = first.conversation.clone();
        c.status = ConversationStatus::Resolved;
        store
            .import(ExportRecord::Conversation(c))
            .await
            .expect("resolve");
        let bounce = InboundMessage {
            display_name: Some("Mail Delivery System".into()),
            thread: Thread::Conversation(first.conversation.id),
            handling: Handling::Silent {
                rule: "daemon_sender".into(),
            },
            ..InboundMessage::text(
                CustomerAddress::Email {
                    address: "mailer-daemon@mx.test".into(),
                },
                "<2@mx>".into(),
                "undeliverable".into(),
                Utc::now(),
            )
        };
        let kept = store
            .accept(&bounce, &new(0), &take_in)
            .await
            .expect("accept");
        assert_eq!(kept.conversation.id, first.conversation.id, "{name}");
        assert_eq!(
            kept.conversation.status,
            ConversationStatus::Resolved,
            "{name}"
        );
        assert_eq!(kept.conversation.display_name, None, "{name}");
        assert!(!kept.message.opens, "{name}");
        assert!(first.message.opens, "{name}");
        let daemon = CustomerAddress::Email {
            address: "mailer-daemon@mx.test".into(),
        };
        assert!(
            store
                .conversation_of(&daemon)
                .await
                .expect("read")
                .is_none(),
            "{name}"
        );
    }
}

#[tokio::test]
async fn every_change_of_status_or_owner_is_logged_for_the_reports() {
    for (name, backend) in BACKENDS {
        let (store, _dir) = backend().await;
        let since = Utc::now() - Duration::seconds(1);
        let a = store
            .accept(&inbound(1, "a", "help"), &new(0), &take_in)
            .await
            .expect("accept");
        reply(store.as_ref(), turn_of(&a), true, 0).await;
        for (status, agent) in [
            (ConversationStatus::Assigned, Some("ann")),
            (ConversationStatus::Assigned, Some("bob")),
            (ConversationStatus::Resolved, Some("bob")),
        ] {
            store
                .update_conversation(a.conversation.id, &|c| {
                    let mut c = c.clone();
                    c.status = status;
                    c.assigned_agent = agent.map(str::to_string);
                    Ok(unchanged_effects(c))
                })
                .await
                .expect("update");
        }
        // Unchanged status and owner: nothing logged.
        store
            .update_conversation(a.conversation.id, &|c| Ok(unchanged_effects(c.clone())))
            .await
            .expect("no-op");
        store
            .accept(&inbound(1, "b", "again"), &new(0), &take_in)
            .await
            .expect("reopen");
        let log: Vec<(ConversationStatus, ConversationStatus, Option<String>)> = store
            .status_changes_since(since)
            .await
            .expect("log")
            .into_iter()
            .map(|c| (c.from, c.to, c.agent))
            .collect();
        use ConversationStatus::*;
        let ann = || Some("ann".to_string());
        let bob = || Some("bob".to_string());
        assert_eq!(
            log,
            vec![
                (Bot, Waiting, None),
                (Waiting, Assigned, ann()),
                (Assigned, Assigned, bob()),
                (Assigned, Resolved, bob()),
                (Resolved, Bot, None),
            ],
            "{name}"
        );
        assert!(
            store
                .status_changes_since(Utc::now() + Duration::seconds(1))
                .await
                .expect("log")
                .is_empty()
        );
    }
}

#[tokio::test]
async fn export_then_import_is_identical() {
    for (name, backend) in BACKENDS {
        let (store, _dir) = backend().await;
        let a = store
            .accept(&inbound(1, "a", "hello"), &new(3), &take_in)
            .await
            .expect("accept");
        reply(store.as_ref(), turn_of(&a), true, 10_000).await;
        store
            .accept(&inbound(2, "b", "pending"), &new(0), &take_in)
            .await
            .expect("accept");
        let blob = store
            .put_blob(b"%PDF-1.4 \x00\xff attachment")
            .await
            .expect("blob");
        let mut records = Vec::new();
        store
            .export(&mut |r| {
                records.push(r);
                Ok(())
            })
            .await
            .expect("export");

        let (copy, _dir2) = backend().await;
        for r in records.clone() {
            copy.import(r).await.expect("import");
        }
        let mut again = Vec::new();
        copy.export(&mut |r| {
            again.push(r);
            Ok(())
        })
        .await
        .expect("export");
        assert_eq!(records, again, "{name}");
        assert!(
            records
                .iter()
                .any(|r| matches!(r, ExportRecord::StatusChange(_))),
            "{name}: the status log moves too"
        );
        assert_eq!(
            copy.blob(&blob).await.expect("read").as_deref(),
            Some(&b"%PDF-1.4 \x00\xff attachment"[..]),
            "{name}: attachments move too"
        );
        assert_eq!(
            copy.waiting_queue(10).await.expect("queue"),
            vec![a.conversation.id],
            "{name}: indexes rebuilt"
        );
        let dup = copy
            .accept(&inbound(1, "a", "hello"), &new(0), &take_in)
            .await
            .expect("accept");
        assert!(dup.duplicate, "{name}: dedupe survives");
        let fresh = copy
            .accept(&inbound(9, "z", "new"), &new(0), &take_in)
            .await
            .expect("accept");
        assert!(
            fresh.conversation.ticket > a.conversation.ticket + 1,
            "{name}: tickets continue"
        );
    }
}

#[tokio::test]
async fn sync_makes_writes_survive_reopening() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = SledStore::open(dir.path()).expect("open");
        store
            .accept(&inbound(1, "a", "durable"), &new(0), &take_in)
            .await
            .expect("accept");
        store.sync().await.expect("sync");
    }
    let store = SledStore::open(dir.path()).expect("reopen");
    let c = store
        .conversation_of(&CustomerAddress::Telegram { chat_id: 1 })
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(
        store.messages_after(c.id, 0, 10).await.expect("read")[0].text,
        "durable"
    );
}

/// A change to `after` with nothing else written.
fn unchanged_effects(after: frontdesk::model::Conversation) -> Decision {
    Decision {
        after,
        effects: Effects::default(),
    }
}

/// Changes conversation `id` in place, with nothing else written.
async fn set(
    store: &dyn Store,
    id: frontdesk::model::ConversationId,
    change: &(dyn Fn(&mut frontdesk::model::Conversation) + Sync),
) {
    store
        .update_conversation(id, &|c| {
            let mut c = c.clone();
            change(&mut c);
            Ok(unchanged_effects(c))
        })
        .await
        .expect("update");
}
