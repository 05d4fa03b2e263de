//! The agent API over real HTTP: sign-in, every route closed without
//! credentials, CSRF, the claim race, replies reaching the customer, notes
//! never reaching them, the bot's silence while a human owns the
//! conversation, reopening, canned responses and live events.

use crate::support::{AgentLogin, TestGateway, lines};
use chrono::{Datelike, Timelike, Utc};
use frontdesk::conversation::{intake::take_in, turn::after_turn};
use frontdesk::model::{
    CustomerAddress, InboundMessage, OutboundReason, OutboxEntry, OutboxId, Role,
};
use frontdesk::store::{NewConversation, PendingTurn, TurnOutcome};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

const PASSWORD: &str = "correct horse battery";

async fn gateway_with_agents() -> (TestGateway, AgentLogin, AgentLogin, AgentLogin) {
    let gw = TestGateway::start().await;
    gw.add_agent("ann", PASSWORD, Role::Agent).await;
    gw.add_agent("bob", PASSWORD, Role::Agent).await;
    gw.add_agent("boss", PASSWORD, Role::Admin).await;
    let ann = gw.login("ann", PASSWORD).await;
    let bob = gw.login("bob", PASSWORD).await;
    let boss = gw.login("boss", PASSWORD).await;
    (gw, ann, bob, boss)
}

/// A web chat customer with an unanswerable question: a waiting conversation.
async fn waiting_customer(gw: &TestGateway, text: &str) -> (String, String) {
    let session = gw.session().await;
    let (_, receipt) = gw.post(&session, "q1", text).await;
    gw.wait_for_messages(&session, 2).await;
    (
        session,
        receipt["conversation_id"].as_str().expect("id").to_string(),
    )
}

mod access;
mod messages;
mod ownership;
mod reports;
mod service_levels;
