//! Web chat on PostgreSQL, one instance and two: message → durable 202
//! against a bare axum server that issues the same message path's
//! statements bare through the same driver (measured before and after, in
//! the same run), and a message asked at one instance answered visibly at
//! the other.

use super::*;
use postgres::{bare_intake, bare_pool, bench_pg_database};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A bare axum server whose `/bare-intake` reads the session and runs the
/// intake statements on `pool`, answers 202, and then, as the gateway
/// does, issues the statements that answer the message
/// ([`postgres::bare_answer`]) in the background. The gateway's whole
/// message path in bare statements: the floor for web chat. `busy` counts
/// answers under way.
async fn bare_path_server(pool: deadpool_postgres::Pool, busy: Arc<AtomicUsize>) -> String {
    let next = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new().route(
        "/bare-path",
        axum::routing::post(move |body: axum::body::Bytes| {
            let (pool, next, busy) = (pool.clone(), next.clone(), busy.clone());
            async move {
                let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let i = next.fetch_add(1, Ordering::Relaxed);
                let session = v["session"].as_str().unwrap_or_default().to_string();
                let session_read = match pool.get().await {
                    Ok(client) => client
                        .query_opt(
                            "SELECT data FROM web_sessions WHERE token = $1",
                            &[&session],
                        )
                        .await
                        .is_ok(),
                    Err(_) => false,
                };
                let status = if session_read && bare_intake(&pool, i).await {
                    busy.fetch_add(1, Ordering::SeqCst);
                    tokio::spawn(async move {
                        postgres::bare_answer(&pool, i).await;
                        busy.fetch_sub(1, Ordering::SeqCst);
                    });
                    axum::http::StatusCode::ACCEPTED
                } else {
                    axum::http::StatusCode::SERVICE_UNAVAILABLE
                };
                (status, axum::Json(json!({ "echo": v["client_id"] })))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/bare-path")
}

/// Posts `total` chat messages from 64 producers, message `i` to
/// `bases[i % len]` with session `sessions[i % 64]`.
async fn post_messages(
    total: usize,
    http: &reqwest::Client,
    urls: Vec<String>,
    sessions: Arc<Vec<String>>,
    tag: &'static str,
) -> (f64, Duration, Duration, usize) {
    let (http, urls) = (http.clone(), Arc::new(urls));
    concurrent(total, move |i| {
        let (http, urls, sessions) = (http.clone(), urls.clone(), sessions.clone());
        async move {
            let url = &urls[i % urls.len()];
            let session = &sessions[i % 64];
            let r = http
                .post(url)
                .json(&json!({"session": session, "client_id": format!("{tag}{i}"), "text": "Where is my order?"}))
                .send()
                .await;
            r.is_ok_and(|r| r.status() == 202)
        }
    })
    .await
}

/// Waits until `busy` is zero: the answers of a run are out before the
/// next run starts.
async fn settle_floor(busy: &AtomicUsize) {
    while busy.load(Ordering::SeqCst) > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the gateway's store has no turn pending and nothing due.
async fn settle_gateway(store: &dyn Store) {
    loop {
        let pending = store.pending_turns().await.map_or(1, |p| p.len());
        let due = store.next_outbox_due().await.map_or(true, |d| d.is_some());
        if pending == 0 && !due {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) async fn bench_postgres_chat(scale: &Scale) -> String {
    let busy = Arc::new(AtomicUsize::new(0));
    let floor_url = bare_path_server(bare_pool().await, busy.clone()).await;
    let no_sessions = Arc::new(vec!["s".to_string(); 64]);
    let floor = |http: reqwest::Client| {
        let (url, sessions, busy) = (floor_url.clone(), no_sessions.clone(), busy.clone());
        async move {
            let measured = post_messages(scale.chat, &http, vec![url], sessions, "f").await;
            settle_floor(&busy).await;
            measured
        }
    };

    let store = || async { StoreConfig::Postgres(bench_pg_database().await) };
    let one = chat_gateway_on(64, store().await).await;
    let (floor_before, ..) = floor(one.http.clone()).await;
    let chat_url = |base: &str| format!("{base}/api/v1/chat/messages");
    let (one_rate, one_p50, one_p99, one_errors) = post_messages(
        scale.chat,
        &one.http,
        vec![chat_url(&one.base)],
        one.sessions.clone(),
        "one",
    )
    .await;
    settle_gateway(one.gateway.store().as_ref()).await;
    one.gateway.stop().await;

    let shared = store().await;
    let a = chat_gateway_on(64, shared.clone()).await;
    let b = chat_gateway_on(0, shared).await;
    let (two_rate, two_p50, two_p99, two_errors) = post_messages(
        scale.chat,
        &a.http,
        vec![chat_url(&a.base), chat_url(&b.base)],
        a.sessions.clone(),
        "two",
    )
    .await;
    settle_gateway(a.gateway.store().as_ref()).await;
    let (floor_after, floor_p50, floor_p99, floor_errors) = floor(a.http.clone()).await;
    let floor_rate = (floor_before + floor_after) / 2.0;

    // Asked at A, the answer read at B: the reply crosses instances.
    let settle = a.sessions.iter().enumerate().map(|(i, session)| {
        let (client, ask, read) = (a.http.clone(), a.base.clone(), b.base.clone());
        let session = session.clone();
        async move { ask_and_wait_across(&client, &ask, &read, &session, &format!("s{i}")).await }
    });
    futures_util::future::join_all(settle).await;
    let (client, ask, read, sessions) = (
        a.http.clone(),
        a.base.clone(),
        b.base.clone(),
        a.sessions.clone(),
    );
    let (across_rate, across_p50, across_p99, across_errors) = concurrent(scale.chat, move |i| {
        let (client, ask, read, s) = (client.clone(), ask.clone(), read.clone(), sessions.clone());
        async move { ask_and_wait_across(&client, &ask, &read, &s[i % 64], &format!("x{i}")).await }
    })
    .await;
    a.gateway.stop().await;
    b.gateway.stop().await;
    format!(
        "| web chat on PostgreSQL, one instance, 64 sessions | message → durable 202: {one_rate:.0}/s, p50 {one_p50:.2?}, p99 {one_p99:.2?}, {one_errors} errors | the same message path in bare statements through the same driver (session read, intake, 202, then the answer's statements): {floor_rate:.0}/s (mean of {floor_before:.0}/s before and {floor_after:.0}/s after; p50 {floor_p50:.2?}, p99 {floor_p99:.2?}, {floor_errors} errors) | {:.0}% |\n\
         | web chat on PostgreSQL, two instances (messages alternate) | message → durable 202: {two_rate:.0}/s, p50 {two_p50:.2?}, p99 {two_p99:.2?}, {two_errors} errors | the same bare server | {:.0}% |\n\
         | web chat on PostgreSQL, asked at one instance, answer read at the other | message → bot answer visible across instances: {across_rate:.0}/s, p50 {across_p50:.2?}, p99 {across_p99:.2?}, {across_errors} errors | | |\n",
        100.0 * one_rate / floor_rate,
        100.0 * two_rate / floor_rate,
    )
}
