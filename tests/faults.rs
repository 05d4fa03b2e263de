//! Dependencies failing under the gateway: the SMTP server down, the
//! Telegram Bot API answering 5xx, the disk full. Replies wait in the
//! durable outbox and go out after recovery; intake backs off and catches
//! up; nothing is acknowledged that was not stored.

use crate::support::TestGateway;
use crate::support::mail::{MailServer, SUPPORT};
use frontdesk::config::TelegramMode;
use frontdesk::model::CustomerAddress;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_smtp_down_the_acknowledgment_waits_in_the_outbox_and_goes_out_after() {
    let mail = MailServer::start();
    let config = mail.email_config();
    let gw = TestGateway::start_with(move |c| c.channels.email = Some(config)).await;
    let store = gw.store();
    mail.stop_smtp();
    // With SMTP down, the mail lands in the mailbox another way (IMAP
    // APPEND), as if delivered before the outage.
    let alice = "alice@customer.test";
    mail.append(
        SUPPORT,
        &format!("From: Alice <{alice}>\r\nTo: {SUPPORT}\r\nSubject: Lamp\r\nMessage-ID: <d1@customer.test>\r\n\r\nmy lamp flickers\r\n"),
    )
    .await;
    // Taken in over IMAP; the acknowledgment cannot be sent.
    let customer = CustomerAddress::Email {
        address: alice.into(),
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let conversation = loop {
        if let Some(c) = store.conversation_of(&customer).expect("read") {
            let waiting = store.outbox_of(c.id).expect("outbox");
            if waiting.iter().any(|e| e.attempts > 0) {
                break c;
            }
        }
        assert!(tokio::time::Instant::now() < deadline, "no failed attempt");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pending = store.outbox_of(conversation.id).expect("outbox");
    assert_eq!(pending.len(), 1, "the ack waits, once: {pending:?}");
    assert!(
        pending[0]
            .last_error
            .as_deref()
            .is_some_and(|e| !e.is_empty()),
        "{pending:?}"
    );
    assert!(mail.mailbox(alice).await.is_empty());
    // Back up: it goes out, once.
    mail.restart_smtp();
    let got = mail.wait_for(alice, 1).await;
    assert_eq!(got.len(), 1);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(mail.mailbox(alice).await.len(), 1, "sent once");
    assert!(store.outbox_of(conversation.id).expect("outbox").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_bot_api_answering_502_polling_backs_off_and_replies_go_out_after() {
    let (_gw, tg) = crate::telegram::gateway_with_telegram(TelegramMode::Polling).await;
    // Working first.
    tg.push(tg.text(42, 1, "Where is my order?"));
    assert_eq!(tg.wait_for(42, 1).await.len(), 1);
    // Six seconds of 502 for every call.
    let outage = Duration::from_secs(6);
    let started = tokio::time::Instant::now();
    tg.outage(outage);
    tg.push(tg.text(42, 2, "Where is my order?"));
    tg.push(tg.text(43, 3, "Where is my order?"));
    let got = tg.wait_for(43, 1).await;
    assert_eq!(got.len(), 1, "answered after the outage");
    assert!(started.elapsed() >= outage);
    assert_eq!(tg.wait_for(42, 2).await.len(), 2);
    let failed = tg.failed_calls();
    let polls = failed.iter().filter(|(m, _)| m == "getupdates").count();
    // The client waits 10 s after a 5xx (teloxide's DELAY_ON_SERVER_ERROR)
    // and the poller backs off on top (1, 2, 4 s ...): a handful of tries,
    // where retrying at once would make hundreds.
    assert!(
        (1..=6).contains(&polls),
        "{polls} getUpdates calls during the outage"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(tg.sent_to(42).len(), 2, "each answered once");
    assert_eq!(tg.sent_to(43).len(), 1);
}
