//! Web chat over real HTTP: durable 202s against a bare echo, answers by
//! long poll, and 1,000 sessions at once.

use super::*;

/// A bare axum server: `/echo` answers at once; `/one-key` and
/// `/three-key-step` first write the message as that floor layout (see
/// [`Layout`]) in `db` and wait for it to be on disk: the least a durable
/// 202 can cost with that layout.
pub(crate) async fn echo_server(db: &sled::Db) -> String {
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

pub(crate) async fn bench_chat(scale: &Scale) -> String {
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

/// A gateway on a fresh folder with `n` web chat sessions open, and the
/// client that opened them.
pub(crate) struct ChatGateway {
    pub(crate) gateway: frontdesk::app::Gateway,
    pub(crate) base: String,
    pub(crate) http: reqwest::Client,
    pub(crate) sessions: Arc<Vec<String>>,
    pub(crate) _data: tempfile::TempDir,
}

pub(crate) async fn chat_gateway(n: usize) -> ChatGateway {
    chat_gateway_on(n, frontdesk::store::StoreConfig::default()).await
}

/// The same, on the store `store` names.
pub(crate) async fn chat_gateway_on(n: usize, store: frontdesk::store::StoreConfig) -> ChatGateway {
    let data = tempfile::tempdir().expect("tempdir");
    let mut config = frontdesk::config::Config::load(None).expect("config");
    config.server.listen = "127.0.0.1:0".parse().expect("addr");
    config.server.data_dir = data.path().to_path_buf();
    config.store = store;
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
pub(crate) async fn ask_and_wait(
    client: &reqwest::Client,
    base: &str,
    session: &str,
    id: &str,
) -> bool {
    ask_and_wait_across(client, base, base, session, id).await
}

/// The same, asking at one instance and reading at another (`read_base`).
pub(crate) async fn ask_and_wait_across(
    client: &reqwest::Client,
    ask_base: &str,
    base: &str,
    session: &str,
    id: &str,
) -> bool {
    let Ok(r) = client
        .post(format!("{ask_base}/api/v1/chat/messages"))
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
pub(crate) async fn bench_sessions(scale: &Scale) -> String {
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
