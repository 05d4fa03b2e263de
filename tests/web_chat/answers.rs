//! What a visitor gets back: intent answers in their language, hand-offs
//! with ticket and place, a choice between two intents, receipts, premium
//! visitors first, business hours, history across a restart.

use super::*;

#[tokio::test]
async fn order_status_question_gets_the_intent_answer() {
    let gw = TestGateway::start().await;
    let s = gw.session().await;
    let (status, receipt) = gw.post(&s, "m1", "Where is my order?").await;
    assert_eq!(status, 202, "{receipt}");
    assert_eq!(receipt["seq"], 1);
    assert!(receipt["ticket"].as_u64().is_some_and(|t| t >= 1000));

    let all = gw.wait_for_messages(&s, 2).await;
    let got = lines(&all);
    assert_eq!(got[0], ("customer".into(), "Where is my order?".into()));
    assert_eq!(got[1].0, "bot");
    assert!(
        got[1].1.contains("https://shop.example/orders"),
        "{}",
        got[1].1
    );
    let conversation = gw
        .store()
        .conversation(
            receipt["conversation_id"]
                .as_str()
                .expect("id")
                .parse()
                .expect("uuid"),
        )
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(
        conversation.status,
        ConversationStatus::Bot,
        "an answered question is not queued"
    );
    assert!(
        gw.store()
            .waiting_queue(10)
            .await
            .expect("queue")
            .is_empty()
    );
}

#[tokio::test]
async fn unknown_question_gets_handoff_ack_with_ticket_and_queue_position() {
    let gw = TestGateway::start().await;
    let first = gw.session().await;
    let second = gw.session().await;
    let (_, r1) = gw
        .post(&first, "a", "My blender makes a strange grinding noise")
        .await;
    let (_, r2) = gw
        .post(&second, "b", "The colour of the sofa is not what I ordered")
        .await;

    let a = lines(&gw.wait_for_messages(&first, 2).await);
    let b = lines(&gw.wait_for_messages(&second, 2).await);
    let t1 = r1["ticket"].as_u64().expect("ticket");
    let t2 = r2["ticket"].as_u64().expect("ticket");
    assert_ne!(t1, t2);
    assert_eq!(a[1].0, "bot");
    assert!(a[1].1.contains(&format!("#{t1}")), "{}", a[1].1);
    assert!(a[1].1.contains("number 1 in line"), "{}", a[1].1);
    assert!(b[1].1.contains(&format!("#{t2}")), "{}", b[1].1);
    assert!(b[1].1.contains("number 2 in line"), "{}", b[1].1);

    let queue = gw.store().waiting_queue(10).await.expect("queue");
    let ids: Vec<String> = queue.iter().map(|id| id.to_string()).collect();
    assert_eq!(
        ids,
        vec![
            r1["conversation_id"].as_str().expect("id"),
            r2["conversation_id"].as_str().expect("id")
        ]
    );
}

#[tokio::test]
async fn asking_for_a_human_hands_off_even_with_a_known_question() {
    let gw = TestGateway::start().await;
    let s = gw.session().await;
    gw.post(&s, "1", "where is my order? I want to talk to a human")
        .await;
    let got = lines(&gw.wait_for_messages(&s, 2).await);
    assert!(got[1].1.contains("in line"), "{}", got[1].1);
    assert_eq!(gw.store().waiting_queue(10).await.expect("queue").len(), 1);
}

#[tokio::test]
async fn chinese_questions_get_chinese_answers() {
    let gw = TestGateway::start().await;
    let s = gw.session().await;
    gw.post(&s, "1", "我的订单到哪了").await;
    gw.wait_for_messages(&s, 2).await;
    gw.post(&s, "2", "我想找人工客服").await;
    let got = lines(&gw.wait_for_messages(&s, 4).await);
    assert!(got[1].1.contains("查看订单进度"), "{}", got[1].1);
    assert!(got[3].1.contains("排在第 1 位"), "{}", got[3].1);
    // The language follows the customer.
    gw.post(&s, "3", "Actually, where is my order now?").await;
    let got = lines(&gw.wait_for_messages(&s, 6).await);
    assert!(
        got[5].1.starts_with("You can see where your order is"),
        "{}",
        got[5].1
    );
}

