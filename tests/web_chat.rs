//! Web chat over real HTTP and WebSocket: answers, hand-offs, languages,
//! duplicates, reconnects and the errors clients get.

use crate::support::{TestGateway, lines};
use frontdesk::core::dispatcher::AckPolicy;
use frontdesk::model::ConversationStatus;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message as Frame;

#[tokio::test]
async fn order_status_question_gets_the_intent_answer() {
    let gw = TestGateway::start().await;
    let s = gw.session().await;
    let (status, receipt) = gw.post(&s, "m1", "Where is my order?").await;
    assert_eq!(status, 202, "{receipt}");
    assert_eq!(receipt["seq"], 1);
    assert!(receipt["ticket"].as_u64().is_some_and(|t| t >= 1000));

    let all = gw.wait_for_messages(&s, 2).await;
    let got = lines(&all);
    assert_eq!(got[0], ("customer".into(), "Where is my order?".into()));
    assert_eq!(got[1].0, "bot");
    assert!(
        got[1].1.contains("https://shop.example/orders"),
        "{}",
        got[1].1
    );
    let conversation = gw
        .store()
        .conversation(
            receipt["conversation_id"]
                .as_str()
                .expect("id")
                .parse()
                .expect("uuid"),
        )
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(
        conversation.status,
        ConversationStatus::Bot,
        "an answered question is not queued"
    );
    assert!(
        gw.store()
            .waiting_queue(10)
            .await
            .expect("queue")
            .is_empty()
    );
}

#[tokio::test]
async fn unknown_question_gets_handoff_ack_with_ticket_and_queue_position() {
    let gw = TestGateway::start().await;
    let first = gw.session().await;
    let second = gw.session().await;
    let (_, r1) = gw
        .post(&first, "a", "My blender makes a strange grinding noise")
        .await;
    let (_, r2) = gw
        .post(&second, "b", "The colour of the sofa is not what I ordered")
        .await;

    let a = lines(&gw.wait_for_messages(&first, 2).await);
    let b = lines(&gw.wait_for_messages(&second, 2).await);
    let t1 = r1["ticket"].as_u64().expect("ticket");
    let t2 = r2["ticket"].as_u64().expect("ticket");
    assert_ne!(t1, t2);
    assert_eq!(a[1].0, "bot");
    assert!(a[1].1.contains(&format!("#{t1}")), "{}", a[1].1);
    assert!(a[1].1.contains("number 1 in line"), "{}", a[1].1);
    assert!(b[1].1.contains(&format!("#{t2}")), "{}", b[1].1);
    assert!(b[1].1.contains("number 2 in line"), "{}", b[1].1);

    let queue = gw.store().waiting_queue(10).await.expect("queue");
    let ids: Vec<String> = queue.iter().map(|id| id.to_string()).collect();
    assert_eq!(
        ids,
        vec![
            r1["conversation_id"].as_str().expect("id"),
            r2["conversation_id"].as_str().expect("id")
        ]
    );
}

#[tokio::test]
async fn asking_for_a_human_hands_off_even_with_a_known_question() {
    let gw = TestGateway::start().await;
    let s = gw.session().await;
    gw.post(&s, "1", "where is my order? I want to talk to a human")
        .await;
    let got = lines(&gw.wait_for_messages(&s, 2).await);
    assert!(got[1].1.contains("in line"), "{}", got[1].1);
    assert_eq!(gw.store().waiting_queue(10).await.expect("queue").len(), 1);
}

#[tokio::test]
async fn chinese_questions_get_chinese_answers() {
    let gw = TestGateway::start().await;
    let s = gw.session().await;
    gw.post(&s, "1", "我的订单到哪了").await;
    gw.wait_for_messages(&s, 2).await;
    gw.post(&s, "2", "我想找人工客服").await;
    let got = lines(&gw.wait_for_messages(&s, 4).await);
    assert!(got[1].1.contains("查看订单进度"), "{}", got[1].1);
    assert!(got[3].1.contains("排在第 1 位"), "{}", got[3].1);
    // The language follows the customer.
    gw.post(&s, "3", "Actually, where is my order now?").await;
    let got = lines(&gw.wait_for_messages(&s, 6).await);
    assert!(
        got[5].1.starts_with("You can see where your order is"),
        "{}",
        got[5].1
    );
}

