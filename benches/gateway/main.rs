//! Frontdesk's benchmarks, each a ratio against a baseline measured in the
//! same run (these machines are noisy):
//!
//! 1. intent classification: 300 intents in one `PatternSet` against the same
//!    patterns as 300 `Regex`es in a loop, on English and Chinese text;
//! 2. durable intake: `Store::accept` + group commit with 64 concurrent
//!    producers, against raw sled inserts with the same group commit;
//! 3. web chat: message → durable `received` (HTTP 202), and message → bot
//!    answer visible to the client, with 64 sessions, against a bare axum
//!    echo endpoint driven by the same client;
//! 4. the shipped intent pack on the held-out utterances of
//!    `tests/data/intents/`, against its patterns as separate `Regex`es;
//! 5. email: N mails waiting in a real IMAP mailbox (dovecot, started from
//!    `tests/servers/mail/`) → all taken in (stored, flushed, `\Seen`),
//!    against a bare IMAP client fetching the same mailbox;
//! 6. many web chat sessions at once (1,000), each asking and waiting for
//!    the answer: errors and lost answers;
//! 7. the real binary's start-up time and memory, on an empty folder and
//!    on one holding 100,000 conversations.
//!
//! Parts 2, 3 and 5 also measure floors against the same baseline: the
//! same work with only what a store must write per message (`Layout`), so
//! a target below what sled allows shows as such.
//!
//! `cargo bench --bench gateway` prints a Markdown report (copied into
//! BENCHMARKS.md). `-- --quick` runs a few iterations only, as CI does to
//! check that the harness still works. Naming parts (`intents`, `shipped`,
//! `sled`, `intake`, `postgres`, `chat`, `email`, `sessions`, `startup`) after `--`
//! runs only those.

#[allow(dead_code)]
#[path = "../../tests/support/mail.rs"]
mod mail;

use frontdesk::conversation::{intake::take_in, turn::after_turn};
use frontdesk::model::{CustomerAddress, InboundMessage};
use frontdesk::rules::intents::IntentSet;
use frontdesk::store::postgres::{PgStore, PostgresConfig};
use frontdesk::store::sled::SledStore;
use frontdesk::store::{ConversationStore, NewConversation, Store};
use regex::Regex;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod postgres;
use postgres::bench_postgres;

struct Scale {
    messages: usize,
    rounds: usize,
    intake: usize,
    chat: usize,
    email: usize,
    /// Concurrent web chat sessions, each asking once.
    sessions: usize,
    /// Conversations in the store for the start-up and memory run.
    stored: usize,
}

const EN_WORDS: &[&str] = &[
    "order",
    "parcel",
    "refund",
    "invoice",
    "account",
    "password",
    "delivery",
    "address",
    "payment",
    "card",
    "shipping",
    "return",
    "cancel",
    "change",
    "track",
    "coupon",
    "review",
    "newsletter",
    "complaint",
    "warranty",
    "size",
    "colour",
    "stock",
    "price",
    "discount",
];
const ZH_WORDS: &[&str] = &[
    "订单",
    "包裹",
    "退款",
    "发票",
    "账户",
    "密码",
    "配送",
    "地址",
    "付款",
    "银行卡",
    "运费",
    "退货",
    "取消",
    "修改",
    "物流",
    "优惠券",
    "评价",
    "订阅",
    "投诉",
    "保修",
    "尺码",
    "颜色",
    "库存",
    "价格",
    "折扣",
];

/// 300 intents, each with an English pattern (two words in order, ASCII
/// word boundaries) and a Chinese one.
fn synthetic_intents() -> (Vec<(String, String)>, Vec<String>) {
    let mut files = Vec::new();
    let mut patterns = Vec::new();
    for i in 0..300 {
        let (a, b) = (
            i % EN_WORDS.len(),
            (i / EN_WORDS.len() + i + 1) % EN_WORDS.len(),
        );
        let en = format!(
            r"(?-u:\b){}(?-u:\b).*(?-u:\b){}(?-u:\b)",
            EN_WORDS[a], EN_WORDS[b]
        );
        let zh = format!("{}.*{}", ZH_WORDS[a], ZH_WORDS[b]);
        files.push((
            format!("i{i:03}.toml"),
            format!("name = \"i{i:03}\"\naction = \"handoff\"\n[patterns]\nen = ['{en}']\nzh = ['{zh}']\n"),
        ));
        patterns.push(en);
        patterns.push(zh);
    }
    (files, patterns)
}

fn texts() -> Vec<String> {
    let mut texts = Vec::new();
    for i in 0..50 {
        let a = EN_WORDS[i % EN_WORDS.len()];
        let b = EN_WORDS[(i * 7 + 3) % EN_WORDS.len()];
        texts.push(format!(
            "hello, I have a question about my {a} and the {b}, it has been a week already"
        ));
        let za = ZH_WORDS[i % ZH_WORDS.len()];
        let zb = ZH_WORDS[(i * 7 + 3) % ZH_WORDS.len()];
        texts.push(format!(
            "你好，我想问一下我的{za}和{zb}的问题，已经一个星期了还没有消息"
        ));
    }
    texts
}

