//! Promises over real HTTP: the quoted wait, first-response and
//! resolution deadlines, the breach webhook, places in line moving live.

use super::*;

#[tokio::test]
async fn the_quoted_wait_follows_how_fast_agents_have_been_picking_up() {
    let (gw, ann, _bob, _boss) = gateway_with_agents().await;
    let mut first_ack = String::new();
    for i in 0..3 {
        let (session, id) = waiting_customer(&gw, &format!("my lamp {i} flickers")).await;
        if i == 0 {
            first_ack = gw.wait_for_messages(&session, 2).await[1]["text"]
                .as_str()
                .unwrap_or_default()
                .to_string();
        }
        let (status, _) = gw
            .agent_call(
                &ann,
                Method::POST,
                &format!("/conversations/{id}/claim"),
                None,
            )
            .await;
        assert_eq!(status, 200);
    }
    // No pickups yet: the configured 5 minutes per place in line.
    assert!(
        first_ack.contains("number 1 in line, with an expected wait of about 5 minutes"),
        "{first_ack}"
    );
    let pickups = gw
        .store()
        .pickups_since(Utc::now() - chrono::Duration::hours(1))
        .await
        .expect("pickups");
    assert_eq!(pickups.len(), 3);
    // Three pickups in the last hour: one every 20 minutes.
    let (session, _) = waiting_customer(&gw, "my chair wobbles").await;
    let ack = gw.wait_for_messages(&session, 2).await[1]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        ack.contains("number 1 in line, with an expected wait of about 20 minutes"),
        "{ack}"
    );
}