#[tokio::test]
async fn duplicate_client_id_yields_no_second_message_or_reply() {
    let gw = TestGateway::start().await;
    let s = gw.session().await;
    let (s1, first) = gw.post(&s, "same-id", "Where is my order?").await;
    let (s2, again) = gw.post(&s, "same-id", "Where is my order?").await;
    assert_eq!((s1, s2), (202, 202));
    assert_eq!(first, again, "a retried post gets the first answer");
    // Posted concurrently too: still one message.
    let racing = futures_util::future::join_all((0..8).map(|_| gw.post(&s, "race", "hello"))).await;
    let seqs: std::collections::HashSet<u64> = racing
        .iter()
        .map(|(_, b)| b["seq"].as_u64().expect("seq"))
        .collect();
    assert_eq!(seqs.len(), 1, "{racing:?}");

    let all = gw.wait_for_messages(&s, 4).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let all_later = gw.read(&s, 0, 0).await;
    assert_eq!(all, all_later, "nothing arrives late");
    let got = lines(&all);
    assert_eq!(got.len(), 4, "{got:?}");
    assert_eq!(got.iter().filter(|(from, _)| from == "customer").count(), 2);
    assert_eq!(got.iter().filter(|(from, _)| from == "bot").count(), 2);
}

#[tokio::test]
async fn the_same_client_id_in_two_sessions_is_two_messages() {
    let gw = TestGateway::start().await;
    let a = gw.session().await;
    let b = gw.session().await;
    let (_, ra) = gw.post(&a, "1", "hello").await;
    let (_, rb) = gw.post(&b, "1", "hello").await;
    assert_ne!(ra["conversation_id"], rb["conversation_id"]);
}

#[tokio::test]
async fn long_poll_returns_as_soon_as_the_reply_exists() {
    let gw = TestGateway::start().await;
    let s = gw.session().await;
    let (_, receipt) = gw.post(&s, "1", "what are your opening hours").await;
    let after = receipt["seq"].as_u64().expect("seq");
    let started = std::time::Instant::now();
    let got = gw.read(&s, after, 20).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["from"], "bot");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the poll waited for its timeout"
    );
    // With nothing new, a short poll times out empty.
    let after = got[0]["seq"].as_u64().expect("seq");
    assert!(gw.read(&s, after, 1).await.is_empty());
}

async fn next_frame(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a frame within 10 s")
            .expect("stream open")
            .expect("frame");
        if let Frame::Text(text) = frame {
            return serde_json::from_str(text.as_str()).expect("json frame");
        }
    }
}

#[tokio::test]
async fn websocket_receives_the_answer_and_a_reconnect_replays_exactly_what_was_missed() {
    let gw = TestGateway::start().await;
    let s = gw.session().await;
    let (mut ws, _) =
        tokio_tungstenite::connect_async(gw.ws_url(&format!("/api/v1/chat/ws?session={s}")))
            .await
            .expect("ws connect");
    ws.send(Frame::text(
        json!({"type": "message", "client_id": "w1", "text": "how do I get a refund"}).to_string(),
    ))
    .await
    .expect("send");
    let mut received = None;
    let mut messages = Vec::new();
    while received.is_none() || messages.len() < 2 {
        let f = next_frame(&mut ws).await;
        match f["type"].as_str() {
            Some("received") => received = Some(f),
            Some("message") => messages.push(f),
            other => panic!("unexpected frame {other:?}: {f}"),
        }
    }
    let received = received.expect("received");
    assert_eq!(received["client_id"], "w1");
    assert_eq!(received["seq"], 1);
    assert_eq!(messages[1]["from"], "bot");
    assert!(
        messages[1]["text"]
            .as_str()
            .expect("text")
            .contains("30 days")
    );
    ws.close(None).await.expect("close");

    // While disconnected: two more turns over HTTP.
    gw.post(&s, "h1", "Where is my order?").await;
    gw.post(&s, "h2", "what are your opening hours").await;
    gw.wait_for_messages(&s, 6).await;

    let (mut ws, _) = tokio_tungstenite::connect_async(
        gw.ws_url(&format!("/api/v1/chat/ws?session={s}&after=2")),
    )
    .await
    .expect("ws reconnect");
    let mut replayed = Vec::new();
    for _ in 0..4 {
        replayed.push(next_frame(&mut ws).await["seq"].as_u64().expect("seq"));
    }
    assert_eq!(replayed, vec![3, 4, 5, 6]);
    // And nothing more: the next frame is the reply to a new message.
    ws.send(Frame::text(
        json!({"type": "message", "client_id": "w2", "text": "hi"}).to_string(),
    ))
    .await
    .expect("send");
    let f = next_frame(&mut ws).await;
    assert!(
        f["seq"].as_u64().expect("seq") >= 7,
        "replay repeated something: {f}"
    );
}

