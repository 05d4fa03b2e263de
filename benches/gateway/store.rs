//! Durable intake on sled against raw sled behind the same group commit,
//! and what sled itself costs per write layout (the floors).

use super::*;

pub(crate) async fn bench_intake(scale: &Scale) -> String {
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
pub(crate) fn bench_sled(path: impl AsRef<std::path::Path>) -> sled::Db {
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
pub(crate) enum Layout {
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
pub(crate) struct Floor {
    pub(crate) trees: Vec<sled::Tree>,
    pub(crate) commit: frontdesk::store::GroupCommit,
    pub(crate) writer: std::sync::Mutex<()>,
    pub(crate) layout: Layout,
}

impl Floor {
    pub(crate) fn open(db: &sled::Db, layout: Layout) -> Self {
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
    pub(crate) async fn durable(&self, i: usize, text: &str) -> bool {
        self.write(i, text);
        self.commit.sync().await.is_ok()
    }

    /// Writes message `i` (durable at the next flush).
    pub(crate) fn write(&self, i: usize, text: &str) {
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

pub(crate) async fn intake_floor(
    db: &sled::Db,
    total: usize,
    layout: Layout,
) -> (f64, Duration, Duration) {
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

/// CPU time this process has used so far, all threads (from
/// `/proc/self/stat`, in clock ticks of 10 ms).
pub(crate) fn process_cpu() -> Duration {
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
pub(crate) fn bench_sled_floor(scale: &Scale) -> String {
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
