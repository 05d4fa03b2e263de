//! Several gateway instances on one PostgreSQL database keep every
//! promise: live updates cross instances, a claim race has one winner, an
//! outbox entry is delivered by one instance at a time and taken over
//! from a dead one, and killing instances at random while customers write
//! loses nothing, stores nothing twice and moves the polling jobs on.

use crate::crash::Process;
use crate::support::TestGateway;
use chrono::Utc;
use frontdesk::conversation::{intake::take_in, turn::after_turn};
use frontdesk::model::{
    CustomerAddress, Delivery, InboundMessage, OutboundReason, OutboxEntry, Role,
};
use frontdesk::store::postgres::{PgStore, PostgresConfig};
use frontdesk::store::{
    ConversationStore, NewConversation, OutboxStore, PendingTurn, Store, StoreConfig, TurnOutcome,
};
use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const PASSWORD: &str = "correct horse battery";

async fn instance_on(database: &PostgresConfig) -> TestGateway {
    let database = database.clone();
    TestGateway::start_with(move |c| c.store = StoreConfig::Postgres(database)).await
}

/// A visitor writes to instance A; an agent's console on instance B hears
/// of it, and the visitor's WebSocket on B gets the reply A's dispatcher
/// wrote. Then two agents, one on each instance, claim the conversation at
/// once: one wins, the other is told it is taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_live_updates_and_a_claim_race_has_one_winner() {
    let database = crate::support::postgres::fresh_database().await;
    let a = instance_on(&database).await;
    let b = instance_on(&database).await;
    a.add_agent("ann", PASSWORD, Role::Agent).await;
    a.add_agent("bob", PASSWORD, Role::Agent).await;
    let ann_on_b = b.login("ann", PASSWORD).await;
    let bob_on_a = a.login("bob", PASSWORD).await;
    let mut console_on_b = b
        .http
        .get(b.url("/api/v1/agent/events"))
        .bearer_auth(&ann_on_b.token)
        .send()
        .await
        .expect("events");
    assert_eq!(console_on_b.status(), 200);

    let session = a.session().await;
    let (mut socket_on_b, _) =
        tokio_tungstenite::connect_async(b.ws_url(&format!("/api/v1/chat/ws?session={session}")))
            .await
            .expect("ws connect");
    let started = tokio::time::Instant::now();
    let (status, _) = a.post(&session, "m1", "My lamp flickers").await;
    assert_eq!(status, 202);

    let heard = crate::support::events_until(&mut console_on_b, &["\"customer_message\""]).await;
    let console_latency = started.elapsed();
    let id = heard
        .split("\"conversation_id\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the event names the conversation")
        .to_string();
    let (status, conversation) = a
        .agent_call(
            &bob_on_a,
            Method::GET,
            &format!("/conversations/{id}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{conversation}");

    let reply = loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), socket_on_b.next())
            .await
            .expect("a frame in time")
            .expect("open")
            .expect("frame");
        let Ok(text) = frame.to_text() else { continue };
        let value: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        if value["type"] == "message" && value["from"] == "bot" {
            break value;
        }
    };
    let socket_latency = started.elapsed();
    assert!(
        reply["text"].as_str().is_some_and(|t| !t.is_empty()),
        "{reply}"
    );
    println!(
        "across instances: the console on B heard after {console_latency:?}, \
         the socket on B had the reply after {socket_latency:?}"
    );

    let path = format!("/conversations/{id}/claim");
    let ((first, _), (second, body)) = tokio::join!(
        b.agent_call(&ann_on_b, Method::POST, &path, None),
        a.agent_call(&bob_on_a, Method::POST, &path, None)
    );
    let mut statuses = [first, second];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "one claim wins: {body}");
    crate::support::events_until(&mut console_on_b, &["\"assigned\""]).await;
}

fn new_conversation() -> NewConversation {
    NewConversation {
        priority: 0,
        locale: "en".into(),
        segment: None,
        tags: Vec::new(),
    }
}

