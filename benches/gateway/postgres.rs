//! The PostgreSQL part of the gateway bench: durable intake through the
//! store against the same statements issued bare.

use super::*;

#[allow(dead_code)]
#[path = "../../tests/support/postgres.rs"]
mod pg_support;

/// A fresh database on the test server (`DATABASE_URL`, or one started
/// from `tests/servers/postgres/`), with the store's schema and a pool of 64.
pub(crate) async fn bench_pg_database() -> PostgresConfig {
    let config = PostgresConfig {
        pool_size: 64,
        statement_timeout_secs: 30,
        ..pg_support::fresh_database().await
    };
    PgStore::connect(&config).await.expect("migrate");
    config
}

/// Durable intake on PostgreSQL: `Store::accept` from 64 producers, against
/// the same statements issued bare through the same driver and pool (the
/// customer lock, the dedupe check, reading the conversation and its last
/// message, the four writes, commit), with values encoded once up front.
pub async fn bench_postgres(scale: &Scale) -> String {
    let new = NewConversation {
        priority: 0,
        locale: "en".into(),
        segment: None,
        tags: Vec::new(),
    };
    let store = Arc::new(
        PgStore::connect(&bench_pg_database().await)
            .await
            .expect("store"),
    );
    let s = store.clone();
    let (store_rate, store_p50, store_p99, store_errors) = concurrent(scale.intake, move |i| {
        let s = s.clone();
        let new = new.clone();
        async move { s.accept(&inbound(i), &new, &take_in).await.is_ok() }
    })
    .await;

    let pool = bare_pool().await;
    let (bare_rate, bare_p50, bare_p99, bare_errors) = concurrent(scale.intake, move |i| {
        let pool = pool.clone();
        async move { bare_intake(&pool, i).await }
    })
    .await;
    format!(
        "| durable intake on PostgreSQL, 64 producers (pool of 64) | {store_rate:.0}/s (p50 {store_p50:.2?}, p99 {store_p99:.2?}, {store_errors} errors) | the same statements bare through the same driver: {bare_rate:.0}/s (p50 {bare_p50:.2?}, p99 {bare_p99:.2?}, {bare_errors} errors) | {:.0}% |\n",
        100.0 * store_rate / bare_rate,
    )
}

/// The statements of one durable intake, issued bare through `pool` (the
/// customer lock, the dedupe check, reading the conversation and its last
/// message, the four writes, commit), with values made up front: the
/// least a durable intake costs on this database and driver.
pub(crate) async fn bare_intake(pool: &deadpool_postgres::Pool, i: usize) -> bool {
    static VALUES: std::sync::OnceLock<(Value, Value)> = std::sync::OnceLock::new();
    let (conversation, message) = VALUES.get_or_init(|| {
        (
            serde_json::json!({"status": "bot", "text": "a conversation of the usual size, with a customer address, a locale and the usual timestamps"}),
            serde_json::json!({"text": "Where is my order? It has been a week.", "author": "customer"}),
        )
    });
    let customer = i % 5000;
    let id = uuid::Uuid::from_u128(customer as u128 + 1);
    let key = format!("telegram:{customer}");
    let run = async {
        let mut client = pool.get().await.ok()?;
        let tx = client.transaction().await.ok()?;
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            &[&key],
        )
        .await
        .ok()?;
        tx.query_opt(
            "SELECT conversation_id, seq FROM seen_ids WHERE channel = 'telegram' AND external_id = $1",
            &[&format!("bench-{i}")],
        )
        .await
        .ok()?;
        tx.query_opt(
            "SELECT conversation_id FROM customers WHERE customer_key = $1",
            &[&key],
        )
        .await
        .ok()?;
        tx.query_opt(
            "SELECT data FROM conversations WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await
        .ok()?;
        let seq = (i / 5000) as i64 + 1;
        tx.query_opt(
            "SELECT data FROM messages WHERE conversation_id = $1 AND seq = $2",
            &[&id, &(seq - 1)],
        )
        .await
        .ok()?;
        tx.execute(
            "INSERT INTO seen_ids (channel, external_id, conversation_id, seq) VALUES ('telegram', $1, $2, $3) ON CONFLICT DO NOTHING",
            &[&format!("bench-{i}"), &id, &seq],
        )
        .await
        .ok()?;
        tx.execute(
            "INSERT INTO messages (conversation_id, seq, data) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
            &[&id, &seq, &tokio_postgres::types::Json(message)],
        )
        .await
        .ok()?;
        tx.execute(
            "INSERT INTO pending_turns (conversation_id, seq) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&id, &seq],
        )
        .await
        .ok()?;
        tx.execute(
            "INSERT INTO conversations (id, ticket, status, queue_key, data) VALUES ($1, $2, 'bot', NULL, $3)
             ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data",
            &[&id, &(customer as i64 + 1001), &tokio_postgres::types::Json(conversation)],
        )
        .await
        .ok()?;
        tx.commit().await.ok()
    };
    run.await.is_some()
}

