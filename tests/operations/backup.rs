//! `frontdesk backup` against the running gateway, under load: the backup
//! holds every message acknowledged before it began, each conversation
//! whole (no message missing below its last), and it restores into a desk
//! that serves.

use super::{frontdesk, text};
use crate::support::{TestGateway, open_chat_session};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

const VISITORS: usize = 8;

#[tokio::test]
async fn a_backup_under_load_restores_every_acknowledged_message() {
    let gw = TestGateway::start().await;
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut visitors = Vec::new();
    for visitor in 0..VISITORS {
        let (acked, stop, base, http) = (
            acked.clone(),
            stop.clone(),
            gw.base.clone(),
            gw.http.clone(),
        );
        visitors.push(tokio::spawn(async move {
            let session = open_chat_session(&http, &base).await;
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let text = if n % 2 == 0 {
                    format!("Where is my order? visitor {visitor} message {n}")
                } else {
                    format!("My lamp flickers, visitor {visitor} message {n}")
                };
                let r = http
                    .post(format!("{base}/api/v1/chat/messages"))
                    .json(&json!({"session": session, "client_id": text, "text": text}))
                    .send()
                    .await
                    .expect("post");
                assert_eq!(r.status(), 202, "intake goes on while the backup runs");
                acked.lock().expect("lock").push(text);
            }
        }));
    }
    // Some traffic first, then a backup while it goes on.
    while acked.lock().expect("lock").len() < 200 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let before: Vec<String> = acked.lock().expect("lock").clone();
    let work = tempfile::tempdir().expect("tempdir");
    let file = work.path().join("desk.jsonl");
    let (data, out) = (gw.data.path().to_path_buf(), file.clone());
    let backed_up = tokio::task::spawn_blocking(move || {
        frontdesk(&data, &["backup", "--out", out.to_str().expect("utf8")], "")
    })
    .await
    .expect("join");
    assert!(backed_up.status.success(), "{}", text(&backed_up));
    let during = acked.lock().expect("lock").len();
    stop.store(true, Ordering::Relaxed);
    for visitor in visitors {
        visitor.await.expect("visitor");
    }
    assert!(during > before.len(), "traffic went on around the backup");

    let records: Vec<Value> = std::fs::read_to_string(&file)
        .expect("backup")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON record"))
        .collect();
    let mut last_seq = BTreeMap::new();
    let mut seqs: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
    let mut texts = BTreeSet::new();
    for record in &records {
        match record["type"].as_str() {
            Some("conversation") => {
                last_seq.insert(
                    record["id"].as_str().expect("id").to_string(),
                    record["last_seq"].as_u64().expect("seq"),
                );
            }
            Some("message") => {
                let id = record["conversation_id"].as_str().expect("id").to_string();
                seqs.entry(id)
                    .or_default()
                    .insert(record["seq"].as_u64().expect("seq"));
                texts.insert(record["text"].as_str().expect("text").to_string());
            }
            _ => {}
        }
    }
    for text in &before {
        assert!(
            texts.contains(text),
            "acknowledged before the backup, missing from it: {text}"
        );
    }
    for (id, last) in &last_seq {
        let expected: BTreeSet<u64> = (1..=*last).collect();
        assert_eq!(
            seqs.get(id).cloned().unwrap_or_default(),
            expected,
            "conversation {id} is whole"
        );
    }
    assert_eq!(
        seqs.len(),
        last_seq.len(),
        "no message without its conversation"
    );

    // Restored into an empty folder, the desk holds the same and serves.
    let restored = work.path().join("restored");
    let (path, from) = (restored.clone(), file.clone());
    let imported = tokio::task::spawn_blocking(move || {
        frontdesk(&path, &["import", from.to_str().expect("utf8")], "")
    })
    .await
    .expect("join");
    assert!(imported.status.success(), "{}", text(&imported));
    let store = frontdesk::store::sled::SledStore::open(&restored).expect("open the restored desk");
    let mut again = Vec::new();
    frontdesk::store::Store::export(&store, &mut |record| {
        again.push(serde_json::to_value(&record).expect("json"));
        Ok(())
    })
    .await
    .expect("export the restored desk");
    assert_eq!(again, records, "the restored desk holds exactly the backup");
}
