//! Web chat over real HTTP and WebSocket: answers, hand-offs, languages,
//! duplicates, reconnects and the errors clients get.

use crate::support::{TestGateway, lines};
use frontdesk::core::dispatcher::AckPolicy;
use frontdesk::model::ConversationStatus;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message as Frame;

mod abuse;
mod answers;
mod transport;
