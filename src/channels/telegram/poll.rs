//! The polling loop: `getUpdates` with an offset, each update taken in
//! durably, then the new offset saved and used for the next poll, which is
//! what confirms the batch to Telegram. A crash anywhere re-reads updates
//! we may already have; the dedupe key makes that harmless. Network errors
//! back off up to a minute; a storage failure leaves the offset where it
//! was, so Telegram keeps the updates.

use super::parse::{self, Parsed};
use crate::core::inbox::Inbox;
use crate::core::shutdown::Shutdown;
use crate::store::Store;
use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Duration;
use teloxide::Bot;
use teloxide::payloads::GetUpdatesSetters;
use teloxide::prelude::Requester;
use teloxide::types::AllowedUpdate;

const CURSOR: &str = "telegram.offset";
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Takes in one update. Err means it is not stored and must be re-read.
pub async fn take_in(
    bot: &Bot,
    inbox: &Inbox,
    update: &teloxide::types::Update,
) -> Result<(), String> {
    match parse::parse(update) {
        Parsed::Message(inbound) => {
            inbox.accept(inbound).await.map_err(|e| e.to_string())?;
        }
        Parsed::Button {
            inbound,
            callback_id,
        } => {
            inbox.accept(inbound).await.map_err(|e| e.to_string())?;
            // Stops the button's spinner; the reply comes as a message.
            if let Err(error) = bot
                .answer_callback_query(teloxide::types::CallbackQueryId(callback_id))
                .await
            {
                tracing::warn!(%error, "Could not answer a Telegram button press.");
            }
        }
        Parsed::Ignore(why) => {
            tracing::debug!(update_id = update.id.0, why, "Ignored a Telegram update.")
        }
    }
    Ok(())
}

pub async fn run(
    bot: Bot,
    inbox: Inbox,
    store: Arc<dyn Store>,
    timeout_secs: u32,
    mut shutdown: Shutdown,
) {
    let mut offset = match store.cursor(CURSOR).await {
        Ok(saved) => saved.unwrap_or(0),
        Err(error) => {
            tracing::error!(%error, "Cannot read the Telegram offset; starting from what Telegram still holds.");
            0
        }
    };
    let mut backoff = Duration::from_secs(1);
    loop {
        let request = bot
            .get_updates()
            .offset(offset as i32)
            .timeout(timeout_secs)
            .allowed_updates([
                AllowedUpdate::Message,
                AllowedUpdate::EditedMessage,
                AllowedUpdate::CallbackQuery,
            ]);
        let result = tokio::select! {
            result = request.into_future() => result,
            _ = shutdown.stopped() => return,
        };
        let stored = match result {
            Ok(updates) => {
                backoff = Duration::from_secs(1);
                let mut next = offset;
                let mut failed = None;
                for update in &updates {
                    if let Err(error) = take_in(&bot, &inbox, update).await {
                        tracing::error!(%error, update_id = update.id.0, "Could not store a Telegram update; Telegram keeps it and it is read again.");
                        failed = Some(error);
                        break;
                    }
                    next = next.max(i64::from(update.id.0) + 1);
                }
                if next != offset {
                    offset = next;
                    let saved = store.set_cursor(CURSOR, offset).await;
                    if let Err(error) = saved {
                        tracing::warn!(%error, "Could not save the Telegram offset; updates may be re-read.");
                    } else if let Err(error) = store.sync().await {
                        tracing::warn!(%error, "Could not flush the Telegram offset; updates may be re-read.");
                    }
                }
                failed
            }
            Err(error) => {
                tracing::warn!(%error, retry_in = ?backoff, "Telegram getUpdates failed.");
                Some(error.to_string())
            }
        };
        if stored.is_some() {
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = shutdown.stopped() => return,
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}