fn bench_intents(scale: &Scale) -> String {
    let (files, patterns) = synthetic_intents();
    let set = IntentSet::from_files(files).expect("synthetic intents compile");
    let loop_regexes: Vec<Regex> = patterns
        .iter()
        .map(|p| Regex::new(p).expect("regex"))
        .collect();
    let texts = texts();
    let (en, zh): (Vec<&String>, Vec<&String>) = texts.iter().partition(|t| t.is_ascii());
    let time = |f: &dyn Fn(&str) -> usize, sample: &[&String]| {
        let mut hits = 0;
        let started = Instant::now();
        for _ in 0..scale.rounds {
            for t in sample.iter().take(scale.messages) {
                hits += f(t);
            }
        }
        let n = (scale.rounds * sample.len().min(scale.messages)) as f64;
        (started.elapsed().as_secs_f64() * 1e6 / n, hits)
    };
    let with_set = |t: &str| usize::from(set.classify(t).is_some());
    let with_loop = |t: &str| {
        let text = frontdesk::rules::intents::normalize(t);
        usize::from(loop_regexes.iter().any(|r| r.is_match(&text)))
    };
    // Warm the lazy DFAs so both sides are measured hot.
    time(&with_set, &en);
    time(&with_set, &zh);
    time(&with_loop, &en);
    time(&with_loop, &zh);
    let mut out = String::from(
        "| text | PatternSet (µs/message) | 600 Regexes in a loop (µs/message) | speed-up |\n|---|---|---|---|\n",
    );
    for (name, sample) in [("English", &en), ("Chinese", &zh)] {
        let (set_us, set_hits) = time(&with_set, sample);
        let (loop_us, loop_hits) = time(&with_loop, sample);
        assert_eq!(set_hits, loop_hits, "both sides must find the same matches");
        out.push_str(&format!(
            "| {name} | {set_us:.2} | {loop_us:.2} | {:.1}× |\n",
            loop_us / set_us
        ));
    }
    out
}

/// The texts of one `tests/data/intents/` file.
fn intent_texts(file: &str) -> Vec<String> {
    let path = format!("{}/tests/data/intents/{file}", env!("CARGO_MANIFEST_DIR"));
    csv::Reader::from_path(&path)
        .expect("intent data")
        .records()
        .filter_map(|r| r.ok().and_then(|r| r.get(0).map(str::to_string)))
        .collect()
}

/// The held-out utterances of `tests/data/intents/`, English and Chinese.
fn held_out_texts() -> (Vec<String>, Vec<String>) {
    (intent_texts("bitext-test.csv"), intent_texts("zh-test.csv"))
}

/// The development utterances: what a gateway has seen before the
/// held-out text arrives.
fn development_texts() -> Vec<String> {
    ["bitext-dev.csv", "en-dev.csv", "zh-dev.csv", "none-dev.csv"]
        .iter()
        .flat_map(|f| intent_texts(f))
        .collect()
}

/// The shipped pack: every text once on a freshly loaded set (the lazy DFA
/// still building its states, as for new customer text), then again hot.
fn bench_shipped_intents(scale: &Scale) -> String {
    let (en, zh) = held_out_texts();
    let seen_before = development_texts();
    let mut out = String::from(
        "| text | PatternSet, first pass on a fresh set (µs/message) | new text after the development texts | PatternSet, hot | patterns as separate Regexes in a loop, hot | speed-up (hot) |\n|---|---|---|---|---|---|\n",
    );
    for (name, texts) in [("English (bitext-test)", &en), ("Chinese (zh-test)", &zh)] {
        let texts: Vec<&String> = texts.iter().take(scale.messages * 10).collect();
        let set = IntentSet::load(None).expect("shipped intents");
        let loop_regexes: Vec<Regex> = set
            .compiled_patterns()
            .iter()
            .map(|p| Regex::new(p).expect("regex"))
            .collect();
        let per_message = |f: &dyn Fn(&str) -> usize, rounds: usize| {
            let started = Instant::now();
            let mut hits = 0;
            for _ in 0..rounds {
                for t in &texts {
                    hits += f(t);
                }
            }
            (
                started.elapsed().as_secs_f64() * 1e6 / (rounds * texts.len()) as f64,
                hits / rounds.max(1),
            )
        };
        let with_set = |t: &str| usize::from(set.classify(t).is_some());
        let with_loop = |t: &str| {
            let text = frontdesk::rules::intents::normalize(t);
            loop_regexes
                .iter()
                .filter(|r| r.is_match(&text))
                .count()
                .min(1)
        };
        let (cold, _) = per_message(&with_set, 1);
        // New text on a gateway that has already served other customers:
        // a fresh set, warmed on the development texts, then each
        // held-out text once.
        let warmed = IntentSet::load(None).expect("shipped intents");
        for t in &seen_before {
            warmed.classify(t);
        }
        let (new_on_warm, _) = per_message(&|t: &str| usize::from(warmed.classify(t).is_some()), 1);
        let rounds = scale.rounds.div_ceil(10).max(1);
        let (hot, set_hits) = per_message(&with_set, rounds);
        per_message(&with_loop, 1);
        let (looped, _) = per_message(&with_loop, rounds);
        let _ = set_hits;
        out.push_str(&format!(
            "| {name}, {} texts, {} patterns | {cold:.1} | {new_on_warm:.1} | {hot:.2} | {looped:.1} | {:.1}× |\n",
            texts.len(),
            set.pattern_count(),
            looped / hot
        ));
    }
    out
}

