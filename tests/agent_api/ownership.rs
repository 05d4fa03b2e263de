//! Who owns a conversation: the claim race, the bot's silence once an
//! agent claims, reopening, assigning and releasing, the queue agents see.

use super::*;

#[tokio::test]
async fn two_agents_claiming_at_once_one_wins() {
    let (gw, ann, bob, _boss) = gateway_with_agents().await;
    for round in 0..8 {
        let (_, id) =
            waiting_customer(&gw, &format!("problem number {round} with my kettle")).await;
        let path = format!("/conversations/{id}/claim");
        let (a, b) = tokio::join!(
            gw.agent_call(&ann, Method::POST, &path, None),
            gw.agent_call(&bob, Method::POST, &path, None)
        );
        let mut statuses = [a.0, b.0];
        statuses.sort();
        assert_eq!(statuses, [200, 409], "round {round}: {a:?} {b:?}");
        let winner = if a.0 == 200 { "ann" } else { "bob" };
        let stored = gw
            .store()
            .conversation(id.parse().expect("id"))
            .await
            .expect("read")
            .expect("exists");
        assert_eq!(stored.assigned_agent.as_deref(), Some(winner));
    }
    assert!(
        gw.store()
            .waiting_queue(10)
            .await
            .expect("queue")
            .is_empty(),
        "claimed conversations leave the queue"
    );
}

#[tokio::test]
async fn a_queued_bot_answer_is_not_sent_after_an_agent_claims() {
    let (gw, ann, _bob, _boss) = gateway_with_agents().await;
    let store = gw.store();
    // A turn whose automatic answer is due in a moment, as if the outbox were slow.
    let accepted = store
        .accept(
            &InboundMessage::text(
                CustomerAddress::Web {
                    session_id: uuid::Uuid::new_v4(),
                },
                "slow-1".into(),
                "Where is my order?".into(),
                Utc::now(),
            ),
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
    let now = Utc::now();
    store
        .record_turn(
            &TurnOutcome {
                turn: PendingTurn {
                    conversation_id: accepted.conversation.id,
                    seq: 1,
                },
                locale: "en".into(),
                handoff: false,
                replies: vec![OutboxEntry {
                    id: OutboxId::new(),
                    conversation_id: accepted.conversation.id,
                    reason: OutboundReason::Answer,
                    text: "the bot's late answer".into(),
                    intent: Some("track_order".into()),
                    agent: None,
                    created_at: now,
                    due_at: now + chrono::Duration::milliseconds(800),
                    attempts: 0,
                    last_error: None,
                    options: Vec::new(),
                    survey: None,
                    invites_comment: false,
                }],
                sla: None,
                route: None,
            },
            &after_turn,
        )
        .await
        .expect("record");
    let id = accepted.conversation.id;
    let (status, _) = gw
        .agent_call(
            &ann,
            Method::POST,
            &format!("/conversations/{id}/claim"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    // The outbox idles up to 5 s when nothing woke it; wait for it to act.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !store.outbox_of(id).await.expect("outbox").is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the outbox never handled the entry"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let transcript = store.messages_after(id, 0, 10).await.expect("read");
    assert_eq!(
        transcript.len(),
        1,
        "only the customer's message: {transcript:?}"
    );
}

#[tokio::test]
async fn a_customer_message_reopens_resolved_and_wakes_pending() {
    let (gw, ann, _bob, _boss) = gateway_with_agents().await;
    let (session, id) = waiting_customer(&gw, "my drawer is stuck").await;
    let call = |action: &'static str| {
        let path = format!("/conversations/{id}/{action}");
        let gw = &gw;
        let ann = &ann;
        async move { gw.agent_call(ann, Method::POST, &path, None).await }
    };
    assert_eq!(call("claim").await.0, 200);
    assert_eq!(call("pending").await.1["conversation"]["status"], "pending");
    gw.post(&session, "p1", "here is the photo you asked for")
        .await;
    let c = gw
        .store()
        .conversation(id.parse().expect("id"))
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(
        format!("{:?}", c.status),
        "Assigned",
        "pending returns to assigned"
    );

    let (status, body) = call("resolve").await;
    assert_eq!(
        (status, body["conversation"]["status"].as_str()),
        (200, Some("resolved"))
    );
    // A claim does not reopen it behind everyone's back.
    let (status, body) = call("claim").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("already_resolved")),
        "{body}"
    );
    gw.post(&session, "r1", "Where is my order?").await;
    let c = gw
        .store()
        .conversation(id.parse().expect("id"))
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(
        format!("{:?}", c.status),
        "Bot",
        "resolved reopens to the bot"
    );
    let got = lines(&gw.wait_for_messages(&session, 5).await);
    assert_eq!(got.last().expect("reply").0, "bot", "{got:?}");
}

