//! The Telegram channel against the test Bot API server: answers, hand-off
//! and agent replies, duplicates, 429, a blocked bot, and webhook secrets.

use crate::support::TestGateway;
use crate::support::telegram::{FakeTelegram, Scripted, TOKEN};
use frontdesk::channels::telegram::config::TelegramConfig;
use frontdesk::channels::telegram::config::TelegramMode;
use frontdesk::model::{CustomerAddress, Role};
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

pub async fn gateway_with_telegram(mode: TelegramMode) -> (TestGateway, FakeTelegram) {
    let tg = FakeTelegram::default();
    let api_url = tg.start().await;
    let gw = TestGateway::start_with(|c| {
        c.channels.telegram = Some(TelegramConfig {
            token: TOKEN.into(),
            mode,
            api_url,
            webhook_url: Some("https://support.example/api/v1/telegram/webhook".into()),
            webhook_secret: Some("a-webhook-secret-of-some-length".into()),
            poll_timeout_secs: 1,
            unconfirmed_sends: frontdesk::core::channel::one_unconfirmed_send(),
        })
    })
    .await;
    (gw, tg)
}

#[tokio::test]
async fn a_question_is_answered_in_the_chat_with_a_talk_to_a_person_button() {
    let (gw, tg) = gateway_with_telegram(TelegramMode::Polling).await;
    tg.push(tg.text(42, 1, "Where is my order?"));
    let got = tg.wait_for(42, 1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].contains("shop.example/orders"), "{}", got[0]);
    let markup = &tg.sent()[0].2;
    assert_eq!(
        markup["inline_keyboard"][0][0]["callback_data"], "human",
        "{markup}"
    );
    let conversation = gw
        .store()
        .conversation_of(&CustomerAddress::Telegram { chat_id: 42 })
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(conversation.display_name.as_deref(), Some("Customer"));
}

#[tokio::test]
async fn the_button_hands_off_and_the_agent_reply_arrives_in_the_chat() {
    let (gw, tg) = gateway_with_telegram(TelegramMode::Polling).await;
    tg.push(tg.text(7, 1, "Where is my order?"));
    tg.wait_for(7, 1).await;
    tg.push(json!({ "callback_query": {
        "id": "press-1", "chat_instance": "ci", "data": "human",
        "from": { "id": 7, "is_bot": false, "first_name": "Customer" }
    }}));
    let got = tg.wait_for(7, 2).await;
    assert!(got[1].contains("in line"), "{got:?}");
    assert_eq!(tg.answered_callbacks(), vec!["press-1".to_string()]);

    gw.add_agent("ann", "correct horse battery", Role::Agent)
        .await;
    let ann = gw.login("ann", "correct horse battery").await;
    let id = gw.store().waiting_queue(1).await.expect("queue")[0];
    let (status, _) = gw
        .agent_call(
            &ann,
            Method::POST,
            &format!("/conversations/{id}/messages"),
            Some(json!({"text": "Hello from Ann, I am on it."})),
        )
        .await;
    assert_eq!(status, 202);
    let got = tg.wait_for(7, 3).await;
    assert_eq!(got[2], "Hello from Ann, I am on it.");
    assert!(
        tg.sent()[2].2.is_null(),
        "agent replies carry no bot button"
    );
    // While Ann owns it the bot is silent on Telegram too.
    tg.push(tg.text(7, 2, "Where is my order?"));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(tg.sent_to(7).len(), 3);
}

#[tokio::test]
async fn the_same_message_delivered_twice_gets_one_reply() {
    let (gw, tg) = gateway_with_telegram(TelegramMode::Polling).await;
    let message = tg.text(9, 5, "what are your opening hours");
    tg.push(message.clone());
    // Redelivered under a new update id, as after a webhook/polling switch.
    tg.push(message);
    tg.wait_for(9, 1).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(tg.sent_to(9).len(), 1, "{:?}", tg.sent_to(9));
    let c = gw
        .store()
        .conversation_of(&CustomerAddress::Telegram { chat_id: 9 })
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(
        gw.store()
            .messages_after(c.id, 0, 10)
            .await
            .expect("read")
            .len(),
        2,
        "one message, one reply"
    );
}