/// N mails waiting in the support mailbox → all taken in by the gateway
/// (one conversation each, every mail `\Seen`), against a bare IMAP client
/// fetching the same mailbox in one `UID FETCH 1:* (BODY.PEEK[])`.
async fn bench_email(scale: &Scale) -> String {
    let n = scale.email;
    let server = mail::MailServer::start();
    let mut session = server.login(mail::SUPPORT).await;
    for i in 0..n {
        let raw = format!(
            "From: Customer {c} <c{c}@customer.test>\r\nTo: {to}\r\nSubject: Question {i}\r\nMessage-ID: <bench{i}@customer.test>\r\nDate: Tue, 1 Dec 2026 09:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello, where is my order? It is order {i} and it has been a week.\r\n",
            c = i % 100,
            to = mail::SUPPORT
        );
        session
            .append("INBOX", None, None, raw)
            .await
            .expect("append");
    }
    let _ = session.logout().await;

    let started = Instant::now();
    let mut bare = server.login(mail::SUPPORT).await;
    bare.examine("INBOX").await.expect("examine");
    let fetched = fetch_all(&mut bare).await;
    let bare_secs = started.elapsed().as_secs_f64();
    assert_eq!(fetched.len(), n);
    let _ = bare.logout().await;

    let floor_dir = tempfile::tempdir().expect("tempdir");
    let floor_db = bench_sled(floor_dir.path());
    let step_secs = email_floor(&server, &floor_db, Layout::ThreeKeyStep).await;
    let one_key_secs = email_floor(&server, &floor_db, Layout::OneKey).await;

    let data = tempfile::tempdir().expect("tempdir");
    let mut config = frontdesk::config::Config::load(None).expect("config");
    config.server.listen = "127.0.0.1:0".parse().expect("addr");
    config.server.data_dir = data.path().to_path_buf();
    config.channels.email = Some(server.email_config());
    let started = Instant::now();
    let gateway = frontdesk::app::start(config).await.expect("gateway");
    let store = gateway.store();
    let deadline = Instant::now() + Duration::from_secs(900);
    while store.conversation_count().await.expect("count") < n as u64 {
        assert!(Instant::now() < deadline, "intake did not finish");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let taken_secs = started.elapsed().as_secs_f64();
    let unread = server
        .mailbox(mail::SUPPORT)
        .await
        .iter()
        .filter(|(_, seen, _)| !seen)
        .count();
    drop(store);
    gateway.stop().await;
    let (ours, base, step, one_key) = (
        n as f64 / taken_secs,
        n as f64 / bare_secs,
        n as f64 / step_secs,
        n as f64 / one_key_secs,
    );
    format!(
        "| email: {n} mails waiting in IMAP → all taken in (stored, flushed, \\Seen; {unread} left unread) | {ours:.0}/s ({taken_secs:.1} s, start-up included) | bare IMAP fetch: {base:.0}/s ({bare_secs:.2} s) | **{:.0}%** |\n\
         | (the least taking mail in can cost: the same fetch, the intake floor's three-key step per mail, one flush, one \\Seen for all) | {step:.0}/s ({step_secs:.2} s) | the same bare fetch | {:.0}% |\n\
         | (the same, writing each mail alone as one key) | {one_key:.0}/s ({one_key_secs:.2} s) | the same bare fetch | {:.0}% |\n",
        ours / base * 100.0,
        step / base * 100.0,
        one_key / base * 100.0,
    )
}

/// The least taking the mailbox in can cost with a floor layout (see
/// [`Layout`]): the bare fetch, each mail written as that layout, one
/// flush for them all, then every mail marked `\Seen` in one command. No
/// parsing, no conversation logic, no acknowledgment mail. Leaves the
/// mail unread again (not timed). Returns the seconds taken.
async fn email_floor(server: &mail::MailServer, db: &sled::Db, layout: Layout) -> f64 {
    let floor = Floor::open(db, layout);
    let started = Instant::now();
    let mut client = server.login(mail::SUPPORT).await;
    client.select("INBOX").await.expect("select");
    let fetched = fetch_all(&mut client).await;
    for (i, mail) in fetched.iter().enumerate() {
        floor.write(i, &String::from_utf8_lossy(mail.body().unwrap_or_default()));
    }
    floor.commit.sync().await.expect("flush");
    store_flags(&mut client, "+FLAGS (\\Seen)").await;
    let secs = started.elapsed().as_secs_f64();
    store_flags(&mut client, "-FLAGS (\\Seen)").await;
    let _ = client.logout().await;
    secs
}

type ImapSession = async_imap::Session<tokio::net::TcpStream>;

/// Every mail of the selected mailbox, in one `UID FETCH 1:* (BODY.PEEK[])`.
async fn fetch_all(session: &mut ImapSession) -> Vec<async_imap::types::Fetch> {
    use futures_util::TryStreamExt;
    session
        .uid_fetch("1:*", "(UID BODY.PEEK[])")
        .await
        .expect("fetch")
        .try_collect()
        .await
        .expect("fetch all")
}

/// Changes the flags of every mail of the selected mailbox.
async fn store_flags(session: &mut ImapSession, change: &str) {
    use futures_util::TryStreamExt;
    let _: Vec<_> = session
        .uid_store("1:*", change)
        .await
        .expect("store")
        .try_collect()
        .await
        .expect("stored");
}

/// Message `i` of a load spread over 5,000 customers.
fn inbound(i: usize) -> InboundMessage {
    inbound_from(i % 5000, i)
}

/// Message `i`, from the Telegram customer `customer`.
fn inbound_from(customer: usize, i: usize) -> InboundMessage {
    InboundMessage::text(
        CustomerAddress::Telegram {
            chat_id: customer as i64,
        },
        format!("bench-{i}"),
        "Where is my order? It has been a week.".into(),
        chrono::Utc::now(),
    )
}

/// Runs `total` operations spread over 64 tasks; returns (ops/s, p50,
/// p99, failures).
async fn concurrent<F, Fut>(total: usize, op: F) -> (f64, Duration, Duration, usize)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    concurrent_in(64, total, op).await
}

