//! What support leads read: the summary report against a day counted by
//! hand, tags moving customers into segments, the staffing forecast, and
//! satisfaction surveys.

use super::*;

#[tokio::test]
async fn the_summary_report_matches_a_scripted_day_counted_by_hand() {
    let gw = TestGateway::start_with(|c| c.sla = Some(crate::support::sla(60))).await;
    gw.add_agent("ann", PASSWORD, Role::Agent).await;
    let ann = gw.login("ann", PASSWORD).await;
    let started = Utc::now() - chrono::Duration::seconds(1);
    // A: answered by the bot alone.
    let a = gw.session().await;
    gw.post(&a, "1", "Where is my order?").await;
    gw.wait_for_messages(&a, 2).await;
    // B: handed off, picked up and answered in time.
    let (b, b_id) = waiting_customer(&gw, "my lamp flickers").await;
    let (status, _) = gw
        .agent_call(
            &ann,
            Method::POST,
            &format!("/conversations/{b_id}/messages"),
            Some(json!({"text": "Let us fix it."})),
        )
        .await;
    assert_eq!(status, 202);
    gw.wait_for_messages(&b, 3).await;
    // C: handed off, still waiting.
    waiting_customer(&gw, "my chair wobbles").await;
    // D: handed off, claimed, resolved, then reopened by the customer.
    let (d, d_id) = waiting_customer(&gw, "my desk arrived broken").await;
    for action in ["claim", "resolve"] {
        let (status, _) = gw
            .agent_call(
                &ann,
                Method::POST,
                &format!("/conversations/{d_id}/{action}"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{action}");
    }
    gw.post(&d, "q2", "it is still broken").await;
    gw.wait_for_messages(&d, 4).await;

    // By hand: 4 conversations, all web; B, C and D reached people, A did
    // not (bot resolution 1/4); each got an automatic first response; B's
    // human answer came within its hour (1 met, 0 breached: attainment 1;
    // D's reopening started a new promise, not yet due); two pickups (B,
    // claimed by replying, and D). D was resolved once and reopened within
    // the window: first contact resolution 0 of 1. Ann picked up both,
    // resolved one, and one ownership of hers ended (D's).
    let to = (Utc::now() + chrono::Duration::seconds(1)).to_rfc3339();
    let from = started.to_rfc3339();
    let path = format!("/summary?from={}&to={}", urlencode(&from), urlencode(&to));
    let r = gw
        .http
        .get(gw.url(&format!("/api/v1/reports{path}")))
        .bearer_auth(&ann.token)
        .send()
        .await
        .expect("report");
    assert_eq!(r.status(), 200);
    let report: Value = r.json().await.expect("json");
    assert_eq!(report["conversations"], 4, "{report}");
    assert_eq!(report["by_channel"], json!({"web": 4}));
    assert_eq!(report["handed_to_people"], 3);
    assert_eq!(report["bot_resolution_rate"], 0.25);
    assert_eq!(report["first_automatic_response"]["count"], 4);
    assert_eq!(report["first_human_response"]["count"], 1);
    assert_eq!(report["pickup_wait"]["count"], 2);
    assert_eq!(
        (report["sla_met"].as_u64(), report["sla_breached"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(report["sla_attainment"], 1.0);
    assert_eq!(report["resolved"], 1);
    assert_eq!(report["resolution_time"]["count"], 1);
    assert_eq!(report["first_contact_resolution"], 0.0);
    assert_eq!(report["agent_handling"]["count"], 1);
    let ann_figures = &report["by_agent"]["ann"];
    assert_eq!(
        (
            ann_figures["pickups"].as_u64(),
            ann_figures["resolutions"].as_u64()
        ),
        (Some(2), Some(1)),
        "{ann_figures}"
    );
    assert_eq!(ann_figures["first_human_response"]["count"], 1);
    // By day (UTC here): today, or today and yesterday if the test ran
    // over midnight.
    let today = Utc::now().format("%Y-%m-%d").to_string();
    let days = report["by_day"].as_object().expect("days");
    let counted: u64 = days
        .values()
        .map(|d| d["conversations"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(counted, 4, "{days:?}");
    assert!(days.contains_key(&today), "{days:?}");

    // The same as CSV, and filters narrow it.
    let csv = gw
        .http
        .get(gw.url(&format!("/api/v1/reports{path}&format=csv")))
        .bearer_auth(&ann.token)
        .send()
        .await
        .expect("csv")
        .text()
        .await
        .expect("text");
    assert!(csv.starts_with("metric,value\n"), "{csv}");
    assert!(
        csv.contains("\nconversations,4\n")
            && csv.contains("\nsla_met,1\n")
            && csv.contains("\nagent.ann.pickups,2\n")
            && csv.contains(&format!("\nday.{today}.conversations,")),
        "{csv}"
    );
    let r = gw
        .http
        .get(gw.url(&format!("/api/v1/reports{path}&channel=telegram")))
        .bearer_auth(&ann.token)
        .send()
        .await
        .expect("filtered");
    let filtered: Value = r.json().await.expect("json");
    assert_eq!(filtered["conversations"], 0);
    // Agents only, and bad input is refused.
    let anonymous = gw
        .http
        .get(gw.url("/api/v1/reports/summary"))
        .send()
        .await
        .expect("anon");
    assert_eq!(anonymous.status(), 401);
    let bad = gw
        .http
        .get(gw.url("/api/v1/reports/summary?from=yesterday"))
        .bearer_auth(&ann.token)
        .send()
        .await
        .expect("bad");
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn an_agent_tag_moves_a_customer_into_its_segment_and_up_the_queue() {
    let gw = TestGateway::start_with(|c| {
        c.segments = vec![crate::support::tagged_segment("key-accounts", 20, "vip")];
    })
    .await;
    gw.add_agent("ann", PASSWORD, Role::Agent).await;
    let ann = gw.login("ann", PASSWORD).await;
    let (_, first) = waiting_customer(&gw, "my lamp flickers").await;
    let (_, second) = waiting_customer(&gw, "my chair wobbles").await;
    let queue = async || {
        gw.store()
            .waiting_queue(10)
            .await
            .expect("queue")
            .iter()
            .map(|id| id.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(queue().await, vec![first.clone(), second.clone()]);
    let tag = |id: String, tags: Value| {
        let (gw, ann) = (&gw, &ann);
        async move {
            gw.agent_call(
                ann,
                Method::PUT,
                &format!("/conversations/{id}/tags"),
                Some(json!({ "tags": tags })),
            )
            .await
        }
    };
    let (status, body) = tag(second.clone(), json!(["vip", "vip", "eu"])).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["conversation"]["tags"], json!(["eu", "vip"]));
    assert_eq!(body["conversation"]["segment"], "key-accounts");
    assert_eq!(
        queue().await,
        vec![second.clone(), first.clone()],
        "served first"
    );
    // Bad tags are refused and change nothing.
    for bad in [json!(["VIP"]), json!(["a b"]), json!([""]), json!("vip")] {
        let (status, body) = tag(second.clone(), bad.clone()).await;
        assert!(status == 400 || status == 422, "{bad}: {status} {body}");
    }
    assert_eq!(queue().await, vec![second.clone(), first.clone()]);
    // Untagged: back in its segment-less place.
    let (status, body) = tag(second.clone(), json!([])).await;
    assert_eq!(status, 200);
    assert_eq!(body["conversation"]["segment"], Value::Null);
    assert_eq!(queue().await, vec![first, second]);
}

#[tokio::test]
async fn the_staffing_forecast_counts_hand_offs_by_hour_of_the_week() {
    let gw = TestGateway::start_with(|c| c.sla = Some(crate::support::sla(60))).await;
    gw.add_agent("ann", PASSWORD, Role::Agent).await;
    let ann = gw.login("ann", PASSWORD).await;
    let (_, first) = waiting_customer(&gw, "my lamp flickers").await;
    waiting_customer(&gw, "my chair wobbles").await;
    for action in ["claim", "resolve"] {
        let (status, _) = gw
            .agent_call(
                &ann,
                Method::POST,
                &format!("/conversations/{first}/{action}"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{action}");
        // A handling time the clock can see.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let now = Utc::now();
    let r = gw
        .http
        .get(gw.url("/api/v1/reports/staffing"))
        .bearer_auth(&ann.token)
        .send()
        .await
        .expect("forecast");
    assert_eq!(r.status(), 200);
    let forecast: Value = r.json().await.expect("json");
    // Two hand-offs this hour, averaged over the default 4 weeks; one
    // handling measured (the claim to the resolution).
    let (day, hour) = (
        now.weekday().num_days_from_monday() as usize,
        now.hour() as usize,
    );
    assert_eq!(forecast["weeks"], 4, "{forecast}");
    assert_eq!(forecast["arrivals_per_hour"][day][hour], 0.5, "{forecast}");
    assert_eq!(forecast["handlings_measured"], 1);
    let plan = &forecast["targets"][0];
    assert_eq!(plan["name"], "default");
    assert_eq!(plan["first_response_secs"], 3600.0);
    assert_eq!(plan["agents"][day][hour], 1, "one agent covers it");
    let busy: u64 = plan["agents"]
        .as_array()
        .expect("days")
        .iter()
        .flat_map(|d| d.as_array().expect("hours").iter())
        .map(|a| a.as_u64().unwrap_or(0))
        .sum();
    assert_eq!(busy, 1, "no one needed in the other hours");
    let anonymous = gw
        .http
        .get(gw.url("/api/v1/reports/staffing"))
        .send()
        .await
        .expect("anon");
    assert_eq!(anonymous.status(), 401);
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn after_a_resolution_the_customer_is_asked_once_and_the_answers_are_recorded() {
    let gw = TestGateway::start_with(|c| {
        c.surveys = Some(frontdesk::service_levels::surveys::SurveysConfig {
            questions: vec![
                frontdesk::model::SurveyKind::Csat,
                frontdesk::model::SurveyKind::Nps,
            ],
            channels: vec![frontdesk::model::ChannelKind::Web],
            rating_page_url: None,
        })
    })
    .await;
    gw.add_agent("ann", PASSWORD, Role::Agent).await;
    let ann = gw.login("ann", PASSWORD).await;
    let (session, id) = waiting_customer(&gw, "my lamp flickers").await;
    let call = |path: String, body: Option<Value>| {
        let (gw, ann) = (&gw, &ann);
        async move { gw.agent_call(ann, Method::POST, &path, body).await.0 }
    };
    assert_eq!(
        call(
            format!("/conversations/{id}/messages"),
            Some(json!({"text": "Fixed, a new lamp ships today."}))
        )
        .await,
        202
    );
    assert_eq!(
        call(format!("/conversations/{id}/resolve"), None).await,
        200
    );
    assert_eq!(
        call(format!("/conversations/{id}/resolve"), None).await,
        409,
        "resolved once, asked once"
    );
    let all = gw.wait_for_messages(&session, 4).await;
    let csat = &all[3];
    assert_eq!(csat["options"], json!(["1", "2", "3", "4", "5"]), "{csat}");
    assert!(
        csat["text"]
            .as_str()
            .is_some_and(|t| t.contains("satisfied")),
        "{csat}"
    );

    gw.post(&session, "r1", "4").await;
    let all = gw.wait_for_messages(&session, 6).await;
    assert_eq!(
        all[5]["options"].as_array().map(Vec::len),
        Some(11),
        "NPS 0-10 next: {}",
        all[5]
    );
    gw.post(&session, "r2", "9").await;
    let all = gw.wait_for_messages(&session, 8).await;
    assert!(
        all[7]["text"]
            .as_str()
            .is_some_and(|t| t.contains("Thank you")),
        "{}",
        all[7]
    );
    let store = gw.store();
    let conversation = store
        .conversation(id.parse().expect("uuid"))
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(
        conversation.status,
        frontdesk::model::ConversationStatus::Resolved,
        "a rating reopens nothing"
    );
    let ratings: Vec<(frontdesk::model::SurveyKind, u8)> = store
        .messages_after(conversation.id, 0, 20)
        .await
        .expect("transcript")
        .iter()
        .filter_map(|m| m.rating.map(|r| (r.kind, r.score)))
        .collect();
    assert_eq!(
        ratings,
        vec![
            (frontdesk::model::SurveyKind::Csat, 4),
            (frontdesk::model::SurveyKind::Nps, 9)
        ]
    );
    let r = gw
        .http
        .get(gw.url("/api/v1/reports/summary"))
        .bearer_auth(&ann.token)
        .send()
        .await
        .expect("report");
    let report: Value = r.json().await.expect("json");
    assert_eq!(
        report["csat"],
        json!({"count": 1, "score": 4.0}),
        "{report}"
    );
    assert_eq!(report["nps"], json!({"count": 1, "score": 100.0}));

    // Words right after the thanks (which invites them) are the comment:
    // kept, thanked for, and nothing reopens.
    gw.post(&session, "r3", "Quick and kind, thank you").await;
    let all = gw.wait_for_messages(&session, 10).await;
    assert!(
        all[9]["text"]
            .as_str()
            .is_some_and(|t| t.contains("passed your comment on")),
        "{}",
        all[9]
    );
    let c = store
        .conversation(conversation.id)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(c.status, frontdesk::model::ConversationStatus::Resolved);
    let commented: Vec<String> = store
        .messages_after(conversation.id, 0, 20)
        .await
        .expect("transcript")
        .into_iter()
        .filter(|m| m.survey_comment)
        .map(|m| m.text)
        .collect();
    assert_eq!(commented, vec!["Quick and kind, thank you".to_string()]);
    let r = gw
        .http
        .get(gw.url("/api/v1/reports/summary"))
        .bearer_auth(&ann.token)
        .send()
        .await
        .expect("report");
    let report: Value = r.json().await.expect("json");
    assert_eq!(report["survey_comments"], 1, "{report}");

    // Words after that are a new question: they reopen it.
    gw.post(&session, "r4", "the new lamp flickers too").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let c = store
            .conversation(conversation.id)
            .await
            .expect("read")
            .expect("stored");
        if c.status != frontdesk::model::ConversationStatus::Resolved {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "not reopened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
