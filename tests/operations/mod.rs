//! What operators rely on, through the built binary as they run it: agent
//! commands and backups while the gateway serves (the control socket), the
//! first admin from the environment, and the log's formats.

mod backup;
mod control;
mod dashboard;
mod erasure;
mod logs;
mod openapi;

use crate::support::{AgentLogin, TestGateway};
use reqwest::Method;
use serde_json::json;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs `frontdesk ARGS --data DIR`, with `stdin` as its standard input.
pub fn frontdesk(data: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_frontdesk"))
        .args(args)
        .arg("--data")
        .arg(data)
        .env_remove("FRONTDESK_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run frontdesk");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("frontdesk output")
}

/// Standard output and error together.
pub fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// An agent takes the waiting conversation `id` of the visitor `session`
/// (who sees two entries so far), answers `reply`, and resolves it.
pub async fn answer_and_resolve(
    gw: &TestGateway,
    agent: &AgentLogin,
    session: &str,
    id: &str,
    reply: &str,
) {
    for (action, body) in [
        ("claim", None),
        ("messages", Some(json!({ "text": reply }))),
    ] {
        let path = format!("/conversations/{id}/{action}");
        let (status, _) = gw.agent_call(agent, Method::POST, &path, body).await;
        assert!(status == 200 || status == 202, "{action}: {status}");
    }
    gw.wait_for_messages(session, 3).await;
    let path = format!("/conversations/{id}/resolve");
    let (status, _) = gw
        .agent_call(agent, Method::POST, &path, Some(json!({})))
        .await;
    assert_eq!(status, 200);
}
