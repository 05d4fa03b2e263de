//! What agents write: replies that reach the customer, notes that never
//! do, canned responses, undeliverable replies, live events, refused text.

use super::*;

#[tokio::test]
async fn an_agent_reply_reaches_the_web_chat_customer_and_the_bot_stays_silent() {
    let (gw, ann, _bob, _boss) = gateway_with_agents().await;
    let (session, id) = waiting_customer(&gw, "the sofa arrived torn").await;
    let (status, _) = gw
        .agent_call(
            &ann,
            Method::POST,
            &format!("/conversations/{id}/claim"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = gw
        .agent_call(
            &ann,
            Method::POST,
            &format!("/conversations/{id}/messages"),
            Some(json!({"text": "So sorry! A new one ships today."})),
        )
        .await;
    assert_eq!(status, 202);
    let got = lines(&gw.wait_for_messages(&session, 3).await);
    assert_eq!(
        got[2],
        ("agent".into(), "So sorry! A new one ships today.".into())
    );

    // While Ann owns it, even a question the bot could answer gets no bot reply.
    gw.post(&session, "q2", "Where is my order?").await;
    gw.post(&session, "q3", "hello?").await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let got = lines(&gw.read(&session, 0, 0).await);
    assert_eq!(got.len(), 5, "{got:?}");
    assert!(
        got[3..].iter().all(|(from, _)| from == "customer"),
        "{got:?}"
    );

    // Ann sees them in the transcript.
    let (_, detail) = gw
        .agent_call(&ann, Method::GET, &format!("/conversations/{id}"), None)
        .await;
    let texts: Vec<&str> = detail["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert!(
        texts.contains(&"Where is my order?") && texts.contains(&"hello?"),
        "{texts:?}"
    );

    // Returned to the bot, it answers again.
    gw.agent_call(
        &ann,
        Method::POST,
        &format!("/conversations/{id}/return-to-bot"),
        None,
    )
    .await;
    gw.post(&session, "q4", "Where is my order?").await;
    let got = lines(&gw.wait_for_messages(&session, 7).await);
    assert_eq!(got[6].0, "bot", "{got:?}");
}

#[tokio::test]
async fn notes_never_reach_the_customer() {
    let (gw, ann, _bob, _boss) = gateway_with_agents().await;
    let (session, id) =
        waiting_customer(&gw, "the warranty paperwork for my fridge is in Dutch").await;
    let (status, body) = gw
        .agent_call(
            &ann,
            Method::POST,
            &format!("/conversations/{id}/notes"),
            Some(json!({"text": "Customer is a known fraudster, check with finance"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["note"]["internal"], true);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let seen = gw.read(&session, 0, 0).await;
    assert!(
        seen.iter()
            .all(|m| !m["text"].as_str().unwrap_or("").contains("fraudster")),
        "{seen:?}"
    );
    let (_, detail) = gw
        .agent_call(&ann, Method::GET, &format!("/conversations/{id}"), None)
        .await;
    let note = detail["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .find(|m| m["internal"] == true)
        .expect("note shown to agents");
    assert_eq!(note["agent"], "ann");
    // A note is not a claim.
    assert_eq!(detail["conversation"]["status"], "waiting");
}

#[tokio::test]
async fn canned_responses_are_admin_managed_and_rendered_per_conversation() {
    let (gw, ann, _bob, boss) = gateway_with_agents().await;
    let canned = json!({"name": "sorry", "title": "Apology", "text": "Sorry for the trouble with ticket #{{ ticket }}, {{ company }} will fix it."});
    assert_eq!(
        gw.agent_call(&ann, Method::POST, "/canned", Some(canned.clone()))
            .await
            .0,
        403
    );
    assert_eq!(
        gw.agent_call(&boss, Method::POST, "/canned", Some(canned))
            .await
            .0,
        201
    );
    let bad = json!({"name": "typo", "title": "Typo", "text": "Hi {{ custmer_name }}"});
    let (status, body) = gw
        .agent_call(&boss, Method::POST, "/canned", Some(bad))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_template"))
    );

    let (_, id) = waiting_customer(&gw, "the mirror cracked").await;
    let ticket = gw
        .store()
        .conversation(id.parse().expect("id"))
        .await
        .expect("read")
        .expect("exists")
        .ticket;
    let (_, list) = gw
        .agent_call(
            &ann,
            Method::GET,
            &format!("/conversations/{id}/canned"),
            None,
        )
        .await;
    assert_eq!(
        list["canned"][0]["text"],
        format!("Sorry for the trouble with ticket #{ticket}, Acme Shop will fix it.")
    );
    assert_eq!(
        gw.agent_call(&boss, Method::DELETE, "/canned/sorry", None)
            .await
            .0,
        204
    );
    assert_eq!(
        gw.agent_call(&boss, Method::DELETE, "/canned/sorry", None)
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn a_reply_that_cannot_be_delivered_is_marked_for_agents() {
    let (gw, ann, _bob, _boss) = gateway_with_agents().await;
    // A Telegram customer, with no Telegram channel configured.
    let store = gw.store();
    let accepted = store
        .accept(
            &InboundMessage {
                display_name: Some("Tg User".into()),
                ..InboundMessage::text(
                    CustomerAddress::Telegram { chat_id: 42 },
                    "update-1".into(),
                    "hello from telegram".into(),
                    Utc::now(),
                )
            },
            &NewConversation {
                priority: 0,
                locale: "en".into(),
                segment: None,
                tags: Vec::new(),
            },
            &take_in,
        )
        .await
        .expect("accept");
    let id = accepted.conversation.id;
    let mut events = gw
        .http
        .get(gw.url("/api/v1/agent/events"))
        .bearer_auth(&ann.token)
        .send()
        .await
        .expect("events");
    let (status, _) = gw
        .agent_call(
            &ann,
            Method::POST,
            &format!("/conversations/{id}/messages"),
            Some(json!({"text": "Can you hear me?"})),
        )
        .await;
    assert_eq!(status, 202);
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !seen.contains("delivery_failed") {
        let chunk = tokio::time::timeout_at(deadline, events.chunk())
            .await
            .expect("event in time")
            .expect("read")
            .expect("open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    let (_, detail) = gw
        .agent_call(&ann, Method::GET, &format!("/conversations/{id}"), None)
        .await;
    assert_eq!(detail["conversation"]["undelivered"], true);
    let failed = detail["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .find(|m| m["delivered"] == false)
        .expect("failed message");
    assert!(
        failed["error"]
            .as_str()
            .expect("error")
            .contains("telegram"),
        "{failed}"
    );
}

#[tokio::test]
async fn events_announce_queue_entries_customer_messages_and_claims() {
    let (gw, ann, _bob, _boss) = gateway_with_agents().await;
    let response = gw
        .http
        .get(gw.url("/api/v1/agent/events"))
        .bearer_auth(&ann.token)
        .send()
        .await
        .expect("events");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .expect("type")
            .starts_with("text/event-stream")
    );
    let mut stream = response;
    let (session, id) = waiting_customer(&gw, "my chair wobbles").await;
    gw.agent_call(
        &ann,
        Method::POST,
        &format!("/conversations/{id}/claim"),
        None,
    )
    .await;
    gw.post(&session, "again", "any news?").await;
    let text = crate::support::events_until(
        &mut stream,
        &[
            "\"queued\"",
            "\"customer_message\"",
            "\"assigned\"",
            "\"status_changed\"",
        ],
    )
    .await;
    assert!(text.contains(&id), "{text}");
    assert!(
        !text.contains("my chair wobbles"),
        "events carry no customer text"
    );
}

#[tokio::test]
async fn empty_or_oversized_agent_text_is_refused_and_changes_nothing() {
    let (gw, ann, _bob, _boss) = gateway_with_agents().await;
    let (session, id) = waiting_customer(&gw, "the chair squeaks at night").await;
    for kind in ["messages", "notes"] {
        let path = format!("/conversations/{id}/{kind}");
        let (status, body) = gw
            .agent_call(&ann, Method::POST, &path, Some(json!({"text": "  \n "})))
            .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("empty_message")),
            "{kind}"
        );
        let (status, body) = gw
            .agent_call(
                &ann,
                Method::POST,
                &path,
                Some(json!({"text": "x".repeat(17 * 1024)})),
            )
            .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (413, Some("message_too_large")),
            "{kind}"
        );
    }
    let (_, detail) = gw
        .agent_call(&ann, Method::GET, &format!("/conversations/{id}"), None)
        .await;
    assert_eq!(
        detail["messages"].as_array().expect("messages").len(),
        2,
        "nothing was added"
    );
    assert_eq!(
        detail["conversation"]["status"], "waiting",
        "a refused reply claims nothing"
    );
    assert_eq!(gw.read(&session, 0, 0).await.len(), 2);
}