/// Runs `total` operations spread over `width` tasks.
async fn concurrent_in<F, Fut>(
    width: usize,
    total: usize,
    op: F,
) -> (f64, Duration, Duration, usize)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let op = Arc::new(op);
    let started = Instant::now();
    let tasks: Vec<_> = (0..width)
        .map(|task| {
            let op = op.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0;
                for i in (task..total).step_by(width) {
                    let t = Instant::now();
                    if !op(i).await {
                        errors += 1;
                    }
                    latencies.push(t.elapsed());
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.expect("task");
        all.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let pick = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)];
    (total as f64 / elapsed, pick(0.5), pick(0.99), errors)
}

async fn bench_intake(scale: &Scale) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(SledStore::open(&dir.path().join("store")).expect("store"));
    let new = NewConversation {
        priority: 0,
        locale: "en".into(),
        segment: None,
        tags: Vec::new(),
    };
    let s = store.clone();
    let (store_rate, store_p50, store_p99, _) = concurrent(scale.intake, move |i| {
        let s = s.clone();
        let new = new.clone();
        async move {
            s.accept(&inbound(i), &new, &take_in).await.expect("accept");
            s.sync().await.is_ok()
        }
    })
    .await;

    let db = bench_sled(dir.path().join("raw"));
    let tree = db.open_tree("raw").expect("tree");
    // The store's own group commit, around a bare flush.
    let flusher = db.clone();
    let commit = Arc::new(
        frontdesk::store::GroupCommit::start(move || {
            flusher
                .flush()
                .map(|_| ())
                .map_err(|e| std::sync::Arc::new(e) as frontdesk::store::SharedCause)
        })
        .expect("group commit"),
    );
    let (raw_rate, raw_p50, raw_p99, _) = concurrent(scale.intake, move |i| {
        let tree = tree.clone();
        let commit = commit.clone();
        async move {
            let value = serde_json::to_vec(
                &json!({"text": "Where is my order? It has been a week.", "i": i}),
            )
            .expect("json");
            tree.insert(format!("bench-{i}"), value).expect("insert");
            commit.sync().await.is_ok()
        }
    })
    .await;
    let (floor_rate, floor_p50, floor_p99) =
        intake_floor(&db, scale.intake, Layout::ThreeKeyStep).await;
    let (bare_rate, bare_p50, bare_p99) =
        intake_floor(&db, scale.intake, Layout::ThreeKeyBare).await;
    format!(
        "| durable intake, 64 producers | {store_rate:.0}/s (p50 {store_p50:.2?}, p99 {store_p99:.2?}) | raw sled + group commit: {raw_rate:.0}/s (p50 {raw_p50:.2?}, p99 {raw_p99:.2?}) | {:.0}% |\n\
         | (the least a message can write as sled keys: message, conversation and dedupe key as one step, 64 producers) | {floor_rate:.0}/s (p50 {floor_p50:.2?}, p99 {floor_p99:.2?}) | the same raw sled | {:.0}% |\n\
         | (the same three keys as plain inserts: no record, no lock, not crash-atomic) | {bare_rate:.0}/s (p50 {bare_p50:.2?}, p99 {bare_p99:.2?}) | the same raw sled | {:.0}% |\n",
        100.0 * store_rate / raw_rate,
        100.0 * floor_rate / raw_rate,
        100.0 * bare_rate / raw_rate,
    )
}

