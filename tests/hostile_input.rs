//! Hostile and malformed input: each gets a clear refusal (or is read as
//! well as it can be) and changes nothing else. Mail is read by the same
//! function intake uses; web chat requests go to the running gateway.
//! Also replays every input the fuzzers ever crashed on
//! (`fuzz/regressions/<target>/`).

use crate::support::TestGateway;
use frontdesk::channels::email::inspect::{Inspection, inspect};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::Path;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn read_mail(raw: &[u8]) -> Inspection {
    let locales: BTreeSet<String> = ["en".to_string(), "zh".to_string()].into();
    inspect(
        raw,
        &["support@example.test".to_string()],
        "example.test",
        &locales,
        "en",
    )
}

const HEAD: &str = "From: Mallory <mallory@example.com>\r\nTo: support@example.test\r\nMessage-ID: <hostile@example.com>\r\n";

#[test]
fn mail_nested_two_thousand_levels_deep_is_read_without_a_crash() {
    let mut mail = format!("{HEAD}Subject: deep\r\nMIME-Version: 1.0\r\n");
    for level in 0..2000 {
        mail.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"b{level}\"\r\n\r\n--b{level}\r\n"
        ));
    }
    mail.push_str("Content-Type: text/plain\r\n\r\nWhere is my order?\r\n");
    let seen = read_mail(mail.as_bytes());
    assert_eq!(seen.subject.as_deref(), Some("deep"));
}

#[test]
fn mail_with_a_megabyte_header_and_ten_thousand_headers_is_read() {
    let long = "x".repeat(1 << 20);
    let mut mail = format!("{HEAD}Subject: {long}\r\n");
    for i in 0..10_000 {
        mail.push_str(&format!("X-Junk-{i}: {i}\r\n"));
    }
    mail.push_str("\r\nWhere is my order?\r\n");
    let seen = read_mail(mail.as_bytes());
    assert_eq!(seen.from.as_deref(), Some("mallory@example.com"));
    assert!(seen.visible_text.contains("Where is my order?"));
}

#[test]
fn mail_with_invalid_utf8_and_bidi_overrides_reads_as_clean_text() {
    let mut mail = format!(
        "{HEAD}Subject: =?utf-8?b?{}?=\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
        data_encoding::BASE64.encode("refund \u{202e}gnp.exe".as_bytes())
    )
    .into_bytes();
    mail.extend_from_slice(b"my order \xff\xfe\xc3( is late \xe2\x80\x8b\xe2\x80\xae\r\n");
    let seen = read_mail(&mail);
    let text = &seen.visible_text;
    assert!(text.contains("my order"), "{text:?}");
    assert!(
        !text.contains('\u{202e}') && !text.contains('\u{200b}'),
        "invisible or direction-changing characters stay out: {text:?}"
    );
}

#[test]
fn garbage_is_a_mail_for_a_person_not_a_crash() {
    for raw in [
        &b""[..],
        b"\x00\x01\x02",
        b"\r\n\r\n\r\n",
        b"From:\r\n\r\n",
        b"Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n--\r\n",
    ] {
        let _ = read_mail(raw);
    }
}

async fn raw_http(gw: &TestGateway, request: &[u8]) -> String {
    let mut stream = tokio::net::TcpStream::connect(gw.base.trim_start_matches("http://"))
        .await
        .expect("connect");
    stream.write_all(request).await.expect("write");
    let mut got = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut got),
    )
    .await;
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test]
async fn web_chat_refuses_json_bombs_huge_headers_and_broken_bodies_and_keeps_serving() {
    let gw = TestGateway::start().await;
    let s = gw.session().await;
    let post = |body: Vec<u8>| {
        let gw = &gw;
        async move {
            let r = gw
                .http
                .post(gw.url("/api/v1/chat/messages"))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .expect("post");
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    // Nesting 10,000 deep: refused by the parser's depth limit, no stack
    // overflow.
    let bomb = format!(
        "{{\"session\": \"{s}\", \"client_id\": \"b\", \"text\": {}{}}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let (status, body) = post(bomb.into_bytes()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_json"))
    );
    // Invalid UTF-8 in the body.
    let mut broken =
        format!("{{\"session\": \"{s}\", \"client_id\": \"u\", \"text\": \"").into_bytes();
    broken.extend_from_slice(b"\xff\xfe\"}");
    let (status, body) = post(broken).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_json"))
    );
    // A 1 MB message.
    let big = json!({"session": s, "client_id": "m", "text": "x".repeat(1 << 20)});
    let (status, _) = post(big.to_string().into_bytes()).await;
    assert_eq!(status, 413);
    // A megabyte of headers.
    let mut request = b"GET /healthz HTTP/1.1\r\nHost: frontdesk\r\n".to_vec();
    request.extend_from_slice(format!("X-Big: {}\r\n\r\n", "y".repeat(1 << 20)).as_bytes());
    let reply = raw_http(&gw, &request).await;
    assert!(
        reply.is_empty() || reply.starts_with("HTTP/1.1 431"),
        "huge headers are refused: {}",
        reply.lines().next().unwrap_or_default()
    );
    // Right-to-left and zero-width characters are just text: stored as
    // sent and shown as text.
    let tricky = "where is my \u{202e}redro\u{202c} order\u{200b}?";
    let (status, _) = gw.post(&s, "t", tricky).await;
    assert_eq!(status, 202);
    let all = gw.wait_for_messages(&s, 2).await;
    assert_eq!(all[0]["text"], tricky);
    // None of it was stored but the last one; the gateway still answers.
    let customer = all.iter().filter(|m| m["from"] == "customer").count();
    assert_eq!(customer, 1);
    let r = gw.http.get(gw.url("/readyz")).send().await.expect("ready");
    assert_eq!(r.status(), 200);
}

/// Every input a fuzzer crashed on, kept in `fuzz/regressions/<target>/`,
/// goes through the same code again.
#[test]
fn every_input_the_fuzzers_ever_crashed_on_is_handled() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let files = |target: &str| -> Vec<Vec<u8>> {
        let Ok(dir) = std::fs::read_dir(root.join(target)) else {
            return Vec::new();
        };
        dir.filter_map(Result::ok)
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .map(|e| std::fs::read(e.path()).expect("read"))
            .collect()
    };
    let intents = frontdesk::rules::intents::IntentSet::load(None).expect("intents");
    for raw in files("email_parse") {
        let _ = read_mail(&raw);
    }
    for raw in files("intent_text") {
        let text = String::from_utf8_lossy(&raw);
        let _ = intents.decide(&text);
    }
    for raw in files("web_chat_input") {
        let _ = frontdesk::http::chat::read_session_request(&raw, None);
        if let Ok(text) = std::str::from_utf8(&raw) {
            let _ = frontdesk::http::chat::read_frame(text);
        }
    }
    for raw in files("telegram_update") {
        if let Ok(update) = frontdesk::channels::telegram::parse::read_update(&raw) {
            let _ = frontdesk::channels::telegram::parse::parse(&update);
        }
    }
}
