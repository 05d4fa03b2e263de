//! The configured store from the command line (a sled data folder, or a
//! PostgreSQL database): open it, or reach the gateway that holds it;
//! bring its schema up to date; `backup` / `import` it as JSON lines.

use anyhow::{Context, Result, bail};
use frontdesk::config::Config;
use frontdesk::control::{self, ControlError, Request};
use frontdesk::store::postgres::PgStore;
use frontdesk::store::sled::SledStore;
use frontdesk::store::{ExportRecord, Store, StoreConfig};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Runs `body` on the configured store inside one runtime (a database
/// pool lives on the runtime that opened it).
pub(super) fn with_store<T>(
    config: Option<&Path>,
    data: Option<PathBuf>,
    body: impl AsyncFnOnce(&dyn Store) -> Result<T>,
) -> Result<T> {
    let config = Config::load(config)?;
    runtime()?.block_on(async {
        let store = open_store(&config, data).await?;
        body(store.as_ref()).await
    })
}

/// Runs a control `request` in the gateway that holds the configured sled
/// folder, over its control socket, or else on the configured store
/// itself. Each output line goes to `out`.
pub(super) fn execute(
    config: Option<&Path>,
    data: Option<PathBuf>,
    request: Request,
    out: &mut (dyn FnMut(&str) -> Result<()> + Send),
) -> Result<()> {
    let loaded = Config::load(config)?;
    if let StoreConfig::Sled(_) = loaded.store {
        let dir = data
            .clone()
            .unwrap_or_else(|| loaded.server.data_dir.clone());
        if let Some(gateway) = super::remote::running_gateway(&dir) {
            return super::remote::send(gateway, &request, out);
        }
    }
    runtime()?.block_on(async {
        let store = open_store(&loaded, data.clone()).await?;
        let mut failed = None;
        let result = control::run(store.as_ref(), request, &mut |line| {
            out(line).map_err(|e| {
                let message = format!("{e:#}");
                failed = Some(e);
                ControlError::Refused(message)
            })
        })
        .await;
        // Opening the folder again removes what an erasure left in sled's
        // files (see `compact`).
        if store.compaction_due() {
            drop(store);
            open_store(&loaded, data).await?;
        }
        match (result, failed) {
            (_, Some(error)) => Err(error),
            (Err(error), None) => Err(error.into()),
            (Ok(()), None) => Ok(()),
        }
    })
}

/// The runtime a command's store calls run on.
fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// The store `config` names; `data` overrides the sled data folder.
async fn open_store(config: &Config, data: Option<PathBuf>) -> Result<Arc<dyn Store>> {
    match &config.store {
        StoreConfig::Sled(_) => {
            let dir = data.unwrap_or_else(|| config.server.data_dir.clone());
            if !dir.exists() {
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            Ok(Arc::new(SledStore::open(&dir)?))
        }
        StoreConfig::Postgres(pg) => {
            if data.is_some() {
                bail!("--data names a sled folder, but [store] backend is \"postgres\"");
            }
            Ok(Arc::new(PgStore::connect(pg).await?))
        }
    }
}

/// `frontdesk migrate`: brings the configured store's schema up to this
/// build's (the gateway does so at start too).
pub(super) fn migrate(config: Option<&Path>, data: Option<PathBuf>) -> Result<()> {
    let loaded = Config::load(config)?;
    match &loaded.store {
        StoreConfig::Sled(_) => {
            with_store(config, data, async |_| Ok(()))?;
            out!(
                "the sled store is at schema {}",
                frontdesk::store::SCHEMA_VERSION
            );
        }
        StoreConfig::Postgres(pg) => {
            let version = runtime()?.block_on(async {
                let store = PgStore::open(pg)?;
                store.migrate().await?;
                store.schema_version().await
            })?;
            out!("the database is at schema {version}");
        }
    }
    Ok(())
}

/// `frontdesk backup --out FILE`: every record as of one moment, written
/// to a file beside `out` first and renamed over it once complete, so a
/// backup that fails midway never looks like a good one.
pub(super) fn backup(config: Option<&Path>, data: Option<PathBuf>, out: &Path) -> Result<()> {
    let partial = out.with_extension("partial");
    let file = std::fs::File::create(&partial)
        .with_context(|| format!("cannot create {}", partial.display()))?;
    let mut writer = std::io::BufWriter::new(file);
    let mut count = 0u64;
    let written = execute(config, data, Request::Backup, &mut |line| {
        writeln!(writer, "{line}").context("cannot write the backup")?;
        count += 1;
        Ok(())
    })
    .and_then(|()| {
        let file = writer.into_inner().context("cannot write the backup")?;
        file.sync_all().context("cannot sync the backup")
    });
    if let Err(error) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(error);
    }
    std::fs::rename(&partial, out)
        .with_context(|| format!("cannot rename {} to {}", partial.display(), out.display()))?;
    out!("backed up {count} records to {}", out.display());
    Ok(())
}

pub(super) async fn import(store: &dyn Store, file: &Path) -> Result<()> {
    if store.conversation_count().await? > 0 {
        bail!("the store already holds conversations; import into an empty one");
    }
    let reader = std::io::BufReader::new(
        std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?,
    );
    let mut count = 0u64;
    for (index, line) in reader.lines().enumerate() {
        let line =
            line.with_context(|| format!("{}: cannot read line {}", file.display(), index + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let record: ExportRecord = serde_json::from_str(&line)
            .with_context(|| format!("{}:{}: not an export record", file.display(), index + 1))?;
        store.import(record).await?;
        count += 1;
    }
    store.sync().await?;
    out!("imported {count} records from {}", file.display());
    Ok(())
}
