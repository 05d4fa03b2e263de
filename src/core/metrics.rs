//! Counters for operators, served as Prometheus text on `GET /metrics`.
//!
//! One recorder for the process (the `metrics` crate's macros report to a
//! global one), installed at the first gateway start; every gateway in the
//! process shares it. What is counted carries no message text and no
//! addresses: channels, reasons and states only.
//!
//! - `frontdesk_messages_received_total{channel}`: customer messages taken in
//!   (duplicates not counted).
//! - `frontdesk_replies_delivered_total{channel,reason}` and
//!   `frontdesk_deliveries_failed_total{channel}`.
//! - `frontdesk_pickup_wait_seconds`: how long conversations waited for an
//!   agent (a summary).
//! - `frontdesk_sla_events_total{state}`: deadlines near and breached.
//! - `frontdesk_conversations{status}`: conversations waiting, assigned and
//!   pending, read from the store at each scrape.

use crate::model::{ChannelKind, ConversationStatus, OutboundReason};
use crate::store::{Store, StoreError};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the recorder once; later calls reuse it. `None` if another
/// recorder was installed first (an embedding program's own).
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| match PrometheusBuilder::new().install_recorder() {
            Ok(handle) => Some(handle),
            Err(error) => {
                tracing::warn!(%error, "Metrics are off: another recorder is installed.");
                None
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
    Ok(handle.render())
}
