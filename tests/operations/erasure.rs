//! An admin erases a web chat customer through the agent API: their export
//! holds their words first; after the erasure, no transcript, export,
//! backup or session shows them, other customers are untouched, the
//! reports count the same, and the audit log names the admin, not them.

use super::{frontdesk, text};
use crate::support::TestGateway;
use frontdesk::model::Role;
use reqwest::Method;
use serde_json::{Value, json};

const SECRET: &str = "my locker code is Zebra-4471";

#[tokio::test]
async fn an_admin_erases_a_customer_and_the_counts_stay() {
    let gw = TestGateway::start().await;
    gw.add_agent("boss", "boss-password", Role::Admin).await;
    gw.add_agent("ann", "ann-password", Role::Agent).await;
    let boss = gw.login("boss", "boss-password").await;
    let ann = gw.login("ann", "ann-password").await;

    let session: Value = gw
        .http
        .post(gw.url("/api/v1/chat/sessions"))
        .json(&json!({"name": "Zora Quill", "email": "zora@example.com"}))
        .send()
        .await
        .expect("session")
        .json()
        .await
        .expect("json");
    let zora = session["session"].as_str().expect("token").to_string();
    let (_, receipt) = gw.post(&zora, "1", SECRET).await;
    gw.wait_for_messages(&zora, 2).await;
    let (id, ticket) = (
        receipt["conversation_id"].as_str().expect("id").to_string(),
        receipt["ticket"].as_u64().expect("ticket"),
    );
    super::answer_and_resolve(&gw, &ann, &zora, &id, "Hi Zora, noted: Zebra-4471.").await;
    let other = gw.session().await;
    gw.post(&other, "1", "Where is my order?").await;
    gw.wait_for_messages(&other, 2).await;

    let report = async || {
        let body: Value = gw
            .http
            .get(gw.url("/api/v1/reports/summary"))
            .bearer_auth(&boss.token)
            .send()
            .await
            .expect("report")
            .json()
            .await
            .expect("json");
        // Everything but the period's end (now) and start.
        let mut figures = body;
        for moving in ["from", "to"] {
            figures.as_object_mut().map(|o| o.remove(moving));
        }
        figures
    };
    let before = report().await;
    assert_eq!(before["conversations"], 2, "{before}");

    // Agents may not; the admin's export holds the words.
    let (status, _) = gw
        .agent_call(
            &ann,
            Method::POST,
            "/customers/erase",
            Some(json!({"ticket": ticket})),
        )
        .await;
    assert_eq!(status, 403);
    // A selector that names no customer is refused, and changes nothing.
    for bad in [
        json!({"ticket": "x"}),
        json!({}),
        json!({"fax": 1}),
        json!({"email": 1}),
    ] {
        let (status, body) = gw
            .agent_call(&boss, Method::POST, "/customers/erase", Some(bad.clone()))
            .await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body["detail"].is_string(), "{body}");
    }
    let (status, _) = gw
        .agent_call(
            &boss,
            Method::POST,
            "/customers/erase",
            Some(json!({"ticket": 999_999})),
        )
        .await;
    assert_eq!(status, 404, "no such ticket");
    let (status, exported) = gw
        .agent_call(
            &boss,
            Method::POST,
            "/customers/export",
            Some(json!({"ticket": ticket})),
        )
        .await;
    assert_eq!(status, 200);
    assert!(exported.to_string().contains("Zebra-4471"), "{exported}");

    let (status, entry) = gw
        .agent_call(
            &boss,
            Method::POST,
            "/customers/erase",
            Some(json!({"ticket": ticket})),
        )
        .await;
    assert_eq!(status, 200, "{entry}");
    assert_eq!(
        (entry["actor"].as_str(), entry["conversations"].as_u64()),
        (Some("boss"), Some(1))
    );

    let (_, detail) = gw
        .agent_call(&boss, Method::GET, &format!("/conversations/{id}"), None)
        .await;
    let shown = detail.to_string();
    for personal in ["Zebra", "Zora", "zora@example.com"] {
        assert!(!shown.contains(personal), "{personal} in {shown}");
    }
    assert_eq!(
        detail["messages"].as_array().map(Vec::len),
        Some(3),
        "the skeleton stays"
    );
    let r = gw
        .http
        .get(gw.url(&format!("/api/v1/chat/messages?session={zora}")))
        .send()
        .await
        .expect("read");
    assert_eq!(r.status(), 404, "the visitor's session is gone");
    assert_eq!(
        gw.read(&other, 0, 0).await.len(),
        2,
        "another customer is untouched"
    );
    assert_eq!(report().await, before, "the reports count the same");

    let (status, _) = gw
        .agent_call(
            &boss,
            Method::POST,
            "/customers/erase",
            Some(json!({"ticket": ticket})),
        )
        .await;
    assert_eq!(status, 404, "nothing left to erase");
    let (_, log) = gw.agent_call(&boss, Method::GET, "/audit", None).await;
    assert_eq!(log.as_array().map(Vec::len), Some(1), "{log}");
    assert!(
        !log.to_string().contains("Zora") && !log.to_string().contains("4471"),
        "{log}"
    );

    // A backup taken now holds none of it.
    let work = tempfile::tempdir().expect("tempdir");
    let (data, out) = (gw.data.path().to_path_buf(), work.path().join("desk.jsonl"));
    let file = out.clone();
    let backed_up = tokio::task::spawn_blocking(move || {
        frontdesk(
            &data,
            &["backup", "--out", file.to_str().expect("utf8")],
            "",
        )
    })
    .await
    .expect("join");
    assert!(backed_up.status.success(), "{}", text(&backed_up));
    let backup = std::fs::read_to_string(&out).expect("backup");
    assert!(
        !backup.contains("Zebra") && !backup.contains("Zora"),
        "the backup holds erased data"
    );
}

