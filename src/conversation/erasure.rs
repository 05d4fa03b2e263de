//! What erasing a conversation's personal data keeps and what it drops:
//! the record and its transcript's skeleton stay (who wrote when, intents,
//! ratings, status changes), so the reports count the same; every word,
//! name, address, subject, tag, file and channel id goes.

use crate::model::{Conversation, ConversationStatus, CustomerAddress, Delivery, Message};
use crate::store::customers::Erased;
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;
use uuid::Uuid;

/// Erases `c` and its `messages` at `at`. Open conversations are closed:
/// no one is left to answer.
pub fn erase(c: &Conversation, messages: &[Message], at: DateTime<Utc>) -> Erased {
    let channel = c.channel();
    let mut blobs = BTreeSet::new();
    let mut seen = Vec::new();
    let messages = messages
        .iter()
        .map(|m| {
            blobs.extend(m.attachments.iter().filter_map(|a| a.blob.clone()));
            blobs.extend(m.original.clone());
            if let Some(id) = &m.external_id {
                seen.push((channel, id.clone()));
            }
            Message {
                text: String::new(),
                external_id: None,
                attachments: Vec::new(),
                original: None,
                // A bounce can quote the address.
                delivery: m.delivery.as_ref().map(|d| match d {
                    Delivery::Failed { .. } => Delivery::Failed {
                        error: String::new(),
                    },
                    Delivery::Delivered => Delivery::Delivered,
                }),
                ..m.clone()
            }
        })
        .collect();
    let customer = match c.customer {
        CustomerAddress::Web { .. } => CustomerAddress::Web {
            session_id: Uuid::nil(),
        },
        CustomerAddress::Telegram { .. } => CustomerAddress::Telegram { chat_id: 0 },
        CustomerAddress::Email { .. } => CustomerAddress::Email {
            address: String::new(),
        },
    };
    let conversation = Conversation {
        customer,
        display_name: None,
        subject: None,
        tags: Vec::new(),
        status: ConversationStatus::Resolved,
        waiting_since: None,
        undelivered: false,
        erased_at: Some(at),
        updated_at: at,
        ..c.clone()
    };
    Erased {
        conversation,
        messages,
        blobs,
        seen,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::tests::conversation;
    use crate::model::{Attachment, Author, ChannelKind, MessageId};

    #[test]
    fn erasure_keeps_the_skeleton_and_drops_every_word() {
        let mut c = conversation(ConversationStatus::Waiting);
        c.customer = CustomerAddress::Email {
            address: "ann@example.com".into(),
        };
        c.display_name = Some("Ann Lee".into());
        c.subject = Some("My order 4471".into());
        c.tags = vec!["vip".into()];
        let mut m = Message::note(
            MessageId::new(),
            c.id,
            1,
            "bob",
            "call me on 555-0100",
            c.created_at,
        );
        m.author = Author::Customer;
        m.agent = None;
        m.external_id = Some("<abc@mail.example.com>".into());
        m.delivery = Some(Delivery::Failed {
            error: "550 ann@example.com: no such user".into(),
        });
        m.original = Some("raw-hash".into());
        m.attachments = vec![Attachment {
            name: "passport.jpg".into(),
            content_type: "image/jpeg".into(),
            size: 10,
            blob: Some("photo-hash".into()),
        }];
        let at = c.created_at + chrono::Duration::hours(1);
        let erased = erase(&c, std::slice::from_ref(&m), at);

        let e = &erased.conversation;
        assert_eq!(
            e.customer,
            CustomerAddress::Email {
                address: String::new()
            }
        );
        assert_eq!(
            (e.display_name.as_deref(), e.subject.as_deref()),
            (None, None)
        );
        assert!(e.tags.is_empty());
        assert_eq!(
            e.status,
            ConversationStatus::Resolved,
            "nobody is left to answer"
        );
        assert_eq!(e.erased_at, Some(at));
        assert_eq!(
            (e.id, e.ticket, e.created_at),
            (c.id, c.ticket, c.created_at)
        );

        let kept = &erased.messages[0];
        assert_eq!(
            (kept.seq, kept.author, kept.at),
            (1, Author::Customer, m.at)
        );
        assert!(kept.text.is_empty() && kept.attachments.is_empty());
        assert_eq!(
            (kept.original.as_deref(), kept.external_id.as_deref()),
            (None, None)
        );
        assert_eq!(
            erased.blobs.iter().map(String::as_str).collect::<Vec<_>>(),
            ["photo-hash", "raw-hash"]
        );
        assert_eq!(
            erased.seen,
            vec![(ChannelKind::Email, "<abc@mail.example.com>".to_string())]
        );
        let text = format!("{erased:?}");
        for personal in ["ann@example.com", "Ann Lee", "4471", "555-0100", "passport"] {
            assert!(!text.contains(personal), "{personal} survived: {text}");
        }
    }
}
