//! Measures for operators, served as Prometheus text on `GET /metrics`.
//!
//! One recorder for the process (the `metrics` crate's macros report to a
//! global one), installed at the first gateway start; every gateway in the
//! process shares it. What is counted carries no message text and no
//! addresses: channels, reasons and states only. Times are Prometheus
//! histograms (buckets from 5 ms to 3 days, [`BUCKETS`]), so quantiles are
//! computed where they are queried (`histogram_quantile`) and never decay.
//!
//! - `frontdesk_messages_received_total{channel}`: customer messages taken in
//!   (duplicates not counted).
//! - `frontdesk_intake_ack_seconds{channel}`: from a message's arrival to its
//!   acknowledgment (stored and flushed).
//! - `frontdesk_first_response_seconds{channel,by}`: `by="bot"`: from a
//!   conversation's first message to the automatic reply to it (queued
//!   durably); `by="agent"`: from the hand-off to a person to the first
//!   agent reply delivered, whatever `[sla]` says (as the reports count).
//! - `frontdesk_resolution_seconds{channel}`: from a conversation's first
//!   message to its resolution.
//! - `frontdesk_pickup_wait_seconds`: how long conversations waited in the
//!   queue for an agent.
//! - `frontdesk_deliveries_total{channel,outcome}`: delivery attempts by
//!   outcome: `delivered`, `retry`, `failed` (for good), `dropped`.
//! - `frontdesk_replies_delivered_total{channel,reason}` and
//!   `frontdesk_deliveries_failed_total{channel}`.
//! - `frontdesk_sla_events_total{state}`: deadlines near and breached.
//! - `frontdesk_conversations{status}`, `frontdesk_outbox_depth` and
//!   `frontdesk_outbox_oldest_due_seconds` (how late the most overdue
//!   delivery is): read from the store at each scrape.

use crate::model::{ChannelKind, ConversationStatus, OutboundReason};
use crate::store::{Store, StoreError};
use chrono::{DateTime, Utc};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

/// Histogram bucket bounds for every `_seconds` measure: from a fast
/// acknowledgment to a resolution days later.
pub const BUCKETS: [f64; 22] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
    1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0, 259200.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the recorder once; later calls reuse it. `None` if another
/// recorder was installed first (an embedding program's own).
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let installed = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &BUCKETS)
                .and_then(|builder| builder.install_recorder());
            match installed {
                Ok(handle) => {
                    describe();
                    Some(handle)
                }
                Err(error) => {
                    tracing::warn!(%error, "Metrics are off: another recorder is installed.");
                    None
                }
            }
        })
        .as_ref()
}

pub fn message_received(channel: ChannelKind) {
    metrics::counter!("frontdesk_messages_received_total", "channel" => channel.as_str())
        .increment(1);
}

pub fn reply_delivered(channel: ChannelKind, reason: OutboundReason) {
    let reason = match reason {
        OutboundReason::Receipt => "receipt",
        OutboundReason::Answer => "answer",
        OutboundReason::Handoff => "handoff",
        OutboundReason::Agent => "agent",
        OutboundReason::Survey => "survey",
    };
    metrics::counter!("frontdesk_replies_delivered_total", "channel" => channel.as_str(), "reason" => reason)
        .increment(1);
}

pub fn delivery_failed(channel: ChannelKind) {
    metrics::counter!("frontdesk_deliveries_failed_total", "channel" => channel.as_str())
        .increment(1);
}