/// A loopback receiver for webhooks: every JSON body posted to it.
async fn webhook_receiver() -> (String, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let sink = sink.clone();
            async move {
                sink.lock().expect("lock").push(body);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

/// Moves a conversation's first-response clock: started `ago` minutes ago,
/// due in `left` minutes (negative: already past).
async fn shift_sla(gw: &TestGateway, id: &str, ago: i64, left: i64) {
    let store = gw.store();
    let mut c = store
        .conversation(id.parse().expect("uuid"))
        .await
        .expect("read")
        .expect("stored");
    let now = Utc::now();
    let sla = c.sla.as_mut().expect("a deadline was set at the hand-off");
    sla.started_at = now - chrono::Duration::minutes(ago);
    sla.first_response_due = now + chrono::Duration::minutes(left);
    sla.first_response_near =
        Some(sla.started_at + (sla.first_response_due - sla.started_at) * 8 / 10);
    store
        .import(frontdesk::store::ExportRecord::Conversation(c))
        .await
        .expect("rewrite");
}

#[tokio::test]
async fn a_resolution_promise_is_set_at_the_hand_off_and_kept_by_resolving() {
    let gw = TestGateway::start_with(|c| {
        c.sla = Some(frontdesk::service_levels::sla::SlaConfig {
            first_response_minutes: 60,
            resolution_minutes: Some(480),
            check_secs: 60,
            breach_webhook: None,
        })
    })
    .await;
    gw.add_agent("ann", PASSWORD, Role::Agent).await;
    let ann = gw.login("ann", PASSWORD).await;
    let (_, id) = waiting_customer(&gw, "my lamp flickers").await;
    let sla = gw
        .store()
        .conversation(id.parse().expect("uuid"))
        .await
        .expect("read")
        .expect("stored")
        .sla
        .expect("a promise");
    let minutes = |a: chrono::DateTime<Utc>| (a - sla.started_at).num_seconds() as f64 / 60.0;
    // Always open here: wall-clock deadlines, 80% marks at 48 and 384 min.
    let near = sla.first_response_near.expect("near mark");
    let resolution_due = sla.resolution_due.expect("resolution deadline");
    assert!((minutes(near) - 48.0).abs() < 0.1, "{sla:?}");
    assert!((minutes(resolution_due) - 480.0).abs() < 0.1, "{sla:?}");
    assert!(
        (minutes(sla.resolution_near.expect("near")) - 384.0).abs() < 0.1,
        "{sla:?}"
    );
    let path = |action: &str| format!("/conversations/{id}/{action}");
    let (status, _) = gw
        .agent_call(
            &ann,
            Method::POST,
            &path("messages"),
            Some(json!({"text": "On it."})),
        )
        .await;
    assert_eq!(status, 202);
    let (_, body) = gw
        .agent_call(&ann, Method::GET, &format!("/conversations/{id}"), None)
        .await;
    let shown = &body["conversation"]["sla"];
    assert_eq!(shown["first_response"], "met", "{shown}");
    assert_eq!(shown["resolution"], "ok");
    assert_eq!(shown["state"], "ok", "the resolution still runs");
    let (status, body) = gw
        .agent_call(&ann, Method::POST, &path("resolve"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["conversation"]["sla"]["resolution"], "met", "{body}");
    assert_eq!(body["conversation"]["sla"]["state"], "met");
}

#[tokio::test]
async fn a_missed_first_response_deadline_is_flagged_and_posted_to_the_webhook_once() {
    let (hook, posted) = webhook_receiver().await;
    let gw = TestGateway::start_with(move |c| {
        c.sla = Some(frontdesk::service_levels::sla::SlaConfig {
            first_response_minutes: 60,
            resolution_minutes: None,
            check_secs: 1,
            breach_webhook: Some(hook),
        })
    })
    .await;
    gw.add_agent("ann", PASSWORD, Role::Agent).await;
    let ann = gw.login("ann", PASSWORD).await;
    let (_, id) = waiting_customer(&gw, "my lamp flickers").await;
    let sla_of = async |gw: &TestGateway| {
        let c = gw
            .store()
            .conversation(id.parse().expect("uuid"))
            .await
            .expect("read")
            .expect("stored");
        c.sla.expect("sla")
    };
    let sla = sla_of(&gw).await;
    let promised = sla.first_response_due - sla.started_at;
    assert!(
        (promised - chrono::Duration::minutes(60))
            .num_milliseconds()
            .abs()
            < 1000,
        "{promised:?}"
    );
    let (_, list) = gw
        .agent_call(&ann, Method::GET, "/conversations?status=waiting", None)
        .await;
    assert_eq!(list["conversations"][0]["sla"]["state"], "ok", "{list}");

    // 55 of 60 minutes used: near.
    shift_sla(&gw, &id, 55, 5).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while sla_of(&gw).await.announced != frontdesk::model::SlaState::Near {
        assert!(
            tokio::time::Instant::now() < deadline,
            "near was not announced"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, list) = gw
        .agent_call(&ann, Method::GET, "/conversations?status=waiting", None)
        .await;
    assert_eq!(list["conversations"][0]["sla"]["state"], "near");
    assert!(posted.lock().expect("lock").is_empty(), "near is no breach");

    // Past the deadline: breached, posted once.
    shift_sla(&gw, &id, 61, -1).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while posted.lock().expect("lock").is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no webhook call");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let calls = posted.lock().expect("lock").clone();
    assert_eq!(calls.len(), 1, "announced once: {calls:?}");
    assert_eq!(calls[0]["type"], "sla_breached");
    assert_eq!(calls[0]["conversation_id"], json!(id));
    assert!(
        calls[0].get("text").is_none(),
        "no customer text leaves in the notice"
    );
    let (_, list) = gw
        .agent_call(&ann, Method::GET, "/conversations?status=waiting", None)
        .await;
    assert_eq!(list["conversations"][0]["sla"]["state"], "breached");

    // The late answer is recorded; the breach stays a breach.
    let (status, _) = gw
        .agent_call(
            &ann,
            Method::POST,
            &format!("/conversations/{id}/messages"),
            Some(json!({"text": "Sorry for the wait!"})),
        )
        .await;
    assert_eq!(status, 202);
    let sla = sla_of(&gw).await;
    assert!(sla.first_response_at.is_some());
    assert_eq!(sla.state(Utc::now()), frontdesk::model::SlaState::Breached);
}

#[tokio::test]
async fn a_waiting_web_customer_sees_their_place_in_line_move_live() {
    use futures_util::StreamExt;
    let (gw, ann, _bob, _boss) = gateway_with_agents().await;
    let (_, first) = waiting_customer(&gw, "my lamp flickers").await;
    let (second, second_id) = waiting_customer(&gw, "my chair wobbles").await;
    let (mut ws, _) =
        tokio_tungstenite::connect_async(gw.ws_url(&format!("/api/v1/chat/ws?session={second}")))
            .await
            .expect("ws connect");
    let mut next_place = async || loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a frame in time")
            .expect("open")
            .expect("frame");
        let value: Value = serde_json::from_str(frame.to_text().expect("text")).expect("json");
        if value["type"] == "queue" {
            return value;
        }
    };
    let place = next_place().await;
    assert_eq!(
        (place["position"].as_u64(), place["wait_minutes"].as_u64()),
        (Some(2), Some(10))
    );
    let claim = |id: String| {
        let (gw, ann) = (&gw, &ann);
        async move {
            let (status, _) = gw
                .agent_call(
                    ann,
                    Method::POST,
                    &format!("/conversations/{id}/claim"),
                    None,
                )
                .await;
            assert_eq!(status, 200);
        }
    };
    claim(first).await;
    assert_eq!(
        next_place().await["position"],
        1,
        "moved up when the first was taken"
    );
    claim(second_id).await;
    assert_eq!(
        next_place().await["position"],
        Value::Null,
        "out of the queue once taken"
    );
}