#[tokio::test]
async fn websocket_reports_bad_frames_and_stays_open() {
    let gw = TestGateway::start().await;
    let s = gw.session().await;
    let (mut ws, _) =
        tokio_tungstenite::connect_async(gw.ws_url(&format!("/api/v1/chat/ws?session={s}")))
            .await
            .expect("ws connect");
    ws.send(Frame::text("{not json")).await.expect("send");
    let f = next_frame(&mut ws).await;
    assert_eq!(
        (f["type"].as_str(), f["error"].as_str()),
        (Some("error"), Some("invalid_json"))
    );
    ws.send(Frame::text(
        json!({"type": "message", "client_id": "x", "text": " "}).to_string(),
    ))
    .await
    .expect("send");
    let f = next_frame(&mut ws).await;
    assert_eq!(
        (f["error"].as_str(), f["client_id"].as_str()),
        (Some("empty_message"), Some("x"))
    );
    ws.send(Frame::text(
        json!({"type": "message", "client_id": "y", "text": "hello"}).to_string(),
    ))
    .await
    .expect("send");
    loop {
        let f = next_frame(&mut ws).await;
        if f["type"] == "received" {
            assert_eq!(f["seq"], 1, "the rejected frames stored nothing");
            break;
        }
    }
}

#[tokio::test]
async fn websocket_with_an_unknown_session_is_refused_before_upgrade() {
    let gw = TestGateway::start().await;
    let err = tokio_tungstenite::connect_async(gw.ws_url("/api/v1/chat/ws?session=nope"))
        .await
        .expect_err("refused");
    let text = err.to_string();
    assert!(text.contains("404"), "{text}");
}

