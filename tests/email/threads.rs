//! Threads and acknowledgments: one threaded ack per mail, replies joining
//! it, ticket tags, tags that follow the customer into a new thread.

use super::*;

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
