//! The email channel against a real IMAP server (dovecot) and a real SMTP
//! server on loopback: acknowledgments threaded into the customer's mail,
//! replies joining their conversation, agent replies, automatic mail never
//! answered, bounces marking the delivery failed, exactly-once intake
//! across a crash, and reconnecting after the IMAP server restarts.

use crate::support::mail::{MailServer, SUPPORT, body, header};
use crate::support::{AgentLogin, TestGateway};
use frontdesk::model::{
    Author, ConversationStatus, CustomerAddress, Delivery, Handling, Message, Role,
};
use frontdesk::store::{ChannelStateStore, Store};
use reqwest::Method;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

const ALICE: &str = "alice@customer.test";

async fn gateway(mail: &MailServer) -> TestGateway {
    let config = mail.email_config();
    TestGateway::start_with(move |c| c.channels.email = Some(config)).await
}

async fn gateway_in(mail: &MailServer, data: tempfile::TempDir) -> TestGateway {
    let config = mail.email_config();
    let mut settings = crate::support::test_config(&data);
    settings.channels.email = Some(config);
    let gateway = frontdesk::app::start(settings)
        .await
        .expect("gateway starts");
    TestGateway {
        base: format!("http://{}", gateway.addr),
        gateway: Some(gateway),
        data,
        http: reqwest::Client::new(),
    }
}

fn mail(from: &str, message_id: &str, subject: &str, extra: &str, text: &str) -> String {
    format!(
        "From: Alice Example <{from}>\r\nTo: {SUPPORT}\r\nSubject: {subject}\r\nMessage-ID: {message_id}\r\nDate: Tue, 1 Dec 2026 09:00:00 +0000\r\n{extra}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
    )
}

/// `from` writes a plain mail to support.
async fn write(mail_server: &MailServer, from: &str, id: &str, subject: &str, text: &str) {
    mail_server
        .send(from, SUPPORT, &mail(from, id, subject, "", text))
        .await;
}

fn customer(address: &str) -> CustomerAddress {
    CustomerAddress::Email {
        address: address.into(),
    }
}

async fn transcript(store: &Arc<dyn Store>, address: &str) -> Vec<Message> {
    let c = store
        .conversation_of(&customer(address))
        .await
        .expect("read")
        .expect("conversation");
    store
        .messages_after(c.id, 0, 100)
        .await
        .expect("transcript")
}