async fn expect_error(response: reqwest::Response, status: u16, code: &str) {
    assert_eq!(response.status().as_u16(), status);
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    let body: Value = response.json().await.expect("json error body");
    assert_eq!(body["error"], code, "{body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
}

#[tokio::test]
async fn bad_requests_get_json_errors_and_change_nothing() {
    let gw = TestGateway::start().await;
    let s = gw.session().await;
    let post = |body: String| {
        gw.http
            .post(gw.url("/api/v1/chat/messages"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let msg = |session: &str, text: &str| {
        json!({"session": session, "client_id": "c", "text": text}).to_string()
    };

    expect_error(
        post(msg("no-such-session", "hi")).await.expect("send"),
        404,
        "unknown_session",
    )
    .await;
    expect_error(post(msg(&s, "")).await.expect("send"), 400, "empty_message").await;
    expect_error(
        post(msg(&s, " \n\t ")).await.expect("send"),
        400,
        "empty_message",
    )
    .await;
    expect_error(
        post(msg(&s, &"x".repeat(4097))).await.expect("send"),
        413,
        "message_too_large",
    )
    .await;
    expect_error(
        post("{\"session\": ".into()).await.expect("send"),
        400,
        "invalid_json",
    )
    .await;
    expect_error(
        post(json!({"session": s, "text": "no client id"}).to_string())
            .await
            .expect("send"),
        400,
        "invalid_json",
    )
    .await;
    expect_error(
        post(json!({"session": s, "client_id": "x".repeat(200), "text": "hi"}).to_string())
            .await
            .expect("send"),
        400,
        "invalid_client_id",
    )
    .await;
    expect_error(
        post(format!(
            "{{\"session\":\"{s}\",\"client_id\":\"c\",\"text\":\"{}\"}}",
            "y".repeat(100_000)
        ))
        .await
        .expect("send"),
        413,
        "payload_too_large",
    )
    .await;
    let no_type = gw
        .http
        .post(gw.url("/api/v1/chat/messages"))
        .body(msg(&s, "hi"))
        .send()
        .await
        .expect("send");
    expect_error(no_type, 415, "unsupported_media_type").await;
    let bad_session_body = gw
        .http
        .post(gw.url("/api/v1/chat/sessions"))
        .body("{\"name\": 5}")
        .send()
        .await
        .expect("send");
    expect_error(bad_session_body, 400, "invalid_json").await;
    let bad_query = gw
        .http
        .get(gw.url(&format!("/api/v1/chat/messages?session={s}&after=minus")))
        .send()
        .await
        .expect("send");
    expect_error(bad_query, 400, "invalid_query").await;
    expect_error(
        gw.http
            .get(gw.url("/api/v1/nothing"))
            .send()
            .await
            .expect("send"),
        404,
        "not_found",
    )
    .await;

    // A message at exactly the limit is fine, and it is the first one stored.
    let (status, receipt) = gw.post(&s, "ok", &"é".repeat(2048)).await;
    assert_eq!(status, 202, "{receipt}");
    assert_eq!(receipt["seq"], 1, "rejected requests stored nothing");
}

#[tokio::test]
async fn receipt_then_reply_policy_sends_a_receipt_first() {
    let gw = TestGateway::start_with(|c| c.channels.web.ack = AckPolicy::ReceiptThenReply).await;
    let s = gw.session().await;
    let (_, r) = gw.post(&s, "1", "Where is my order?").await;
    let got = lines(&gw.wait_for_messages(&s, 3).await);
    let ticket = r["ticket"].as_u64().expect("ticket");
    assert_eq!(
        got[1],
        (
            "bot".into(),
            format!("We have received your message (ticket #{ticket}).")
        )
    );
    assert!(got[2].1.contains("shop.example/orders"), "{got:?}");
}

#[tokio::test]
async fn widget_demo_page_and_probes_are_served() {
    let gw = TestGateway::start().await;
    let page = gw.http.get(gw.url("/")).send().await.expect("page");
    assert_eq!(page.status(), 200);
    let csp = page
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(page.text().await.expect("html").contains("/widget.js"));
    let widget = gw
        .http
        .get(gw.url("/widget.js"))
        .send()
        .await
        .expect("widget");
    assert_eq!(widget.status(), 200);
    let js = widget.bytes().await.expect("js");
    assert!(
        js.len() < 20 * 1024,
        "widget.js is {} bytes, over the 20 KB budget",
        js.len()
    );
    assert_eq!(
        gw.http
            .get(gw.url("/widget.css"))
            .send()
            .await
            .expect("css")
            .status(),
        200
    );
    assert_eq!(
        gw.http
            .get(gw.url("/healthz"))
            .send()
            .await
            .expect("healthz")
            .status(),
        200
    );
    assert_eq!(
        gw.http
            .get(gw.url("/readyz"))
            .send()
            .await
            .expect("readyz")
            .status(),
        200
    );
}

#[tokio::test]
async fn a_resolved_conversation_keeps_its_ticket_and_history_across_restart() {
    let mut gw = TestGateway::start().await;
    let s = gw.session().await;
    let (_, r) = gw.post(&s, "1", "hi").await;
    gw.wait_for_messages(&s, 2).await;
    let data = gw.data.path().to_path_buf();
    gw.stop().await;
    let mut config = crate::support::test_config(&gw.data);
    config.server.data_dir = data;
    let gateway = frontdesk::app::start(config).await.expect("restart");
    let base = format!("http://{}", gateway.addr);
    let body: Value = reqwest::get(format!("{base}/api/v1/chat/messages?session={s}&after=0"))
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(body["messages"].as_array().expect("list").len(), 2);
    let again: Value = reqwest::Client::new()
        .post(format!("{base}/api/v1/chat/messages"))
        .json(&json!({"session": s, "client_id": "2", "text": "thanks"}))
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert_eq!(again["ticket"], r["ticket"]);
    assert_eq!(again["seq"], 3);
    gateway.stop().await;
}

#[tokio::test]
async fn only_configured_sites_may_call_the_chat_api_from_the_browser() {
    let gw = TestGateway::start_with(|c| {
        c.channels.web.allowed_origins = vec!["https://shop.example".into()]
    })
    .await;
    let preflight = |origin: &'static str| {
        gw.http
            .request(reqwest::Method::OPTIONS, gw.url("/api/v1/chat/messages"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let allowed = preflight("https://shop.example").await.expect("preflight");
    assert_eq!(
        allowed
            .headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("https://shop.example")
    );
    let other = preflight("https://evil.example").await.expect("preflight");
    assert!(other.headers().get("access-control-allow-origin").is_none());
    let session = gw
        .http
        .post(gw.url("/api/v1/chat/sessions"))
        .header("origin", "https://shop.example")
        .send()
        .await
        .expect("session");
    assert_eq!(session.status(), 201);
    assert_eq!(
        session
            .headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("https://shop.example")
    );
}

#[tokio::test]
async fn a_question_two_intents_fit_equally_gets_a_choice_and_the_choice_is_answered() {
    let gw = TestGateway::start().await;
    let s = gw.session().await;
    let (status, _) = gw
        .post(&s, "1", "how do i check when my shipment is gonna arrive")
        .await;
    assert_eq!(status, 202);
    let all = gw.wait_for_messages(&s, 2).await;
    let question = &all[1];
    assert_eq!(question["from"], "bot");
    assert_eq!(
        question["options"],
        json!(["How long delivery takes", "Where my order is"]),
        "{question}"
    );
    let text = question["text"].as_str().unwrap_or_default();
    // The buttons carry the choices here; email lists them in the text.
    assert!(text.contains("Which of these"), "{text}");
    // The widget's button sends the label as the visitor's message.
    gw.post(&s, "2", "Where my order is").await;
    let all = gw.wait_for_messages(&s, 4).await;
    let answer = &all[3];
    assert_eq!(answer["from"], "bot");
    assert!(
        answer["text"]
            .as_str()
            .is_some_and(|t| t.contains("shop.example/orders")),
        "the chosen intent's answer: {answer}"
    );
    assert!(answer.get("options").is_none());
    // Typing the option's number works too.
    gw.post(&s, "3", "how do i check when my shipment is gonna arrive")
        .await;
    gw.wait_for_messages(&s, 6).await;
    gw.post(&s, "4", "1").await;
    let all = gw.wait_for_messages(&s, 8).await;
    let delivery = all[7]["text"].as_str().unwrap_or_default();
    assert!(
        delivery.contains("business days") && !delivery.contains("Which of these"),
        "option 1 is the delivery time answer: {delivery}"
    );
    assert_eq!(all[7]["from"], "bot");
}

#[tokio::test]
async fn a_verified_premium_visitor_jumps_the_queue_and_a_forged_claim_does_not() {
    const SECRET: &str = "the-shops-identity-secret";
    let gw = TestGateway::start_with(|c| {
        c.channels.web.identity_secret = Some(SECRET.into());
        c.segments = vec![frontdesk::service_levels::segments::SegmentConfig {
            name: "premium".into(),
            priority: 10,
            emails: Vec::new(),
            email_domains: Vec::new(),
            telegram_users: Vec::new(),
            web_attributes: [("plan".to_string(), "premium".to_string())].into(),
            tags: Vec::new(),
            first_response_minutes: None,
            resolution_minutes: None,
        }];
    })
    .await;
    let session_with = |body: Value| {
        let gw = &gw;
        async move {
            let r = gw
                .http
                .post(gw.url("/api/v1/chat/sessions"))
                .json(&body)
                .send()
                .await
                .expect("session");
            assert_eq!(r.status(), 201);
            let body: Value = r.json().await.expect("json");
            body["session"].as_str().expect("token").to_string()
        }
    };
    let plan = [("plan".to_string(), "premium".to_string())].into();
    let anonymous = gw.session().await;
    let forged = session_with(json!({
        "user_id": "u-2", "attributes": {"plan": "premium"},
        "signature": frontdesk::service_levels::segments::sign_identity("a-guessed-secret-value", "u-2", &plan)
    }))
    .await;
    let premium = session_with(json!({
        "user_id": "u-3", "attributes": {"plan": "premium"},
        "signature": frontdesk::service_levels::segments::sign_identity(SECRET, "u-3", &plan)
    }))
    .await;
    let mut tickets = Vec::new();
    for (i, s) in [&anonymous, &forged, &premium].into_iter().enumerate() {
        let (status, body) = gw.post(s, &i.to_string(), "my lamp flickers").await;
        assert_eq!(status, 202);
        tickets.push(body["conversation_id"].as_str().expect("id").to_string());
        gw.wait_for_messages(s, 2).await;
    }
    let queue: Vec<String> = gw
        .store()
        .waiting_queue(10)
        .await
        .expect("queue")
        .iter()
        .map(|id| id.to_string())
        .collect();
    assert_eq!(
        queue,
        vec![tickets[2].clone(), tickets[0].clone(), tickets[1].clone()],
        "premium first, the forged claim in line by arrival"
    );
    let ack = gw.read(&premium, 0, 0).await;
    let text = ack[1]["text"].as_str().unwrap_or_default();
    assert!(text.contains("number 1 in line"), "{text}");
    let conversation = gw
        .store()
        .conversation(tickets[2].parse().expect("uuid"))
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(conversation.segment.as_deref(), Some("premium"));
    assert_eq!(conversation.priority, 10);
    // An identity too large to be real is refused, not stored.
    let r = gw
        .http
        .post(gw.url("/api/v1/chat/sessions"))
        .json(&json!({ "user_id": "u".repeat(300), "signature": "00" }))
        .send()
        .await
        .expect("session");
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"], "invalid_session");
}

#[tokio::test]
async fn outside_business_hours_the_ack_names_the_reopening_and_the_deadline_counts_open_time() {
    // Today and tomorrow are holidays: people are back the day after, at 00:00 UTC.
    let today = chrono::Utc::now().date_naive();
    let back = today + chrono::Duration::days(2);
    let holidays = vec![
        today.to_string(),
        (today + chrono::Duration::days(1)).to_string(),
    ];
    let every_day = Some("00:00-23:59".to_string());
    let gw = TestGateway::start_with(move |c| {
        c.business_hours = Some(frontdesk::service_levels::hours::BusinessHoursConfig {
            timezone: "UTC".into(),
            monday: every_day.clone(),
            tuesday: every_day.clone(),
            wednesday: every_day.clone(),
            thursday: every_day.clone(),
            friday: every_day.clone(),
            saturday: every_day.clone(),
            sunday: every_day,
            holidays,
        });
        c.sla = Some(crate::support::sla(60));
    })
    .await;
    let s = gw.session().await;
    let (_, receipt) = gw.post(&s, "1", "my lamp flickers").await;
    let all = gw.wait_for_messages(&s, 2).await;
    let ack = all[1]["text"].as_str().unwrap_or_default();
    let when = back.format("%A %-d %B, 00:00 (UTC)").to_string();
    assert!(ack.contains(&format!("back on {when}")), "{ack}");
    assert!(
        !ack.contains("expected wait"),
        "no wait promised while closed: {ack}"
    );
    let conversation = gw
        .store()
        .conversation(
            receipt["conversation_id"]
                .as_str()
                .expect("id")
                .parse()
                .expect("uuid"),
        )
        .await
        .expect("read")
        .expect("stored");
    let sla = conversation.sla.expect("deadline");
    assert_eq!(
        sla.first_response_due.naive_utc(),
        back.and_hms_opt(1, 0, 0).expect("time"),
        "60 minutes of open time after the reopening"
    );
    assert_eq!(
        sla.first_response_near.map(|n| n.naive_utc()),
        Some(back.and_hms_opt(0, 48, 0).expect("time")),
        "near after 48 of the 60 open minutes, not 80% of the closed night"
    );
}

#[tokio::test]
async fn metrics_are_prometheus_text_and_count_what_happened() {
    let gw = TestGateway::start().await;
    let s = gw.session().await;
    gw.post(&s, "1", "Where is my order?").await;
    gw.wait_for_messages(&s, 2).await;
    // The delivery is counted just after the customer can see it: poll.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let text = loop {
        let r = gw
            .http
            .get(gw.url("/metrics"))
            .send()
            .await
            .expect("metrics");
        assert_eq!(r.status(), 200);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .is_ok_and(|t| t.starts_with("text/plain")),
            "Prometheus text format"
        );
        let text = r.text().await.expect("text");
        if text.contains("reason=\"answer\"") || tokio::time::Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Every line is a comment or `name{labels} value`.
    let sample = regex::Regex::new(r#"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})? [-+0-9.eEinfNa]+$"#)
        .expect("pattern");
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        assert!(sample.is_match(line), "not Prometheus text: {line:?}");
    }
    let value = |name: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    // Counters are shared by every gateway of this test process: at least ours.
    assert!(
        value("frontdesk_messages_received_total{channel=\"web\"}") >= 1.0,
        "{text}"
    );
    assert!(
        value("frontdesk_replies_delivered_total{channel=\"web\",reason=\"answer\"}") >= 1.0,
        "{text}"
    );
    assert!(
        text.contains("frontdesk_conversations{status=\"waiting\"}"),
        "{text}"
    );
    assert!(!text.contains("Where is my order"), "no message text");
}

#[tokio::test]
async fn a_flooding_session_or_address_gets_429_with_retry_after_and_others_are_served() {
    let gw = TestGateway::start_with(|c| {
        c.channels.web.session_messages_per_minute = 5;
        c.channels.web.address_requests_per_minute = 0;
    })
    .await;
    let flood = gw.session().await;
    for i in 0..5 {
        let (status, _) = gw.post(&flood, &format!("f{i}"), "hello").await;
        assert_eq!(status, 202, "message {i} is within the limit");
    }
    let r = gw
        .http
        .post(gw.url("/api/v1/chat/messages"))
        .json(&json!({"session": flood, "client_id": "f5", "text": "hello"}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 429);
    let wait: u64 = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!(
        (1..=12).contains(&wait),
        "one message back every 12 s: {wait}"
    );
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"], "rate_limited");
    // Over the WebSocket too, as an error frame with the wait.
    let (mut ws, _) =
        tokio_tungstenite::connect_async(gw.ws_url(&format!("/api/v1/chat/ws?session={flood}")))
            .await
            .expect("ws connect");
    ws.send(Frame::text(
        json!({"type": "message", "client_id": "f6", "text": "hello"}).to_string(),
    ))
    .await
    .expect("send");
    let error = loop {
        let f = next_frame(&mut ws).await;
        if f["type"] == "error" {
            break f;
        }
    };
    assert_eq!(error["error"], "rate_limited", "{error}");
    assert!(error["retry_after_secs"].as_u64().is_some_and(|s| s >= 1));
    // The rejected messages were not stored.
    let customer_messages = gw
        .read(&flood, 0, 0)
        .await
        .iter()
        .filter(|m| m["from"] == "customer")
        .count();
    assert_eq!(customer_messages, 5);
    // Another visitor is served as usual.
    let other = gw.session().await;
    let (status, _) = gw.post(&other, "o1", "Where is my order?").await;
    assert_eq!(status, 202);
    assert_eq!(gw.wait_for_messages(&other, 2).await[1]["from"], "bot");

    // Per address: new sessions and messages from one address over all
    // its sessions.
    let gw = TestGateway::start_with(|c| {
        c.channels.web.session_messages_per_minute = 0;
        c.channels.web.address_requests_per_minute = 4;
    })
    .await;
    let s = gw.session().await;
    for i in 0..3 {
        assert_eq!(gw.post(&s, &format!("a{i}"), "hello").await.0, 202);
    }
    let r = gw
        .http
        .post(gw.url("/api/v1/chat/sessions"))
        .send()
        .await
        .expect("session");
    assert_eq!(r.status(), 429, "the fifth request from this address");
    assert!(r.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn a_websocket_visitor_who_never_reads_is_let_go_and_others_are_served() {
    let gw = TestGateway::start_with(|c| {
        c.server.max_body_bytes = 1 << 20;
        c.channels.web.max_message_bytes = 256 * 1024;
        c.channels.web.session_messages_per_minute = 0;
        c.channels.web.ws_send_timeout_secs = 1;
    })
    .await;
    // A transcript larger than loopback's socket buffers (about 20 MB).
    let s = gw.session().await;
    let big = "x".repeat(250 * 1024);
    for i in 0..80 {
        assert_eq!(gw.post(&s, &format!("b{i}"), &big).await.0, 202);
    }
    gw.wait_for_messages(&s, 80).await;
    // Connects, asks for it all, and never reads.
    let (stalled, _) =
        tokio_tungstenite::connect_async(gw.ws_url(&format!("/api/v1/chat/ws?session={s}")))
            .await
            .expect("ws connect");
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Meanwhile another visitor chats as usual, over a socket too.
    let other = gw.session().await;
    let (mut ws, _) =
        tokio_tungstenite::connect_async(gw.ws_url(&format!("/api/v1/chat/ws?session={other}")))
            .await
            .expect("ws connect");
    ws.send(Frame::text(
        json!({"type": "message", "client_id": "o1", "text": "how do I get a refund"}).to_string(),
    ))
    .await
    .expect("send");
    let mut answered = false;
    while !answered {
        let f = next_frame(&mut ws).await;
        answered = f["type"] == "message" && f["from"] == "bot";
    }
    // The stalled socket was closed: reading it now ends, with less than
    // the whole transcript delivered.
    let mut stalled = stalled;
    let mut frames = 0;
    let ended = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(Ok(frame)) = stalled.next().await {
            if matches!(frame, Frame::Text(_)) {
                frames += 1;
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the server kept the stalled socket open");
    assert!(
        frames < 80,
        "{frames} frames: the whole transcript went out"
    );
}

#[tokio::test]
async fn slow_header_and_slow_body_clients_are_timed_out_while_others_are_served() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let gw = TestGateway::start_with(|c| {
        c.server.header_timeout_secs = 1;
        c.server.body_timeout_secs = 1;
    })
    .await;
    let addr = gw.base.trim_start_matches("http://").to_string();
    // Headers that never end.
    let mut slow_header = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    slow_header
        .write_all(b"POST /api/v1/chat/messages HTTP/1.1\r\nHost: frontdesk\r\n")
        .await
        .expect("write");
    // A body that never comes.
    let s = gw.session().await;
    let mut slow_body = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    slow_body
        .write_all(
            b"POST /api/v1/chat/messages HTTP/1.1\r\nHost: frontdesk\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"session\": ",
        )
        .await
        .expect("write");
    // Meanwhile, others are served.
    let (status, _) = gw.post(&s, "1", "Where is my order?").await;
    assert_eq!(status, 202);
    assert_eq!(gw.wait_for_messages(&s, 2).await[1]["from"], "bot");
    // Both slow clients are let go within a few seconds.
    let read_all = |mut stream: tokio::net::TcpStream| async move {
        let mut got = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut got))
            .await
            .map(|_| String::from_utf8_lossy(&got).into_owned())
    };
    let header_reply = read_all(slow_header).await;
    assert!(header_reply.is_ok(), "a slow-header client was kept open");
    let body_reply = read_all(slow_body)
        .await
        .expect("a slow-body client was kept open");
    assert!(
        body_reply.starts_with("HTTP/1.1 408"),
        "a slow body gets 408: {body_reply}"
    );
    assert_eq!(
        gw.read(&s, 0, 0)
            .await
            .iter()
            .filter(|m| m["from"] == "customer")
            .count(),
        1,
        "nothing of the slow clients was stored"
    );
}
