//! The agent API over real HTTP: sign-in, every route closed without
//! credentials, CSRF, the claim race, replies reaching the customer, notes
//! never reaching them, the bot's silence while a human owns the
//! conversation, reopening, canned responses and live events.

use crate::support::{AgentLogin, TestGateway, lines};
use chrono::{Datelike, Timelike, Utc};
use frontdesk::conversation::{intake::take_in, turn::after_turn};
use frontdesk::model::{
    CustomerAddress, InboundMessage, OutboundReason, OutboxEntry, OutboxId, Role,
};
use frontdesk::store::{NewConversation, PendingTurn, TurnOutcome};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

const PASSWORD: &str = "correct horse battery";

async fn gateway_with_agents() -> (TestGateway, AgentLogin, AgentLogin, AgentLogin) {
    let gw = TestGateway::start().await;
    gw.add_agent("ann", PASSWORD, Role::Agent).await;
    gw.add_agent("bob", PASSWORD, Role::Agent).await;
    gw.add_agent("boss", PASSWORD, Role::Admin).await;
    let ann = gw.login("ann", PASSWORD).await;
    let bob = gw.login("bob", PASSWORD).await;
    let boss = gw.login("boss", PASSWORD).await;
    (gw, ann, bob, boss)
}

/// A web chat customer with an unanswerable question: a waiting conversation.
async fn waiting_customer(gw: &TestGateway, text: &str) -> (String, String) {
    let session = gw.session().await;
    let (_, receipt) = gw.post(&session, "q1", text).await;
    gw.wait_for_messages(&session, 2).await;
    (
        session,
        receipt["conversation_id"].as_str().expect("id").to_string(),
    )
}

#[tokio::test]
async fn every_agent_route_but_login_answers_401_without_credentials() {
    let gw = TestGateway::start().await;
    let (_, routes) = frontdesk::http::agent::routes();
    assert!(
        routes.len() >= 20,
        "the route table lists {} routes",
        routes.len()
    );
    for (method, path) in routes {
        let path = path
            .replace("{id}", "01900000-0000-7000-8000-000000000000")
            .replace("{name}", "x")
            .replace("{username}", "x");
        let url = gw.url(&format!("/api/v1/agent{path}"));
        for auth in [
            None,
            Some("Bearer not-a-real-token"),
            Some("Basic YWRtaW46YWRtaW4="),
        ] {
            let mut request = gw.http.request(method.clone(), &url).json(&json!({}));
            if let Some(value) = auth {
                request = request.header("authorization", value);
            }
            let status = request.send().await.expect("send").status().as_u16();
            if path == "/login" {
                assert_ne!(status, 401, "login must be open");
                assert_ne!(status, 200, "login with no credentials must fail");
            } else {
                assert_eq!(status, 401, "{method} {path} with {auth:?}");
            }
        }
    }
}