/// Takes in a Telegram message from `chat`, as an instance does.
async fn take_in_from(store: &dyn Store, chat: i64, text: &str) -> frontdesk::store::Accepted {
    store
        .accept(
            &InboundMessage::text(
                CustomerAddress::Telegram { chat_id: chat },
                "1".into(),
                text.into(),
                Utc::now(),
            ),
            &new_conversation(),
            &take_in,
        )
        .await
        .expect("accept")
}

/// Takes a Telegram message in and records two answers to it.
async fn conversation_with_two_replies(store: &dyn Store) -> (OutboxEntry, OutboxEntry) {
    let accepted = take_in_from(store, 7, "hello").await;
    let id = accepted.conversation.id;
    let reply =
        |text: &str| OutboxEntry::due_now(id, OutboundReason::Answer, text.into(), None, None);
    let (first, second) = (reply("first"), reply("second"));
    store
        .record_turn(
            &TurnOutcome {
                turn: PendingTurn {
                    conversation_id: id,
                    seq: accepted.message.seq,
                },
                locale: "en".into(),
                handoff: false,
                replies: vec![first.clone(), second.clone()],
                sla: None,
                route: None,
            },
            &after_turn,
        )
        .await
        .expect("turn");
    (first, second)
}

/// One instance delivers an outbox entry at a time: while A holds it, B
/// neither sees it due nor takes it, nor the next reply of the same
/// conversation (replies go out in order). When A stops renewing (it
/// died), B takes the entry over, and A, back too late, cannot record it a
/// second time.
#[tokio::test]
async fn an_outbox_entry_is_delivered_by_one_instance_and_taken_over_from_a_dead_one() {
    let database = crate::support::postgres::fresh_database().await;
    let a = PgStore::connect(&database).await.expect("instance a");
    let b = PgStore::connect(&database).await.expect("instance b");
    let (first, second) = conversation_with_two_replies(&a).await;

    assert!(a.lease_delivery(&first).await.expect("lease"));
    assert!(
        !b.lease_delivery(&first).await.expect("lease"),
        "A holds it"
    );
    assert!(
        !b.lease_delivery(&second).await.expect("lease"),
        "A holds the conversation's earlier reply"
    );
    let due_for_b = b.due_outbox(Utc::now(), 10).await.expect("due");
    assert!(
        due_for_b.iter().all(|e| e.id != first.id),
        "B does not see A's entry due"
    );
    assert!(
        b.finish_delivery(&first, Delivery::Delivered, Utc::now())
            .await
            .expect("finish")
            .is_none(),
        "B cannot record what it does not hold"
    );
    assert!(
        a.finish_delivery(&first, Delivery::Delivered, Utc::now())
            .await
            .expect("finish")
            .is_some()
    );

    // A takes the second reply, then dies: its lease runs out unrenewed.
    assert!(a.lease_delivery(&second).await.expect("lease"));
    a.renew_outbox_leases().await.expect("renew");
    assert!(!b.lease_delivery(&second).await.expect("lease"), "renewed");
    let (admin, connection) = tokio_postgres::connect(&database.url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    admin
        .execute(
            "UPDATE outbox SET lease_until = now() - interval '1 second'",
            &[],
        )
        .await
        .expect("let the lease run out");
    assert!(
        b.lease_delivery(&second).await.expect("lease"),
        "taken over"
    );
    assert!(
        a.finish_delivery(&second, Delivery::Delivered, Utc::now())
            .await
            .expect("finish")
            .is_none(),
        "A lost the entry and records nothing"
    );
    b.finish_delivery(&second, Delivery::Delivered, Utc::now())
        .await
        .expect("finish")
        .expect("B records it");
    let transcript = a
        .messages_after(first.conversation_id, 0, 100)
        .await
        .expect("transcript");
    let texts: Vec<&str> = transcript.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["hello", "first", "second"], "each reply once");
}