/// The HELP line of every measure, and zero for the counters of rare
/// events, so that a dashboard's `rate()` has a series from the start.
fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "frontdesk_messages_received_total",
        "Customer messages taken in (duplicates not counted)."
    );
    describe_histogram!(
        "frontdesk_intake_ack_seconds",
        metrics::Unit::Seconds,
        "From a message's arrival to its acknowledgment (stored and flushed)."
    );
    describe_histogram!(
        "frontdesk_first_response_seconds",
        metrics::Unit::Seconds,
        "From a conversation's first message to the automatic reply (by=bot); from the hand-off to the first agent reply (by=agent)."
    );
    describe_histogram!(
        "frontdesk_resolution_seconds",
        metrics::Unit::Seconds,
        "From a conversation's first message to its resolution."
    );
    describe_histogram!(
        "frontdesk_pickup_wait_seconds",
        metrics::Unit::Seconds,
        "How long conversations waited in the queue for an agent."
    );
    describe_counter!(
        "frontdesk_deliveries_total",
        "Delivery attempts by outcome: delivered, retry, failed, dropped."
    );
    describe_counter!(
        "frontdesk_replies_delivered_total",
        "Replies delivered, by reason."
    );
    describe_counter!(
        "frontdesk_deliveries_failed_total",
        "Replies that could not be delivered for good."
    );
    describe_counter!(
        "frontdesk_sla_events_total",
        "First-response deadlines near and breached."
    );
    describe_gauge!("frontdesk_conversations", "Open conversations by status.");
    describe_gauge!("frontdesk_outbox_depth", "Deliveries waiting.");
    describe_gauge!(
        "frontdesk_outbox_oldest_due_seconds",
        metrics::Unit::Seconds,
        "How late the most overdue delivery is."
    );
    for state in ["near", "breached"] {
        metrics::counter!("frontdesk_sla_events_total", "state" => state).increment(0);
    }
}

/// Who answered first.
#[derive(Debug, Clone, Copy)]
pub enum Responder {
    Bot,
    Agent,
}

/// Seconds from `from` to `to`, never negative (clocks of two instances).
fn seconds(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    ((to - from).num_milliseconds().max(0)) as f64 / 1000.0
}

pub fn acknowledged(channel: ChannelKind, received_at: DateTime<Utc>, now: DateTime<Utc>) {
    metrics::histogram!("frontdesk_intake_ack_seconds", "channel" => channel.as_str())
        .record(seconds(received_at, now));
}

pub fn first_response(
    channel: ChannelKind,
    by: Responder,
    opened_at: DateTime<Utc>,
    now: DateTime<Utc>,
) {
    let by = match by {
        Responder::Bot => "bot",
        Responder::Agent => "agent",
    };
    metrics::histogram!("frontdesk_first_response_seconds", "channel" => channel.as_str(), "by" => by)
        .record(seconds(opened_at, now));
}

pub fn resolved(channel: ChannelKind, opened_at: DateTime<Utc>, now: DateTime<Utc>) {
    metrics::histogram!("frontdesk_resolution_seconds", "channel" => channel.as_str())
        .record(seconds(opened_at, now));
}

/// What became of one delivery attempt.
#[derive(Debug, Clone, Copy)]
pub enum Outcome {
    Delivered,
    Retry,
    Failed,
    Dropped,
}

pub fn delivery(channel: ChannelKind, outcome: Outcome) {
    let outcome = match outcome {
        Outcome::Delivered => "delivered",
        Outcome::Retry => "retry",
        Outcome::Failed => "failed",
        Outcome::Dropped => "dropped",
    };
    metrics::counter!("frontdesk_deliveries_total", "channel" => channel.as_str(), "outcome" => outcome)
        .increment(1);
}

pub fn picked_up(waited_secs: f64) {
    metrics::histogram!("frontdesk_pickup_wait_seconds").record(waited_secs);
}

pub fn sla_event(state: &'static str) {
    metrics::counter!("frontdesk_sla_events_total", "state" => state).increment(1);
}

/// The Prometheus text: the counters, and conversations per status now.
pub async fn render(store: &dyn Store) -> Result<String, StoreError> {
    let Some(handle) = install() else {
        return Ok(String::new());
    };
    // Counted from the indexes, and the open work only: bot and resolved
    // conversations pile up over the years.
    for status in [
        ConversationStatus::Waiting,
        ConversationStatus::Assigned,
        ConversationStatus::Pending,
    ] {
        let count = store.count_with_status(status).await?;
        let name = serde_json::to_value(status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        metrics::gauge!("frontdesk_conversations", "status" => name).set(count as f64);
    }
    let backlog = store.outbox_backlog().await?;
    metrics::gauge!("frontdesk_outbox_depth").set(backlog.depth as f64);
    let overdue = match backlog.oldest_due {
        Some(due) => seconds(due, Utc::now()),
        None => 0.0,
    };
    metrics::gauge!("frontdesk_outbox_oldest_due_seconds").set(overdue);
    Ok(handle.render())
}
