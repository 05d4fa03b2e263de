//! Secrets never reach the logs. The real binary runs with every channel
//! on (a Telegram bot on the test Bot API server, a mailbox on dovecot and
//! aiosmtpd, web chat with signed identities, an SLA webhook), at debug
//! level, while a customer writes on each channel, an agent signs in,
//! answers and resolves; then every line it printed is searched for each
//! secret: the bot token, the mailbox password, the identity secret, the
//! agent's password and session token, the visitors' session tokens.

use crate::crash::Process;
use crate::support::mail::{MailServer, PASSWORD as MAILBOX_PASSWORD, SUPPORT};
use crate::support::telegram::{FakeTelegram, TOKEN};
use serde_json::{Value, json};
use std::io::Write;
use std::time::Duration;

const IDENTITY_SECRET: &str = "identity-Secret-9Kq2Zr";
const AGENT_PASSWORD: &str = "agent-pass-X4m8Wq1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_logs_of_a_full_run() {
    let tg = FakeTelegram::default();
    let api_url = tg.start().await;
    let mail = MailServer::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("frontdesk.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\n{vars}\
             [channels.web]\nidentity_secret = \"{IDENTITY_SECRET}\"\n\
             [channels.telegram]\ntoken = \"{TOKEN}\"\napi_url = \"{api_url}\"\npoll_timeout_secs = 1\n\
             [channels.email]\naddress = \"{SUPPORT}\"\npoll_secs = 1\n\
             [channels.email.imap]\nhost = \"127.0.0.1\"\nport = {imap}\nsecurity = \"plain\"\nusername = \"{SUPPORT}\"\npassword = \"{MAILBOX_PASSWORD}\"\n\
             [channels.email.smtp]\nhost = \"127.0.0.1\"\nport = {smtp}\nsecurity = \"plain\"\n\
             [sla]\nfirst_response_minutes = 60\n\
             [surveys]\nquestions = [\"csat\"]\n",
            vars = crate::support::shipped_vars(),
            imap = mail.imap_port,
            smtp = mail.smtp_port,
        ),
    )
    .expect("config");
    let data = dir.path().join("data");
    // An agent, added the way an admin does.
    let mut add = std::process::Command::new(env!("CARGO_BIN_EXE_frontdesk"))
        .args(["agent", "add", "ann", "--data"])
        .arg(&data)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("frontdesk agent add");
    writeln!(add.stdin.take().expect("stdin"), "{AGENT_PASSWORD}").expect("password");
    assert!(add.wait().expect("wait").success());

    let process = Process::start_with_debug_logs(&data, &config);
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", process.base);

    // Web chat, with a signed identity.
    let attributes =
        std::collections::BTreeMap::from([("plan".to_string(), "premium".to_string())]);
    let signature =
        frontdesk::service_levels::segments::sign_identity(IDENTITY_SECRET, "user-7", &attributes);
    let session: Value = http
        .post(url("/api/v1/chat/sessions"))
        .json(&json!({"user_id": "user-7", "attributes": attributes, "signature": signature}))
        .send()
        .await
        .expect("session")
        .json()
        .await
        .expect("json");
    let web_token = session["session"].as_str().expect("token").to_string();
    let r = http
        .post(url("/api/v1/chat/messages"))
        .json(&json!({"session": web_token, "client_id": "1", "text": "my lamp flickers"}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 202);
    // Telegram and email.
    tg.push(tg.text(42, 1, "Where is my order?"));
    tg.wait_for(42, 1).await;
    mail.send(
        "alice@customer.test",
        SUPPORT,
        &format!(
            "From: Alice <alice@customer.test>\r\nTo: {SUPPORT}\r\nSubject: Lamp\r\nMessage-ID: <s1@customer.test>\r\n\r\nmy lamp flickers\r\n"
        ),
    )
    .await;
    mail.wait_for("alice@customer.test", 1).await;

    // An agent signs in, answers the web visitor and resolves.
    let login: Value = http
        .post(url("/api/v1/agent/login"))
        .json(&json!({"username": "ann", "password": AGENT_PASSWORD}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    let agent_token = login["token"].as_str().expect("agent token").to_string();
    let waiting: Value = http
        .get(url("/api/v1/agent/conversations?status=waiting"))
        .bearer_auth(&agent_token)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    let id = waiting["conversations"][0]["id"]
        .as_str()
        .expect("a waiting conversation")
        .to_string();
    for (path, body) in [
        (
            format!("/api/v1/agent/conversations/{id}/messages"),
            Some(json!({"text": "On it."})),
        ),
        (format!("/api/v1/agent/conversations/{id}/resolve"), None),
    ] {
        let mut request = http.post(url(&path)).bearer_auth(&agent_token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        assert!(
            request
                .send()
                .await
                .expect("agent call")
                .status()
                .is_success()
        );
    }
    // A wrong password and a wrong token are logged as such, not echoed.
    let _ = http
        .post(url("/api/v1/agent/login"))
        .json(&json!({"username": "ann", "password": format!("{AGENT_PASSWORD}-typo")}))
        .send()
        .await;
    let _ = http
        .get(url("/api/v1/agent/me"))
        .bearer_auth(format!("{agent_token}x"))
        .send()
        .await;
    let _ = http
        .get(url(&format!(
            "/api/v1/chat/messages?session={web_token}&after=0"
        )))
        .send()
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let logs = process.logs.lock().expect("logs").clone();
    drop(process);
    assert!(
        logs.len() > 10 && logs.iter().any(|l| l.contains("DEBUG")),
        "a debug-level run logged: {logs:?}"
    );
    let bot_secret = TOKEN.split(':').nth(1).expect("token secret part");
    for (name, secret) in [
        ("the bot token", bot_secret),
        ("the mailbox password", MAILBOX_PASSWORD),
        ("the identity secret", IDENTITY_SECRET),
        ("the agent's password", AGENT_PASSWORD),
        ("the agent's session token", agent_token.as_str()),
        ("the visitor's session token", web_token.as_str()),
    ] {
        let leaks: Vec<&String> = logs.iter().filter(|l| l.contains(secret)).collect();
        assert!(leaks.is_empty(), "{name} reached the logs: {leaks:?}");
    }
    println!("secrets test: {} log lines checked", logs.len());
}