/// A customer turn left pending by an instance that died before answering
/// it is answered by the instance still running (its sweep of stale
/// turns, not a start-up replay), once.
#[tokio::test]
async fn a_turn_left_pending_by_a_dead_instance_is_answered_by_another() {
    let database = crate::support::postgres::fresh_database().await;
    let survivor = instance_on(&database).await;
    let store: Arc<dyn Store> = Arc::new(PgStore::connect(&database).await.expect("store"));
    // The dead instance took this in and never got to its reply.
    let accepted = take_in_from(store.as_ref(), 9, "where is my order").await;
    let id = accepted.conversation.id;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let replies = store.outbox_of(id).await.expect("outbox").len()
            + store
                .messages_after(id, 1, 100)
                .await
                .expect("transcript")
                .len();
        if replies > 0 {
            assert_eq!(replies, 1, "answered once");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the pending turn was never answered"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(store.pending_turns().await.expect("pending").is_empty());
    drop(survivor);
}

const MESSAGES: usize = 1000;
const VISITORS: usize = 8;
const KILLS: usize = 5;

/// The two instance processes: their addresses, for visitors to choose.
type Bases = Arc<std::sync::Mutex<[String; 2]>>;

/// Posts this visitor's share of messages, each to one instance in turn;
/// a message the instance did not acknowledge is sent again, to the other
/// instance, with the same client id, until one does. Returns the texts
/// acknowledged.
async fn visitor(
    bases: Bases,
    session: String,
    index: usize,
    count: usize,
    acked: Arc<AtomicUsize>,
) -> Vec<String> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let mut acknowledged = Vec::new();
    for n in 0..count {
        let text = if n % 2 == 0 {
            format!("Where is my order? visitor {index} message {n}")
        } else {
            format!("My lamp flickers, visitor {index} message {n}")
        };
        let mut attempt = n;
        loop {
            let base = bases.lock().expect("bases")[attempt % 2].clone();
            let sent = http
                .post(format!("{base}/api/v1/chat/messages"))
                .json(&json!({ "session": session, "client_id": text, "text": text }))
                .send()
                .await;
            if matches!(&sent, Ok(r) if r.status() == 202) {
                break;
            }
            attempt += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        acknowledged.push(text);
        acked.fetch_add(1, Ordering::SeqCst);
        // About 40 messages a second in all: traffic lasts through the
        // kills and restarts.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    acknowledged
}

/// Whether the process's log says it took the job `name`.
fn leads(process: &Process, name: &str) -> bool {
    process
        .logs
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .any(|line| line.contains("This instance runs the job") && line.contains(name))
}

/// A number from the operating system's randomness, below `below`.
fn random_below(below: u64) -> u64 {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("randomness");
    u64::from_le_bytes(bytes) % below
}

/// Two gateway processes on one database; visitors spread 1,000 web chat
/// messages over both. Five times, at a random moment, the instance that
/// polls Telegram and the mailbox is killed with SIGKILL, while the other
/// keeps serving (visitors retry there), and started again a moment
/// later. Afterwards every acknowledged message is stored once and
/// answered, duplicate replies number at most one per crash, and each time
/// the survivor took over both polling jobs within 5 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_instances_at_random_loses_nothing_and_moves_the_polling_jobs() {
    use crate::support::mail::{MailServer, PASSWORD as MAIL_PASSWORD, SUPPORT};
    use crate::support::telegram::{FakeTelegram, TOKEN};
    let database = crate::support::postgres::fresh_database().await;
    let tg = FakeTelegram::default();
    let api_url = tg.start().await;
    let mail = MailServer::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("frontdesk.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\n{vars}\
             [store]\nbackend = \"postgres\"\nurl = \"{url}\"\npool_size = 8\n\
             [channels.web]\nsession_messages_per_minute = 0\naddress_requests_per_minute = 0\n\
             [channels.telegram]\ntoken = \"{TOKEN}\"\napi_url = \"{api_url}\"\npoll_timeout_secs = 1\n\
             [channels.email]\naddress = \"{SUPPORT}\"\npoll_secs = 1\n\
             [channels.email.imap]\nhost = \"127.0.0.1\"\nport = {imap}\nsecurity = \"plain\"\nusername = \"{SUPPORT}\"\npassword = \"{MAIL_PASSWORD}\"\n\
             [channels.email.smtp]\nhost = \"127.0.0.1\"\nport = {smtp}\nsecurity = \"plain\"\n",
            vars = crate::support::shipped_vars(),
            url = database.url,
            imap = mail.imap_port,
            smtp = mail.smtp_port,
        ),
    )
    .expect("config");
    let data = [dir.path().join("a"), dir.path().join("b")];
    let mut processes = [
        Some(Process::start_with_config(&data[0], Some(&config))),
        Some(Process::start_with_config(&data[1], Some(&config))),
    ];
    let base_of = |p: &Option<Process>| p.as_ref().expect("running").base.clone();
    let bases: Bases = Arc::new(std::sync::Mutex::new([
        base_of(&processes[0]),
        base_of(&processes[1]),
    ]));
    let http = reqwest::Client::new();
    let mut sessions = Vec::new();
    for i in 0..VISITORS {
        let base = bases.lock().expect("bases")[i % 2].clone();
        sessions.push(crate::support::open_chat_session(&http, &base).await);
    }
    let acked = Arc::new(AtomicUsize::new(0));
    let visitors: Vec<_> = sessions
        .iter()
        .enumerate()
        .map(|(i, session)| {
            tokio::spawn(visitor(
                bases.clone(),
                session.clone(),
                i,
                MESSAGES / VISITORS,
                acked.clone(),
            ))
        })
        .collect();

    let mut takeovers = Vec::new();
    let mut killed_after = Vec::new();
    for round in 0..KILLS {
        // A random moment within this round's fifth of the traffic.
        let share = (MESSAGES / KILLS) as u64;
        let moment = round as u64 * share + random_below(share / 2);
        while (acked.load(Ordering::SeqCst) as u64) < moment {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        killed_after.push(acked.load(Ordering::SeqCst));
        // Kill whichever instance polls Telegram (at the first start the
        // mailbox may have gone to the other one).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let leader = loop {
            let found = (0..2).find(|&i| {
                processes[i]
                    .as_ref()
                    .is_some_and(|p| leads(p, "telegram-poll"))
            });
            if let Some(found) = found {
                break found;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "round {round}: no instance polls Telegram"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let survivor = 1 - leader;
        processes[leader].take().expect("running").kill();
        let killed_at = tokio::time::Instant::now();
        loop {
            let survivor = processes[survivor].as_ref().expect("running");
            if leads(survivor, "telegram-poll") && leads(survivor, "email-imap") {
                break;
            }
            assert!(
                killed_at.elapsed() < Duration::from_secs(30),
                "round {round}: the survivor never took the polling jobs"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        takeovers.push(killed_at.elapsed());
        // Customers on the other channels keep writing through the kills.
        tg.push(tg.text(round as i64 + 1, round as i64 + 1, "Where is my order?"));
        mail.send(
            "kim@customer.test",
            SUPPORT,
            &format!(
                "From: <kim@customer.test>\r\nTo: {SUPPORT}\r\nSubject: Order {round}\r\n\
                 Message-ID: <kill-{round}@customer.test>\r\n\r\nWhere is my order?\r\n"
            ),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(random_below(1000))).await;
        let restarted = Process::start_with_config(&data[leader], Some(&config));
        bases.lock().expect("bases")[leader] = restarted.base.clone();
        processes[leader] = Some(restarted);
    }
    let mut acknowledged = Vec::new();
    for task in visitors {
        acknowledged.push(task.await.expect("visitor"));
    }

    // Every acknowledged message stored once and answered.
    let base = bases.lock().expect("bases")[0].clone();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let (stored, replies) = loop {
        let mut stored: Vec<Vec<String>> = Vec::new();
        let mut replies = 0;
        for session in &sessions {
            let transcript = crate::crash::transcript(&base, session).await;
            stored.push(
                transcript
                    .iter()
                    .filter(|m| m["from"] == "customer")
                    .map(|m| m["text"].as_str().unwrap_or("").to_string())
                    .collect(),
            );
            replies += transcript.iter().filter(|m| m["from"] == "bot").count();
        }
        let customers: usize = stored.iter().map(Vec::len).sum();
        if replies >= customers || tokio::time::Instant::now() > deadline {
            break (stored, replies);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let customers: usize = stored.iter().map(Vec::len).sum();
    println!(
        "{KILLS} kills of the leading instance (after {killed_after:?} messages): {customers} \
         messages stored, {replies} replies, polling taken over after {takeovers:?}"
    );
    for (i, (stored, acknowledged)) in stored.iter().zip(&acknowledged).enumerate() {
        assert_eq!(
            stored, acknowledged,
            "visitor {i}: every acknowledged message stored once, in order"
        );
    }
    assert_eq!(customers, MESSAGES);
    assert!(
        (customers..=customers + KILLS).contains(&replies),
        "every message answered, at most one duplicate per crash: {replies} replies to {customers}"
    );
    for (round, took) in takeovers.iter().enumerate() {
        assert!(
            *took <= Duration::from_secs(5),
            "round {round}: polling moved after {took:?}"
        );
    }
    // The customers on Telegram and email were taken in and answered.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tg.sent().len() < KILLS && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let telegram_replies = tg.sent().len();
    assert!(
        (KILLS..=2 * KILLS).contains(&telegram_replies),
        "each Telegram customer answered, at most one duplicate per crash: {telegram_replies}"
    );
    let mails = mail.wait_for("kim@customer.test", 1).await;
    assert!(!mails.is_empty(), "the mail customer was answered");
}

/// In webhook mode every instance takes Telegram's calls: an update posted
/// to A and its retry posted to B are one message with one answer, and an
/// instance stopping (a rolling restart) leaves the webhook registered for
/// the others.
#[tokio::test]
async fn a_telegram_webhook_is_served_by_every_instance_and_survives_one_stopping() {
    use crate::support::telegram::{FakeTelegram, TOKEN};
    use frontdesk::channels::telegram::config::{TelegramConfig, TelegramMode};
    let database = crate::support::postgres::fresh_database().await;
    let tg = FakeTelegram::default();
    let api_url = tg.start().await;
    const SECRET: &str = "a-webhook-secret-of-some-length";
    let start = || {
        let (database, api_url) = (database.clone(), api_url.clone());
        TestGateway::start_with(move |c| {
            c.store = StoreConfig::Postgres(database);
            c.channels.telegram = Some(TelegramConfig {
                token: TOKEN.into(),
                mode: TelegramMode::Webhook,
                api_url,
                webhook_url: Some("https://support.example/api/v1/telegram/webhook".into()),
                webhook_secret: Some(SECRET.into()),
                poll_timeout_secs: 1,
                unconfirmed_sends: frontdesk::core::channel::one_unconfirmed_send(),
            })
        })
    };
    let (mut a, b) = (start().await, start().await);
    let update = {
        let mut u = tg.text(31, 1, "Where is my order?");
        u["update_id"] = json!(700);
        u
    };
    for gw in [&a, &b] {
        let status = gw
            .http
            .post(gw.url("/api/v1/telegram/webhook"))
            .header("x-telegram-bot-api-secret-token", SECRET)
            .json(&update)
            .send()
            .await
            .expect("send")
            .status();
        assert_eq!(status, 200);
    }
    let got = tg.wait_for(31, 1).await;
    assert!(got[0].contains("shop.example/orders"), "{got:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(tg.sent_to(31).len(), 1, "the retry got no second answer");
    a.stop().await;
    assert!(
        tg.webhook().is_some(),
        "the other instance still serves the webhook"
    );
    drop(b);
}
