//! A Telegram Bot API server for tests, speaking the real HTTP protocol on
//! loopback: `POST /bot<TOKEN>/<method>` with case-insensitive method
//! names, `{"ok": …}` envelopes, `getUpdates` long polling with offsets
//! (an offset confirms, and so forgets, every update below it), and
//! scripted failures for `sendMessage`: 429 with `retry_after`, or 403
//! "bot was blocked by the user".

use axum::Json;
use axum::extract::{Path, State};
use axum::routing::post;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

pub const TOKEN: &str = "123456:TEST-token";

/// What the next `sendMessage` answers.
#[derive(Debug, Clone)]
pub enum Scripted {
    RetryAfter(u64),
    Blocked,
}

#[derive(Default)]
struct Inner {
    /// Updates not yet confirmed by an offset.
    pending: Vec<Value>,
    next_update_id: u64,
    next_message_id: i64,
    /// Every sendMessage that succeeded: (chat id, text, reply markup).
    sent: Vec<(i64, String, Value)>,
    /// sendMessage calls of any outcome.
    send_attempts: usize,
    script: VecDeque<Scripted>,
    answered_callbacks: Vec<String>,
    webhook: Option<(String, String)>,
    /// Until then every method answers 502 Bad Gateway.
    outage_until: Option<tokio::time::Instant>,
    /// Calls answered with 502: (method, when).
    failed_calls: Vec<(String, tokio::time::Instant)>,
}

#[derive(Clone, Default)]
pub struct FakeTelegram {
    inner: Arc<Mutex<Inner>>,
    arrived: Arc<Notify>,
}

fn ok(result: Value) -> Json<Value> {
    Json(json!({ "ok": true, "result": result }))
}

fn error(
    code: u16,
    description: &str,
    parameters: Option<Value>,
) -> (axum::http::StatusCode, Json<Value>) {
    let mut body = json!({ "ok": false, "error_code": code, "description": description });
    if let Some(p) = parameters {
        body["parameters"] = p;
    }
    (
        axum::http::StatusCode::from_u16(code).expect("status"),
        Json(body),
    )
}

