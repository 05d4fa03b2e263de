//! What a backup costs a running sled desk: `frontdesk backup` reads the
//! store as of one moment by holding its writer, so intake waits while it
//! reads. Measured on `scale.stored` conversations: the backup alone, then
//! one producer taking messages in while it runs (the longest wait), against
//! the same producer's waits with no backup in the same run.

use super::*;
use std::sync::atomic::{AtomicBool, Ordering};

/// Every record serialized, as `frontdesk backup` writes them; (records, bytes).
async fn backup(store: &SledStore) -> (usize, usize) {
    let (mut records, mut bytes) = (0, 0);
    store
        .export(&mut |record| {
            bytes += serde_json::to_string(&record).expect("encode").len() + 1;
            records += 1;
            Ok(())
        })
        .await
        .expect("backup");
    (records, bytes)
}

/// Takes messages in one at a time (accept and flush) until `stop`; returns
/// each one's wait.
async fn producer(store: Arc<SledStore>, stop: Arc<AtomicBool>, first: usize) -> Vec<Duration> {
    let new = NewConversation {
        priority: 0,
        locale: "en".into(),
        segment: None,
        tags: Vec::new(),
    };
    let mut waits = Vec::new();
    let mut i = first;
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        store
            .accept(&inbound(i), &new, &take_in)
            .await
            .expect("accept");
        store.sync().await.expect("sync");
        waits.push(started.elapsed());
        i += 1;
    }
    waits
}

/// The longest of `waits`, in ms.
fn longest_ms(waits: &[Duration]) -> f64 {
    waits.iter().max().map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

pub(crate) async fn bench_backup(scale: &Scale) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    fill_store(dir.path(), scale.stored).await;
    let store = Arc::new(SledStore::open(dir.path()).expect("store"));

    let started = Instant::now();
    let (records, bytes) = backup(&store).await;
    let alone = started.elapsed();

    // The same producer, without and then with a backup running.
    let run = |with_backup: bool, first: usize| {
        let store = store.clone();
        async move {
            let stop = Arc::new(AtomicBool::new(false));
            let writer = tokio::spawn(producer(store.clone(), stop.clone(), first));
            tokio::time::sleep(Duration::from_millis(50)).await;
            if with_backup {
                let store = store.clone();
                tokio::task::spawn_blocking(move || {
                    tokio::runtime::Handle::current().block_on(backup(&store))
                })
                .await
                .expect("backup");
            } else {
                tokio::time::sleep(alone).await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            stop.store(true, Ordering::Relaxed);
            writer.await.expect("producer")
        }
    };
    let quiet = run(false, 10_000_000).await;
    let during = run(true, 20_000_000).await;
    format!(
        "| backup of a sled desk ({n} conversations: {records} records, {mb:.1} MB of JSON) | **{ms:.0} ms**; the longest intake wait meanwhile: **{worst:.0} ms** | longest intake wait with no backup: {quiet_ms:.1} ms | writes wait for the whole backup |\n",
        n = scale.stored,
        mb = bytes as f64 / 1e6,
        ms = alone.as_secs_f64() * 1000.0,
        worst = longest_ms(&during),
        quiet_ms = longest_ms(&quiet),
    )
}
