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
use frontdesk::store::Store;
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
    let gateway = frontdesk::app::start(settings).await.expect("gateway starts");
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

fn customer(address: &str) -> CustomerAddress {
    CustomerAddress::Email {
        address: address.into(),
    }
}

fn transcript(store: &Arc<dyn Store>, address: &str) -> Vec<Message> {
    let c = store
        .conversation_of(&customer(address))
        .expect("read")
        .expect("conversation");
    store.messages_after(c.id, 0, 100).expect("transcript")
}

/// Waits until `check` holds on the store (or 15 s pass).
async fn eventually(what: &str, check: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !check() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn agent(gw: &TestGateway) -> AgentLogin {
    gw.add_agent("ann", "ann-password", Role::Agent);
    gw.login("ann", "ann-password").await
}

#[tokio::test]
async fn a_mail_gets_one_threaded_ack_replies_join_it_and_the_agent_answers_in_the_thread() {
    let mail_server = MailServer::start();
    let gw = gateway(&mail_server).await;
    mail_server
        .send(
            ALICE,
            SUPPORT,
            &mail(ALICE, "<m1@customer.test>", "Where is my order?", "", "Where is my order? It has been a week."),
        )
        .await;

    let got = mail_server.wait_for(ALICE, 1).await;
    assert_eq!(got.len(), 1, "one acknowledgment");
    let ack = &got[0];
    assert_eq!(header(ack, "In-Reply-To").as_deref(), Some("<m1@customer.test>"));
    assert_eq!(header(ack, "References").as_deref(), Some("<m1@customer.test>"));
    assert_eq!(header(ack, "Auto-Submitted").as_deref(), Some("auto-replied"));
    assert_eq!(header(ack, "X-Auto-Response-Suppress").as_deref(), Some("All"));
    let conversation = gw
        .store()
        .conversation_of(&customer(ALICE))
        .expect("read")
        .expect("conversation");
    let ticket = conversation.ticket;
    assert_eq!(
        header(ack, "Subject"),
        Some(format!("Re: Where is my order? [#{ticket}]"))
    );
    assert!(header(ack, "From").is_some_and(|f| f.contains(SUPPORT)));
    let text = body(ack);
    assert!(text.contains("shop.example/orders"), "the intent's answer: {text}");
    assert!(text.contains(&ticket.to_string()), "{text}");
    let ack_id = header(ack, "Message-ID").expect("our Message-ID");
    // The support mailbox marks the mail read only now that it is stored.
    let support = mail_server.mailbox(SUPPORT).await;
    assert!(support.iter().all(|(_, seen, _)| *seen), "taken-in mail is \\Seen");

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
    eventually("the reply is stored", || transcript(&store, ALICE).len() >= 3).await;
    let messages = transcript(&store, ALICE);
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
    eventually("the follow-up waits for a person", || {
        store
            .conversation_of(&customer(ALICE))
            .ok()
            .flatten()
            .is_some_and(|c| c.status == ConversationStatus::Waiting)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(mail_server.mailbox(ALICE).await.len(), 1, "no ack for a follow-up");

    // The agent answers from the console: threaded under the customer's reply.
    let ann = agent(&gw).await;
    let path = format!("/conversations/{}/messages", conversation.id);
    let (status, _) = gw
        .agent_call(&ann, Method::POST, &path, Some(json!({"text": "So sorry! It ships today."})))
        .await;
    assert_eq!(status, 202);
    let got = mail_server.wait_for(ALICE, 2).await;
    assert_eq!(got.len(), 2);
    let answer = got
        .iter()
        .find(|m| body(m).contains("It ships today"))
        .expect("the agent's reply");
    assert_eq!(header(answer, "In-Reply-To").as_deref(), Some("<m2@customer.test>"));
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
    mail_server
        .send(ALICE, SUPPORT, &mail(ALICE, "<q1@customer.test>", "Refund", "", "How do I get a refund?"))
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
    mail_server.send("mailer-daemon@mx.customer.test", SUPPORT, &bounce).await;

    eventually("the bounce marks our delivery failed", || {
        store
            .conversation_of(&customer(ALICE))
            .ok()
            .flatten()
            .is_some_and(|c| c.undelivered)
    })
    .await;
    all_taken_in(&mail_server, 4).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(mail_server.mailbox(ALICE).await.len(), 1, "the out-of-office got no answer");
    assert!(mail_server.mailbox("deals@lists.test").await.is_empty(), "no answer to a list");
    assert!(
        mail_server.mailbox("mailer-daemon@mx.customer.test").await.is_empty(),
        "no answer to a bounce"
    );
    let messages = transcript(&store, ALICE);
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
        vec![Handling::Normal, silent("auto_submitted"), silent("daemon_sender")]
    );
    // The list post opened a conversation of its own, and got nothing.
    let list = transcript(&store, "deals@lists.test");
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
        assert!(tokio::time::Instant::now() < deadline, "mails not taken in: {:?}", support.iter().map(|(u, s, _)| (u, s)).collect::<Vec<_>>());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
