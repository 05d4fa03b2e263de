//! Satisfaction surveys by mail: a number in reply, or the rating page.

use super::*;

#[tokio::test]
async fn the_survey_goes_by_mail_is_answered_by_a_number_and_never_follows_automatic_mail() {
    let mail_server = MailServer::start();
    let config = mail_server.email_config();
    let gw = TestGateway::start_with(move |c| {
        c.channels.email = Some(config);
        c.surveys = Some(frontdesk::service_levels::surveys::SurveysConfig {
            questions: vec![frontdesk::model::SurveyKind::Csat],
            channels: vec![frontdesk::model::ChannelKind::Email],
            rating_page_url: None,
        });
    })
    .await;
    let ann = agent(&gw).await;
    let store = gw.store();
    let resolve = |who: &'static str| {
        let (gw, ann, store) = (&gw, &ann, store.clone());
        async move {
            let id = store
                .conversation_of(&customer(who))
                .await
                .expect("read")
                .expect("stored")
                .id;
            let (status, _) = gw
                .agent_call(
                    ann,
                    Method::POST,
                    &format!("/conversations/{id}/resolve"),
                    None,
                )
                .await;
            assert_eq!(status, 200);
        }
    };
    write(
        &mail_server,
        ALICE,
        "<v1@customer.test>",
        "Lamp",
        "my lamp flickers",
    )
    .await;
    let got = mail_server.wait_for(ALICE, 1).await;
    let ack_id = header(&got[0], "Message-ID").expect("id");
    resolve(ALICE).await;
    let got = mail_server.wait_for(ALICE, 2).await;
    let survey = got
        .iter()
        .find(|m| body(m).contains("Reply with a number"))
        .expect("the survey");
    let survey_id = header(survey, "Message-ID").expect("id");
    assert_eq!(
        header(survey, "In-Reply-To").as_deref(),
        Some("<v1@customer.test>")
    );
    let answer = mail(
        ALICE,
        "<v2@customer.test>",
        "Re: Lamp",
        &format!(
            "In-Reply-To: {survey_id}\r\nReferences: <v1@customer.test> {ack_id} {survey_id}\r\n"
        ),
        "5\r\n\r\nOn Tue, 1 Dec 2026 at 10:00, Acme Shop Support <support@example.test> wrote:\r\n> How satisfied are you",
    );
    mail_server.send(ALICE, SUPPORT, &answer).await;
    let got = mail_server.wait_for(ALICE, 3).await;
    assert!(
        got.iter().any(|m| body(m).contains("Thank you")),
        "thanks by mail"
    );
    let rated: Vec<u8> = transcript(&store, ALICE)
        .await
        .iter()
        .filter_map(|m| m.rating.map(|r| r.score))
        .collect();
    assert_eq!(rated, vec![5]);

    // Bob's last mail is his out-of-office: resolving asks him nothing.
    let bob = "bob@customer.test";
    write(
        &mail_server,
        bob,
        "<w1@customer.test>",
        "Chair",
        "my chair wobbles",
    )
    .await;
    let got = mail_server.wait_for(bob, 1).await;
    let bob_ack = header(&got[0], "Message-ID").expect("id");
    let ooo = mail(
        bob,
        "<w2@customer.test>",
        "Out of office",
        &format!("Auto-Submitted: auto-replied\r\nIn-Reply-To: {bob_ack}\r\n"),
        "I am away.",
    );
    mail_server.send(bob, SUPPORT, &ooo).await;
    eventually("the out-of-office is stored", async || {
        transcript(&store, bob).await.len() >= 3
    })
    .await;
    resolve(bob).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        mail_server.mailbox(bob).await.len(),
        1,
        "no survey after automatic mail"
    );
}

#[tokio::test]
async fn an_email_survey_links_to_a_rating_page_that_records_one_rating_with_a_comment() {
    let mail_server = MailServer::start();
    let config = mail_server.email_config();
    let gw = TestGateway::start_with(move |c| {
        c.channels.email = Some(config);
        c.surveys = Some(frontdesk::service_levels::surveys::SurveysConfig {
            questions: vec![frontdesk::model::SurveyKind::Csat],
            channels: vec![frontdesk::model::ChannelKind::Email],
            // The public address; the test reaches the same gateway on
            // its loopback port.
            rating_page_url: Some("https://support.example.test/".into()),
        });
    })
    .await;
    let ann = agent(&gw).await;
    let store = gw.store();
    write(
        &mail_server,
        ALICE,
        "<p1@customer.test>",
        "Lamp",
        "my lamp flickers",
    )
    .await;
    mail_server.wait_for(ALICE, 1).await;
    let id = store
        .conversation_of(&customer(ALICE))
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
    let got = mail_server.wait_for(ALICE, 2).await;
    let survey = body(&got[1]);
    let links: Vec<&str> = survey
        .split_whitespace()
        .filter(|w| w.starts_with("https://support.example.test/rate/"))
        .collect();
    assert_eq!(links.len(), 5, "a link per score: {survey}");
    assert!(!survey.contains("Reply with a number"), "{survey}");
    let local = |link: &str| link.replace("https://support.example.test", &gw.base);
    let four = local(links[3]);
    assert!(four.ends_with("?score=4"), "{four}");

    // Following the link (as a mail scanner would) records nothing.
    let page = gw.http.get(&four).send().await.expect("page");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("value=\"4\" required checked"), "{html}");
    let ratings = async || {
        transcript(&store, ALICE)
            .await
            .iter()
            .filter_map(|m| m.rating.map(|r| (r.score, m.text.clone())))
            .collect::<Vec<_>>()
    };
    assert!(ratings().await.is_empty());

    let action = four.split('?').next().expect("path").to_string();
    let post = |form: Vec<(&'static str, &'static str)>| {
        let (gw, action) = (&gw, action.clone());
        async move {
            gw.http
                .post(&action)
                .form(&form)
                .send()
                .await
                .expect("post")
        }
    };
    let bad = post(vec![("score", "9")]).await;
    assert_eq!(bad.status(), 400, "9 is off the 1-5 scale");
    let done = post(vec![
        ("score", "4"),
        ("comment", "Quick & kind <b>thanks</b>"),
    ])
    .await;
    assert_eq!(done.status(), 200);
    assert!(done.text().await.expect("html").contains("Thank you"));
    let got = mail_server.wait_for(ALICE, 3).await;
    assert!(body(&got[2]).contains("Thank you"), "thanks by mail");
    assert_eq!(
        ratings().await,
        vec![(4, "Quick & kind <b>thanks</b>".to_string())],
        "the comment is kept as written"
    );
    let c = store.conversation(id).await.expect("read").expect("stored");
    assert_eq!(
        c.status,
        ConversationStatus::Resolved,
        "a rating reopens nothing"
    );

    // A second submission changes nothing; the page says it is recorded.
    let again = post(vec![("score", "1")]).await;
    assert_eq!(again.status(), 200);
    let page = gw
        .http
        .get(&four)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(
        page.contains("Thank you") && !page.contains("<form"),
        "{page}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(ratings().await.len(), 1);
    // A made-up question id is not a survey.
    let forged = format!("{}/rate/{id}/{}", gw.base, uuid::Uuid::nil());
    let r = gw.http.get(&forged).send().await.expect("forged");
    assert_eq!(r.status(), 404);
}