#[tokio::test]
async fn receipt_then_reply_policy_sends_a_receipt_first() {
    let gw = TestGateway::start_with(|c| c.channels.web.ack = AckPolicy::ReceiptThenReply).await;
    let s = gw.session().await;
    let (_, r) = gw.post(&s, "1", "Where is my order?").await;
    let got = lines(&gw.wait_for_messages(&s, 3).await);
    let ticket = r["ticket"].as_u64().expect("ticket");
    assert_eq!(
        got[1],
        (
            "bot".into(),
            format!("We have received your message (ticket #{ticket}).")
        )
    );
    assert!(got[2].1.contains("shop.example/orders"), "{got:?}");
}

#[tokio::test]
async fn a_resolved_conversation_keeps_its_ticket_and_history_across_restart() {
    let mut gw = TestGateway::start().await;
    let s = gw.session().await;
    let (_, r) = gw.post(&s, "1", "hi").await;
    gw.wait_for_messages(&s, 2).await;
    let data = gw.data.path().to_path_buf();
    gw.stop().await;
    let mut config = crate::support::test_config(&gw.data);
    config.server.data_dir = data;
    let gateway = frontdesk::app::start(config).await.expect("restart");
    let base = format!("http://{}", gateway.addr);
    let body: Value = reqwest::get(format!("{base}/api/v1/chat/messages?session={s}&after=0"))
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(body["messages"].as_array().expect("list").len(), 2);
    let again: Value = reqwest::Client::new()
        .post(format!("{base}/api/v1/chat/messages"))
        .json(&json!({"session": s, "client_id": "2", "text": "thanks"}))
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert_eq!(again["ticket"], r["ticket"]);
    assert_eq!(again["seq"], 3);
    gateway.stop().await;
}

#[tokio::test]
async fn a_question_two_intents_fit_equally_gets_a_choice_and_the_choice_is_answered() {
    let gw = TestGateway::start().await;
    let s = gw.session().await;
    let (status, _) = gw
        .post(&s, "1", "how do i check when my shipment is gonna arrive")
        .await;
    assert_eq!(status, 202);
    let all = gw.wait_for_messages(&s, 2).await;
    let question = &all[1];
    assert_eq!(question["from"], "bot");
    assert_eq!(
        question["options"],
        json!(["How long delivery takes", "Where my order is"]),
        "{question}"
    );
    let text = question["text"].as_str().unwrap_or_default();
    // The buttons carry the choices here; email lists them in the text.
    assert!(text.contains("Which of these"), "{text}");
    // The widget's button sends the label as the visitor's message.
    gw.post(&s, "2", "Where my order is").await;
    let all = gw.wait_for_messages(&s, 4).await;
    let answer = &all[3];
    assert_eq!(answer["from"], "bot");
    assert!(
        answer["text"]
            .as_str()
            .is_some_and(|t| t.contains("shop.example/orders")),
        "the chosen intent's answer: {answer}"
    );
    assert!(answer.get("options").is_none());
    // Typing the option's number works too.
    gw.post(&s, "3", "how do i check when my shipment is gonna arrive")
        .await;
    gw.wait_for_messages(&s, 6).await;
    gw.post(&s, "4", "1").await;
    let all = gw.wait_for_messages(&s, 8).await;
    let delivery = all[7]["text"].as_str().unwrap_or_default();
    assert!(
        delivery.contains("business days") && !delivery.contains("Which of these"),
        "option 1 is the delivery time answer: {delivery}"
    );
    assert_eq!(all[7]["from"], "bot");
}

