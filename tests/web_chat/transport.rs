//! How messages travel: idempotent posts, long polls, the WebSocket and
//! its replay, the demo page, probes and metrics, allowed origins.

use super::*;

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

pub(super) async fn next_frame(
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