/// A sled database configured as the store configures its own.
fn bench_sled(path: impl AsRef<std::path::Path>) -> sled::Db {
    sled::Config::new()
        .path(path)
        .mode(sled::Mode::LowSpace)
        .cache_capacity(32 << 20)
        .open()
        .expect("sled")
}

/// What a floor layout writes per message, with no reads, no indexes and
/// no decoding: only what such a store must write, behind the same group
/// commit as the raw baseline.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Layout {
    /// The message alone, one plain insert: a store that would keep every
    /// conversation's state and dedupe keys in memory only.
    OneKey,
    /// Message, conversation state and dedupe key as one step (their
    /// record, then three plain inserts, under a writer lock), so a crash
    /// keeps all or none: the least a store keeping those as sled keys
    /// writes.
    ThreeKeyStep,
    /// The same three keys as bare inserts from every producer at once,
    /// not crash-atomic: the floor of any three-key layout.
    ThreeKeyBare,
}

/// A floor store (see [`Layout`]) on its own trees of a sled database.
struct Floor {
    trees: Vec<sled::Tree>,
    commit: frontdesk::store::GroupCommit,
    writer: std::sync::Mutex<()>,
    layout: Layout,
}

impl Floor {
    fn open(db: &sled::Db, layout: Layout) -> Self {
        let trees = ["step", "message", "conversation", "seen"]
            .iter()
            .map(|name| {
                db.open_tree(format!("floor-{layout:?}-{name}"))
                    .expect("tree")
            })
            .collect();
        let flusher = db.clone();
        let commit = frontdesk::store::GroupCommit::start(move || {
            flusher
                .flush()
                .map(|_| ())
                .map_err(|e| std::sync::Arc::new(e) as frontdesk::store::SharedCause)
        })
        .expect("group commit");
        Floor {
            trees,
            commit,
            writer: std::sync::Mutex::new(()),
            layout,
        }
    }

    /// Writes message `i` and waits until it is on disk.
    async fn durable(&self, i: usize, text: &str) -> bool {
        self.write(i, text);
        self.commit.sync().await.is_ok()
    }

    /// Writes message `i` (durable at the next flush).
    fn write(&self, i: usize, text: &str) {
        let message = serde_json::to_vec(&json!({"text": text, "i": i})).expect("json");
        if self.layout == Layout::OneKey {
            self.trees[1]
                .insert(format!("m-{i}"), message)
                .expect("message");
            return;
        }
        let conversation = vec![b'c'; 400];
        let seen = vec![b's'; 40];
        let as_step = self.layout == Layout::ThreeKeyStep;
        let _step = as_step.then(|| self.writer.lock().expect("writer"));
        if as_step {
            let record = [message.as_slice(), &conversation, &seen].concat();
            self.trees[0].insert(b"last_step", record).expect("record");
        }
        self.trees[1]
            .insert(format!("m-{i}"), message)
            .expect("message");
        self.trees[2]
            .insert(format!("c-{}", i % 5000), conversation)
            .expect("conversation");
        self.trees[3].insert(format!("s-{i}"), seen).expect("seen");
    }
}

async fn intake_floor(db: &sled::Db, total: usize, layout: Layout) -> (f64, Duration, Duration) {
    let floor = Arc::new(Floor::open(db, layout));
    let (rate, p50, p99, _) = concurrent(total, move |i| {
        let floor = floor.clone();
        async move {
            floor
                .durable(i, "Where is my order? It has been a week.")
                .await
        }
    })
    .await;
    (rate, p50, p99)
}

