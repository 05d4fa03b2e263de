//! Mail that must not be answered (out-of-office, lists, bounces), the
//! per-sender cap, and replies the mail server refuses.

use super::*;

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
