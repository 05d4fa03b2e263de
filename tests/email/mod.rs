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

mod loops;
mod mailbox;
mod surveys;
mod threads;

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
