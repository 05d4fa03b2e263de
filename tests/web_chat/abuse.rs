//! Bad and hostile clients: bad frames and requests, floods, visitors who
//! never read, slow headers and bodies; others are served meanwhile.

use super::transport::next_frame;
use super::*;

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