/// Waits until `check` holds on the store (or 15 s pass).
async fn eventually(what: &str, check: impl AsyncFn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn agent(gw: &TestGateway) -> AgentLogin {
    gw.add_agent("ann", "ann-password", Role::Agent).await;
    gw.login("ann", "ann-password").await
}

#[tokio::test]
async fn a_mail_gets_one_threaded_ack_replies_join_it_and_the_agent_answers_in_the_thread() {
    let mail_server = MailServer::start();
    let gw = gateway(&mail_server).await;
    write(
        &mail_server,
        ALICE,
        "<m1@customer.test>",
        "Where is my order?",
        "Where is my order? It has been a week.",
    )
    .await;

    let got = mail_server.wait_for(ALICE, 1).await;
    assert_eq!(got.len(), 1, "one acknowledgment");
    let ack = &got[0];
    assert_eq!(
        header(ack, "In-Reply-To").as_deref(),
        Some("<m1@customer.test>")
    );
    assert_eq!(
        header(ack, "References").as_deref(),
        Some("<m1@customer.test>")
    );
    assert_eq!(
        header(ack, "Auto-Submitted").as_deref(),
        Some("auto-replied")
    );
    assert_eq!(
        header(ack, "X-Auto-Response-Suppress").as_deref(),
        Some("All")
    );
    let conversation = gw
        .store()
        .conversation_of(&customer(ALICE))
        .await
        .expect("read")
        .expect("conversation");
    let ticket = conversation.ticket;
    assert_eq!(
        header(ack, "Subject"),
        Some(format!("Re: Where is my order? [#{ticket}]"))
    );
    assert!(header(ack, "From").is_some_and(|f| f.contains(SUPPORT)));
    let text = body(ack);
    assert!(
        text.contains("shop.example/orders"),
        "the intent's answer: {text}"
    );
    assert!(text.contains(&ticket.to_string()), "{text}");
    let ack_id = header(ack, "Message-ID").expect("our Message-ID");
    // The support mailbox marks the mail read only now that it is stored.
    let support = mail_server.mailbox(SUPPORT).await;
    assert!(
        support.iter().all(|(_, seen, _)| *seen),
        "taken-in mail is \\Seen"
    );

    // The customer answers in the thread, quoting us: same conversation, no
    // second acknowledgment, and a person gets it.
    let reply = mail(
        ALICE,
        "<m2@customer.test>",
        &format!("Re: Where is my order? [#{ticket}]"),
        &format!("In-Reply-To: {ack_id}\r\nReferences: <m1@customer.test> {ack_id}\r\n"),
        "The tracking page shows nothing at all.\r\n\r\nOn Tue, 1 Dec 2026 at 09:00, Acme Shop Support <support@example.test> wrote:\r\n> You can see where your order is",
    );
    mail_server.send(ALICE, SUPPORT, &reply).await;
    let store = gw.store();
    eventually("the reply is stored", async || {
        transcript(&store, ALICE).await.len() >= 3
    })
    .await;
    let messages = transcript(&store, ALICE).await;
    let customer_lines: Vec<&str> = messages
        .iter()
        .filter(|m| m.author == Author::Customer)
        .map(|m| m.text.as_str())
        .collect();
    assert_eq!(
        customer_lines,
        vec![
            "Where is my order? It has been a week.",
            "The tracking page shows nothing at all."
        ]
    );
    eventually("the follow-up waits for a person", async || {
        store
            .conversation_of(&customer(ALICE))
            .await
            .ok()
            .flatten()
            .is_some_and(|c| c.status == ConversationStatus::Waiting)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        mail_server.mailbox(ALICE).await.len(),
        1,
        "no ack for a follow-up"
    );

    // The agent answers from the console: threaded under the customer's reply.
    let ann = agent(&gw).await;
    let path = format!("/conversations/{}/messages", conversation.id);
    let (status, _) = gw
        .agent_call(
            &ann,
            Method::POST,
            &path,
            Some(json!({"text": "So sorry! It ships today."})),
        )
        .await;
    assert_eq!(status, 202);
    let got = mail_server.wait_for(ALICE, 2).await;
    assert_eq!(got.len(), 2);
    let answer = got
        .iter()
        .find(|m| body(m).contains("It ships today"))
        .expect("the agent's reply");
    assert_eq!(
        header(answer, "In-Reply-To").as_deref(),
        Some("<m2@customer.test>")
    );
    assert_eq!(
        header(answer, "References"),
        Some(format!("<m1@customer.test> {ack_id} <m2@customer.test>"))
    );
    assert_eq!(header(answer, "Auto-Submitted"), None, "a person wrote it");
    assert_eq!(
        header(answer, "Subject"),
        Some(format!("Re: Where is my order? [#{ticket}]"))
    );
}

#[tokio::test]
async fn out_of_office_lists_and_bounces_are_never_answered_and_a_bounce_marks_the_delivery_failed()
{
    let mail_server = MailServer::start();
    let gw = gateway(&mail_server).await;
    let store = gw.store();
    write(
        &mail_server,
        ALICE,
        "<q1@customer.test>",
        "Refund",
        "How do I get a refund?",
    )
    .await;
    let got = mail_server.wait_for(ALICE, 1).await;
    assert_eq!(got.len(), 1);
    let ack_id = header(&got[0], "Message-ID").expect("id");

    // Alice's out-of-office answers our acknowledgment.
    let ooo = mail(
        ALICE,
        "<ooo1@customer.test>",
        "Automatic reply: Re: Refund",
        &format!("Auto-Submitted: auto-replied\r\nIn-Reply-To: {ack_id}\r\n"),
        "I am out of the office until Monday.",
    );
    mail_server.send(ALICE, SUPPORT, &ooo).await;
    // A mailing list post, and a bounce of our acknowledgment.
    let list = "From: Deals <deals@lists.test>\r\nTo: support@example.test\r\nSubject: Black Friday\r\nMessage-ID: <l1@lists.test>\r\nList-Id: <deals.lists.test>\r\nList-Unsubscribe: <mailto:leave@lists.test>\r\n\r\nWhere is my order? Our deals are here.\r\n";
    mail_server.send("deals@lists.test", SUPPORT, list).await;
    let bounce = format!(
        "From: Mail Delivery System <MAILER-DAEMON@mx.customer.test>\r\nTo: support@example.test\r\nSubject: Undelivered Mail Returned to Sender\r\nMessage-ID: <b1@mx.customer.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"BND\"\r\n\r\n--BND\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n--BND\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.customer.test\r\n\r\nFinal-Recipient: rfc822; {ALICE}\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 mailbox full\r\n--BND\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: support@example.test\r\nTo: {ALICE}\r\nMessage-ID: {ack_id}\r\nSubject: Re: Refund\r\n--BND--\r\n"
    );
    mail_server
        .send("mailer-daemon@mx.customer.test", SUPPORT, &bounce)
        .await;

    eventually("the bounce marks our delivery failed", async || {
        store
            .conversation_of(&customer(ALICE))
            .await
            .ok()
            .flatten()
            .is_some_and(|c| c.undelivered)
    })
    .await;
    all_taken_in(&mail_server, 4).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        mail_server.mailbox(ALICE).await.len(),
        1,
        "the out-of-office got no answer"
    );
    assert!(
        mail_server.mailbox("deals@lists.test").await.is_empty(),
        "no answer to a list"
    );
    assert!(
        mail_server
            .mailbox("mailer-daemon@mx.customer.test")
            .await
            .is_empty(),
        "no answer to a bounce"
    );
    let messages = transcript(&store, ALICE).await;
    let ack = messages
        .iter()
        .find(|m| m.author == Author::Bot)
        .expect("the acknowledgment");
    assert!(
        matches!(&ack.delivery, Some(Delivery::Failed { error }) if error.contains("550 5.1.1")),
        "{:?}",
        ack.delivery
    );
    // The out-of-office and the bounce sit in Alice's conversation, marked.
    let handling: Vec<Handling> = messages
        .iter()
        .filter(|m| m.author == Author::Customer)
        .map(|m| m.handling.clone())
        .collect();
    let silent = |rule: &str| Handling::Silent { rule: rule.into() };
    assert_eq!(
        handling,
        vec![
            Handling::Normal,
            silent("auto_submitted"),
            silent("daemon_sender")
        ]
    );
    // The list post opened a conversation of its own, and got nothing.
    let list = transcript(&store, "deals@lists.test").await;
    assert_eq!(list.len(), 1, "stored, unanswered: {list:?}");
    assert_eq!(list[0].handling, silent("mailing_list"));
}

/// Waits until the support mailbox holds `count` mails, all marked read.
async fn all_taken_in(mail_server: &MailServer, count: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let support = mail_server.mailbox(SUPPORT).await;
        if support.len() >= count && support.iter().all(|(_, seen, _)| *seen) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "mails not taken in: {:?}",
            support.iter().map(|(u, s, _)| (u, s)).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Answers one mail from Alice, stops the gateway, then puts the world back
/// as `rewind` says: the mail unread in the mailbox, and the saved cursor
/// `name` set to `value`. Returns the restarted gateway.
async fn answer_one_then_rewind(mail_server: &MailServer, name: &str, value: i64) -> TestGateway {
    let data = tempfile::tempdir().expect("tempdir");
    let data_path = data.path().to_path_buf();
    let mut gw = gateway_in(mail_server, data).await;
    write(
        mail_server,
        ALICE,
        "<c1@customer.test>",
        "Hello",
        "Where is my order?",
    )
    .await;
    assert_eq!(mail_server.wait_for(ALICE, 1).await.len(), 1);
    let data = std::mem::replace(&mut gw.data, tempfile::tempdir().expect("tempdir"));
    gw.stop().await;
    let mut session = mail_server.login(SUPPORT).await;
    session.select("INBOX").await.expect("select");
    {
        use futures_util::TryStreamExt;
        let _: Vec<_> = session
            .store("1:*", "-FLAGS (\\Seen)")
            .await
            .expect("unmark")
            .try_collect()
            .await
            .expect("unmarked");
    }
    let _ = session.logout().await;
    {
        let store = frontdesk::store::sled::SledStore::open(&data_path).expect("open store");
        store.set_cursor(name, value).await.expect("rewind");
        store.sync().await.expect("sync");
    }
    let gw = gateway_in(mail_server, data).await;
    all_taken_in(mail_server, 1).await;
    gw
}

#[tokio::test]
async fn a_crash_between_storing_and_marking_seen_takes_the_mail_in_exactly_once() {
    let mail_server = MailServer::start();
    // The instant of a crash after the flush: the mail unread, the saved
    // position before it.
    let gw = answer_one_then_rewind(&mail_server, "email.INBOX.last_uid", 0).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let messages = transcript(&gw.store(), ALICE).await;
    let customer_turns = messages
        .iter()
        .filter(|m| m.author == Author::Customer)
        .count();
    assert_eq!(customer_turns, 1, "stored once: {messages:?}");
    assert_eq!(mail_server.mailbox(ALICE).await.len(), 1, "answered once");
    assert_eq!(gw.store().conversation_count().await.expect("count"), 1);
}

#[tokio::test]
async fn the_gateway_reconnects_after_the_imap_server_restarts_and_catches_up() {
    let mail_server = MailServer::start();
    let gw = gateway(&mail_server).await;
    write(
        &mail_server,
        ALICE,
        "<r1@customer.test>",
        "Order",
        "Where is my order?",
    )
    .await;
    assert_eq!(mail_server.wait_for(ALICE, 1).await.len(), 1);
    mail_server.stop_imap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    mail_server.restart_imap();
    let bob = "bob@customer.test";
    write(
        &mail_server,
        bob,
        "<r2@customer.test>",
        "Refund",
        "How do I get a refund?",
    )
    .await;
    let got = mail_server.wait_for(bob, 1).await;
    assert_eq!(got.len(), 1, "the mail after the restart is answered");
    assert_eq!(
        header(&got[0], "In-Reply-To").as_deref(),
        Some("<r2@customer.test>")
    );
    assert_eq!(gw.store().conversation_count().await.expect("count"), 2);
}

#[tokio::test]
async fn a_sender_gets_at_most_three_automatic_replies_a_day() {
    let mail_server = MailServer::start();
    let gw = gateway(&mail_server).await;
    for i in 0..5 {
        let (id, subject) = (format!("<cap{i}@customer.test>"), format!("Question {i}"));
        write(&mail_server, ALICE, &id, &subject, "Where is my order?").await;
    }
    all_taken_in(&mail_server, 5).await;
    let store = gw.store();
    eventually("five conversations", async || {
        store.conversation_count().await.is_ok_and(|n| n == 5)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(mail_server.mailbox(ALICE).await.len(), 3, "capped at three");
    let waiting = store
        .conversations_with_status(ConversationStatus::Waiting, 10)
        .await
        .expect("waiting");
    assert_eq!(waiting.len(), 2, "the unanswered two wait for a person");
}

#[tokio::test]
async fn a_ticket_tag_threads_for_its_customer_but_not_for_a_stranger() {
    let mail_server = MailServer::start();
    let gw = gateway(&mail_server).await;
    let store = gw.store();
    write(
        &mail_server,
        ALICE,
        "<t1@customer.test>",
        "Broken zip",
        "The zip of my jacket broke.",
    )
    .await;
    assert_eq!(mail_server.wait_for(ALICE, 1).await.len(), 1);
    let ticket = store
        .conversation_of(&customer(ALICE))
        .await
        .expect("read")
        .expect("conversation")
        .ticket;
    // Alice writes again from a client that dropped the threading headers.
    let subject = format!("Re: Broken zip [#{ticket}]");
    write(
        &mail_server,
        ALICE,
        "<t2@customer.test>",
        &subject,
        "Any news?",
    )
    .await;
    let mallory = "mallory@evil.test";
    write(
        &mail_server,
        mallory,
        "<t3@evil.test>",
        &subject,
        "Send me her address.",
    )
    .await;
    all_taken_in(&mail_server, 3).await;
    eventually("both stored", async || {
        store.conversation_count().await.is_ok_and(|n| n == 2)
    })
    .await;
    let alice = transcript(&store, ALICE).await;
    let words: Vec<&str> = alice
        .iter()
        .filter(|m| m.author == Author::Customer)
        .map(|m| m.text.as_str())
        .collect();
    assert_eq!(words, vec!["The zip of my jacket broke.", "Any news?"]);
    let theirs = transcript(&store, mallory).await;
    assert_eq!(theirs[0].text, "Send me her address.");
    assert_ne!(theirs[0].conversation_id, alice[0].conversation_id);
}

#[tokio::test]
async fn a_customer_an_agent_tagged_keeps_the_tag_and_segment_in_a_new_thread() {
    let mail_server = MailServer::start();
    let config = mail_server.email_config();
    let gw = TestGateway::start_with(move |c| {
        c.channels.email = Some(config);
        c.segments = vec![crate::support::tagged_segment("key-accounts", 20, "vip")];
    })
    .await;
    let store = gw.store();
    let ann = agent(&gw).await;
    write(
        &mail_server,
        ALICE,
        "<v1@customer.test>",
        "Order 1",
        "My order has not arrived.",
    )
    .await;
    assert_eq!(mail_server.wait_for(ALICE, 1).await.len(), 1);
    let first = store
        .conversation_of(&customer(ALICE))
        .await
        .expect("read")
        .expect("conversation");
    assert_eq!(first.segment, None);
    let (status, body) = gw
        .agent_call(
            &ann,
            Method::PUT,
            &format!("/conversations/{}/tags", first.id),
            Some(json!({"tags": ["vip"]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["conversation"]["segment"], "key-accounts");
    assert_eq!(body["conversation"]["priority"], 20);
    // A new mail, not a reply: a new conversation, still a key account.
    write(
        &mail_server,
        ALICE,
        "<v2@customer.test>",
        "Another question",
        "Do you ship to Norway?",
    )
    .await;
    eventually("a second conversation", async || {
        store.conversation_count().await.is_ok_and(|n| n == 2)
    })
    .await;
    let second = store
        .conversation_of(&customer(ALICE))
        .await
        .expect("read")
        .expect("conversation");
    assert_ne!(second.id, first.id);
    assert_eq!(second.tags, vec!["vip".to_string()]);
    assert_eq!(
        (second.segment.as_deref(), second.priority),
        (Some("key-accounts"), 20)
    );
}

#[tokio::test]
async fn attachments_are_listed_to_agents_and_a_broken_mail_does_not_stop_the_loop() {
    let mail_server = MailServer::start();
    let gw = gateway(&mail_server).await;
    let with_file = format!(
        "From: {ALICE}\r\nTo: {SUPPORT}\r\nSubject: Invoice\r\nMessage-ID: <a1@customer.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"X\"\r\n\r\n--X\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe invoice is wrong, see the scan.\r\n--X\r\nContent-Type: application/pdf; name=\"scan.pdf\"\r\nContent-Disposition: attachment; filename=\"scan.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcfsj6IKMSAwIG9iago8PD4+CmVuZG9iagp0cmFpbGVyCjw8Pj4KJSVFT0YK\r\n--X--\r\n"
    );
    // Headers that are all noise, a NUL, and no sender: kept for a person.
    let broken = "\u{1}\u{2}garbage without a colon\r\nX: \u{0}\r\n\r\n\u{7f}\u{7f}";
    let bob = "bob@customer.test";
    mail_server.send(bob, SUPPORT, broken).await;
    mail_server.send(ALICE, SUPPORT, &with_file).await;
    assert_eq!(
        mail_server.wait_for(ALICE, 1).await.len(),
        1,
        "the good mail is answered"
    );
    all_taken_in(&mail_server, 2).await;

    let ann = agent(&gw).await;
    let store = gw.store();
    let conversation = store
        .conversation_of(&customer(ALICE))
        .await
        .expect("read")
        .expect("conversation");
    let (status, detail) = gw
        .agent_call(
            &ann,
            Method::GET,
            &format!("/conversations/{}", conversation.id),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let files = &detail["messages"][0]["attachments"];
    assert_eq!(files[0]["name"], "scan.pdf", "{detail}");
    assert_eq!(files[0]["content_type"], "application/pdf");
    let hash = files[0]["blob"].as_str().expect("content kept");
    let r = gw
        .http
        .get(gw.url(&format!(
            "/api/v1/agent/conversations/{}/files/{hash}",
            conversation.id
        )))
        .bearer_auth(&ann.token)
        .send()
        .await
        .expect("download");
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .is_ok_and(|v| v.starts_with("attachment")),
        "never inline"
    );
    assert!(r.bytes().await.expect("bytes").starts_with(b"%PDF-1.4"));
    let (status, _) = gw
        .agent_call(
            &ann,
            Method::GET,
            &format!(
                "/conversations/{}/files/{}",
                conversation.id,
                "0".repeat(64)
            ),
            None,
        )
        .await;
    assert_eq!(status, 404, "only files of this conversation");

    // The broken mail became a conversation for a person, not a dead loop.
    let total = store.conversation_count().await.expect("count");
    assert_eq!(total, 2);
    let waiting = store
        .conversations_with_status(ConversationStatus::Waiting, 10)
        .await
        .expect("waiting");
    let broken = waiting
        .iter()
        .find(|c| c.id != conversation.id)
        .expect("the unreadable mail waits for a person");
    let first = store
        .messages_after(broken.id, 0, 10)
        .await
        .expect("transcript");
    assert_eq!(first.len(), 1, "and got no reply: {first:?}");
    assert!(
        matches!(first[0].handling, Handling::HumanOnly { .. }),
        "{:?}",
        first[0].handling
    );
    assert!(first[0].original.is_some(), "its original is kept");
}

#[tokio::test]
async fn a_rebuilt_mailbox_with_a_new_uidvalidity_is_resynced_without_duplicates() {
    let mail_server = MailServer::start();
    // As if the server had rebuilt the mailbox: another UIDVALIDITY, and
    // the mail unread again.
    let gw = answer_one_then_rewind(&mail_server, "email.INBOX.uidvalidity", 1).await;
    write(
        &mail_server,
        ALICE,
        "<u2@customer.test>",
        "Another",
        "How do I get a refund?",
    )
    .await;
    assert_eq!(
        mail_server.wait_for(ALICE, 2).await.len(),
        2,
        "new mail still answered"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        mail_server.mailbox(ALICE).await.len(),
        2,
        "the old mail not answered twice"
    );
    let store = gw.store();
    let mut turns = 0;
    for c in store
        .conversations_with_status(ConversationStatus::Bot, 10)
        .await
        .expect("list")
    {
        turns += store
            .messages_after(c.id, 0, 10)
            .await
            .expect("transcript")
            .iter()
            .filter(|m| m.author == Author::Customer)
            .count();
    }
    assert_eq!(turns, 2, "each mail stored once");
}

#[tokio::test]
async fn a_reply_the_mail_server_refuses_is_marked_failed_for_the_agents() {
    let mail_server = MailServer::start();
    let gw = gateway(&mail_server).await;
    // A sender at our own domain that has no mailbox: the SMTP server
    // answers our acknowledgment with 550 (a permanent failure).
    let ghost = "ghost@example.test";
    write(
        &mail_server,
        ghost,
        "<g1@example.test>",
        "Hi",
        "Where is my order?",
    )
    .await;
    let store = gw.store();
    eventually("the refused reply is flagged", async || {
        store
            .conversation_of(&customer(ghost))
            .await
            .ok()
            .flatten()
            .is_some_and(|c| c.undelivered)
    })
    .await;
    let messages = transcript(&store, ghost).await;
    let failed = messages
        .iter()
        .find(|m| m.author == Author::Bot)
        .expect("the reply");
    assert!(
        matches!(&failed.delivery, Some(Delivery::Failed { error }) if error.contains("550")),
        "{:?}",
        failed.delivery
    );
    assert!(
        store
            .outbox_of(failed.conversation_id)
            .await
            .expect("outbox")
            .is_empty(),
        "not retried"
    );
}

#[tokio::test]
async fn mail_over_tls_and_starttls_with_a_private_ca() {
    use frontdesk::channels::email::config::MailSecurity::{Starttls, Tls};
    let mail_server = MailServer::start_tls();
    let (imaps, smtps) = mail_server.tls_ports.expect("tls ports");
    // Both ways into each server: implicit TLS on its own port, and STARTTLS
    // on the plain one.
    let rounds = [
        (
            "tina@customer.test",
            (Tls, imaps),
            (Starttls, mail_server.smtp_port),
        ),
        (
            "sam@customer.test",
            (Starttls, mail_server.imap_port),
            (Tls, smtps),
        ),
    ];
    for (n, (customer, imap, smtp)) in rounds.into_iter().enumerate() {
        let mut config = mail_server.email_config();
        (config.imap.security, config.imap.port) = imap;
        (config.smtp.security, config.smtp.port) = smtp;
        for server in [&mut config.imap, &mut config.smtp] {
            server.host = "localhost".into();
            server.ca_file = Some(mail_server.cert_path());
        }
        let mut gw = TestGateway::start_with(move |c| c.channels.email = Some(config)).await;
        let id = format!("<s{n}@customer.test>");
        write(&mail_server, customer, &id, "Order", "Where is my order?").await;
        let got = mail_server.wait_for(customer, 1).await;
        assert_eq!(got.len(), 1, "{customer}: read and answered over TLS");
        assert_eq!(header(&got[0], "In-Reply-To"), Some(id));
        gw.stop().await;
    }
}

#[tokio::test]
async fn a_mail_over_the_size_limit_is_imported_by_its_headers_beside_a_normal_one() {
    let mail_server = MailServer::start();
    let mut config = mail_server.email_config();
    config.max_message_bytes = 4000;
    let gw = TestGateway::start_with(move |c| c.channels.email = Some(config)).await;
    let bob = "bob@customer.test";
    let huge = format!(
        "Here is the log.\r\n{}",
        "x".repeat(80).repeat(100).replace("xx", "x\r\n")
    );
    write(&mail_server, bob, "<big@customer.test>", "Huge log", &huge).await;
    write(
        &mail_server,
        ALICE,
        "<small@customer.test>",
        "Small",
        "Where is my order?",
    )
    .await;
    all_taken_in(&mail_server, 2).await;
    let store = gw.store();
    eventually("both stored", async || {
        store.conversation_count().await.is_ok_and(|n| n == 2)
    })
    .await;
    let big = transcript(&store, bob).await;
    assert!(
        big[0].text.contains("over the 4000-byte limit")
            && !big[0].text.contains("Here is the log"),
        "{}",
        big[0].text
    );
    let conversation = store
        .conversation(big[0].conversation_id)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(
        conversation.subject.as_deref(),
        Some("Huge log"),
        "the headers are kept"
    );
    assert_eq!(
        transcript(&store, ALICE).await[0].text,
        "Where is my order?"
    );
}

#[tokio::test]
async fn the_survey_goes_by_mail_is_answered_by_a_number_and_never_follows_automatic_mail() {
    let mail_server = MailServer::start();
    let config = mail_server.email_config();
    let gw = TestGateway::start_with(move |c| {
        c.channels.email = Some(config);
        c.surveys = Some(frontdesk::service_levels::surveys::SurveysConfig {
            questions: vec![frontdesk::model::SurveyKind::Csat],
            channels: vec![frontdesk::model::ChannelKind::Email],
            rating_page_url: None,
        });
    })
    .await;
    let ann = agent(&gw).await;
    let store = gw.store();
    let resolve = |who: &'static str| {
        let (gw, ann, store) = (&gw, &ann, store.clone());
        async move {
            let id = store
                .conversation_of(&customer(who))
                .await
                .expect("read")
                .expect("stored")
                .id;
            let (status, _) = gw
                .agent_call(
                    ann,
                    Method::POST,
                    &format!("/conversations/{id}/resolve"),
                    None,
                )
                .await;
            assert_eq!(status, 200);
        }
    };
    write(
        &mail_server,
        ALICE,
        "<v1@customer.test>",
        "Lamp",
        "my lamp flickers",
    )
    .await;
    let got = mail_server.wait_for(ALICE, 1).await;
    let ack_id = header(&got[0], "Message-ID").expect("id");
    resolve(ALICE).await;
    let got = mail_server.wait_for(ALICE, 2).await;
    let survey = got
        .iter()
        .find(|m| body(m).contains("Reply with a number"))
        .expect("the survey");
    let survey_id = header(survey, "Message-ID").expect("id");
    assert_eq!(
        header(survey, "In-Reply-To").as_deref(),
        Some("<v1@customer.test>")
    );
    let answer = mail(
        ALICE,
        "<v2@customer.test>",
        "Re: Lamp",
        &format!(
            "In-Reply-To: {survey_id}\r\nReferences: <v1@customer.test> {ack_id} {survey_id}\r\n"
        ),
        "5\r\n\r\nOn Tue, 1 Dec 2026 at 10:00, Acme Shop Support <support@example.test> wrote:\r\n> How satisfied are you",
    );
    mail_server.send(ALICE, SUPPORT, &answer).await;
    let got = mail_server.wait_for(ALICE, 3).await;
    assert!(
        got.iter().any(|m| body(m).contains("Thank you")),
        "thanks by mail"
    );
    let rated: Vec<u8> = transcript(&store, ALICE)
        .await
        .iter()
        .filter_map(|m| m.rating.map(|r| r.score))
        .collect();
    assert_eq!(rated, vec![5]);

    // Bob's last mail is his out-of-office: resolving asks him nothing.
    let bob = "bob@customer.test";
    write(
        &mail_server,
        bob,
        "<w1@customer.test>",
        "Chair",
        "my chair wobbles",
    )
    .await;
    let got = mail_server.wait_for(bob, 1).await;
    let bob_ack = header(&got[0], "Message-ID").expect("id");
    let ooo = mail(
        bob,
        "<w2@customer.test>",
        "Out of office",
        &format!("Auto-Submitted: auto-replied\r\nIn-Reply-To: {bob_ack}\r\n"),
        "I am away.",
    );
    mail_server.send(bob, SUPPORT, &ooo).await;
    eventually("the out-of-office is stored", async || {
        transcript(&store, bob).await.len() >= 3
    })
    .await;
    resolve(bob).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        mail_server.mailbox(bob).await.len(),
        1,
        "no survey after automatic mail"
    );
}

#[tokio::test]
async fn an_email_survey_links_to_a_rating_page_that_records_one_rating_with_a_comment() {
    let mail_server = MailServer::start();
    let config = mail_server.email_config();
    let gw = TestGateway::start_with(move |c| {
        c.channels.email = Some(config);
        c.surveys = Some(frontdesk::service_levels::surveys::SurveysConfig {
            questions: vec![frontdesk::model::SurveyKind::Csat],
            channels: vec![frontdesk::model::ChannelKind::Email],
            // The public address; the test reaches the same gateway on
            // its loopback port.
            rating_page_url: Some("https://support.example.test/".into()),
        });
    })
    .await;
    let ann = agent(&gw).await;
    let store = gw.store();
    write(
        &mail_server,
        ALICE,
        "<p1@customer.test>",
        "Lamp",
        "my lamp flickers",
    )
    .await;
    mail_server.wait_for(ALICE, 1).await;
    let id = store
        .conversation_of(&customer(ALICE))
        .await
        .expect("read")
        .expect("stored")
        .id;
    let (status, _) = gw
        .agent_call(
            &ann,
            Method::POST,
            &format!("/conversations/{id}/resolve"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let got = mail_server.wait_for(ALICE, 2).await;
    let survey = body(&got[1]);
    let links: Vec<&str> = survey
        .split_whitespace()
        .filter(|w| w.starts_with("https://support.example.test/rate/"))
        .collect();
    assert_eq!(links.len(), 5, "a link per score: {survey}");
    assert!(!survey.contains("Reply with a number"), "{survey}");
    let local = |link: &str| link.replace("https://support.example.test", &gw.base);
    let four = local(links[3]);
    assert!(four.ends_with("?score=4"), "{four}");

    // Following the link (as a mail scanner would) records nothing.
    let page = gw.http.get(&four).send().await.expect("page");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("value=\"4\" required checked"), "{html}");
    let ratings = async || {
        transcript(&store, ALICE)
            .await
            .iter()
            .filter_map(|m| m.rating.map(|r| (r.score, m.text.clone())))
            .collect::<Vec<_>>()
    };
    assert!(ratings().await.is_empty());

    let action = four.split('?').next().expect("path").to_string();
    let post = |form: Vec<(&'static str, &'static str)>| {
        let (gw, action) = (&gw, action.clone());
        async move {
            gw.http
                .post(&action)
                .form(&form)
                .send()
                .await
                .expect("post")
        }
    };
    let bad = post(vec![("score", "9")]).await;
    assert_eq!(bad.status(), 400, "9 is off the 1-5 scale");
    let done = post(vec![
        ("score", "4"),
        ("comment", "Quick & kind <b>thanks</b>"),
    ])
    .await;
    assert_eq!(done.status(), 200);
    assert!(done.text().await.expect("html").contains("Thank you"));
    let got = mail_server.wait_for(ALICE, 3).await;
    assert!(body(&got[2]).contains("Thank you"), "thanks by mail");
    assert_eq!(
        ratings().await,
        vec![(4, "Quick & kind <b>thanks</b>".to_string())],
        "the comment is kept as written"
    );
    let c = store.conversation(id).await.expect("read").expect("stored");
    assert_eq!(
        c.status,
        ConversationStatus::Resolved,
        "a rating reopens nothing"
    );

    // A second submission changes nothing; the page says it is recorded.
    let again = post(vec![("score", "1")]).await;
    assert_eq!(again.status(), 200);
    let page = gw
        .http
        .get(&four)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(
        page.contains("Thank you") && !page.contains("<form"),
        "{page}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(ratings().await.len(), 1);
    // A made-up question id is not a survey.
    let forged = format!("{}/rate/{id}/{}", gw.base, uuid::Uuid::nil());
    let r = gw.http.get(&forged).send().await.expect("forged");
    assert_eq!(r.status(), 404);
}