#[tokio::test]
async fn the_command_line_exports_and_erases_a_customer_through_the_running_gateway() {
    let gw = TestGateway::start().await;
    let s = gw.session().await;
    let (_, receipt) = gw.post(&s, "1", SECRET).await;
    gw.wait_for_messages(&s, 2).await;
    let ticket = receipt["ticket"].as_u64().expect("ticket").to_string();
    let data = gw.data.path().to_path_buf();
    let run = |args: Vec<String>| {
        let data = data.clone();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            frontdesk(&data, &args, "")
        })
    };
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let exported = run(args(&["customer", "export", "--ticket", &ticket]))
        .await
        .expect("join");
    assert!(exported.status.success(), "{}", text(&exported));
    assert!(String::from_utf8_lossy(&exported.stdout).contains("Zebra-4471"));

    let unconfirmed = run(args(&["customer", "erase", "--ticket", &ticket]))
        .await
        .expect("join");
    assert!(!unconfirmed.status.success());
    assert!(
        text(&unconfirmed).contains("--yes"),
        "{}",
        text(&unconfirmed)
    );
    let erased = run(args(&["customer", "erase", "--ticket", &ticket, "--yes"]))
        .await
        .expect("join");
    assert!(erased.status.success(), "{}", text(&erased));
    assert!(
        text(&erased).contains("erased 1 conversations"),
        "{}",
        text(&erased)
    );
    let again = run(args(&["customer", "export", "--ticket", &ticket]))
        .await
        .expect("join");
    assert!(!again.status.success());
    assert!(
        text(&again).contains("no customer with ticket"),
        "{}",
        text(&again)
    );
}

/// Whether any file under `dir` holds `needle`, byte for byte.
fn folder_holds(dir: &std::path::Path, needle: &[u8]) -> bool {
    std::fs::read_dir(dir).expect("read folder").any(|entry| {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            folder_holds(&path, needle)
        } else {
            std::fs::read(&path)
                .map(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
                .unwrap_or(false)
        }
    })
}

#[tokio::test]
async fn erased_text_is_gone_from_every_file_of_the_data_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let gateway = crate::crash::Process::start(&data);
    let http = reqwest::Client::new();
    let zora = crate::support::open_chat_session(&http, &gateway.base).await;
    let post = async |session: &str, text: &str| -> Value {
        http.post(format!("{}/api/v1/chat/messages", gateway.base))
            .json(&json!({"session": session, "client_id": "1", "text": text}))
            .send()
            .await
            .expect("post")
            .json()
            .await
            .expect("receipt")
    };
    let receipt = post(&zora, SECRET).await;
    let other = crate::support::open_chat_session(&http, &gateway.base).await;
    post(&other, "Where is my order?").await;
    // The scan sees what sled wrote: the words are in the folder's files.
    assert!(
        folder_holds(&data, b"Zebra-4471"),
        "the scan cannot see stored text"
    );

    let ticket = receipt["ticket"].as_u64().expect("ticket").to_string();
    let folder = data.clone();
    let erased = tokio::task::spawn_blocking(move || {
        frontdesk(
            &folder,
            &["customer", "erase", "--ticket", &ticket, "--yes"],
            "",
        )
    })
    .await
    .expect("join");
    assert!(erased.status.success(), "{}", text(&erased));

    // The gateway restarts itself to rewrite the folder without them.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let logs = gateway.logs.lock().expect("logs").join("\n");
        if logs.contains("Started again without the erased data.") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no restart: {logs}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        !folder_holds(&data, b"Zebra-4471"),
        "erased text is still in the data folder"
    );
    assert!(!data.join("ERASED").exists());
    // The rest of the desk is all there, on the same address.
    let transcript = crate::crash::transcript(&gateway.base, &other).await;
    assert!(
        transcript.iter().any(|m| m["text"] == "Where is my order?"),
        "{transcript:?}"
    );
    assert!(transcript.len() >= 2, "{transcript:?}");
    gateway.kill();
}
