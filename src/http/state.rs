//! The state every HTTP handler shares: the services of the message path,
//! the config, throttles and the stop signal, built once at start-up.

use crate::config::Config;
use crate::core::agents::LoginThrottle;
use crate::core::conversations::Conversations;
use crate::core::dispatcher::Rules;
use crate::core::events::Events;
use crate::core::inbox::Inbox;
use crate::core::live::LiveUpdates;
use crate::core::outbox::Outbox;
use crate::core::shutdown::Shutdown;
use crate::store::Store;
use std::sync::Arc;

/// State shared by every HTTP handler.
pub struct App {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub inbox: Inbox,
    pub outbox: Outbox,
    /// Applies agents' changes to conversations and publishes them.
    pub conversations: Conversations,
    pub rules: Arc<Rules>,
    pub live: Arc<LiveUpdates>,
    /// Places in line of the waiting conversations, kept current.
    pub places: tokio::sync::watch::Receiver<crate::core::queue_view::Places>,
    pub events: Arc<Events>,
    pub login_throttle: LoginThrottle,
    /// Chat messages per session, and chat requests per client address.
    pub session_throttle: crate::http::throttle::Throttle<uuid::Uuid>,
    pub address_throttle: crate::http::throttle::Throttle<std::net::IpAddr>,
    /// The Telegram bot client, when the channel is configured.
    pub telegram: Option<teloxide::Bot>,
    /// Turns true when the gateway stops, so long polls and sockets end.
    pub shutdown: Shutdown,
}

impl App {
    /// The time zone reports count days and hours in: the business hours'
    /// zone, else UTC.
    pub fn report_zone(&self) -> chrono_tz::Tz {
        self.rules
            .hours
            .as_ref()
            .map_or(chrono_tz::UTC, |h| h.zone())
    }

    /// Why the gateway cannot serve right now, if it cannot.
    pub async fn readiness(&self) -> Result<(), String> {
        if self.shutdown.is_stopped() {
            return Err("shutting down".into());
        }
        if let Some(failure) = self.store.failure() {
            return Err(format!("storage failed: {failure}"));
        }
        self.store
            .next_outbox_due()
            .await
            .map(|_| ())
            .map_err(|e| format!("{} store: {e}", self.store.backend()))
    }
}
