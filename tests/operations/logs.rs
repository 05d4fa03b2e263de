//! `[log] format = "json"`: one JSON object a line, and the lines about a
//! customer's message carry its conversation id.

use crate::crash::Process;
use crate::support::{open_chat_session, shipped_vars};
use serde_json::{Value, json};

#[tokio::test]
async fn json_logs_name_the_conversation_of_each_line_about_a_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("frontdesk.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n\n[log]\nformat = \"json\"\n\n{}",
            shipped_vars()
        ),
    )
    .expect("config");
    let gateway = Process::start_with_debug_logs(&dir.path().join("data"), &config);
    let http = reqwest::Client::new();
    let session = open_chat_session(&http, &gateway.base).await;
    let accepted: Value = http
        .post(format!("{}/api/v1/chat/messages", gateway.base))
        .json(&json!({"session": session, "client_id": "1", "text": "Where is my order?"}))
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    let conversation = accepted["conversation_id"]
        .as_str()
        .expect("conversation id")
        .to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let about_it = loop {
        let lines = gateway.logs.lock().expect("logs").clone();
        let about: Vec<Value> = lines
            .iter()
            .map(|line| {
                serde_json::from_str::<Value>(line)
                    .unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
            })
            .filter(|line| {
                let message = line["message"].as_str().unwrap_or("");
                message.contains("Matched an intent")
                    || message.contains("Queued the automatic reply")
            })
            .collect();
        if about.len() >= 2 || std::time::Instant::now() > deadline {
            break about;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(about_it.len(), 2, "{about_it:?}");
    for line in &about_it {
        let spans = line["spans"].as_array().expect("the line's spans");
        assert!(
            spans
                .iter()
                .any(|s| s["conversation_id"] == conversation.as_str()),
            "{line}"
        );
        assert!(
            line["timestamp"].is_string() && line["level"].is_string(),
            "{line}"
        );
    }
    gateway.kill();
}