/// A pool of 64 on a fresh database with the store's schema, for bare
/// statements.
pub(crate) async fn bare_pool() -> deadpool_postgres::Pool {
    let config = bench_pg_database().await;
    let mut pg: tokio_postgres::Config = config.url.parse().expect("url");
    pg.application_name("frontdesk-bench");
    deadpool_postgres::Pool::builder(deadpool_postgres::Manager::new(pg, tokio_postgres::NoTls))
        .max_size(64)
        .build()
        .expect("pool")
}

/// The statements that follow one web chat message after its 202, issued
/// bare: the dispatcher's (read the conversation and the message, record
/// the turn and queue the answer) and the outbox's (read what is due,
/// lease the answer, read the conversation, append the answer to the
/// transcript and drop the entry, share the notices).
pub(crate) async fn bare_answer(pool: &deadpool_postgres::Pool, i: usize) -> bool {
    static ENTRY: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    let entry = ENTRY.get_or_init(|| {
        serde_json::json!({"text": "Your order ships within two days; here is how to track it.", "reason": "answer"})
    });
    let customer = i % 5000;
    let id = uuid::Uuid::from_u128(customer as u128 + 1);
    let seq = (i / 5000) as i64 + 1;
    let outbox_id = uuid::Uuid::new_v4();
    let due_key = outbox_id.as_bytes().to_vec();
    let notice = tokio_postgres::types::Json(
        serde_json::json!({"notice": "transcript", "customer": format!("web:{customer}"), "seq": seq}),
    );
    let run = async {
        let mut client = pool.get().await.ok()?;
        client
            .query_opt("SELECT data FROM conversations WHERE id = $1", &[&id])
            .await
            .ok()?;
        client
            .query_opt(
                "SELECT data FROM messages WHERE conversation_id = $1 AND seq = $2",
                &[&id, &seq],
            )
            .await
            .ok()?;
        let tx = client.transaction().await.ok()?;
        tx.query_opt(
            "SELECT data FROM conversations WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await
        .ok()?;
        tx.execute(
            "DELETE FROM pending_turns WHERE conversation_id = $1 AND seq = $2",
            &[&id, &seq],
        )
        .await
        .ok()?;
        tx.execute(
            "INSERT INTO outbox (id, conversation_id, due_key, due_at, data) VALUES ($1, $2, $3, now(), $4)",
            &[&outbox_id, &id, &due_key, &tokio_postgres::types::Json(entry)],
        )
        .await
        .ok()?;
        tx.execute("UPDATE conversations SET data = data WHERE id = $1", &[&id])
            .await
            .ok()?;
        tx.commit().await.ok()?;
        client
            .query(
                "SELECT data FROM outbox WHERE due_key < $1 ORDER BY due_key LIMIT 256",
                &[&vec![0xffu8; 17]],
            )
            .await
            .ok()?;
        let tx = client.transaction().await.ok()?;
        tx.query_opt(
            "SELECT data FROM conversations WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await
        .ok()?;
        tx.execute(
            "UPDATE outbox SET lease_owner = $2, lease_until = now() + interval '15 seconds' WHERE id = $1",
            &[&outbox_id, &outbox_id],
        )
        .await
        .ok()?;
        tx.commit().await.ok()?;
        client
            .query_opt("SELECT data FROM conversations WHERE id = $1", &[&id])
            .await
            .ok()?;
        let tx = client.transaction().await.ok()?;
        tx.query_opt(
            "SELECT data FROM conversations WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await
        .ok()?;
        tx.execute("DELETE FROM outbox WHERE id = $1", &[&outbox_id])
            .await
            .ok()?;
        tx.execute(
            "INSERT INTO messages (conversation_id, seq, data) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            &[&id, &(seq + 1_000_000), &tokio_postgres::types::Json(entry)],
        )
        .await
        .ok()?;
        tx.execute("UPDATE conversations SET data = data WHERE id = $1", &[&id])
            .await
            .ok()?;
        tx.commit().await.ok()?;
        client
            .execute(
                "WITH added AS (INSERT INTO notices (origin, data) VALUES ($1, $2)) SELECT pg_notify('bench', '')",
                &[&outbox_id, &notice],
            )
            .await
            .ok()
    };
    run.await.is_some()
}
