//! The gateway on PostgreSQL, end to end: the real gateway answers web chat
//! customers and agents with its state in a real database, and a desk
//! running on sled moves there with `frontdesk export` and `import`.

use crate::support::{TestGateway, lines};
use frontdesk::model::Role;
use frontdesk::store::StoreConfig;
use frontdesk::store::postgres::PostgresConfig;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

const PASSWORD: &str = "correct horse battery";

async fn gateway_on(database: PostgresConfig) -> TestGateway {
    TestGateway::start_with(move |c| c.store = StoreConfig::Postgres(database)).await
}

#[tokio::test]
async fn the_gateway_answers_hands_off_and_an_agent_replies_on_postgres() {
    let database = crate::support::postgres::fresh_database().await;
    let gw = gateway_on(database).await;
    let session = gw.session().await;
    let (status, _) = gw.post(&session, "1", "Where is my order?").await;
    assert_eq!(status, 202);
    gw.wait_for_messages(&session, 2).await;
    let (status, body) = gw
        .post(&session, "2", "something only a person can answer")
        .await;
    assert_eq!(status, 202, "{body}");
    let seen = gw.wait_for_messages(&session, 4).await;
    let said = lines(&seen);
    assert_eq!(said[1].0, "bot", "{said:?}");
    assert!(
        said[3].1.contains("#1001"),
        "the hand-off names the ticket: {said:?}"
    );

    gw.add_agent("ann", PASSWORD, Role::Agent).await;
    let ann = gw.login("ann", PASSWORD).await;
    let id = body["conversation_id"].as_str().expect("id").to_string();
    let (status, claimed) = gw
        .agent_call(
            &ann,
            reqwest::Method::POST,
            &format!("/conversations/{id}/claim"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{claimed}");
    let (status, _) = gw
        .agent_call(
            &ann,
            reqwest::Method::POST,
            &format!("/conversations/{id}/messages"),
            Some(json!({ "text": "Hello, I am on it." })),
        )
        .await;
    assert_eq!(status, 202);
    let seen = gw.wait_for_messages(&session, 5).await;
    assert_eq!(
        lines(&seen)[4],
        ("agent".to_string(), "Hello, I am on it.".to_string())
    );
}

#[tokio::test]
async fn a_desk_on_sled_moves_to_postgres_with_export_and_import() {
    // A desk on sled with a conversation handed to a person and an agent.
    let mut sled = TestGateway::start().await;
    sled.add_agent("ann", PASSWORD, Role::Admin).await;
    let session = sled.session().await;
    sled.post(&session, "1", "something only a person can answer")
        .await;
    sled.wait_for_messages(&session, 2).await;
    sled.stop().await;

    let work = tempfile::tempdir().expect("tempdir");
    let export = work.path().join("desk.jsonl");
    let out = frontdesk(&[
        "export",
        "--data",
        sled.data.path().to_str().expect("utf8"),
        "--out",
        export.to_str().expect("utf8"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Into an empty database, named by a config file as an operator would.
    let database = crate::support::postgres::fresh_database().await;
    let config = config_file(work.path(), &database);
    let out = frontdesk(&[
        "import",
        export.to_str().expect("utf8"),
        "--config",
        config.to_str().expect("utf8"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Importing twice is refused: the database is no longer empty.
    let again = frontdesk(&[
        "import",
        export.to_str().expect("utf8"),
        "--config",
        config.to_str().expect("utf8"),
    ]);
    assert!(!again.status.success());

    // The gateway on the database: the transcript, the agent, the tickets.
    let gw = gateway_on(database).await;
    let seen = gw.read(&session, 0, 0).await;
    assert_eq!(seen.len(), 2, "the visitor's transcript moved: {seen:?}");
    let ann = gw.login("ann", PASSWORD).await;
    let (status, list) = gw
        .agent_call(
            &ann,
            reqwest::Method::GET,
            "/conversations?status=waiting",
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(list["conversations"][0]["ticket"], 1001, "{list}");
    let other = gw.session().await;
    let (_, body) = gw.post(&other, "x", "a new customer").await;
    assert_eq!(body["ticket"], 1002, "tickets continue: {body}");
}

/// The shipped config with `[store]` naming `database`, written in `dir`,
/// as an operator would write it.
fn config_file(dir: &std::path::Path, database: &PostgresConfig) -> std::path::PathBuf {
    let path = dir.join("postgres.toml");
    let shipped = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/frontdesk.toml"
    ))
    .expect("shipped config");
    std::fs::write(
        &path,
        format!(
            "{shipped}\n[store]\nbackend = \"postgres\"\nurl = \"{}\"\n",
            database.url
        ),
    )
    .expect("write config");
    path
}

/// `frontdesk migrate` brings a database of the previous release to this
/// build's schema with its data, does nothing the second time, and refuses
/// a database a newer release has written, saying so.
#[tokio::test]
async fn migrate_upgrades_the_schema_once_and_refuses_a_newer_one() {
    let work = tempfile::tempdir().expect("tempdir");
    let database = crate::support::postgres::fresh_database().await;
    let config = config_file(work.path(), &database);
    let config = config.to_str().expect("utf8");
    // A database the previous release (schema 1) created and used.
    let (client, connection) = tokio_postgres::connect(&database.url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    client
        .batch_execute(concat!(
            "CREATE TABLE frontdesk_migrations (version integer PRIMARY KEY,
             applied_at timestamptz NOT NULL DEFAULT now());
             INSERT INTO frontdesk_migrations (version) VALUES (1);",
            include_str!("../src/store/postgres/schema_1.sql"),
            "INSERT INTO outbox (id, conversation_id, due_key, due_at, data)
             VALUES (gen_random_uuid(), gen_random_uuid(), '\\x01', now(), '{}');"
        ))
        .await
        .expect("schema 1 with an outbox entry");
    for _ in 0..2 {
        let out = frontdesk(&["migrate", "--config", config]);
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(said.contains("the database is at schema 3"), "{said}");
    }
    let unleased: i64 = client
        .query_one("SELECT count(*) FROM outbox WHERE lease_owner IS NULL", &[])
        .await
        .expect("migrated outbox")
        .get(0);
    assert_eq!(
        unleased, 1,
        "the entry survives the migration, free to take"
    );
    client
        .execute(
            "INSERT INTO frontdesk_migrations (version) VALUES (99)",
            &[],
        )
        .await
        .expect("pretend a newer release migrated");
    let out = frontdesk(&["migrate", "--config", config]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("schema version 99, newer"), "{said}");
}

fn frontdesk(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_frontdesk"))
        .args(args)
        .env_remove("FRONTDESK_CONFIG")
        .output()
        .expect("run frontdesk")
}

/// A server of this test's own, to stop and start again.
struct OwnServer {
    dir: String,
    url: String,
}

impl OwnServer {
    fn start() -> Self {
        let (dir, url) = crate::support::postgres::start_server();
        Self { dir, url }
    }

    fn control(&self, action: &str) {
        let status = std::process::Command::new("sh")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/servers/postgres/pg-ctl.sh"
            ))
            .args([&self.dir, action])
            .status()
            .expect("pg-ctl");
        assert!(status.success(), "pg-ctl {action}");
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = std::process::Command::new("sh")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/servers/postgres/pg-down.sh"
            ))
            .arg(&self.dir)
            .status();
    }
}

/// The database restarts under a running gateway while visitors write:
/// they get 503 with Retry-After meanwhile (nothing is acknowledged that
/// is not committed), `/readyz` says so, and once the database is back the
/// gateway serves again by itself; every message it acknowledged, before,
/// during or after, is stored once and answered once.
#[tokio::test]
async fn while_the_database_restarts_under_load_intake_answers_503_and_service_resumes_by_itself() {
    let server = OwnServer::start();
    let database = PostgresConfig {
        url: server.url.clone(),
        pool_size: 4,
        tls: false,
        ca_file: None,
        statement_timeout_secs: 5,
    };
    let gw = gateway_on(database).await;
    let session = gw.session().await;
    let (status, _) = gw.post(&session, "before", "Where is my order?").await;
    assert_eq!(status, 202);
    gw.wait_for_messages(&session, 2).await;

    // Visitors keep writing throughout, re-sending what was refused.
    let running = Arc::new(AtomicBool::new(true));
    let mut load = Vec::new();
    for index in 0..LOAD_VISITORS {
        let (base, session) = (gw.url(""), gw.session().await);
        load.push(tokio::spawn(keep_writing(
            base,
            session.clone(),
            index,
            running.clone(),
        )));
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    server.control("stop");
    let (status, body) = gw.post(&session, "during", "are you there?").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "unavailable", "{body}");
    let ready = gw.http.get(gw.url("/readyz")).send().await.expect("readyz");
    assert_eq!(ready.status().as_u16(), 503);
    let why: serde_json::Value = ready.json().await.expect("json");
    assert!(
        why["detail"]
            .as_str()
            .is_some_and(|d| d.contains("postgres store")),
        "{why}"
    );

    server.control("start");
    // The visitor retries, as the widget does after Retry-After.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (status, _) = gw.post(&session, "during", "are you there?").await;
        if status == 202 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no recovery: {status}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let ready: serde_json::Value = gw
        .http
        .get(gw.url("/readyz"))
        .send()
        .await
        .expect("readyz")
        .json()
        .await
        .expect("json");
    assert_eq!(ready["store"], "postgres", "{ready}");
    let seen = gw.wait_for_messages(&session, 4).await;
    let said = lines(&seen);
    assert_eq!(said[0].1, "Where is my order?");
    assert_eq!(said[2].1, "are you there?", "{said:?}");
    assert_eq!(
        said.iter()
            .filter(|(_, text)| text == "are you there?")
            .count(),
        1,
        "the refused copy was not stored: {said:?}"
    );

    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    running.store(false, Ordering::SeqCst);
    let mut refused = 0;
    for task in load {
        let (session, acknowledged, refusals) = task.await.expect("visitor");
        refused += refusals;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        let stored = loop {
            let stored = gw.wait_for_messages(&session, acknowledged.len() * 2).await;
            if stored.len() >= acknowledged.len() * 2 || tokio::time::Instant::now() > deadline {
                break stored;
            }
        };
        let customer: Vec<String> = lines(&stored)
            .into_iter()
            .filter(|(from, _)| from == "customer")
            .map(|(_, text)| text)
            .collect();
        assert_eq!(customer, acknowledged, "every acknowledged message, once");
        assert_eq!(
            stored.len(),
            acknowledged.len() * 2,
            "each message answered once"
        );
    }
    assert!(refused > 0, "the load ran while the database was away");
}

const LOAD_VISITORS: usize = 4;

/// Posts numbered messages until `running` turns false, re-sending one
/// refused (503) with the same client id after a pause, as the widget
/// does. Returns the session, the texts acknowledged and the refusals.
async fn keep_writing(
    base: String,
    session: String,
    index: usize,
    running: Arc<AtomicBool>,
) -> (String, Vec<String>, usize) {
    let http = reqwest::Client::new();
    let (mut acknowledged, mut refusals) = (Vec::new(), 0);
    let mut n = 0;
    while running.load(Ordering::SeqCst) {
        let text = format!("Where is my order? visitor {index} message {n}");
        let status = http
            .post(format!("{base}/api/v1/chat/messages"))
            .json(&json!({ "session": session, "client_id": text, "text": text }))
            .send()
            .await
            .map(|r| r.status().as_u16());
        if matches!(status, Ok(202)) {
            acknowledged.push(text);
            n += 1;
        } else {
            refusals += 1;
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    (session, acknowledged, refusals)
}

/// A job that must run once per desk (a mailbox poller) is held by one
/// instance at a time; when that instance lets go, or its connection dies
/// with it, another takes the job.
#[tokio::test]
async fn one_instance_at_a_time_leads_a_job_and_another_takes_over() {
    use frontdesk::store::Store;
    use frontdesk::store::postgres::PgStore;
    let database = crate::support::postgres::fresh_database().await;
    let a = PgStore::connect(&database).await.expect("a");
    let b = PgStore::connect(&database).await.expect("b");
    let held = a.lead("email-imap").await.expect("lead").expect("a leads");
    assert!(
        b.lead("email-imap").await.expect("lead").is_none(),
        "one leader"
    );
    assert!(
        b.lead("telegram-poll").await.expect("lead").is_some(),
        "another job is free"
    );
    drop(held);
    let mut taken = None;
    for _ in 0..50 {
        taken = b.lead("email-imap").await.expect("lead");
        if taken.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let mut held_by_b = taken.expect("b takes over once a lets go");
    // The holder notices when its connection dies: terminate the backend
    // holding the lock (in this test's database only: other tests share
    // the server).
    let (admin, connection) = tokio_postgres::connect(&database.url, tokio_postgres::NoTls)
        .await
        .expect("admin");
    tokio::spawn(connection);
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks
             WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            &[],
        )
        .await
        .expect("terminate");
    tokio::time::timeout(std::time::Duration::from_secs(10), held_by_b.lost())
        .await
        .expect("the lost hold is noticed");
    let again = a.lead("email-imap").await.expect("lead");
    assert!(again.is_some(), "the job is free again");
}