#[tokio::test]
async fn assign_and_release_follow_ownership() {
    let (gw, ann, bob, boss) = gateway_with_agents().await;
    let (_, id) = waiting_customer(&gw, "the lamp hums").await;
    let path = |action: &str| format!("/conversations/{id}/{action}");
    assert_eq!(
        gw.agent_call(&ann, Method::POST, &path("claim"), None)
            .await
            .0,
        200
    );
    assert_eq!(
        gw.agent_call(&bob, Method::POST, &path("release"), None)
            .await
            .0,
        409,
        "not Bob's"
    );
    assert_eq!(
        gw.agent_call(
            &bob,
            Method::POST,
            &path("messages"),
            Some(json!({"text": "hi"}))
        )
        .await
        .0,
        409,
        "Bob cannot answer Ann's customer"
    );
    assert_eq!(
        gw.agent_call(
            &bob,
            Method::POST,
            &path("assign"),
            Some(json!({"agent": "bob"}))
        )
        .await
        .0,
        409
    );
    let (status, body) = gw
        .agent_call(
            &ann,
            Method::POST,
            &path("assign"),
            Some(json!({"agent": "bob"})),
        )
        .await;
    assert_eq!(
        (status, body["conversation"]["assigned_agent"].as_str()),
        (200, Some("bob"))
    );
    let (status, body) = gw
        .agent_call(
            &boss,
            Method::POST,
            &path("assign"),
            Some(json!({"agent": "ann"})),
        )
        .await;
    assert_eq!(
        (status, body["conversation"]["assigned_agent"].as_str()),
        (200, Some("ann")),
        "admins reassign anything"
    );
    assert_eq!(
        gw.agent_call(
            &ann,
            Method::POST,
            &path("assign"),
            Some(json!({"agent": "nobody"}))
        )
        .await
        .0,
        400
    );
    let (status, body) = gw
        .agent_call(&ann, Method::POST, &path("release"), None)
        .await;
    assert_eq!(
        (status, body["conversation"]["status"].as_str()),
        (200, Some("waiting"))
    );
    let (_, list) = gw
        .agent_call(&bob, Method::GET, "/conversations?status=waiting", None)
        .await;
    assert_eq!(
        list["conversations"][0]["id"],
        json!(id),
        "released back into the queue"
    );
}

#[tokio::test]
async fn the_queue_lists_by_priority_then_wait_with_what_agents_need() {
    let (gw, ann, _bob, _boss) = gateway_with_agents().await;
    let (_, first) = waiting_customer(&gw, "the first odd problem").await;
    let (_, second) = waiting_customer(&gw, "the second odd problem").await;
    let (status, list) = gw
        .agent_call(&ann, Method::GET, "/conversations?status=waiting", None)
        .await;
    assert_eq!(status, 200);
    let items = list["conversations"].as_array().expect("list");
    assert_eq!(
        items
            .iter()
            .map(|c| c["id"].as_str().expect("id"))
            .collect::<Vec<_>>(),
        vec![first.as_str(), second.as_str()]
    );
    for key in [
        "ticket",
        "channel",
        "customer_name",
        "status",
        "priority",
        "assigned_agent",
        "waiting_since",
        "preview",
        "undelivered",
    ] {
        assert!(items[0].get(key).is_some(), "missing {key}: {}", items[0]);
    }
    assert_eq!(items[0]["channel"], "web");
    assert_eq!(
        gw.agent_call(&ann, Method::GET, "/conversations?status=nonsense", None)
            .await
            .0,
        400
    );
    gw.agent_call(
        &ann,
        Method::POST,
        &format!("/conversations/{second}/claim"),
        None,
    )
    .await;
    let (_, mine) = gw
        .agent_call(
            &ann,
            Method::GET,
            "/conversations?status=assigned&agent=me",
            None,
        )
        .await;
    assert_eq!(mine["conversations"].as_array().expect("list").len(), 1);
}
