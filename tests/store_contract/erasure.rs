//! Erasing a customer on every backend: their words, addresses, files and
//! dedupe keys go; other customers' data and the counts stay; the audit
//! log says how much; `[retention]` erases old resolved conversations only.

use super::*;
use frontdesk::core::customers;
use frontdesk::model::{Attachment, AuditAction};

fn with_file(chat: i64, id: &str, text: &str, blob: &str) -> InboundMessage {
    let mut m = inbound(chat, id, text);
    m.attachments = vec![Attachment {
        name: "photo.jpg".into(),
        content_type: "image/jpeg".into(),
        size: 4,
        blob: Some(blob.to_string()),
    }];
    m
}

#[tokio::test]
async fn erasing_a_customer_leaves_no_word_of_theirs_and_keeps_everyone_else() {
    for (name, backend) in BACKENDS {
        let (store, _keep) = backend().await;
        let own = store.put_blob(b"only zora sent this").await.expect("blob");
        let shared = store.put_blob(b"both sent this").await.expect("blob");
        let zora = CustomerAddress::Telegram { chat_id: 4471 };
        let a = store
            .accept(
                &with_file(4471, "z1", "my code is Zebra-4471", &own),
                &new(0),
                &take_in,
            )
            .await
            .expect("accept");
        reply(store.as_ref(), turn_of(&a), true, 0).await;
        store
            .accept(
                &with_file(4471, "z2", "and this one", &shared),
                &new(0),
                &take_in,
            )
            .await
            .expect("accept");
        let other = store
            .accept(
                &with_file(9, "o1", "I am someone else", &shared),
                &new(0),
                &take_in,
            )
            .await
            .expect("accept");

        let entry = customers::erase_customer(store.as_ref(), &zora, "admin")
            .await
            .expect("erase");
        assert_eq!(
            (
                entry.conversations,
                entry.messages,
                entry.files,
                entry.action
            ),
            (1, 2, 1, AuditAction::EraseCustomer),
            "{name}: one conversation of two messages (its reply was never sent), and the file only Zora sent"
        );
        assert!(store.blob(&own).await.expect("read").is_none(), "{name}");
        assert!(
            store.blob(&shared).await.expect("read").is_some(),
            "{name}: another customer's file"
        );

        let erased = store
            .conversation(a.conversation.id)
            .await
            .expect("read")
            .expect("the record stays, for the counts");
        assert!(erased.erased_at.is_some(), "{name}");
        assert_eq!(erased.status, ConversationStatus::Resolved, "{name}");
        assert!(
            store.conversation_of(&zora).await.expect("read").is_none(),
            "{name}"
        );
        assert!(
            store
                .conversations_of_customer(&zora)
                .await
                .expect("read")
                .is_empty(),
            "{name}"
        );
        assert!(
            store
                .outbox_of(a.conversation.id)
                .await
                .expect("read")
                .is_empty(),
            "{name}: nothing left to send"
        );

        let mut everything = String::new();
        store
            .export(&mut |record| {
                everything.push_str(&serde_json::to_string(&record).expect("json"));
                Ok(())
            })
            .await
            .expect("export");
        assert!(
            !everything.contains("Zebra-4471") && !everything.contains("and this one"),
            "{name}"
        );
        assert!(
            !everything.contains("\"chat_id\":4471"),
            "{name}: the address"
        );
        assert!(
            everything.contains("I am someone else"),
            "{name}: other customers stay"
        );
        assert!(
            store
                .conversation(other.conversation.id)
                .await
                .expect("read")
                .is_some(),
            "{name}"
        );

        // The dedupe key went too: the same message id is new again.
        let again = store
            .accept(&inbound(4471, "z1", "hello again"), &new(0), &take_in)
            .await
            .expect("accept");
        assert!(!again.duplicate, "{name}");
        assert_ne!(
            again.conversation.id, a.conversation.id,
            "{name}: a fresh conversation"
        );

        let log = store.audit_log().await.expect("audit");
        assert_eq!(log, vec![entry], "{name}");
        assert!(
            !serde_json::to_string(&log).expect("json").contains("4471"),
            "{name}: no personal data in the audit log"
        );
    }
}

#[tokio::test]
async fn retention_erases_old_resolved_conversations_only() {
    for (name, backend) in BACKENDS {
        let (store, _keep) = backend().await;
        let old = store
            .accept(&inbound(1, "a", "old words"), &new(0), &take_in)
            .await
            .expect("accept");
        let open = store
            .accept(&inbound(2, "b", "still open"), &new(0), &take_in)
            .await
            .expect("accept");
        store
            .update_conversation(old.conversation.id, &|c| {
                Ok(Decision {
                    after: frontdesk::model::Conversation {
                        status: ConversationStatus::Resolved,
                        ..c.clone()
                    },
                    effects: Effects::default(),
                })
            })
            .await
            .expect("resolve");
        let now = Utc::now();
        assert_eq!(
            customers::retain(store.as_ref(), 30, now)
                .await
                .expect("retain"),
            0,
            "{name}: nothing is 30 days old"
        );
        let later = now + Duration::days(31);
        assert_eq!(
            customers::retain(store.as_ref(), 30, later)
                .await
                .expect("retain"),
            1,
            "{name}"
        );
        let messages = store
            .messages_after(old.conversation.id, 0, 10)
            .await
            .expect("read");
        assert!(
            messages.iter().all(|m| m.text.is_empty()),
            "{name}: {messages:?}"
        );
        let kept = store
            .messages_after(open.conversation.id, 0, 10)
            .await
            .expect("read");
        assert_eq!(kept[0].text, "still open", "{name}");
        assert_eq!(
            store.audit_log().await.expect("audit")[0].action,
            AuditAction::Retention,
            "{name}"
        );
        assert_eq!(
            customers::retain(store.as_ref(), 30, later)
                .await
                .expect("retain"),
            0,
            "{name}: once"
        );
    }
}