/// A bare axum server: `/echo` answers at once; `/one-key` and
/// `/three-key-step` first write the message as that floor layout (see
/// [`Layout`]) in `db` and wait for it to be on disk: the least a durable
/// 202 can cost with that layout.
async fn echo_server(db: &sled::Db) -> String {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let durable = |layout: Layout| {
        let (floor, next) = (Arc::new(Floor::open(db, layout)), next.clone());
        axum::routing::post(move |body: axum::body::Bytes| async move {
            let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let text = v["text"].as_str().unwrap_or_default();
            let status = if floor.durable(i, text).await {
                axum::http::StatusCode::ACCEPTED
            } else {
                axum::http::StatusCode::SERVICE_UNAVAILABLE
            };
            (status, axum::Json(json!({ "echo": v["client_id"] })))
        })
    };
    let app = axum::Router::new()
        .route(
            "/echo",
            axum::routing::post(|body: axum::body::Bytes| async move {
                let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                (
                    axum::http::StatusCode::ACCEPTED,
                    axum::Json(json!({ "echo": v["client_id"] })),
                )
            }),
        )
        .route("/one-key", durable(Layout::OneKey))
        .route("/three-key-step", durable(Layout::ThreeKeyStep));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

async fn bench_chat(scale: &Scale) -> String {
    let ChatGateway {
        gateway,
        base,
        http,
        sessions,
        _data,
    } = chat_gateway(64).await;

    let floor_dir = tempfile::tempdir().expect("tempdir");
    let floor_db = bench_sled(floor_dir.path());
    let echo = echo_server(&floor_db).await;
    let post_to = |path: &'static str| {
        let (client, url) = (http.clone(), format!("{echo}/{path}"));
        move |i: usize| {
            let (client, url) = (client.clone(), url.clone());
            async move {
                let r = client.post(&url).json(&json!({"session": "s", "client_id": format!("e{i}"), "text": "Where is my order?"})).send().await;
                r.is_ok_and(|r| r.status() == 202)
            }
        }
    };
    let (echo_rate, echo_p50, echo_p99, echo_errors) =
        concurrent(scale.chat, post_to("echo")).await;
    let (floor_rate, floor_p50, floor_p99, floor_errors) =
        concurrent(scale.chat, post_to("three-key-step")).await;
    let (one_rate, one_p50, one_p99, one_errors) = concurrent(scale.chat, post_to("one-key")).await;

    let (client, url, s) = (
        http.clone(),
        format!("{base}/api/v1/chat/messages"),
        sessions.clone(),
    );
    let (recv_rate, recv_p50, recv_p99, recv_errors) = concurrent(scale.chat, move |i| {
        let (client, url, s) = (client.clone(), url.clone(), s.clone());
        async move {
            let session = &s[i % 64];
            let r = client.post(&url).json(&json!({"session": session, "client_id": format!("r{i}"), "text": "Where is my order?"})).send().await;
            r.is_ok_and(|r| r.status() == 202)
        }
    })
    .await;

    // Message → the bot's answer visible to the client (long poll), once
    // the replies to the messages above have gone out: each session asks
    // once, unmeasured, and waits for its answer.
    let settle = sessions.iter().enumerate().map(|(i, session)| {
        let (client, base) = (http.clone(), base.clone());
        let session = session.clone();
        async move { ask_and_wait(&client, &base, &session, &format!("settle{i}")).await }
    });
    futures_util::future::join_all(settle).await;
    let (client, base2, s) = (http.clone(), base.clone(), sessions.clone());
    let (answer_rate, answer_p50, answer_p99, answer_errors) = concurrent(scale.chat, move |i| {
        let (client, base, s) = (client.clone(), base2.clone(), s.clone());
        async move { ask_and_wait(&client, &base, &s[i % 64], &format!("a{i}")).await }
    })
    .await;
    gateway.stop().await;
    format!(
        "| web chat, 64 sessions | message → durable 202: {recv_rate:.0}/s, p50 {recv_p50:.2?}, p99 {recv_p99:.2?}, {recv_errors} errors | bare axum echo: {echo_rate:.0}/s, p50 {echo_p50:.2?}, p99 {echo_p99:.2?}, {echo_errors} errors | {:.0}% of the echo's throughput |\n\
         | (the least a durable 202 can cost: the same echo, after the intake floor's three-key step and its flush) | {floor_rate:.0}/s, p50 {floor_p50:.2?}, p99 {floor_p99:.2?}, {floor_errors} errors | the same echo | {:.0}% of the echo's throughput |\n\
         | (the same, writing the message alone as one key) | {one_rate:.0}/s, p50 {one_p50:.2?}, p99 {one_p99:.2?}, {one_errors} errors | the same echo | {:.0}% of the echo's throughput |\n\
         | web chat, 64 sessions | message → bot answer visible (long poll): {answer_rate:.0}/s, p50 {answer_p50:.2?}, p99 {answer_p99:.2?}, {answer_errors} errors | | |\n",
        100.0 * recv_rate / echo_rate,
        100.0 * floor_rate / echo_rate,
        100.0 * one_rate / echo_rate,
    )
}

