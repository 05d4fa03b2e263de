//! Dependencies failing under the gateway: the SMTP server down, the
//! Telegram Bot API answering 5xx, the disk full. Replies wait in the
//! durable outbox and go out after recovery; intake backs off and catches
//! up; nothing is acknowledged that was not stored.

use crate::support::TestGateway;
use crate::support::mail::{MailServer, SUPPORT};
use frontdesk::channels::telegram::config::TelegramMode;
use frontdesk::model::CustomerAddress;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_smtp_down_the_acknowledgment_waits_in_the_outbox_and_goes_out_after() {
    let mail = MailServer::start();
    let config = mail.email_config();
    let gw = TestGateway::start_with(move |c| c.channels.email = Some(config)).await;
    let store = gw.store();
    mail.stop_smtp();
    // With SMTP down, the mail lands in the mailbox another way (IMAP
    // APPEND), as if delivered before the outage.
    let alice = "alice@customer.test";
    mail.append(
        SUPPORT,
        &format!("From: Alice <{alice}>\r\nTo: {SUPPORT}\r\nSubject: Lamp\r\nMessage-ID: <d1@customer.test>\r\n\r\nmy lamp flickers\r\n"),
    )
    .await;
    // Taken in over IMAP; the acknowledgment cannot be sent.
    let customer = CustomerAddress::Email {
        address: alice.into(),
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let conversation = loop {
        if let Some(c) = store.conversation_of(&customer).await.expect("read") {
            let waiting = store.outbox_of(c.id).await.expect("outbox");
            if waiting.iter().any(|e| e.attempts > 0) {
                break c;
            }
        }
        assert!(tokio::time::Instant::now() < deadline, "no failed attempt");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pending = store.outbox_of(conversation.id).await.expect("outbox");
    assert_eq!(pending.len(), 1, "the ack waits, once: {pending:?}");
    assert!(
        pending[0]
            .last_error
            .as_deref()
            .is_some_and(|e| !e.is_empty()),
        "{pending:?}"
    );
    assert!(mail.mailbox(alice).await.is_empty());
    // Back up: it goes out, once.
    mail.restart_smtp();
    let got = mail.wait_for(alice, 1).await;
    assert_eq!(got.len(), 1);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(mail.mailbox(alice).await.len(), 1, "sent once");
    assert!(
        store
            .outbox_of(conversation.id)
            .await
            .expect("outbox")
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_bot_api_answering_502_polling_backs_off_and_replies_go_out_after() {
    let (_gw, tg) = crate::telegram::gateway_with_telegram(TelegramMode::Polling).await;
    // Working first.
    tg.push(tg.text(42, 1, "Where is my order?"));
    assert_eq!(tg.wait_for(42, 1).await.len(), 1);
    // Six seconds of 502 for every call.
    let outage = Duration::from_secs(6);
    let started = tokio::time::Instant::now();
    tg.outage(outage);
    tg.push(tg.text(42, 2, "Where is my order?"));
    tg.push(tg.text(43, 3, "Where is my order?"));
    let got = tg.wait_for(43, 1).await;
    assert_eq!(got.len(), 1, "answered after the outage");
    assert!(started.elapsed() >= outage);
    assert_eq!(tg.wait_for(42, 2).await.len(), 2);
    let failed = tg.failed_calls();
    let polls = failed.iter().filter(|(m, _)| m == "getupdates").count();
    // The client waits 10 s after a 5xx (teloxide's DELAY_ON_SERVER_ERROR)
    // and the poller backs off on top (1, 2, 4 s ...): a handful of tries,
    // where retrying at once would make hundreds.
    assert!(
        (1..=6).contains(&polls),
        "{polls} getUpdates calls during the outage"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(tg.sent_to(42).len(), 2, "each answered once");
    assert_eq!(tg.sent_to(43).len(), 1);
}

/// A small tmpfs of its own, unmounted at drop (needs root, as CI has).
struct SmallDisk {
    path: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(megabytes: u32) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("disk");
        std::fs::create_dir(&path).expect("mount point");
        let options = format!("size={megabytes}m");
        let mounted = |program: &str, args: &[&str]| {
            std::process::Command::new(program)
                .args(args)
                .status()
                .is_ok_and(|s| s.success())
        };
        let target = path.to_str().expect("path");
        let args = ["-t", "tmpfs", "-o", &options, "tmpfs", target];
        let mut with_sudo = vec!["-n", "mount"];
        with_sudo.extend(args);
        assert!(
            mounted("mount", &args) || mounted("sudo", &with_sudo),
            "this test mounts a small tmpfs: run it as root (CI does)"
        );
        Self { path, _dir: dir }
    }

    /// Writes a file until the disk is full; returns its path.
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let filler = self.path.join("filler");
        let mut file = std::fs::File::create(&filler).expect("filler");
        for chunk in [1 << 20, 4096, 1] {
            let block = vec![0u8; chunk];
            while file.write_all(&block).is_ok() {}
        }
        let _ = file.sync_all();
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let target = self.path.to_str().unwrap_or_default().to_string();
        let ok = std::process::Command::new("umount")
            .args(["-l", &target])
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = std::process::Command::new("sudo")
                .args(["-n", "umount", "-l", &target])
                .status();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_stops_acknowledgments_loses_nothing_and_the_gateway_recovers() {
    use serde_json::{Value, json};
    let disk = SmallDisk::mount(48);
    let process = crate::crash::Process::start(&disk.path.join("data"));
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", process.base);
    let session = crate::support::open_chat_session(&http, &process.base).await;
    let post = |id: String| {
        let (http, session, url) = (&http, &session, url("/api/v1/chat/messages"));
        async move {
            http.post(url)
                .json(&json!({"session": session, "client_id": id, "text": format!("where is my order {id}")}))
                .timeout(Duration::from_secs(10))
                .send()
                .await
                .map(|r| (r.status().as_u16(), r.headers().contains_key("retry-after")))
                .unwrap_or((0, false))
        }
    };
    let mut acknowledged = Vec::new();
    for i in 0..5 {
        let id = format!("before-{i}");
        assert_eq!(post(id.clone()).await.0, 202);
        acknowledged.push(id);
    }
    // The disk fills up: nothing more is acknowledged.
    let filler = disk.fill();
    let mut refused = Vec::new();
    for i in 0..10 {
        let id = format!("full-{i}");
        match post(id.clone()).await {
            (202, _) => acknowledged.push(id),
            (503, true) | (0, _) => refused.push(id),
            other => panic!("while the disk is full: {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        refused.len() >= 8,
        "a full disk must stop acknowledgments: {} of 10 refused",
        refused.len()
    );
    let logs = process.logs.lock().expect("logs").join("\n");
    assert!(
        logs.contains("No space left on device") && logs.contains("is the disk full?"),
        "a clear log line says why: {logs}"
    );
    // Room again: the gateway starts again by itself, and the refused
    // messages, sent again as the widget does, are taken in.
    std::fs::remove_file(filler).expect("free the disk");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    for id in refused {
        loop {
            if post(id.clone()).await.0 == 202 {
                acknowledged.push(id);
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the gateway did not recover: {}",
                process.logs.lock().expect("logs").join("\n")
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    // Every acknowledged message is stored exactly once, and answered.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let read: Value = http
            .get(url(&format!(
                "/api/v1/chat/messages?session={session}&after=0"
            )))
            .send()
            .await
            .expect("read")
            .json()
            .await
            .expect("json");
        let messages = read["messages"].as_array().cloned().unwrap_or_default();
        let texts: Vec<String> = messages
            .iter()
            .filter(|m| m["from"] == "customer")
            .filter_map(|m| m["text"].as_str().map(str::to_string))
            .collect();
        let answers = messages.iter().filter(|m| m["from"] == "bot").count();
        let each_once = acknowledged.iter().all(|id| {
            texts
                .iter()
                .filter(|t| **t == format!("where is my order {id}"))
                .count()
                == 1
        });
        if each_once && texts.len() == acknowledged.len() && answers >= acknowledged.len() {
            println!(
                "disk full test: {} acknowledged, {} stored, {answers} answers",
                acknowledged.len(),
                texts.len()
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "acknowledged {acknowledged:?}, stored {texts:?}, {answers} answers"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
