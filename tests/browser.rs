//! The widget in a real browser: the demo page a newcomer opens after
//! `frontdesk serve` gets a question answered, shows customer text as text,
//! and keeps the conversation across a reload.

use crate::support::TestGateway;
use crate::support::browser::Browser;
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
    let page = browser.open(&gw.url("/")).await;
    browser
        .wait_for(
            &page,
            "document.querySelector('.fd-status')?.textContent === 'Online'",
            WAIT,
        )
        .await;

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
    let queue = gw.store().waiting_queue(10).expect("queue");
    assert_eq!(queue.len(), 1, "the unknown question was handed off");
    let messages = gw
        .store()
        .messages_after(queue[0], 0, 10)
        .expect("messages");
    assert_eq!(messages.len(), 4);
}
