//! The data folder from the command line: open the store, wait for its
//! writes, and `export` / `import` it as JSON lines.

use anyhow::{Context, Result, bail};
use frontdesk::config::Config;
use frontdesk::store::sled::SledStore;
use frontdesk::store::{ConversationStore, ExportRecord, Store};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

/// Runs one store call to its end, outside any runtime (the sled store
/// answers at once; only `sync` waits, for its flush).
pub(super) fn block_on<F: std::future::Future>(future: F) -> Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .context("cannot start the async runtime")?;
    Ok(runtime.block_on(future))
}

/// Waits for the store's writes to be durable.
pub(super) fn sync(store: &SledStore) -> Result<()> {
    block_on(store.sync())??;
    Ok(())
}

pub(super) fn open_store(config: Option<&Path>, data: Option<PathBuf>) -> Result<SledStore> {
    let config = Config::load(config)?;
    let dir = data.unwrap_or(config.server.data_dir);
    if !dir.exists() {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    Ok(SledStore::open(&dir)?)
}

pub(super) fn export(store: &SledStore, out: &Path) -> Result<()> {
    let file =
        std::fs::File::create(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut writer = std::io::BufWriter::new(file);
    let mut count = 0u64;
    block_on(store.export(&mut |record| {
        let line = serde_json::to_string(&record)
            .map_err(|e| frontdesk::store::StoreError::Io(Box::new(e)))?;
        writeln!(writer, "{line}").map_err(|e| frontdesk::store::StoreError::Io(Box::new(e)))?;
        count += 1;
        Ok(())
    }))??;
    writer.flush().context("cannot write the export")?;
    writer
        .get_ref()
        .sync_all()
        .context("cannot sync the export")?;
    out!("exported {count} records to {}", out.display());
    Ok(())
}

pub(super) fn import(store: &SledStore, file: &Path) -> Result<()> {
    if block_on(store.conversation_count())?? > 0 {
        bail!("the data folder already holds conversations; import into an empty one");
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
        block_on(store.import(record))??;
        count += 1;
    }
    sync(store)?;
    out!("imported {count} records from {}", file.display());
    Ok(())
}
