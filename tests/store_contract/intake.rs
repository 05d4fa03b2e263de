//! Intake and turns: idempotence by channel id, reopening, automatic mail,
//! replies dropped under a person, the status log.

use super::*;

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

/// Two first messages of one customer at once (two instances, or two
/// tabs): one conversation, both messages in it, each once.
#[tokio::test]
async fn first_messages_of_one_customer_at_once_open_one_conversation() {
    for (name, backend) in BACKENDS {
        let (store, _dir) = backend().await;
        let mut tasks = Vec::new();
        for i in 0..8 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let message = inbound(7, &format!("m{i}"), "hello?");
                store
                    .accept(&message, &new(0), &take_in)
                    .await
                    .expect("accept")
            }));
        }
        let mut conversations = std::collections::HashSet::new();
        let mut seqs = Vec::new();
        for task in tasks {
            let accepted = task.await.expect("join");
            conversations.insert(accepted.conversation.id);
            seqs.push(accepted.message.seq);
        }
        seqs.sort();
        assert_eq!(conversations.len(), 1, "{name}: one conversation");
        assert_eq!(
            seqs,
            (1..=8).collect::<Vec<u64>>(),
            "{name}: each message once, in turn"
        );
        assert_eq!(
            store.conversation_count().await.expect("count"),
            1,
            "{name}"
        );
    }
}

/// The same channel id arriving twice at once: one message, one turn.
#[tokio::test]
async fn the_same_message_twice_at_once_is_taken_in_once() {
    for (name, backend) in BACKENDS {
        let (store, _dir) = backend().await;
        let (first, second) = (inbound(3, "same", "hi"), inbound(3, "same", "hi"));
        let new = new(0);
        let (a, b) = tokio::join!(
            store.accept(&first, &new, &take_in),
            store.accept(&second, &new, &take_in),
        );
        let (a, b) = (a.expect("accept"), b.expect("accept"));
        assert!(
            a.duplicate != b.duplicate,
            "{name}: exactly one copy is new"
        );
        assert_eq!(a.message.id, b.message.id, "{name}");
        assert_eq!(
            store.pending_turns().await.expect("pending").len(),
            1,
            "{name}"
        );
    }
}

/// A turn redone after it was recorded (a replay at start-up, a sweep of
/// stale turns, another instance) queues nothing a second time.
#[tokio::test]
async fn a_turn_recorded_twice_queues_its_replies_once() {
    for (name, backend) in BACKENDS {
        let (store, _dir) = backend().await;
        let a = store
            .accept(&inbound(1, "a", "where is my order"), &new(0), &take_in)
            .await
            .expect("accept");
        let first = reply(store.as_ref(), turn_of(&a), false, 0).await;
        let again = reply(store.as_ref(), turn_of(&a), false, 0).await;
        let due: Vec<_> = store
            .outbox_of(a.conversation.id)
            .await
            .expect("outbox")
            .into_iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(due, vec![first.id], "{name}: only the first recording");
        assert_ne!(first.id, again.id, "{name}");
        assert!(
            store.pending_turns().await.expect("pending").is_empty(),
            "{name}"
        );
    }
}
