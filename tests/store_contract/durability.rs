//! The outbox's order and the transcript append, durability across a
//! reopening, and export / import that reproduces a store.

use super::*;

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
            store.lease_delivery(&now_entry).await.expect("lease"),
            "{name}"
        );
        assert!(
            store.lease_delivery(&now_entry).await.expect("lease"),
            "{name}: the holder may take its own entry again"
        );
        assert_eq!(
            store.next_outbox_due().await.expect("next"),
            Some(trunc_ms(now_entry.due_at)),
            "{name}"
        );
        let backlog = store.outbox_backlog().await.expect("backlog");
        assert_eq!(
            (backlog.depth, backlog.oldest_due.map(trunc_ms)),
            (2, Some(trunc_ms(now_entry.due_at))),
            "{name}: both entries wait, leased or not"
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
            !store.lease_delivery(&now_entry).await.expect("lease"),
            "{name}: a delivered entry cannot be taken"
        );
        assert!(store.lease_delivery(&later).await.expect("lease"), "{name}");

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
        assert!(
            !store.lease_delivery(&later).await.expect("lease"),
            "{name}: the entry as it was before its rescheduling is gone"
        );
        assert!(
            store.lease_delivery(&retried).await.expect("lease"),
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
        let agent = frontdesk::model::Agent {
            username: "ann".into(),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            role: frontdesk::model::Role::Admin,
            disabled: false,
            created_at: Utc::now(),
            password_changed_at: None,
        };
        store.put_agent(&agent).await.expect("agent");
        let canned = frontdesk::model::CannedResponse {
            name: "thanks".into(),
            title: "Thank you".into(),
            text: "Thank you, {{ customer_name }}!".into(),
        };
        store.put_canned(&canned).await.expect("canned");
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
            copy.agent("ann").await.expect("read"),
            Some(agent),
            "{name}: agents move too, or nobody can sign in"
        );
        assert_eq!(
            copy.canned().await.expect("read"),
            vec![canned],
            "{name}: canned responses move too"
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