#[tokio::test]
async fn too_many_requests_is_retried_after_the_given_time() {
    let (_gw, tg) = gateway_with_telegram(TelegramMode::Polling).await;
    tg.script(Scripted::RetryAfter(2));
    let started = std::time::Instant::now();
    tg.push(tg.text(11, 1, "hello"));
    let got = tg.wait_for(11, 1).await;
    assert_eq!(got.len(), 1);
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "retried after {:?}",
        started.elapsed()
    );
    assert_eq!(tg.send_attempts(), 2);
}

#[tokio::test]
async fn a_blocked_bot_is_reported_to_agents_and_not_retried() {
    let (gw, tg) = gateway_with_telegram(TelegramMode::Polling).await;
    tg.script(Scripted::Blocked);
    tg.push(tg.text(13, 1, "hello"));
    let store = gw.store();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let conversation = loop {
        if let Some(c) = store
            .conversation_of(&CustomerAddress::Telegram { chat_id: 13 })
            .await
            .expect("read")
            && c.undelivered
        {
            break c;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the failure was never recorded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let transcript = store
        .messages_after(conversation.id, 0, 10)
        .await
        .expect("read");
    let failed = transcript.last().expect("reply");
    assert!(
        format!("{:?}", failed.delivery).contains("blocked"),
        "{failed:?}"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(tg.send_attempts(), 1, "a permanent failure is not retried");
}

#[tokio::test]
async fn webhook_mode_checks_the_secret_and_answers_only_stored_updates() {
    let (mut gw, tg) = gateway_with_telegram(TelegramMode::Webhook).await;
    assert_eq!(
        tg.webhook(),
        Some((
            "https://support.example/api/v1/telegram/webhook".into(),
            "a-webhook-secret-of-some-length".into()
        ))
    );
    let update = {
        let mut u = tg.text(21, 1, "Where is my order?");
        u["update_id"] = json!(500);
        u
    };
    let post = |secret: &'static str| {
        gw.http
            .post(gw.url("/api/v1/telegram/webhook"))
            .header("x-telegram-bot-api-secret-token", secret)
            .json(&update)
            .send()
    };
    assert_eq!(
        post("wrong-secret-wrong-secret")
            .await
            .expect("send")
            .status(),
        401
    );
    assert!(
        gw.store()
            .conversation_of(&CustomerAddress::Telegram { chat_id: 21 })
            .await
            .expect("read")
            .is_none(),
        "a refused call stores nothing"
    );
    assert_eq!(
        post("a-webhook-secret-of-some-length")
            .await
            .expect("send")
            .status(),
        200
    );
    assert_eq!(
        post("a-webhook-secret-of-some-length")
            .await
            .expect("send")
            .status(),
        200,
        "a retry is fine"
    );
    let got = tg.wait_for(21, 1).await;
    assert!(got[0].contains("shop.example/orders"), "{got:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        tg.sent_to(21).len(),
        1,
        "Telegram's retry got no second reply"
    );
    let bad = gw
        .http
        .post(gw.url("/api/v1/telegram/webhook"))
        .header(
            "x-telegram-bot-api-secret-token",
            "a-webhook-secret-of-some-length",
        )
        .body("{not json")
        .send()
        .await
        .expect("send");
    assert_eq!(bad.status(), 400);
    gw.stop().await;
    assert_eq!(tg.webhook(), None, "the webhook is removed at stop");
}

/// Promise 1 on Telegram: the binary is killed with SIGKILL while updates
/// flow (some fetched but not yet stored), and restarted. Every message is
/// stored exactly once and answered; a reply is sent twice at most once
/// per kill (sent, then killed before it was marked delivered).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_while_polling_every_update_is_answered_exactly_once() {
    const CHATS: i64 = 6;
    const KILLS: usize = 3;
    let tg = FakeTelegram::default();
    let api_url = tg.start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("frontdesk.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\n{}[channels.telegram]\ntoken = \"{TOKEN}\"\napi_url = \"{api_url}\"\npoll_timeout_secs = 1\n",
            crate::support::shipped_vars()
        ),
    )
    .expect("config");
    let data = dir.path().join("data");
    let mut pushed = 0i64;
    let mut all_logs: Vec<String> = Vec::new();
    let mut process = crate::crash::Process::start_with_config(&data, Some(&config));
    for round in 0..KILLS {
        for wave in 0..4 {
            for chat in 1..=CHATS {
                pushed += 1;
                let text = if pushed % 2 == 0 {
                    "Where is my order?"
                } else {
                    "my lamp flickers"
                };
                tg.push(tg.text(chat, pushed, text));
            }
            tokio::time::sleep(Duration::from_millis(40 + 30 * wave)).await;
        }
        tokio::time::sleep(Duration::from_millis(50 * round as u64)).await;
        all_logs.extend(process.logs.lock().expect("logs").clone());
        process.kill();
        process = crate::crash::Process::start_with_config(&data, Some(&config));
    }
    let per_chat = (pushed / CHATS) as usize;
    for chat in 1..=CHATS {
        tg.wait_for(chat, per_chat).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let replies = tg.sent().len();
    let answered_chats = (1..=CHATS)
        .filter(|c| tg.sent_to(*c).len() >= per_chat)
        .count();
    println!("telegram crash test: {KILLS} kills, {pushed} updates, {replies} replies sent");
    assert_eq!(
        answered_chats as i64, CHATS,
        "every chat got a reply to every message"
    );
    // A reply sent just before a kill is sent again after it (Telegram has
    // no idempotency key; re-sending beats losing it). The outbox sends one
    // message per conversation at a time, so each customer sees at most one
    // duplicate per crash.
    for chat in 1..=CHATS {
        let got = tg.sent_to(chat).len();
        assert!(
            got <= per_chat + KILLS,
            "chat {chat}: {got} replies to {per_chat} messages"
        );
    }
    all_logs.extend(process.logs.lock().expect("logs").clone());
    process.kill();
    assert!(all_logs.len() > 5, "the process logged: {all_logs:?}");
    let secret = TOKEN.split(':').nth(1).expect("token secret part");
    assert!(
        all_logs.iter().all(|line| !line.contains(secret)),
        "the bot token reached the logs"
    );

    // Every message is stored exactly once.
    let store = frontdesk::store::sled::SledStore::open(&data).expect("open the data");
    use frontdesk::store::ConversationStore;
    for chat in 1..=CHATS {
        let c = store
            .conversation_of(&CustomerAddress::Telegram { chat_id: chat })
            .await
            .expect("read")
            .expect("stored");
        let customer = store
            .messages_after(c.id, 0, 1000)
            .await
            .expect("read")
            .into_iter()
            .filter(|m| m.author == frontdesk::model::Author::Customer)
            .count();
        assert_eq!(customer, per_chat, "chat {chat}");
    }
}

#[tokio::test]
async fn a_photo_without_words_is_kept_and_the_bot_asks_for_text() {
    let (gw, tg) = gateway_with_telegram(TelegramMode::Polling).await;
    tg.push(json!({ "message": {
        "message_id": 1, "date": 1_700_000_000,
        "chat": { "id": 31, "type": "private", "first_name": "Customer" },
        "photo": [{ "file_id": "AgACAgQ-photo", "file_unique_id": "u", "width": 800, "height": 600 }]
    }}));
    let got = tg.wait_for(31, 1).await;
    assert!(got[0].contains("in a few words"), "{got:?}");
    let c = gw
        .store()
        .conversation_of(&CustomerAddress::Telegram { chat_id: 31 })
        .await
        .expect("read")
        .expect("stored");
    let first = &gw.store().messages_after(c.id, 0, 1).await.expect("read")[0];
    assert_eq!(
        first.text, "[photo AgACAgQ-photo]",
        "agents see which file it was"
    );
}

#[tokio::test]
async fn a_clarifying_question_has_option_buttons_and_a_press_is_answered() {
    let (_gw, tg) = gateway_with_telegram(TelegramMode::Polling).await;
    tg.push(tg.text(9, 1, "how do i check when my shipment is gonna arrive"));
    let got = tg.wait_for(9, 1).await;
    assert!(got[0].contains("Which of these"), "{got:?}");
    let markup = tg.sent()[0].2.clone();
    let rows = markup["inline_keyboard"]
        .as_array()
        .expect("keyboard")
        .clone();
    let buttons: Vec<(String, String)> = rows
        .iter()
        .map(|row| {
            (
                row[0]["text"].as_str().unwrap_or_default().to_string(),
                row[0]["callback_data"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(
        buttons,
        vec![
            ("How long delivery takes".to_string(), "pick:1".to_string()),
            ("Where my order is".to_string(), "pick:2".to_string()),
            ("Talk to a person".to_string(), "human".to_string()),
        ]
    );
    // Telegram sends the press with the message it was under.
    tg.push(json!({ "callback_query": {
        "id": "press-9", "chat_instance": "ci", "data": "pick:2",
        "from": { "id": 9, "is_bot": false, "first_name": "Customer" },
        "message": {
            "message_id": 100, "date": 1_700_000_000,
            "chat": { "id": 9, "type": "private", "first_name": "Customer" },
            "from": { "id": 1, "is_bot": true, "first_name": "Bot", "username": "test_bot" },
            "text": got[0],
            "reply_markup": markup
        }
    }}));
    let got = tg.wait_for(9, 2).await;
    assert!(got[1].contains("shop.example/orders"), "{got:?}");
    assert_eq!(tg.answered_callbacks(), vec!["press-9".to_string()]);
}

#[tokio::test]
async fn the_survey_after_a_resolution_is_answered_with_a_button() {
    let tg = FakeTelegram::default();
    let api_url = tg.start().await;
    let gw = TestGateway::start_with(|c| {
        c.channels.telegram = Some(TelegramConfig {
            token: TOKEN.into(),
            mode: TelegramMode::Polling,
            api_url,
            webhook_url: None,
            webhook_secret: None,
            poll_timeout_secs: 1,
            unconfirmed_sends: frontdesk::core::channel::one_unconfirmed_send(),
        });
        c.surveys = Some(frontdesk::service_levels::surveys::SurveysConfig {
            questions: vec![frontdesk::model::SurveyKind::Csat],
            channels: vec![frontdesk::model::ChannelKind::Telegram],
            rating_page_url: None,
        });
    })
    .await;
    gw.add_agent("ann", "ann-password", Role::Agent).await;
    let ann = gw.login("ann", "ann-password").await;
    tg.push(tg.text(5, 1, "my lamp flickers"));
    tg.wait_for(5, 1).await;
    let id = gw
        .store()
        .conversation_of(&CustomerAddress::Telegram { chat_id: 5 })
        .await
        .expect("read")
        .expect("stored")
        .id;
    let (status, _) = gw
        .agent_call(
            &ann,
            Method::POST,
            &format!("/conversations/{id}/resolve"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let got = tg.wait_for(5, 2).await;
    assert!(got[1].contains("satisfied"), "{got:?}");
    let markup = tg.sent()[1].2.clone();
    assert_eq!(
        markup["inline_keyboard"][0][3]["callback_data"], "pick:4",
        "{markup}"
    );
    tg.push(json!({ "callback_query": {
        "id": "rate-1", "chat_instance": "ci", "data": "pick:4",
        "from": { "id": 5, "is_bot": false, "first_name": "Customer" },
        "message": {
            "message_id": 101, "date": 1_700_000_000,
            "chat": { "id": 5, "type": "private", "first_name": "Customer" },
            "from": { "id": 1, "is_bot": true, "first_name": "Bot", "username": "test_bot" },
            "text": got[1], "reply_markup": markup
        }
    }}));
    let got = tg.wait_for(5, 3).await;
    assert!(got[2].contains("Thank you"), "{got:?}");
    let rated = gw
        .store()
        .messages_after(id, 0, 20)
        .await
        .expect("transcript")
        .iter()
        .find_map(|m| m.rating)
        .expect("a rating");
    assert_eq!(rated.score, 4);
}
