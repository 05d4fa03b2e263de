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

    /// With `env` set for the process too.
    pub fn start_with_env(data: &Path, config: Option<&Path>, env: &[(&str, &str)]) -> Self {
        Self::launch_with(data, config, "info", env)
    }

    fn launch(data: &Path, config: Option<&Path>, log_filter: &str) -> Self {
        Self::launch_with(data, config, log_filter, &[])
    }

    fn launch_with(
        data: &Path,
        config: Option<&Path>,
        log_filter: &str,
        env: &[(&str, &str)],
    ) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_frontdesk"));
        command.envs(env.iter().copied());
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
                // `addr=…` in text logs, `"addr":"…"` in JSON ones.
                let addr = line.split("addr=").nth(1).map(str::trim).or_else(|| {
                    let rest = line.split("\"addr\":\"").nth(1)?;
                    rest.split('"').next()
                });
                if !sent && let Some(addr) = addr {
                    let _ = tx.send(addr.to_string());
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

/// A visitor's whole transcript, page by page.
pub async fn transcript(base: &str, session: &str) -> Vec<Value> {
    let mut all: Vec<Value> = Vec::new();
    loop {
        let after = all.last().and_then(|m| m["seq"].as_u64()).unwrap_or(0);
        let body: Value = reqwest::get(format!(
            "{base}/api/v1/chat/messages?session={session}&after={after}"
        ))
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
        let page = body["messages"].as_array().expect("messages").clone();
        if page.is_empty() {
            return all;
        }
        all.extend(page);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_gateway_loses_no_acknowledged_message_and_answers_each_once() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut process = Process::start(data.path());
    let http = reqwest::Client::new();
    let mut sessions = Vec::new();
    for _ in 0..SESSIONS {
        sessions.push(crate::support::open_chat_session(&http, &process.base).await);
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

/// Mails in the support mailbox not yet marked `\Seen` (taken in).
async fn unread_support_mail(mail: &crate::support::mail::MailServer) -> usize {
    mail.mailbox(crate::support::mail::SUPPORT)
        .await
        .iter()
        .filter(|(_, seen, _)| !seen)
        .count()
}

/// Crash under load on every channel at once: web visitors post, a bot
/// API server delivers Telegram updates, customers mail the support
/// mailbox, while the binary is killed with SIGKILL ten times at moments
/// that differ from round to round. Afterwards: every message acknowledged
/// to its channel (HTTP 202, a Telegram offset past it, an IMAP `\Seen`)
/// is stored exactly once, every customer got their reply, and duplicate
/// automatic replies (a send the kill cut off from its record) number at
/// most one per crash, counted over all customers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_channel_survives_ten_kills_with_nothing_lost_or_stored_twice() {
    use crate::support::mail::{MailServer, PASSWORD, SUPPORT};
    use crate::support::telegram::{FakeTelegram, TOKEN};
    use frontdesk::model::{Author, CustomerAddress};
    use frontdesk::store::{ExportRecord, Store};
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    const KILLS: usize = 10;
    const VISITORS: usize = 4;
    const CHATS: i64 = 4;
    const MAILERS: usize = 3;
    let tg = FakeTelegram::default();
    let api_url = tg.start().await;
    let mail = Arc::new(MailServer::start());
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("frontdesk.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\n{vars}\
             [channels.web]\nsession_messages_per_minute = 0\naddress_requests_per_minute = 0\n\
             [channels.telegram]\ntoken = \"{TOKEN}\"\napi_url = \"{api_url}\"\npoll_timeout_secs = 1\n\
             [channels.email]\naddress = \"{SUPPORT}\"\npoll_secs = 1\nauto_reply_limit = 100000\n\
             [channels.email.imap]\nhost = \"127.0.0.1\"\nport = {imap}\nsecurity = \"plain\"\nusername = \"{SUPPORT}\"\npassword = \"{PASSWORD}\"\n\
             [channels.email.smtp]\nhost = \"127.0.0.1\"\nport = {smtp}\nsecurity = \"plain\"\n",
            vars = crate::support::shipped_vars(),
            imap = mail.imap_port,
            smtp = mail.smtp_port,
        ),
    )
    .expect("config");
    let data = dir.path().join("data");
    let mut process = Process::start_with_config(&data, Some(&config));
    let http = reqwest::Client::new();
    let mut sessions = Vec::new();
    for _ in 0..VISITORS {
        sessions.push(crate::support::open_chat_session(&http, &process.base).await);
    }
    let ledgers: Vec<Ledger> = (0..VISITORS).map(|_| Ledger::default()).collect();
    let mut counters = [0usize; VISITORS];

    // Telegram and email customers write throughout, kills or not.
    let running = Arc::new(AtomicBool::new(true));
    let pushed = Arc::new(AtomicUsize::new(0));
    let telegram = {
        let (tg, running, pushed) = (tg.clone(), running.clone(), pushed.clone());
        tokio::spawn(async move {
            let mut n = 0i64;
            while running.load(Ordering::SeqCst) {
                n += 1;
                let chat = n % CHATS + 1;
                let text = if n % 2 == 0 {
                    format!("Where is my order? telegram {n}")
                } else {
                    format!("My lamp flickers, telegram {n}")
                };
                tg.push(tg.text(chat, n, &text));
                pushed.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let mailed = Arc::new(AtomicUsize::new(0));
    let mailer = {
        let (mail, running, mailed) = (mail.clone(), running.clone(), mailed.clone());
        tokio::spawn(async move {
            let mut n = 0usize;
            while running.load(Ordering::SeqCst) {
                n += 1;
                let from = format!("customer{}@customer.test", n % MAILERS);
                let raw = format!(
                    "From: <{from}>\r\nTo: {SUPPORT}\r\nSubject: Question {n}\r\nMessage-ID: <crash-{n}@customer.test>\r\n\r\nWhere is my order? mail {n}\r\n"
                );
                mail.send(&from, SUPPORT, &raw).await;
                mailed.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };

    for round in 0..KILLS {
        let visitors: Vec<_> = (0..VISITORS)
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
        // A moment that differs per round: 300 to 900 ms.
        tokio::time::sleep(Duration::from_millis(300 + (round as u64 * 277) % 600)).await;
        process.kill();
        for (i, task) in visitors.into_iter().enumerate() {
            counters[i] = task.await.expect("visitor");
        }
        process = Process::start_with_config(&data, Some(&config));
    }
    running.store(false, Ordering::SeqCst);
    telegram.await.expect("telegram customers");
    mailer.await.expect("mail customers");
    // Visitors re-send what was not acknowledged, as the widget does.
    for (session, ledger) in sessions.iter().zip(&ledgers) {
        let unacked: Vec<String> = ledger
            .lock()
            .expect("lock")
            .iter()
            .filter(|(_, a)| !**a)
            .map(|(t, _)| t.clone())
            .collect();
        for text in unacked {
            let r = http
                .post(format!("{}/api/v1/chat/messages", process.base))
                .json(&json!({ "session": session, "client_id": text, "text": text }))
                .send()
                .await
                .expect("resend");
            assert_eq!(r.status(), 202);
            ledger.lock().expect("lock").insert(text, true);
        }
    }
    let (pushed, mailed) = (pushed.load(Ordering::SeqCst), mailed.load(Ordering::SeqCst));

    // Wait until every customer has every reply.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let per_chat = |c: i64| (1..=pushed as i64).filter(|n| n % CHATS + 1 == c).count();
    loop {
        let web = tally(&process.base, &sessions, &ledgers).await;
        let telegram_done = (1..=CHATS).all(|c| tg.sent_to(c).len() >= per_chat(c));
        let mut acks = 0;
        for m in 0..MAILERS {
            acks += mail
                .mailbox(&format!("customer{m}@customer.test"))
                .await
                .len();
        }
        // Every mail taken in (marked seen), not just as many acks (a
        // duplicate ack can make up for one not sent yet).
        let unread = unread_support_mail(&mail).await;
        if web.replies >= web.customers && telegram_done && acks >= mailed && unread == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not every customer was answered: web {}/{}, telegram {:?}, mail {acks}/{mailed}, {unread} unread",
            web.replies,
            web.customers,
            (1..=CHATS)
                .map(|c| (tg.sent_to(c).len(), per_chat(c)))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let web = tally(&process.base, &sessions, &ledgers).await;
    let unread = unread_support_mail(&mail).await;
    process.kill();

    // What the store holds, channel by channel.
    let store = frontdesk::store::sled::SledStore::open(&data).expect("open the store");
    let mut channel_of = HashMap::new();
    let mut stored: HashMap<(String, String), usize> = HashMap::new();
    store
        .export(&mut |record| {
            match record {
                ExportRecord::Conversation(c) => {
                    let channel = match c.customer {
                        CustomerAddress::Web { .. } => "web",
                        CustomerAddress::Telegram { .. } => "telegram",
                        CustomerAddress::Email { .. } => "email",
                    };
                    channel_of.insert(c.id, channel.to_string());
                }
                ExportRecord::Message(m) if m.author == Author::Customer => {
                    let channel = channel_of
                        .get(&m.conversation_id)
                        .cloned()
                        .unwrap_or_default();
                    *stored
                        .entry((channel, m.text.trim().to_string()))
                        .or_default() += 1;
                }
                _ => {}
            }
            Ok(())
        })
        .await
        .expect("export");
    let count = |channel: &str| stored.keys().filter(|(c, _)| c == channel).count();
    let twice = stored.values().filter(|n| **n > 1).count();
    let telegram_stored = count("telegram");
    let email_stored = count("email");
    let telegram_duplicates: Vec<usize> = (1..=CHATS)
        .map(|c| tg.sent_to(c).len().saturating_sub(per_chat(c)))
        .collect();
    // Each mail starts a conversation of its own: count the acks each
    // mail got (by the In-Reply-To of the ack).
    let mut acks_per_mail: HashMap<String, usize> = HashMap::new();
    for m in 0..MAILERS {
        let from = format!("customer{m}@customer.test");
        for (_, _, raw) in mail.mailbox(&from).await {
            let raw = String::from_utf8_lossy(&raw).into_owned();
            let replied_to = crate::support::mail::header(&raw, "In-Reply-To").unwrap_or_default();
            *acks_per_mail.entry(replied_to).or_default() += 1;
        }
    }
    let email_duplicates: Vec<usize> = acks_per_mail
        .values()
        .map(|n| n - 1)
        .filter(|n| *n > 0)
        .collect();
    assert_eq!(acks_per_mail.len(), mailed, "every mail got its own ack");
    println!(
        "crash test, all channels: {KILLS} kills; web {} messages stored, {} replies, {} missing; \
         telegram {pushed} updates, {telegram_stored} stored, duplicate replies per chat {telegram_duplicates:?}; \
         email {mailed} mails, {email_stored} stored, {unread} left unread, duplicate acks (per mail that had any) {email_duplicates:?}; \
         {twice} stored twice",
        web.customers, web.replies, web.missing
    );
    assert_eq!(web.missing, 0, "acknowledged web messages were lost");
    assert_eq!(web.replies, web.customers, "one reply per web turn");
    assert_eq!(telegram_stored, pushed, "every Telegram update stored");
    assert_eq!(email_stored, mailed, "every mail stored");
    assert_eq!(unread, 0, "every mail marked seen");
    assert_eq!(twice, 0, "a message was stored twice");
    // A reply the channel took just before a kill, whose record was not on
    // disk yet, is sent again after it. Each channel sends one such reply
    // at a time (`unconfirmed_sends`), so a crash duplicates at most one
    // per channel.
    let (telegram_total, email_total): (usize, usize) = (
        telegram_duplicates.iter().sum(),
        email_duplicates.iter().sum(),
    );
    println!(
        "{} duplicate automatic replies in {KILLS} crashes: {telegram_total} on Telegram, {email_total} by mail",
        telegram_total + email_total
    );
    assert!(
        telegram_total <= KILLS,
        "{telegram_total} duplicate Telegram replies in {KILLS} crashes"
    );
    assert!(
        email_total <= KILLS,
        "{email_total} duplicate mails in {KILLS} crashes"
    );
    assert!(
        web.customers >= VISITORS * KILLS && pushed >= 40 && mailed >= 15,
        "too little traffic to mean anything"
    );
}
