//! Shared test helpers: a gateway on port 0 with its own data folder, and a
//! small web chat client speaking the real HTTP API.

#![allow(dead_code)]

pub mod browser;
pub mod mail;
pub mod postgres;
pub mod telegram;

use frontdesk::app::{self, Gateway};
use frontdesk::config::Config;
use serde_json::{Value, json};
use std::time::Duration;
use tempfile::TempDir;

pub struct TestGateway {
    pub gateway: Option<Gateway>,
    pub base: String,
    pub data: TempDir,
    pub http: reqwest::Client,
}

/// The `[vars]` table of the shipped default config, as TOML text, for
/// tests that write a config file of their own (every template needs them).
pub fn shipped_vars() -> String {
    let config = Config::load(None).expect("embedded config");
    let mut out = String::from("[vars]\n");
    for (key, value) in &config.vars {
        out.push_str(&format!("{key} = {}\n", toml_string(value)));
    }
    out
}

fn toml_string(value: &str) -> String {
    serde_json::to_string(value).expect("a JSON string is a TOML basic string")
}

/// The embedded default config, listening on a free port, data in a temp dir.
pub fn test_config(data: &TempDir) -> Config {
    let mut config = Config::load(None).expect("embedded config");
    config.server.listen = "127.0.0.1:0".parse().expect("addr");
    config.server.data_dir = data.path().to_path_buf();
    config
}

impl TestGateway {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(change: impl FnOnce(&mut Config)) -> Self {
        let data = tempfile::tempdir().expect("tempdir");
        let mut config = test_config(&data);
        change(&mut config);
        let gateway = app::start(config).await.expect("gateway starts");
        let base = format!("http://{}", gateway.addr);
        Self {
            gateway: Some(gateway),
            base,
            data,
            http: reqwest::Client::new(),
        }
    }

    pub fn store(&self) -> std::sync::Arc<dyn frontdesk::store::Store> {
        self.gateway.as_ref().expect("running").store()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn ws_url(&self, path: &str) -> String {
        format!("{}{path}", self.base.replacen("http", "ws", 1))
    }

    pub async fn stop(&mut self) {
        if let Some(g) = self.gateway.take() {
            g.stop().await;
        }
    }

    /// Opens a chat session; returns its token.
    pub async fn session(&self) -> String {
        let r = self
            .http
            .post(self.url("/api/v1/chat/sessions"))
            .send()
            .await
            .expect("post session");
        assert_eq!(r.status(), 201);
        let body: Value = r.json().await.expect("json");
        body["session"].as_str().expect("session token").to_string()
    }

    /// Posts a message; returns (status, body).
    pub async fn post(&self, session: &str, client_id: &str, text: &str) -> (u16, Value) {
        let r = self
            .http
            .post(self.url("/api/v1/chat/messages"))
            .json(&json!({ "session": session, "client_id": client_id, "text": text }))
            .send()
            .await
            .expect("post message");
        let status = r.status().as_u16();
        (status, r.json().await.expect("json body"))
    }

    /// The visitor's transcript after `after`, long-polling up to `wait` s.
    pub async fn read(&self, session: &str, after: u64, wait: u64) -> Vec<Value> {
        let r = self
            .http
            .get(self.url(&format!(
                "/api/v1/chat/messages?session={session}&after={after}&wait={wait}"
            )))
            .send()
            .await
            .expect("get messages");
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.expect("json");
        body["messages"].as_array().expect("messages").clone()
    }

    /// Reads until the transcript holds `count` entries (or 10 s pass).
    pub async fn wait_for_messages(&self, session: &str, count: usize) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let all = self.read(session, 0, 0).await;
            if all.len() >= count || tokio::time::Instant::now() > deadline {
                return all;
            }
            let last = all.last().and_then(|m| m["seq"].as_u64()).unwrap_or(0);
            self.read(session, last, 2).await;
        }
    }
}

/// The `from` and `text` of transcript entries.
pub fn lines(messages: &[Value]) -> Vec<(String, String)> {
    messages
        .iter()
        .map(|m| {
            (
                m["from"].as_str().unwrap_or("").to_string(),
                m["text"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// A signed-in agent: bearer token, CSRF token and session cookie.
pub struct AgentLogin {
    pub token: String,
    pub csrf: String,
    pub cookie: String,
}

impl TestGateway {
    /// Creates an agent directly in the store.
    pub async fn add_agent(&self, name: &str, password: &str, role: frontdesk::model::Role) {
        let agent = frontdesk::core::agents::new_agent(name, password, role).expect("agent");
        self.store().put_agent(&agent).await.expect("put agent");
    }

    pub async fn login(&self, name: &str, password: &str) -> AgentLogin {
        let r = self
            .http
            .post(self.url("/api/v1/agent/login"))
            .json(&json!({ "username": name, "password": password }))
            .send()
            .await
            .expect("login");
        assert_eq!(r.status(), 200, "login as {name}");
        let cookie = r
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .expect("session cookie")
            .to_string();
        let body: Value = r.json().await.expect("json");
        AgentLogin {
            token: body["token"].as_str().expect("token").to_string(),
            csrf: body["csrf"].as_str().expect("csrf").to_string(),
            cookie,
        }
    }

    /// An agent API call with a bearer token; returns (status, body).
    pub async fn agent_call(
        &self,
        login: &AgentLogin,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, self.url(&format!("/api/v1/agent{path}")))
            .bearer_auth(&login.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let r = request.send().await.expect("agent call");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

/// Opens an anonymous web chat session on the gateway at `base` (say, a
/// running binary); returns its token.
pub async fn open_chat_session(http: &reqwest::Client, base: &str) -> String {
    let body: Value = http
        .post(format!("{base}/api/v1/chat/sessions"))
        .send()
        .await
        .expect("session")
        .json()
        .await
        .expect("json");
    body["session"].as_str().expect("token").to_string()
}

/// `[sla]` with a first-response target, checked every minute, no webhook.
pub fn sla(first_response_minutes: u32) -> frontdesk::service_levels::sla::SlaConfig {
    frontdesk::service_levels::sla::SlaConfig {
        first_response_minutes,
        resolution_minutes: None,
        check_secs: 60,
        breach_webhook: None,
    }
}

/// A segment that matches customers an agent tagged with `tag`.
pub fn tagged_segment(
    name: &str,
    priority: u8,
    tag: &str,
) -> frontdesk::service_levels::segments::SegmentConfig {
    frontdesk::service_levels::segments::SegmentConfig {
        name: name.into(),
        priority,
        emails: Vec::new(),
        email_domains: Vec::new(),
        telegram_users: Vec::new(),
        web_attributes: Default::default(),
        tags: vec![tag.into()],
        first_response_minutes: None,
        resolution_minutes: None,
    }
}

/// Reads an agent event stream (server-sent events) until its text holds
/// every one of `wanted` (or 10 s pass, which fails the test); returns
/// what was read.
pub async fn events_until(stream: &mut reqwest::Response, wanted: &[&str]) -> String {
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !wanted.iter().all(|w| text.contains(w)) {
        let chunk = tokio::time::timeout_at(deadline, stream.chunk())
            .await
            .unwrap_or_else(|_| panic!("events so far: {text}"))
            .expect("read")
            .expect("open");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    text
}