impl FakeTelegram {
    /// Serves on a free loopback port; returns the API base URL.
    pub async fn start(&self) -> String {
        let app = axum::Router::new()
            .route("/{bot}/{method}", post(handle))
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        format!("http://{addr}")
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues an update (its `update_id` is set if missing); returns the id.
    pub fn push(&self, mut update: Value) -> u64 {
        let id = {
            let mut inner = self.lock();
            let id = match update["update_id"].as_u64() {
                Some(id) => id,
                None => {
                    inner.next_update_id += 1;
                    inner.next_update_id
                }
            };
            inner.next_update_id = inner.next_update_id.max(id);
            update["update_id"] = json!(id);
            inner.pending.push(update);
            id
        };
        self.arrived.notify_waiters();
        id
    }

    /// A private text message from `chat`.
    pub fn text(&self, chat: i64, message_id: i64, text: &str) -> Value {
        json!({ "message": {
            "message_id": message_id, "date": 1_700_000_000,
            "chat": { "id": chat, "type": "private", "first_name": "Customer" },
            "from": { "id": chat, "is_bot": false, "first_name": "Customer", "language_code": "en" },
            "text": text
        }})
    }

    pub fn script(&self, step: Scripted) {
        self.lock().script.push_back(step);
    }

    /// Answers every call with 502 Bad Gateway for `length`, as the Bot
    /// API does when its servers have trouble.
    pub fn outage(&self, length: Duration) {
        self.lock().outage_until = Some(tokio::time::Instant::now() + length);
    }

    /// Calls answered with 502: (method, when).
    pub fn failed_calls(&self) -> Vec<(String, tokio::time::Instant)> {
        self.lock().failed_calls.clone()
    }

    pub fn sent(&self) -> Vec<(i64, String, Value)> {
        self.lock().sent.clone()
    }

    pub fn sent_to(&self, chat: i64) -> Vec<String> {
        self.lock()
            .sent
            .iter()
            .filter(|(c, _, _)| *c == chat)
            .map(|(_, t, _)| t.clone())
            .collect()
    }

    pub fn send_attempts(&self) -> usize {
        self.lock().send_attempts
    }

    pub fn answered_callbacks(&self) -> Vec<String> {
        self.lock().answered_callbacks.clone()
    }

    pub fn webhook(&self) -> Option<(String, String)> {
        self.lock().webhook.clone()
    }

    /// Waits until `chat` has received `count` messages (or 15 s pass).
    pub async fn wait_for(&self, chat: i64, count: usize) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let got = self.sent_to(chat);
            if got.len() >= count || tokio::time::Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The text fields of a multipart/form-data body (setWebhook is sent so,
/// as it may carry a certificate file).
fn form_fields(body: &[u8]) -> Value {
    let text = String::from_utf8_lossy(body);
    let mut fields = serde_json::Map::new();
    for part in text
        .split("Content-Disposition: form-data; name=\"")
        .skip(1)
    {
        let Some((name, rest)) = part.split_once('"') else {
            continue;
        };
        let Some((_, value)) = rest.split_once("\r\n\r\n") else {
            continue;
        };
        let value = value.split("\r\n--").next().unwrap_or("");
        fields.insert(name.to_string(), json!(value.trim_matches('"')));
    }
    Value::Object(fields)
}

async fn handle(
    State(tg): State<FakeTelegram>,
    Path((bot, method)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if bot != format!("bot{TOKEN}") {
        return error(401, "Unauthorized", None).into_response();
    }
    {
        let mut inner = tg.lock();
        if inner
            .outage_until
            .is_some_and(|until| tokio::time::Instant::now() < until)
        {
            inner
                .failed_calls
                .push((method.to_lowercase(), tokio::time::Instant::now()));
            return error(502, "Bad Gateway", None).into_response();
        }
    }
    let params: Value = serde_json::from_slice(&body).unwrap_or_else(|_| form_fields(&body));
    match method.to_lowercase().as_str() {
        "getme" => ok(json!({
            "id": 123456, "is_bot": true, "first_name": "Test", "username": "test_bot",
            "can_join_groups": false, "can_read_all_group_messages": false, "supports_inline_queries": false
        }))
        .into_response(),
        "getupdates" => {
            let offset = params["offset"].as_i64().unwrap_or(0);
            let timeout = params["timeout"].as_u64().unwrap_or(0).min(10);
            let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
            loop {
                let notified = tg.arrived.notified();
                let ready: Vec<Value> = {
                    let mut inner = tg.lock();
                    // An offset confirms every update below it.
                    inner.pending.retain(|u| u["update_id"].as_i64().unwrap_or(0) >= offset);
                    inner.pending.clone()
                };
                if !ready.is_empty() || tokio::time::Instant::now() >= deadline {
                    return ok(json!(ready)).into_response();
                }
                let _ = tokio::time::timeout_at(deadline, notified).await;
            }
        }
        "sendmessage" => {
            let mut inner = tg.lock();
            inner.send_attempts += 1;
            match inner.script.pop_front() {
                Some(Scripted::RetryAfter(secs)) => {
                    return error(429, &format!("Too Many Requests: retry after {secs}"), Some(json!({"retry_after": secs})))
                        .into_response();
                }
                Some(Scripted::Blocked) => {
                    return error(403, "Forbidden: bot was blocked by the user", None).into_response();
                }
                None => {}
            }
            let chat = params["chat_id"].as_i64().unwrap_or(0);
            let text = params["text"].as_str().unwrap_or("").to_string();
            inner.next_message_id += 1;
            let message_id = inner.next_message_id;
            inner.sent.push((chat, text.clone(), params["reply_markup"].clone()));
            ok(json!({
                "message_id": message_id, "date": 1_700_000_000,
                "chat": { "id": chat, "type": "private", "first_name": "Customer" },
                "from": { "id": 123456, "is_bot": true, "first_name": "Test" },
                "text": text
            }))
            .into_response()
        }
        "answercallbackquery" => {
            tg.lock()
                .answered_callbacks
                .push(params["callback_query_id"].as_str().unwrap_or("").to_string());
            ok(json!(true)).into_response()
        }
        "setwebhook" => {
            tg.lock().webhook = Some((
                params["url"].as_str().unwrap_or("").to_string(),
                params["secret_token"].as_str().unwrap_or("").to_string(),
            ));
            ok(json!(true)).into_response()
        }
        "deletewebhook" => {
            tg.lock().webhook = None;
            ok(json!(true)).into_response()
        }
        "sendchataction" => ok(json!(true)).into_response(),
        _ => error(404, "Not Found: method not found", None).into_response(),
    }
}
