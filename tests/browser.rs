//! The widget in a real browser: the demo page a newcomer opens after
//! `frontdesk serve` gets a question answered, shows customer text as text,
//! and keeps the conversation across a reload.

use crate::support::TestGateway;
use crate::support::browser::{Browser, Page};
use serde_json::json;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(15);

fn bubbles(from: &str) -> String {
    format!("Array.from(document.querySelectorAll('.fd-msg[data-from=\"{from}\"]'))")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn widget_answers_a_question_in_the_browser_and_renders_customer_text_as_text() {
    let gw = TestGateway::start().await;
    let mut browser = Browser::launch().await;
    let page = open_widget(&gw, &mut browser).await;

    let say = |text: &str| {
        format!(
            "(() => {{ const i = document.querySelector('.fd-input'); i.value = {}; \
             document.querySelector('.fd-form').requestSubmit(); return true; }})()",
            json!(text)
        )
    };
    browser.eval(&page, &say("Where is my order?")).await;
    browser
        .wait_for(
            &page,
            &format!(
                "{}.some(b => b.textContent.includes('shop.example/orders'))",
                bubbles("bot")
            ),
            WAIT,
        )
        .await;

    let payload = "<img src=x onerror=\"window.__xss = 1\"> hello";
    browser.eval(&page, &say(payload)).await;
    browser
        .wait_for(&page, &format!("{}.length === 2", bubbles("bot")), WAIT)
        .await;
    let shown = browser
        .eval(
            &page,
            &format!("{}.map(b => b.textContent)", bubbles("customer")),
        )
        .await;
    assert_eq!(shown, json!(["Where is my order?", payload]));
    let injected = browser
        .eval(
            &page,
            "document.querySelectorAll('.fd-log img').length + (window.__xss ? 100 : 0)",
        )
        .await;
    assert_eq!(injected, json!(0), "customer text became markup");
    let sending = browser
        .eval(&page, "document.querySelectorAll('[data-state]').length")
        .await;
    assert_eq!(sending, json!(0), "every message was confirmed");
    let shot = browser.screenshot(&page, "widget-answer").await;
    println!("screenshot: {}", shot.display());

    // A reload shows the same conversation once, from the stored session.
    browser.navigate(&page, &gw.url("/")).await;
    browser
        .wait_for(
            &page,
            &format!(
                "{}.length === 2 && {}.length === 2",
                bubbles("bot"),
                bubbles("customer")
            ),
            WAIT,
        )
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let count = browser
        .eval(&page, "document.querySelectorAll('.fd-msg').length")
        .await;
    assert_eq!(count, json!(4), "history shown once after reload");

    // The server agrees: one conversation, four entries.
    let queue = gw.store().waiting_queue(10).await.expect("queue");
    assert_eq!(queue.len(), 1, "the unknown question was handed off");
    let messages = gw
        .store()
        .messages_after(queue[0], 0, 10)
        .await
        .expect("messages");
    assert_eq!(messages.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn widget_offers_buttons_when_two_answers_fit_and_a_click_gets_the_chosen_one() {
    let gw = TestGateway::start().await;
    let mut browser = Browser::launch().await;
    let page = open_widget(&gw, &mut browser).await;
    browser
        .eval(
            &page,
            &fill_and_submit(
                ".fd-input",
                "how do i check when my shipment is gonna arrive",
                ".fd-form",
            ),
        )
        .await;
    browser
        .wait_for(
            &page,
            "document.querySelectorAll('.fd-option').length === 2",
            WAIT,
        )
        .await;
    let labels = browser
        .eval(
            &page,
            "[...document.querySelectorAll('.fd-option')].map(b => b.textContent)",
        )
        .await;
    assert_eq!(
        labels,
        json!(["How long delivery takes", "Where my order is"])
    );
    let shot = browser.screenshot(&page, "widget-options").await;
    println!("screenshot: {}", shot.display());
    browser
        .eval(
            &page,
            "document.querySelectorAll('.fd-option')[1].click(); true",
        )
        .await;
    browser
        .wait_for(
            &page,
            &format!(
                "{}.some(b => b.textContent.includes('shop.example/orders'))",
                bubbles("bot")
            ),
            WAIT,
        )
        .await;
    let chosen = browser
        .eval(
            &page,
            &format!("{}.map(b => b.textContent)", bubbles("customer")),
        )
        .await;
    assert_eq!(
        chosen,
        json!([
            "how do i check when my shipment is gonna arrive",
            "Where my order is"
        ])
    );
    let disabled = browser
        .eval(
            &page,
            "[...document.querySelectorAll('.fd-option')].every(b => b.disabled)",
        )
        .await;
    assert_eq!(disabled, json!(true), "a choice is made once");
}

/// The agent console, signed in as ann (password "correct horse battery").
async fn sign_in_to_console(gw: &TestGateway, browser: &mut Browser) -> Page {
    let console = browser.open(&gw.url("/agent/")).await;
    browser
        .wait_for(&console, "!document.getElementById('login').hidden", WAIT)
        .await;
    browser
        .eval(
            &console,
            "(() => { const f = document.getElementById('login-form'); f.username.value = 'ann'; \
             f.password.value = 'correct horse battery'; f.requestSubmit(); return true; })()",
        )
        .await;
    browser
        .wait_for(&console, "!document.getElementById('app').hidden", WAIT)
        .await;
    console
}

/// The demo page with its widget connected.
async fn open_widget(gw: &TestGateway, browser: &mut Browser) -> Page {
    let page = browser.open(&gw.url("/")).await;
    browser
        .wait_for(
            &page,
            "document.querySelector('.fd-status')?.textContent === 'Online'",
            WAIT,
        )
        .await;
    page
}

/// JavaScript that fills a field and submits its form.
fn fill_and_submit(field: &str, text: &str, form: &str) -> String {
    format!(
        "(() => {{ document.querySelector({}).value = {}; document.querySelector({}).requestSubmit(); return true; }})()",
        json!(field),
        json!(text),
        json!(form)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_agent_sees_the_queue_live_claims_replies_and_reads_customer_text_as_text() {
    let gw = TestGateway::start().await;
    gw.add_agent(
        "ann",
        "correct horse battery",
        frontdesk::model::Role::Agent,
    )
    .await;
    let mut browser = Browser::launch().await;

    // The agent signs in.
    let console = sign_in_to_console(&gw, &mut browser).await;
    browser
        .wait_for(
            &console,
            "!document.getElementById('live').classList.contains('off')",
            WAIT,
        )
        .await;
    assert_eq!(
        browser
            .eval(&console, "document.querySelectorAll('.conv').length")
            .await,
        json!(0)
    );

    // A customer writes on the demo page; the console shows it without a reload.
    let chat = browser.open(&gw.url("/")).await;
    browser
        .wait_for(
            &chat,
            "document.querySelector('.fd-status')?.textContent === 'Online'",
            WAIT,
        )
        .await;
    browser
        .eval(
            &chat,
            &fill_and_submit(".fd-input", "My new table has a deep scratch", ".fd-form"),
        )
        .await;
    browser
        .wait_for(&console, "[...document.querySelectorAll('.conv .preview')].some(p => p.textContent.includes('deep scratch'))", WAIT)
        .await;

    // The agent opens it, claims it and replies.
    browser
        .eval(&console, "document.querySelector('.conv').click(); true")
        .await;
    browser
        .wait_for(
            &console,
            "!document.getElementById('conversation').hidden",
            WAIT,
        )
        .await;
    browser
        .wait_for(
            &console,
            "!document.querySelector('[data-action=claim]').disabled",
            WAIT,
        )
        .await;
    browser
        .eval(
            &console,
            "document.querySelector('[data-action=claim]').click(); true",
        )
        .await;
    browser
        .wait_for(
            &console,
            "document.getElementById('conv-meta').textContent.includes('assigned · ann')",
            WAIT,
        )
        .await;
    browser
        .eval(
            &console,
            &fill_and_submit(
                "#text",
                "So sorry! We will send a replacement top today.",
                "#composer",
            ),
        )
        .await;

    // The customer's chat shows the agent's reply.
    browser
        .wait_for(
            &chat,
            &format!(
                "{}.some(b => b.textContent.includes('replacement top'))",
                bubbles("agent")
            ),
            WAIT,
        )
        .await;

    // The customer answers with markup; the console shows it live, as text.
    let payload = "Thanks! <img src=x onerror=\"window.__xss = 1\">";
    browser
        .eval(&chat, &fill_and_submit(".fd-input", payload, ".fd-form"))
        .await;
    browser
        .wait_for(&console, &format!("[...document.querySelectorAll('.msg.customer .body')].some(b => b.textContent === {})", json!(payload)), WAIT)
        .await;
    let injected = browser
        .eval(
            &console,
            "document.querySelectorAll('#transcript img').length + (window.__xss ? 100 : 0)",
        )
        .await;
    assert_eq!(
        injected,
        json!(0),
        "customer text became markup in the console"
    );
    browser
        .eval(
            &console,
            "document.querySelector('input[value=note]').click(); true",
        )
        .await;
    browser
        .eval(
            &console,
            &fill_and_submit(
                "#text",
                "Replacement ordered from the warehouse, ref W-118.",
                "#composer",
            ),
        )
        .await;
    browser
        .wait_for(
            &console,
            "document.querySelectorAll('.msg.note').length === 1",
            WAIT,
        )
        .await;
    // Tagging the customer: typed in any case, stored lowercase, shown
    // back in the field once saved.
    browser
        .eval(
            &console,
            &fill_and_submit("#tags", "VIP, reseller", "#tags-form"),
        )
        .await;
    browser
        .wait_for(
            &console,
            "document.getElementById('tags').value === 'reseller, vip'",
            WAIT,
        )
        .await;
    let shot = browser.screenshot(&console, "agent-console").await;
    println!("screenshot: {}", shot.display());
    // The tabs stay on one line, counts and all.
    let tab_rows = browser
        .eval(
            &console,
            "new Set([...document.querySelectorAll('#tabs button')].map(b => b.offsetTop)).size",
        )
        .await;
    assert_eq!(tab_rows, json!(1), "the tabs wrapped");

    // At a phone's width the console is one column: nothing wider than the
    // screen, messages and the reply box at a readable width.
    browser.set_viewport(&console, Some((390, 844)), true).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let layout = browser
        .eval(
            &console,
            "({ page: document.documentElement.scrollWidth, transcript: document.getElementById('transcript').getBoundingClientRect().width, reply: document.getElementById('text').getBoundingClientRect().width })",
        )
        .await;
    assert!(
        layout["page"].as_f64().is_some_and(|w| w <= 390.0),
        "{layout}"
    );
    assert!(
        layout["reply"].as_f64().is_some_and(|w| w >= 300.0),
        "{layout}"
    );
    assert!(
        layout["transcript"].as_f64().is_some_and(|w| w >= 360.0),
        "{layout}"
    );
    let shot = browser.screenshot(&console, "agent-console-phone").await;
    println!("screenshot: {}", shot.display());
    browser.set_viewport(&console, None, false).await;

    // Resolved, it cannot be claimed again from the console (a reply or
    // the customer reopens it).
    browser
        .eval(
            &console,
            "document.querySelector('.actions [data-action=resolve]').click(); true",
        )
        .await;
    browser
        .wait_for(
            &console,
            "document.getElementById('conv-meta').textContent.includes('resolved')",
            WAIT,
        )
        .await;
    let claim_disabled = browser
        .eval(
            &console,
            "document.querySelector('.actions [data-action=claim]').disabled",
        )
        .await;
    assert_eq!(
        claim_disabled,
        json!(true),
        "Claim is offered on a resolved conversation"
    );
    let note_in_chat = browser
        .eval(
            &chat,
            "document.querySelector('.fd-log').textContent.includes('W-118')",
        )
        .await;
    assert_eq!(
        note_in_chat,
        json!(false),
        "an internal note reached the customer"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reports_page_shows_the_week_in_figures_and_a_chart() {
    let gw = TestGateway::start_with(|c| c.sla = Some(crate::support::sla(30))).await;
    gw.add_agent(
        "ann",
        "correct horse battery",
        frontdesk::model::Role::Agent,
    )
    .await;
    // Two web conversations: one answered by the bot, one waiting.
    let s = gw.session().await;
    gw.post(&s, "1", "Where is my order?").await;
    gw.wait_for_messages(&s, 2).await;
    let t = gw.session().await;
    gw.post(&t, "1", "my lamp flickers").await;
    gw.wait_for_messages(&t, 2).await;

    let mut browser = Browser::launch().await;
    let console = sign_in_to_console(&gw, &mut browser).await;
    browser
        .eval(
            &console,
            "document.getElementById('show-reports').click(); true",
        )
        .await;
    browser
        .wait_for(
            &console,
            "document.querySelectorAll('#kpis .kpi').length === 13",
            WAIT,
        )
        .await;
    let figures = browser
        .eval(
            &console,
            "[...document.querySelectorAll('#kpis .kpi')].slice(0, 3).map(k => k.querySelector('.kpi-value').textContent)",
        )
        .await;
    assert_eq!(
        figures,
        json!(["2", "1", "50%"]),
        "conversations, handed to people, bot resolution"
    );
    browser
        .wait_for(
            &console,
            "document.getElementById('reports-live').textContent.includes('1 waiting')",
            WAIT,
        )
        .await;
    // Live: an agent claiming the waiting one shows at once.
    let waiting = gw
        .store()
        .waiting_queue(1)
        .await
        .expect("queue")
        .first()
        .copied()
        .expect("one waiting");
    let ann = gw.login("ann", "correct horse battery").await;
    let (status, _) = gw
        .agent_call(
            &ann,
            reqwest::Method::POST,
            &format!("/conversations/{waiting}/claim"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    browser
        .wait_for(
            &console,
            "document.getElementById('reports-live').textContent.includes('1 assigned, 0 pending · agents: ann 1')",
            WAIT,
        )
        .await;
    let bars = browser
        .eval(
            &console,
            "document.querySelectorAll('#by-channel rect').length",
        )
        .await;
    assert_eq!(bars, json!(1), "one bar: web");
    let days = browser
        .eval(
            &console,
            "document.querySelectorAll('#day-table tr').length",
        )
        .await;
    assert_eq!(days, json!(2), "a header and today");
    // The staffing forecast: 7 days of 24 hours; the one hand-off's hour
    // has no handling time measured yet, the others need no one.
    browser
        .wait_for(
            &console,
            "document.querySelectorAll('#staffing tr').length === 8",
            WAIT,
        )
        .await;
    let cells = browser
        .eval(
            &console,
            "[...document.querySelectorAll('#staffing td')].map(td => td.textContent).filter(t => t !== '0')",
        )
        .await;
    assert_eq!(cells, json!(["?"]), "{cells}");
    let note = browser
        .eval(
            &console,
            "document.getElementById('staffing-note').textContent",
        )
        .await;
    assert!(
        note.as_str()
            .is_some_and(|n| n.contains("80% within 30 min") && n.contains("no handling time")),
        "{note}"
    );
    let shot = browser.screenshot(&console, "reports").await;
    println!("screenshot: {}", shot.display());
}
