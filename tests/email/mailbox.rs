//! The mailbox loop against a real IMAP server: crashes, reconnects, a
//! rebuilt mailbox, TLS, attachments, broken and oversized mail.

use super::*;

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