/// CPU time this process has used so far, all threads (from
/// `/proc/self/stat`, in clock ticks of 10 ms).
fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of the whole line.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// What sled itself costs on this machine, one writer, no flush, with the
/// CPU time of all threads (sled writes its log on threads of its own):
/// one plain insert, a transaction writing 4 keys (how `Store::accept`
/// wrote an existing conversation's message until this version), and a
/// step's pattern for the same 4 keys (their record under one key, then 4
/// plain inserts; how it writes now). The intake baseline writes one key.
fn bench_sled_floor(scale: &Scale) -> String {
    use sled::Transactional;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = bench_sled(dir.path());
    let trees: Vec<sled::Tree> = (0..5)
        .map(|i| db.open_tree(format!("t{i}")).expect("tree"))
        .collect();
    let value = vec![7u8; 300];
    let n = (scale.intake as u64).max(1000);
    let mut next = 0u64;
    let mut out = String::new();
    let mut measure = |what: &str, write: &mut dyn FnMut(u64)| {
        let (started, cpu) = (Instant::now(), process_cpu());
        for _ in 0..n {
            write(next);
            next += 8;
        }
        // The log writes started by these inserts finish on sled's threads.
        db.flush().expect("flush");
        let wall = started.elapsed().as_secs_f64() * 1e6 / n as f64;
        let cpu = (process_cpu() - cpu).as_secs_f64() * 1e6 / n as f64;
        out.push_str(&format!("| {what} | {wall:.1} µs | {cpu:.1} µs |\n"));
    };
    measure("one plain insert", &mut |k| {
        trees[0]
            .insert(k.to_be_bytes(), value.clone())
            .expect("insert");
    });
    measure("a transaction over 4 trees, 4 keys", &mut |k| {
        (&trees[0], &trees[1], &trees[2], &trees[3])
            .transaction(|(a, b, c, d)| {
                for (j, tree) in [a, b, c, d].into_iter().enumerate() {
                    let key = (k + j as u64).to_be_bytes();
                    let _ = tree.get(key)?;
                    tree.insert(&key, value.clone())?;
                }
                Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
            })
            .expect("transaction");
    });
    measure(
        "a step of 4 keys: their record, then 4 plain inserts",
        &mut |k| {
            let record: Vec<u8> = (0..4).flat_map(|_| value.iter().copied()).collect();
            trees[4].insert(b"last_step", record).expect("record");
            for (j, tree) in trees[..4].iter().enumerate() {
                let key = (k + j as u64).to_be_bytes();
                let _ = tree.get(key).expect("get");
                tree.insert(key, value.clone()).expect("insert");
            }
        },
    );
    out
}

/// A gateway on a fresh folder with `n` web chat sessions open, and the
/// client that opened them.
struct ChatGateway {
    gateway: frontdesk::app::Gateway,
    base: String,
    http: reqwest::Client,
    sessions: Arc<Vec<String>>,
    _data: tempfile::TempDir,
}

async fn chat_gateway(n: usize) -> ChatGateway {
    let data = tempfile::tempdir().expect("tempdir");
    let mut config = frontdesk::config::Config::load(None).expect("config");
    config.server.listen = "127.0.0.1:0".parse().expect("addr");
    config.server.data_dir = data.path().to_path_buf();
    // A load generator is one address sending as fast as it can.
    config.channels.web.session_messages_per_minute = 0;
    config.channels.web.address_requests_per_minute = 0;
    let gateway = frontdesk::app::start(config).await.expect("gateway");
    let base = format!("http://{}", gateway.addr);
    let http = reqwest::Client::builder()
        // Shorter than the server's idle keep-alive (header_timeout_secs),
        // so the client never reuses a connection the server is closing.
        .pool_idle_timeout(Duration::from_secs(5))
        .pool_max_idle_per_host(n.max(128))
        .build()
        .expect("client");
    let mut sessions = Vec::new();
    for _ in 0..n {
        let body: Value = http
            .post(format!("{base}/api/v1/chat/sessions"))
            .send()
            .await
            .expect("session")
            .json()
            .await
            .expect("json");
        sessions.push(body["session"].as_str().expect("token").to_string());
    }
    ChatGateway {
        gateway,
        base,
        http,
        sessions: Arc::new(sessions),
        _data: data,
    }
}

/// One visitor asks about opening hours, then long-polls until the bot's
/// answer shows (up to 20 polls of 5 s).
async fn ask_and_wait(client: &reqwest::Client, base: &str, session: &str, id: &str) -> bool {
    let Ok(r) = client
        .post(format!("{base}/api/v1/chat/messages"))
        .json(&json!({"session": session, "client_id": id, "text": "what are your opening hours"}))
        .send()
        .await
    else {
        return false;
    };
    let Ok(receipt) = r.json::<Value>().await else {
        return false;
    };
    let mut after = receipt["seq"].as_u64().unwrap_or(0);
    for _ in 0..20 {
        let Ok(r) = client
            .get(format!(
                "{base}/api/v1/chat/messages?session={session}&after={after}&wait=5"
            ))
            .send()
            .await
        else {
            return false;
        };
        let Ok(body) = r.json::<Value>().await else {
            return false;
        };
        let messages = body["messages"].as_array().cloned().unwrap_or_default();
        let answered = messages.iter().any(|m| {
            m["from"] == "bot" && m["text"].as_str().unwrap_or("").contains("support team")
        });
        if answered {
            return true;
        }
        // Replies to earlier messages: wait for what comes after them.
        after = messages
            .iter()
            .filter_map(|m| m["seq"].as_u64())
            .fold(after, u64::max);
    }
    false
}

