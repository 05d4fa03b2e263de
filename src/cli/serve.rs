//! `frontdesk serve` and `check-config`: run the gateway until a signal,
//! starting it again after a storage failure; validate a config.

use anyhow::{Context, Result};
use frontdesk::app;
use frontdesk::config::{Config, FirstAdmin, LogFormat};
use std::io::Write;
use std::path::Path;
/// Logs to standard output: `[log] format = "json"` writes one JSON
/// object a line; text is colored only for a person at a terminal (a log
/// file or a journal gets plain text, and `NO_COLOR` turns color off).
/// `RUST_LOG` chooses what is logged (default `info`).
pub(super) fn init_logging(format: LogFormat) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logger = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    match format {
        LogFormat::Json => logger
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init(),
        LogFormat::Text => {
            let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            logger.with_ansi(color).init()
        }
    }
}

/// Seconds between attempts to start again after the store failed.
const RESTART_SECS: u64 = 5;

/// Runs the gateway until a signal. If its store fails while it runs (a
/// full disk), the gateway stops, having acknowledged nothing it could not
/// store, and starts again as soon as the store opens (when there is room
/// again), on the same address. After an erasure on sled it restarts at
/// once, so that opening the store removes the erased data from its files
/// (see `store::sled::compact`). A first start that fails is an error.
pub(super) fn serve(mut config: Config) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let mut signal = std::pin::pin!(wait_for_signal());
        let mut gateway = app::start(config.clone()).await?;
        config.server.listen = gateway.addr;
        loop {
            // Why it stops, how long it waits before starting again, and
            // what it says once it has.
            let (mut wait, started_again) = tokio::select! {
                _ = &mut signal => {
                    tracing::info!("Stopping on signal.");
                    gateway.stop().await;
                    return Ok(());
                }
                failure = gateway.storage_failure() => {
                    tracing::error!(%failure, "The store cannot write (is the disk full?). Stopping: nothing more is acknowledged, and nothing acknowledged is lost. Frontdesk starts again once the store opens.");
                    (RESTART_SECS, "Started again after the storage failure.")
                }
                _ = gateway.compaction_due() => {
                    tracing::info!("Restarting to remove erased data from the data folder's files.");
                    (0, "Started again without the erased data.")
                }
            };
            gateway.stop().await;
            gateway = loop {
                tokio::select! {
                    _ = &mut signal => return Ok(()),
                    _ = tokio::time::sleep(std::time::Duration::from_secs(wait)) => {}
                }
                wait = RESTART_SECS;
                match app::start(config.clone()).await {
                    Ok(gateway) => {
                        tracing::info!("{started_again}");
                        break gateway;
                    }
                    Err(error) => tracing::warn!(%error, retry_in_secs = RESTART_SECS, "Cannot start again yet."),
                }
            };
        }
    })
}

/// Environment variables that create the first admin on a desk with no
/// agents (an unattended install); ignored once any agent exists.
const FIRST_ADMIN_NAME: &str = "FRONTDESK_ADMIN_USER";
const FIRST_ADMIN_PASSWORD: &str = "FRONTDESK_ADMIN_PASSWORD";

/// The first admin the environment asks for, if any.
pub(super) fn first_admin_from_env() -> Option<FirstAdmin> {
    let password = std::env::var(FIRST_ADMIN_PASSWORD).ok()?;
    let name = std::env::var(FIRST_ADMIN_NAME).unwrap_or_else(|_| "admin".into());
    Some(FirstAdmin { name, password })
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

pub(super) fn check_config(path: Option<&Path>) -> Result<()> {
    let config = Config::load(path)?;
    // Loading renders every template with sample values.
    let (intents, templates) = app::load_rules(&config)?;
    let rendered = templates.len();
    out!(
        "{}: OK ({} intents, {} patterns, {} templates in {})",
        config.source,
        intents.intents().len(),
        intents.pattern_count(),
        rendered,
        templates
            .locales()
            .iter()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}