#[tokio::test]
async fn login_and_logout() {
    let gw = TestGateway::start().await;
    gw.add_agent("ann", PASSWORD, Role::Agent).await;
    let wrong = gw
        .http
        .post(gw.url("/api/v1/agent/login"))
        .json(&json!({"username": "ann", "password": "not it at all"}))
        .send()
        .await
        .expect("send");
    assert_eq!(wrong.status(), 401);
    let body: Value = wrong.json().await.expect("json");
    assert_eq!(body["error"], "invalid_credentials");

    let r = gw
        .http
        .post(gw.url("/api/v1/agent/login"))
        .json(&json!({"username": "ann", "password": PASSWORD}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let body: Value = r.json().await.expect("json");
    let login = AgentLogin {
        token: body["token"].as_str().expect("token").into(),
        csrf: body["csrf"].as_str().expect("csrf").into(),
        cookie: cookie.split(';').next().expect("pair").into(),
    };
    let (status, me) = gw.agent_call(&login, Method::GET, "/me", None).await;
    assert_eq!((status, me["username"].as_str()), (200, Some("ann")));

    assert_eq!(
        gw.agent_call(&login, Method::POST, "/logout", None).await.0,
        204
    );
    assert_eq!(
        gw.agent_call(&login, Method::GET, "/me", None).await.0,
        401,
        "the token died with the session"
    );
}

#[tokio::test]
async fn a_disabled_agent_is_signed_out_at_once() {
    let (gw, ann, _bob, boss) = gateway_with_agents().await;
    let (status, _) = gw
        .agent_call(&boss, Method::POST, "/agents/ann/disable", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(gw.agent_call(&ann, Method::GET, "/me", None).await.0, 401);
    // And only admins may disable.
    let (gw2, ann2, bob2, _) = gateway_with_agents().await;
    assert_eq!(
        gw2.agent_call(&ann2, Method::POST, "/agents/bob/disable", None)
            .await
            .0,
        403
    );
    assert_eq!(gw2.agent_call(&bob2, Method::GET, "/me", None).await.0, 200);
}

#[tokio::test]
async fn cookie_writes_need_the_csrf_token() {
    let (gw, ann, _bob, _boss) = gateway_with_agents().await;
    let (_, id) = waiting_customer(&gw, "my blender grinds oddly").await;
    let by_cookie = |method: Method, path: &str| {
        gw.http
            .request(method, gw.url(&format!("/api/v1/agent{path}")))
            .header("cookie", &ann.cookie)
    };
    let me = by_cookie(Method::GET, "/me").send().await.expect("send");
    assert_eq!(me.status(), 200, "cookie reads need no CSRF token");
    let forged = by_cookie(Method::POST, &format!("/conversations/{id}/claim"))
        .send()
        .await
        .expect("send");
    assert_eq!(forged.status(), 403);
    let body: Value = forged.json().await.expect("json");
    assert_eq!(body["error"], "csrf_token_required");
    let wrong = by_cookie(Method::POST, &format!("/conversations/{id}/claim"))
        .header("x-csrf-token", "0".repeat(64))
        .send()
        .await
        .expect("send");
    assert_eq!(wrong.status(), 403);
    let detail = gw
        .store()
        .conversation(id.parse().expect("id"))
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(
        detail.assigned_agent, None,
        "the rejected writes changed nothing"
    );
    let ok = by_cookie(Method::POST, &format!("/conversations/{id}/claim"))
        .header("x-csrf-token", &ann.csrf)
        .send()
        .await
        .expect("send");
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn repeated_failed_logins_are_slowed_down() {
    let gw = TestGateway::start().await;
    gw.add_agent("ann", PASSWORD, Role::Agent).await;
    let attempt = |password: &'static str| {
        gw.http
            .post(gw.url("/api/v1/agent/login"))
            .json(&json!({"username": "ann", "password": password}))
            .send()
    };
    for _ in 0..5 {
        assert_eq!(attempt("wrong password").await.expect("send").status(), 401);
    }
    let throttled = attempt(PASSWORD).await.expect("send");
    assert_eq!(throttled.status(), 429, "even the right password waits");
    assert!(throttled.headers().contains_key("retry-after"));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        attempt(PASSWORD).await.expect("send").status(),
        200,
        "after the wait, it works"
    );
}

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
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let wanted = [
        "\"queued\"",
        "\"customer_message\"",
        "\"assigned\"",
        "\"status_changed\"",
    ];
    while !wanted.iter().all(|w| text.contains(w)) {
        let chunk = tokio::time::timeout_at(deadline, stream.chunk())
            .await
            .unwrap_or_else(|_| panic!("events so far: {text}"))
            .expect("read")
            .expect("open");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
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

#[tokio::test]
async fn the_quoted_wait_follows_how_fast_agents_have_been_picking_up() {
    let (gw, ann, _bob, _boss) = gateway_with_agents().await;
    let mut first_ack = String::new();
    for i in 0..3 {
        let (session, id) = waiting_customer(&gw, &format!("my lamp {i} flickers")).await;
        if i == 0 {
            first_ack = gw.wait_for_messages(&session, 2).await[1]["text"]
                .as_str()
                .unwrap_or_default()
                .to_string();
        }
        let (status, _) = gw
            .agent_call(
                &ann,
                Method::POST,
                &format!("/conversations/{id}/claim"),
                None,
            )
            .await;
        assert_eq!(status, 200);
    }
    // No pickups yet: the configured 5 minutes per place in line.
    assert!(
        first_ack.contains("number 1 in line, with an expected wait of about 5 minutes"),
        "{first_ack}"
    );
    let pickups = gw
        .store()
        .pickups_since(Utc::now() - chrono::Duration::hours(1))
        .await
        .expect("pickups");
    assert_eq!(pickups.len(), 3);
    // Three pickups in the last hour: one every 20 minutes.
    let (session, _) = waiting_customer(&gw, "my chair wobbles").await;
    let ack = gw.wait_for_messages(&session, 2).await[1]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        ack.contains("number 1 in line, with an expected wait of about 20 minutes"),
        "{ack}"
    );
}

/// A loopback receiver for webhooks: every JSON body posted to it.
async fn webhook_receiver() -> (String, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let sink = sink.clone();
            async move {
                sink.lock().expect("lock").push(body);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

/// Moves a conversation's first-response clock: started `ago` minutes ago,
/// due in `left` minutes (negative: already past).
async fn shift_sla(gw: &TestGateway, id: &str, ago: i64, left: i64) {
    let store = gw.store();
    let mut c = store
        .conversation(id.parse().expect("uuid"))
        .await
        .expect("read")
        .expect("stored");
    let now = Utc::now();
    let sla = c.sla.as_mut().expect("a deadline was set at the hand-off");
    sla.started_at = now - chrono::Duration::minutes(ago);
    sla.first_response_due = now + chrono::Duration::minutes(left);
    sla.first_response_near =
        Some(sla.started_at + (sla.first_response_due - sla.started_at) * 8 / 10);
    store
        .import(frontdesk::store::ExportRecord::Conversation(c))
        .await
        .expect("rewrite");
}

#[tokio::test]
async fn a_resolution_promise_is_set_at_the_hand_off_and_kept_by_resolving() {
    let gw = TestGateway::start_with(|c| {
        c.sla = Some(frontdesk::service_levels::sla::SlaConfig {
            first_response_minutes: 60,
            resolution_minutes: Some(480),
            check_secs: 60,
            breach_webhook: None,
        })
    })
    .await;
    gw.add_agent("ann", PASSWORD, Role::Agent).await;
    let ann = gw.login("ann", PASSWORD).await;
    let (_, id) = waiting_customer(&gw, "my lamp flickers").await;
    let sla = gw
        .store()
        .conversation(id.parse().expect("uuid"))
        .await
        .expect("read")
        .expect("stored")
        .sla
        .expect("a promise");
    let minutes = |a: chrono::DateTime<Utc>| (a - sla.started_at).num_seconds() as f64 / 60.0;
    // Always open here: wall-clock deadlines, 80% marks at 48 and 384 min.
    let near = sla.first_response_near.expect("near mark");
    let resolution_due = sla.resolution_due.expect("resolution deadline");
    assert!((minutes(near) - 48.0).abs() < 0.1, "{sla:?}");
    assert!((minutes(resolution_due) - 480.0).abs() < 0.1, "{sla:?}");
    assert!(
        (minutes(sla.resolution_near.expect("near")) - 384.0).abs() < 0.1,
        "{sla:?}"
    );
    let path = |action: &str| format!("/conversations/{id}/{action}");
    let (status, _) = gw
        .agent_call(
            &ann,
            Method::POST,
            &path("messages"),
            Some(json!({"text": "On it."})),
        )
        .await;
    assert_eq!(status, 202);
    let (_, body) = gw
        .agent_call(&ann, Method::GET, &format!("/conversations/{id}"), None)
        .await;
    let shown = &body["conversation"]["sla"];
    assert_eq!(shown["first_response"], "met", "{shown}");
    assert_eq!(shown["resolution"], "ok");
    assert_eq!(shown["state"], "ok", "the resolution still runs");
    let (status, body) = gw
        .agent_call(&ann, Method::POST, &path("resolve"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["conversation"]["sla"]["resolution"], "met", "{body}");
    assert_eq!(body["conversation"]["sla"]["state"], "met");
}

#[tokio::test]
async fn a_missed_first_response_deadline_is_flagged_and_posted_to_the_webhook_once() {
    let (hook, posted) = webhook_receiver().await;
    let gw = TestGateway::start_with(move |c| {
        c.sla = Some(frontdesk::service_levels::sla::SlaConfig {
            first_response_minutes: 60,
            resolution_minutes: None,
            check_secs: 1,
            breach_webhook: Some(hook),
        })
    })
    .await;
    gw.add_agent("ann", PASSWORD, Role::Agent).await;
    let ann = gw.login("ann", PASSWORD).await;
    let (_, id) = waiting_customer(&gw, "my lamp flickers").await;
    let sla_of = async |gw: &TestGateway| {
        let c = gw
            .store()
            .conversation(id.parse().expect("uuid"))
            .await
            .expect("read")
            .expect("stored");
        c.sla.expect("sla")
    };
    let sla = sla_of(&gw).await;
    let promised = sla.first_response_due - sla.started_at;
    assert!(
        (promised - chrono::Duration::minutes(60))
            .num_milliseconds()
            .abs()
            < 1000,
        "{promised:?}"
    );
    let (_, list) = gw
        .agent_call(&ann, Method::GET, "/conversations?status=waiting", None)
        .await;
    assert_eq!(list["conversations"][0]["sla"]["state"], "ok", "{list}");

    // 55 of 60 minutes used: near.
    shift_sla(&gw, &id, 55, 5).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while sla_of(&gw).await.announced != frontdesk::model::SlaState::Near {
        assert!(
            tokio::time::Instant::now() < deadline,
            "near was not announced"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, list) = gw
        .agent_call(&ann, Method::GET, "/conversations?status=waiting", None)
        .await;
    assert_eq!(list["conversations"][0]["sla"]["state"], "near");
    assert!(posted.lock().expect("lock").is_empty(), "near is no breach");

    // Past the deadline: breached, posted once.
    shift_sla(&gw, &id, 61, -1).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while posted.lock().expect("lock").is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no webhook call");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let calls = posted.lock().expect("lock").clone();
    assert_eq!(calls.len(), 1, "announced once: {calls:?}");
    assert_eq!(calls[0]["type"], "sla_breached");
    assert_eq!(calls[0]["conversation_id"], json!(id));
    assert!(
        calls[0].get("text").is_none(),
        "no customer text leaves in the notice"
    );
    let (_, list) = gw
        .agent_call(&ann, Method::GET, "/conversations?status=waiting", None)
        .await;
    assert_eq!(list["conversations"][0]["sla"]["state"], "breached");

    // The late answer is recorded; the breach stays a breach.
    let (status, _) = gw
        .agent_call(
            &ann,
            Method::POST,
            &format!("/conversations/{id}/messages"),
            Some(json!({"text": "Sorry for the wait!"})),
        )
        .await;
    assert_eq!(status, 202);
    let sla = sla_of(&gw).await;
    assert!(sla.first_response_at.is_some());
    assert_eq!(sla.state(Utc::now()), frontdesk::model::SlaState::Breached);
}

#[tokio::test]
async fn a_waiting_web_customer_sees_their_place_in_line_move_live() {
    use futures_util::StreamExt;
    let (gw, ann, _bob, _boss) = gateway_with_agents().await;
    let (_, first) = waiting_customer(&gw, "my lamp flickers").await;
    let (second, second_id) = waiting_customer(&gw, "my chair wobbles").await;
    let (mut ws, _) =
        tokio_tungstenite::connect_async(gw.ws_url(&format!("/api/v1/chat/ws?session={second}")))
            .await
            .expect("ws connect");
    let mut next_place = async || loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a frame in time")
            .expect("open")
            .expect("frame");
        let value: Value = serde_json::from_str(frame.to_text().expect("text")).expect("json");
        if value["type"] == "queue" {
            return value;
        }
    };
    let place = next_place().await;
    assert_eq!(
        (place["position"].as_u64(), place["wait_minutes"].as_u64()),
        (Some(2), Some(10))
    );
    let claim = |id: String| {
        let (gw, ann) = (&gw, &ann);
        async move {
            let (status, _) = gw
                .agent_call(
                    ann,
                    Method::POST,
                    &format!("/conversations/{id}/claim"),
                    None,
                )
                .await;
            assert_eq!(status, 200);
        }
    };
    claim(first).await;
    assert_eq!(
        next_place().await["position"],
        1,
        "moved up when the first was taken"
    );
    claim(second_id).await;
    assert_eq!(
        next_place().await["position"],
        Value::Null,
        "out of the queue once taken"
    );
}

#[tokio::test]
async fn the_summary_report_matches_a_scripted_day_counted_by_hand() {
    let gw = TestGateway::start_with(|c| c.sla = Some(crate::support::sla(60))).await;
    gw.add_agent("ann", PASSWORD, Role::Agent).await;
    let ann = gw.login("ann", PASSWORD).await;
    let started = Utc::now() - chrono::Duration::seconds(1);
    // A: answered by the bot alone.
    let a = gw.session().await;
    gw.post(&a, "1", "Where is my order?").await;
    gw.wait_for_messages(&a, 2).await;
    // B: handed off, picked up and answered in time.
    let (b, b_id) = waiting_customer(&gw, "my lamp flickers").await;
    let (status, _) = gw
        .agent_call(
            &ann,
            Method::POST,
            &format!("/conversations/{b_id}/messages"),
            Some(json!({"text": "Let us fix it."})),
        )
        .await;
    assert_eq!(status, 202);
    gw.wait_for_messages(&b, 3).await;
    // C: handed off, still waiting.
    waiting_customer(&gw, "my chair wobbles").await;
    // D: handed off, claimed, resolved, then reopened by the customer.
    let (d, d_id) = waiting_customer(&gw, "my desk arrived broken").await;
    for action in ["claim", "resolve"] {
        let (status, _) = gw
            .agent_call(
                &ann,
                Method::POST,
                &format!("/conversations/{d_id}/{action}"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{action}");
    }
    gw.post(&d, "q2", "it is still broken").await;
    gw.wait_for_messages(&d, 4).await;

    // By hand: 4 conversations, all web; B, C and D reached people, A did
    // not (bot resolution 1/4); each got an automatic first response; B's
    // human answer came within its hour (1 met, 0 breached: attainment 1;
    // D's reopening started a new promise, not yet due); two pickups (B,
    // claimed by replying, and D). D was resolved once and reopened within
    // the window: first contact resolution 0 of 1. Ann picked up both,
    // resolved one, and one ownership of hers ended (D's).
    let to = (Utc::now() + chrono::Duration::seconds(1)).to_rfc3339();
    let from = started.to_rfc3339();
    let path = format!("/summary?from={}&to={}", urlencode(&from), urlencode(&to));
    let r = gw
        .http
        .get(gw.url(&format!("/api/v1/reports{path}")))
        .bearer_auth(&ann.token)
        .send()
        .await
        .expect("report");
    assert_eq!(r.status(), 200);
    let report: Value = r.json().await.expect("json");
    assert_eq!(report["conversations"], 4, "{report}");
    assert_eq!(report["by_channel"], json!({"web": 4}));
    assert_eq!(report["handed_to_people"], 3);
    assert_eq!(report["bot_resolution_rate"], 0.25);
    assert_eq!(report["first_automatic_response"]["count"], 4);
    assert_eq!(report["first_human_response"]["count"], 1);
    assert_eq!(report["pickup_wait"]["count"], 2);
    assert_eq!(
        (report["sla_met"].as_u64(), report["sla_breached"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(report["sla_attainment"], 1.0);
    assert_eq!(report["resolved"], 1);
    assert_eq!(report["resolution_time"]["count"], 1);
    assert_eq!(report["first_contact_resolution"], 0.0);
    assert_eq!(report["agent_handling"]["count"], 1);
    let ann_figures = &report["by_agent"]["ann"];
    assert_eq!(
        (
            ann_figures["pickups"].as_u64(),
            ann_figures["resolutions"].as_u64()
        ),
        (Some(2), Some(1)),
        "{ann_figures}"
    );
    assert_eq!(ann_figures["first_human_response"]["count"], 1);
    // By day (UTC here): today, or today and yesterday if the test ran
    // over midnight.
    let today = Utc::now().format("%Y-%m-%d").to_string();
    let days = report["by_day"].as_object().expect("days");
    let counted: u64 = days
        .values()
        .map(|d| d["conversations"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(counted, 4, "{days:?}");
    assert!(days.contains_key(&today), "{days:?}");

    // The same as CSV, and filters narrow it.
    let csv = gw
        .http
        .get(gw.url(&format!("/api/v1/reports{path}&format=csv")))
        .bearer_auth(&ann.token)
        .send()
        .await
        .expect("csv")
        .text()
        .await
        .expect("text");
    assert!(csv.starts_with("metric,value\n"), "{csv}");
    assert!(
        csv.contains("\nconversations,4\n")
            && csv.contains("\nsla_met,1\n")
            && csv.contains("\nagent.ann.pickups,2\n")
            && csv.contains(&format!("\nday.{today}.conversations,")),
        "{csv}"
    );
    let r = gw
        .http
        .get(gw.url(&format!("/api/v1/reports{path}&channel=telegram")))
        .bearer_auth(&ann.token)
        .send()
        .await
        .expect("filtered");
    let filtered: Value = r.json().await.expect("json");
    assert_eq!(filtered["conversations"], 0);
    // Agents only, and bad input is refused.
    let anonymous = gw
        .http
        .get(gw.url("/api/v1/reports/summary"))
        .send()
        .await
        .expect("anon");
    assert_eq!(anonymous.status(), 401);
    let bad = gw
        .http
        .get(gw.url("/api/v1/reports/summary?from=yesterday"))
        .bearer_auth(&ann.token)
        .send()
        .await
        .expect("bad");
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn an_agent_tag_moves_a_customer_into_its_segment_and_up_the_queue() {
    let gw = TestGateway::start_with(|c| {
        c.segments = vec![crate::support::tagged_segment("key-accounts", 20, "vip")];
    })
    .await;
    gw.add_agent("ann", PASSWORD, Role::Agent).await;
    let ann = gw.login("ann", PASSWORD).await;
    let (_, first) = waiting_customer(&gw, "my lamp flickers").await;
    let (_, second) = waiting_customer(&gw, "my chair wobbles").await;
    let queue = async || {
        gw.store()
            .waiting_queue(10)
            .await
            .expect("queue")
            .iter()
            .map(|id| id.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(queue().await, vec![first.clone(), second.clone()]);
    let tag = |id: String, tags: Value| {
        let (gw, ann) = (&gw, &ann);
        async move {
            gw.agent_call(
                ann,
                Method::PUT,
                &format!("/conversations/{id}/tags"),
                Some(json!({ "tags": tags })),
            )
            .await
        }
    };
    let (status, body) = tag(second.clone(), json!(["vip", "vip", "eu"])).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["conversation"]["tags"], json!(["eu", "vip"]));
    assert_eq!(body["conversation"]["segment"], "key-accounts");
    assert_eq!(
        queue().await,
        vec![second.clone(), first.clone()],
        "served first"
    );
    // Bad tags are refused and change nothing.
    for bad in [json!(["VIP"]), json!(["a b"]), json!([""]), json!("vip")] {
        let (status, body) = tag(second.clone(), bad.clone()).await;
        assert!(status == 400 || status == 422, "{bad}: {status} {body}");
    }
    assert_eq!(queue().await, vec![second.clone(), first.clone()]);
    // Untagged: back in its segment-less place.
    let (status, body) = tag(second.clone(), json!([])).await;
    assert_eq!(status, 200);
    assert_eq!(body["conversation"]["segment"], Value::Null);
    assert_eq!(queue().await, vec![first, second]);
}

#[tokio::test]
async fn the_staffing_forecast_counts_hand_offs_by_hour_of_the_week() {
    let gw = TestGateway::start_with(|c| c.sla = Some(crate::support::sla(60))).await;
    gw.add_agent("ann", PASSWORD, Role::Agent).await;
    let ann = gw.login("ann", PASSWORD).await;
    let (_, first) = waiting_customer(&gw, "my lamp flickers").await;
    waiting_customer(&gw, "my chair wobbles").await;
    for action in ["claim", "resolve"] {
        let (status, _) = gw
            .agent_call(
                &ann,
                Method::POST,
                &format!("/conversations/{first}/{action}"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{action}");
        // A handling time the clock can see.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let now = Utc::now();
    let r = gw
        .http
        .get(gw.url("/api/v1/reports/staffing"))
        .bearer_auth(&ann.token)
        .send()
        .await
        .expect("forecast");
    assert_eq!(r.status(), 200);
    let forecast: Value = r.json().await.expect("json");
    // Two hand-offs this hour, averaged over the default 4 weeks; one
    // handling measured (the claim to the resolution).
    let (day, hour) = (
        now.weekday().num_days_from_monday() as usize,
        now.hour() as usize,
    );
    assert_eq!(forecast["weeks"], 4, "{forecast}");
    assert_eq!(forecast["arrivals_per_hour"][day][hour], 0.5, "{forecast}");
    assert_eq!(forecast["handlings_measured"], 1);
    let plan = &forecast["targets"][0];
    assert_eq!(plan["name"], "default");
    assert_eq!(plan["first_response_secs"], 3600.0);
    assert_eq!(plan["agents"][day][hour], 1, "one agent covers it");
    let busy: u64 = plan["agents"]
        .as_array()
        .expect("days")
        .iter()
        .flat_map(|d| d.as_array().expect("hours").iter())
        .map(|a| a.as_u64().unwrap_or(0))
        .sum();
    assert_eq!(busy, 1, "no one needed in the other hours");
    let anonymous = gw
        .http
        .get(gw.url("/api/v1/reports/staffing"))
        .send()
        .await
        .expect("anon");
    assert_eq!(anonymous.status(), 401);
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn after_a_resolution_the_customer_is_asked_once_and_the_answers_are_recorded() {
    let gw = TestGateway::start_with(|c| {
        c.surveys = Some(frontdesk::service_levels::surveys::SurveysConfig {
            questions: vec![
                frontdesk::model::SurveyKind::Csat,
                frontdesk::model::SurveyKind::Nps,
            ],
            channels: vec![frontdesk::model::ChannelKind::Web],
            rating_page_url: None,
        })
    })
    .await;
    gw.add_agent("ann", PASSWORD, Role::Agent).await;
    let ann = gw.login("ann", PASSWORD).await;
    let (session, id) = waiting_customer(&gw, "my lamp flickers").await;
    let call = |path: String, body: Option<Value>| {
        let (gw, ann) = (&gw, &ann);
        async move { gw.agent_call(ann, Method::POST, &path, body).await.0 }
    };
    assert_eq!(
        call(
            format!("/conversations/{id}/messages"),
            Some(json!({"text": "Fixed, a new lamp ships today."}))
        )
        .await,
        202
    );
    assert_eq!(
        call(format!("/conversations/{id}/resolve"), None).await,
        200
    );
    assert_eq!(
        call(format!("/conversations/{id}/resolve"), None).await,
        409,
        "resolved once, asked once"
    );
    let all = gw.wait_for_messages(&session, 4).await;
    let csat = &all[3];
    assert_eq!(csat["options"], json!(["1", "2", "3", "4", "5"]), "{csat}");
    assert!(
        csat["text"]
            .as_str()
            .is_some_and(|t| t.contains("satisfied")),
        "{csat}"
    );

    gw.post(&session, "r1", "4").await;
    let all = gw.wait_for_messages(&session, 6).await;
    assert_eq!(
        all[5]["options"].as_array().map(Vec::len),
        Some(11),
        "NPS 0-10 next: {}",
        all[5]
    );
    gw.post(&session, "r2", "9").await;
    let all = gw.wait_for_messages(&session, 8).await;
    assert!(
        all[7]["text"]
            .as_str()
            .is_some_and(|t| t.contains("Thank you")),
        "{}",
        all[7]
    );
    let store = gw.store();
    let conversation = store
        .conversation(id.parse().expect("uuid"))
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(
        conversation.status,
        frontdesk::model::ConversationStatus::Resolved,
        "a rating reopens nothing"
    );
    let ratings: Vec<(frontdesk::model::SurveyKind, u8)> = store
        .messages_after(conversation.id, 0, 20)
        .await
        .expect("transcript")
        .iter()
        .filter_map(|m| m.rating.map(|r| (r.kind, r.score)))
        .collect();
    assert_eq!(
        ratings,
        vec![
            (frontdesk::model::SurveyKind::Csat, 4),
            (frontdesk::model::SurveyKind::Nps, 9)
        ]
    );
    let r = gw
        .http
        .get(gw.url("/api/v1/reports/summary"))
        .bearer_auth(&ann.token)
        .send()
        .await
        .expect("report");
    let report: Value = r.json().await.expect("json");
    assert_eq!(
        report["csat"],
        json!({"count": 1, "score": 4.0}),
        "{report}"
    );
    assert_eq!(report["nps"], json!({"count": 1, "score": 100.0}));

    // Words right after the thanks (which invites them) are the comment:
    // kept, thanked for, and nothing reopens.
    gw.post(&session, "r3", "Quick and kind, thank you").await;
    let all = gw.wait_for_messages(&session, 10).await;
    assert!(
        all[9]["text"]
            .as_str()
            .is_some_and(|t| t.contains("passed your comment on")),
        "{}",
        all[9]
    );
    let c = store
        .conversation(conversation.id)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(c.status, frontdesk::model::ConversationStatus::Resolved);
    let commented: Vec<String> = store
        .messages_after(conversation.id, 0, 20)
        .await
        .expect("transcript")
        .into_iter()
        .filter(|m| m.survey_comment)
        .map(|m| m.text)
        .collect();
    assert_eq!(commented, vec!["Quick and kind, thank you".to_string()]);
    let r = gw
        .http
        .get(gw.url("/api/v1/reports/summary"))
        .bearer_auth(&ann.token)
        .send()
        .await
        .expect("report");
    let report: Value = r.json().await.expect("json");
    assert_eq!(report["survey_comments"], 1, "{report}");

    // Words after that are a new question: they reopen it.
    gw.post(&session, "r4", "the new lamp flickers too").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let c = store
            .conversation(conversation.id)
            .await
            .expect("read")
            .expect("stored");
        if c.status != frontdesk::model::ConversationStatus::Resolved {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "not reopened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