#[tokio::test]
async fn a_verified_premium_visitor_jumps_the_queue_and_a_forged_claim_does_not() {
    const SECRET: &str = "the-shops-identity-secret";
    let gw = TestGateway::start_with(|c| {
        c.channels.web.identity_secret = Some(SECRET.into());
        c.segments = vec![frontdesk::service_levels::segments::SegmentConfig {
            name: "premium".into(),
            priority: 10,
            emails: Vec::new(),
            email_domains: Vec::new(),
            telegram_users: Vec::new(),
            web_attributes: [("plan".to_string(), "premium".to_string())].into(),
            tags: Vec::new(),
            first_response_minutes: None,
            resolution_minutes: None,
        }];
    })
    .await;
    let session_with = |body: Value| {
        let gw = &gw;
        async move {
            let r = gw
                .http
                .post(gw.url("/api/v1/chat/sessions"))
                .json(&body)
                .send()
                .await
                .expect("session");
            assert_eq!(r.status(), 201);
            let body: Value = r.json().await.expect("json");
            body["session"].as_str().expect("token").to_string()
        }
    };
    let plan = [("plan".to_string(), "premium".to_string())].into();
    let anonymous = gw.session().await;
    let forged = session_with(json!({
        "user_id": "u-2", "attributes": {"plan": "premium"},
        "signature": frontdesk::service_levels::segments::sign_identity("a-guessed-secret-value", "u-2", &plan)
    }))
    .await;
    let premium = session_with(json!({
        "user_id": "u-3", "attributes": {"plan": "premium"},
        "signature": frontdesk::service_levels::segments::sign_identity(SECRET, "u-3", &plan)
    }))
    .await;
    let mut tickets = Vec::new();
    for (i, s) in [&anonymous, &forged, &premium].into_iter().enumerate() {
        let (status, body) = gw.post(s, &i.to_string(), "my lamp flickers").await;
        assert_eq!(status, 202);
        tickets.push(body["conversation_id"].as_str().expect("id").to_string());
        gw.wait_for_messages(s, 2).await;
    }
    let queue: Vec<String> = gw
        .store()
        .waiting_queue(10)
        .await
        .expect("queue")
        .iter()
        .map(|id| id.to_string())
        .collect();
    assert_eq!(
        queue,
        vec![tickets[2].clone(), tickets[0].clone(), tickets[1].clone()],
        "premium first, the forged claim in line by arrival"
    );
    let ack = gw.read(&premium, 0, 0).await;
    let text = ack[1]["text"].as_str().unwrap_or_default();
    assert!(text.contains("number 1 in line"), "{text}");
    let conversation = gw
        .store()
        .conversation(tickets[2].parse().expect("uuid"))
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(conversation.segment.as_deref(), Some("premium"));
    assert_eq!(conversation.priority, 10);
    // An identity too large to be real is refused, not stored.
    let r = gw
        .http
        .post(gw.url("/api/v1/chat/sessions"))
        .json(&json!({ "user_id": "u".repeat(300), "signature": "00" }))
        .send()
        .await
        .expect("session");
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"], "invalid_session");
}

#[tokio::test]
async fn outside_business_hours_the_ack_names_the_reopening_and_the_deadline_counts_open_time() {
    // Today and tomorrow are holidays: people are back the day after, at 00:00 UTC.
    let today = chrono::Utc::now().date_naive();
    let back = today + chrono::Duration::days(2);
    let holidays = vec![
        today.to_string(),
        (today + chrono::Duration::days(1)).to_string(),
    ];
    let every_day = Some("00:00-23:59".to_string());
    let gw = TestGateway::start_with(move |c| {
        c.business_hours = Some(frontdesk::service_levels::hours::BusinessHoursConfig {
            timezone: "UTC".into(),
            monday: every_day.clone(),
            tuesday: every_day.clone(),
            wednesday: every_day.clone(),
            thursday: every_day.clone(),
            friday: every_day.clone(),
            saturday: every_day.clone(),
            sunday: every_day,
            holidays,
        });
        c.sla = Some(crate::support::sla(60));
    })
    .await;
    let s = gw.session().await;
    let (_, receipt) = gw.post(&s, "1", "my lamp flickers").await;
    let all = gw.wait_for_messages(&s, 2).await;
    let ack = all[1]["text"].as_str().unwrap_or_default();
    let when = back.format("%A %-d %B, 00:00 (UTC)").to_string();
    assert!(ack.contains(&format!("back on {when}")), "{ack}");
    assert!(
        !ack.contains("expected wait"),
        "no wait promised while closed: {ack}"
    );
    let conversation = gw
        .store()
        .conversation(
            receipt["conversation_id"]
                .as_str()
                .expect("id")
                .parse()
                .expect("uuid"),
        )
        .await
        .expect("read")
        .expect("stored");
    let sla = conversation.sla.expect("deadline");
    assert_eq!(
        sla.first_response_due.naive_utc(),
        back.and_hms_opt(1, 0, 0).expect("time"),
        "60 minutes of open time after the reopening"
    );
    assert_eq!(
        sla.first_response_near.map(|n| n.naive_utc()),
        Some(back.and_hms_opt(0, 48, 0).expect("time")),
        "near after 48 of the 60 open minutes, not 80% of the closed night"
    );
}
