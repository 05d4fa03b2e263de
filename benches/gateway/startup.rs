//! The real binary's start-up time and memory, empty and with 100,000
//! conversations.

use super::*;

/// The binary's resident memory in MB, from /proc.
pub(crate) fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Starts the real binary on `data`; returns it, its address and how long
/// it took to answer `/readyz`.
pub(crate) async fn start_binary(
    data: &std::path::Path,
) -> (std::process::Child, String, Duration) {
    use std::io::BufRead;
    let started = Instant::now();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_frontdesk"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn frontdesk");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if !sent && let Some(addr) = line.split("addr=").nth(1) {
                let _ = tx.send(addr.trim().to_string());
                sent = true;
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("frontdesk printed its address");
    let base = format!("http://{addr}");
    let client = reqwest::Client::new();
    while !client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    (child, base, started.elapsed())
}

/// Start-up time and memory: the binary on an empty folder, then on one
/// holding `scale.stored` conversations (each a customer message and the
/// bot's answer), idle, then after it served the agents' queue view.
pub(crate) async fn bench_startup_memory(scale: &Scale) -> String {
    let empty = tempfile::tempdir().expect("tempdir");
    let (mut child, _, empty_start) = start_binary(empty.path()).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let empty_rss = rss_mb(child.id());
    let _ = child.kill();
    let _ = child.wait();

    let full = tempfile::tempdir().expect("tempdir");
    let fill_secs = fill_store(full.path(), scale.stored).await;
    let (mut child, base, loaded_start) = start_binary(full.path()).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let loaded_rss = rss_mb(child.id());
    let _ = reqwest::get(format!("{base}/metrics")).await;
    let after_metrics = rss_mb(child.id());
    let _ = child.kill();
    let _ = child.wait();
    let (n, decode_all) = decode_every_conversation(full.path());
    assert_eq!(n, scale.stored, "one conversation per customer");
    format!(
        "| start-up to ready | empty folder: {:.0} ms; {n} conversations stored: **{:.0} ms** | | target ≤ 1 s |\n\
         | memory (RSS) | idle, empty: **{empty_rss:.1} MB**; idle with {n} conversations: **{loaded_rss:.1} MB**; after serving /metrics over them: {after_metrics:.1} MB | | targets ≤ 30 MB idle, ≤ 200 MB loaded |\n\
         | (filling the store for this: {n} conversations in {fill_secs:.1} s) | | | |\n\
         | (reading and decoding every one of the {n} stored conversations, as a store holding all state in memory would at start-up) | {:.0} ms | | |\n",
        empty_start.as_secs_f64() * 1000.0,
        loaded_start.as_secs_f64() * 1000.0,
        decode_all.as_secs_f64() * 1000.0,
    )
}

/// Fills a sled store in `dir` with `n` conversations, one customer each
/// (a message and the bot's turn; every tenth handed off); returns the
/// seconds it took.
pub(crate) async fn fill_store(dir: &std::path::Path, n: usize) -> f64 {
    let started = Instant::now();
    let store = SledStore::open(dir).expect("store");
    let new = NewConversation {
        priority: 0,
        locale: "en".into(),
        segment: None,
        tags: Vec::new(),
    };
    for i in 0..n {
        let accepted = store
            .accept(&inbound_from(i, i), &new, &take_in)
            .await
            .expect("accept");
        store
            .record_turn(
                &frontdesk::store::TurnOutcome {
                    turn: frontdesk::store::PendingTurn {
                        conversation_id: accepted.conversation.id,
                        seq: accepted.message.seq,
                    },
                    locale: "en".into(),
                    handoff: i % 10 == 0,
                    replies: Vec::new(),
                    sla: None,
                    route: None,
                },
                &after_turn,
            )
            .await
            .expect("turn");
    }
    store.sync().await.expect("sync");
    started.elapsed().as_secs_f64()
}

/// How many conversations are stored, and how long reading and decoding
/// every one takes: the start-up cost of a store that would keep all
/// conversation state in memory and write only a log of messages.
pub(crate) fn decode_every_conversation(dir: &std::path::Path) -> (usize, Duration) {
    let db = bench_sled(dir);
    let tree = db
        .open_tree("conversationid_conversation")
        .expect("conversations");
    let started = Instant::now();
    let mut decoded = 0usize;
    for item in tree.iter().values() {
        let bytes = item.expect("read");
        let _: frontdesk::model::Conversation = serde_json::from_slice(&bytes).expect("decode");
        decoded += 1;
    }
    (decoded, started.elapsed())
}