/// Many visitors at once, each asking one question and waiting for the
/// answer: errors and lost answers count.
async fn bench_sessions(scale: &Scale) -> String {
    let ChatGateway {
        gateway,
        base,
        http,
        sessions,
        _data,
    } = chat_gateway(scale.sessions).await;
    let n = scale.sessions;
    let (client, base2, s) = (http.clone(), base.clone(), sessions.clone());
    let (rate, p50, p99, lost) = concurrent_in(n, n, move |i| {
        let (client, base, s) = (client.clone(), base2.clone(), s.clone());
        async move { ask_and_wait(&client, &base, &s[i], &format!("k{i}")).await }
    })
    .await;
    gateway.stop().await;
    format!(
        "| web chat, {n} sessions at once, one question each | message → bot answer visible: {rate:.0}/s, p50 {p50:.2?}, p99 {p99:.2?}, **{lost} errors or lost answers** | | |\n"
    )
}

/// The binary's resident memory in MB, from /proc.
fn rss_mb(pid: u32) -> f64 {
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
async fn start_binary(data: &std::path::Path) -> (std::process::Child, String, Duration) {
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
async fn bench_startup_memory(scale: &Scale) -> String {
    let empty = tempfile::tempdir().expect("tempdir");
    let (mut child, _, empty_start) = start_binary(empty.path()).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let empty_rss = rss_mb(child.id());
    let _ = child.kill();
    let _ = child.wait();

    let full = tempfile::tempdir().expect("tempdir");
    let fill_started = Instant::now();
    {
        let store = SledStore::open(full.path()).expect("store");
        let new = NewConversation {
            priority: 0,
            locale: "en".into(),
            segment: None,
            tags: Vec::new(),
        };
        for i in 0..scale.stored {
            // One customer each: `stored` conversations, not messages.
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
                    },
                    &after_turn,
                )
                .await
                .expect("turn");
        }
        store.sync().await.expect("sync");
    }
    let fill_secs = fill_started.elapsed().as_secs_f64();
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

/// How many conversations are stored, and how long reading and decoding
/// every one takes: the start-up cost of a store that would keep all
/// conversation state in memory and write only a log of messages.
fn decode_every_conversation(dir: &std::path::Path) -> (usize, Duration) {
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

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let scale = if quick {
        Scale {
            messages: 10,
            rounds: 2,
            intake: 256,
            chat: 128,
            email: 40,
            sessions: 50,
            stored: 1_000,
        }
    } else {
        Scale {
            messages: 100,
            rounds: 200,
            intake: 20_000,
            chat: 5_000,
            email: 5_000,
            sessions: 1_000,
            stored: 100_000,
        }
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let machine = format!(
        "{} cores, {}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        std::env::consts::ARCH
    );
    println!(
        "## Run of {} on {machine}{}\n",
        chrono::Utc::now().format("%Y-%m-%d"),
        if quick { " (quick)" } else { "" }
    );
    // `cargo bench --bench gateway -- intake chat` runs only those parts.
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wanted = |part: &str| only.is_empty() || only.iter().any(|o| o == part);
    if wanted("intents") {
        println!(
            "### Intent classification (300 intents, 600 patterns)\n\n{}",
            bench_intents(&scale)
        );
    }
    if wanted("shipped") {
        println!(
            "### The shipped intent pack on held-out text\n\n{}",
            bench_shipped_intents(&scale)
        );
    }
    if wanted("sled") {
        println!(
            "### What sled costs here (one writer; CPU time counts all threads)\n\n| operation | wall time | CPU time |\n|---|---|---|\n{}",
            bench_sled_floor(&scale)
        );
    }
    let run = |part: &str, bench: &dyn Fn() -> String| {
        if wanted(part) { bench() } else { String::new() }
    };
    let intake = run("intake", &|| runtime.block_on(bench_intake(&scale)));
    let chat = run("chat", &|| runtime.block_on(bench_chat(&scale)));
    let email = run("email", &|| runtime.block_on(bench_email(&scale)));
    let postgres = run("postgres", &|| runtime.block_on(bench_postgres(&scale)));
    let sessions = run("sessions", &|| runtime.block_on(bench_sessions(&scale)));
    let startup = run("startup", &|| {
        runtime.block_on(bench_startup_memory(&scale))
    });
    println!(
        "### Throughput and latency\n\n| what | measured | baseline (same run) | ratio |\n|---|---|---|---|\n{intake}{postgres}{chat}{sessions}{email}{startup}"
    );
}
