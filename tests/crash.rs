//! Promise 1 under fire: the real binary is killed with SIGKILL while web
//! chat clients post, then restarted on the same data folder. Every message
//! the gateway acknowledged (HTTP 202) must still be there, exactly once,
//! and every customer turn must get exactly one automatic reply.

use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SESSIONS: usize = 16;
const KILLS: usize = 3;

/// The `frontdesk` binary, serving on a free port with `data` as its folder.
pub struct Process {
    child: Child,
    pub base: String,
    /// Every log line the process printed.
    pub logs: Arc<Mutex<Vec<String>>>,
}

impl Process {
    pub fn start(data: &Path) -> Self {
        Self::start_with_config(data, None)
    }

    pub fn start_with_config(data: &Path, config: Option<&Path>) -> Self {
        Self::launch(data, config, "info")
    }

    /// With every debug line, of the gateway and of every library, in the logs.
    pub fn start_with_debug_logs(data: &Path, config: &Path) -> Self {
        Self::launch(data, Some(config), "debug")
    }

    fn launch(data: &Path, config: Option<&Path>, log_filter: &str) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_frontdesk"));
        command.arg("serve");
        if let Some(config) = config {
            command.arg("--config").arg(config);
        }
        let mut child = command
            .args(["--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .env("NO_COLOR", "1")
            .env("RUST_LOG", log_filter)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn frontdesk");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let keep = logs.clone();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                keep.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(line.clone());
                if !sent && let Some(addr) = line.split("addr=").nth(1) {
                    let _ = tx.send(addr.trim().to_string());
                    sent = true;
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("frontdesk printed its address");
        Self {
            child,
            base: format!("http://{addr}"),
            logs,
        }
    }

    /// SIGKILL: no destructor, no flush, no goodbye.
    pub fn kill(mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reap");
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One visitor's messages: text → whether the gateway acknowledged it.
type Ledger = Arc<Mutex<BTreeMap<String, bool>>>;

/// Posts numbered messages until the gateway disappears; re-sends any
/// message it did not acknowledge first, with the same client id, as the
/// widget does.
async fn visitor(
    base: String,
    session: String,
    index: usize,
    ledger: Ledger,
    start_at: usize,
) -> usize {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let unacked: Vec<String> = ledger
        .lock()
        .expect("lock")
        .iter()
        .filter(|(_, acked)| !**acked)
        .map(|(text, _)| text.clone())
        .collect();
    let mut n = start_at;
    let mut queue: Vec<String> = unacked;
    loop {
        let text = match queue.pop() {
            Some(t) => t,
            None => {
                n += 1;
                // Alternate an answered question and a hand-off.
                if n.is_multiple_of(2) {
                    format!("Where is my order? visitor {index} message {n}")
                } else {
                    format!("My lamp flickers, visitor {index} message {n}")
                }
            }
        };
        ledger
            .lock()
            .expect("lock")
            .entry(text.clone())
            .or_insert(false);
        // The text is unique, so it doubles as the client id.
        let sent = http
            .post(format!("{base}/api/v1/chat/messages"))
            .json(&json!({ "session": session, "client_id": text, "text": text }))
            .send()
            .await;
        match sent {
            Ok(r) if r.status() == 202 => {
                ledger.lock().expect("lock").insert(text, true);
            }
            _ => return n,
        }
    }
}

async fn transcript(base: &str, session: &str) -> Vec<Value> {
    let body: Value = reqwest::get(format!(
        "{base}/api/v1/chat/messages?session={session}&after=0"
    ))
    .await
    .expect("get")
    .json()
    .await
    .expect("json");
    body["messages"].as_array().expect("messages").clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_gateway_loses_no_acknowledged_message_and_answers_each_once() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut process = Process::start(data.path());
    let http = reqwest::Client::new();
    let mut sessions = Vec::new();
    for _ in 0..SESSIONS {
        let body: Value = http
            .post(format!("{}/api/v1/chat/sessions", process.base))
            .send()
            .await
            .expect("session")
            .json()
            .await
            .expect("json");
        sessions.push(body["session"].as_str().expect("token").to_string());
    }
    let ledgers: Vec<Ledger> = (0..SESSIONS).map(|_| Ledger::default()).collect();
    let mut counters = [0usize; SESSIONS];

    for round in 0..KILLS {
        let tasks: Vec<_> = (0..SESSIONS)
            .map(|i| {
                tokio::spawn(visitor(
                    process.base.clone(),
                    sessions[i].clone(),
                    i,
                    ledgers[i].clone(),
                    counters[i],
                ))
            })
            .collect();
        // Let traffic flow for a while that differs per round, then kill.
        tokio::time::sleep(Duration::from_millis(400 + 250 * round as u64)).await;
        process.kill();
        for (i, task) in tasks.into_iter().enumerate() {
            counters[i] = task.await.expect("visitor");
        }
        process = Process::start(data.path());
    }
    // After the last restart, every visitor re-sends what was not acknowledged.
    for i in 0..SESSIONS {
        let base = process.base.clone();
        let session = sessions[i].clone();
        let ledger = ledgers[i].clone();
        let http = http.clone();
        let unacked: Vec<String> = ledger
            .lock()
            .expect("lock")
            .iter()
            .filter(|(_, a)| !**a)
            .map(|(t, _)| t.clone())
            .collect();
        for text in unacked {
            let r = http
                .post(format!("{base}/api/v1/chat/messages"))
                .json(&json!({ "session": session, "client_id": text, "text": text }))
                .send()
                .await
                .expect("resend");
            assert_eq!(r.status(), 202);
            ledger.lock().expect("lock").insert(text, true);
        }
    }

    // Wait until every customer turn has its reply.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let Tally {
        customers,
        replies,
        stored_twice,
        missing,
    } = loop {
        let t = tally(&process.base, &sessions, &ledgers).await;
        if t.replies >= t.customers || tokio::time::Instant::now() > deadline {
            break t;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    println!(
        "crash test: {KILLS} kills, {customers} customer messages stored, {replies} automatic replies, \
         {stored_twice} stored twice, {missing} acknowledged but missing"
    );
    assert!(
        customers >= SESSIONS * KILLS,
        "too little traffic to mean anything: {customers}"
    );
    assert_eq!(missing, 0, "acknowledged messages were lost");
    assert_eq!(stored_twice, 0, "a message was stored twice");
    assert_eq!(
        replies, customers,
        "every customer turn gets exactly one automatic reply"
    );
}

struct Tally {
    customers: usize,
    replies: usize,
    stored_twice: usize,
    missing: usize,
}

/// Counts what every visitor's transcript holds against its ledger.
async fn tally(base: &str, sessions: &[String], ledgers: &[Ledger]) -> Tally {
    let mut t = Tally {
        customers: 0,
        replies: 0,
        stored_twice: 0,
        missing: 0,
    };
    for (session, ledger) in sessions.iter().zip(ledgers) {
        let mut count: HashMap<String, usize> = HashMap::new();
        for m in transcript(base, session).await {
            match m["from"].as_str() {
                Some("customer") => {
                    t.customers += 1;
                    *count
                        .entry(m["text"].as_str().unwrap_or("").to_string())
                        .or_default() += 1;
                }
                Some("bot") => t.replies += 1,
                _ => {}
            }
        }
        t.stored_twice += count.values().filter(|c| **c > 1).count();
        t.missing += ledger
            .lock()
            .expect("lock")
            .keys()
            .filter(|text| !count.contains_key(*text))
            .count();
    }
    t
}
