//! The gateway's side of the control socket: accepts connections in the
//! data folder and runs each request on the gateway's store, on a blocking
//! thread (a backup holds the sled writer for as long as it reads).

use super::protocol::{DONE, FAILED, MAX_REQUEST_BYTES, OUTPUT, Request};
use super::{ControlError, socket_dir, socket_path};
use crate::store::Store;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// A client that stops reading or writing for this long is dropped, so a
/// stalled backup cannot hold the store's writer.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
/// Requests run at once; more get an error.
const MAX_AT_ONCE: usize = 4;

/// The socket while the gateway serves it; dropping it stops accepting and
/// removes the socket file.
pub struct ControlSocket {
    path: PathBuf,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        self.accept.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Serves the control socket of `data_dir` (which this process holds).
pub fn serve(data_dir: &Path, store: Arc<dyn Store>) -> std::io::Result<ControlSocket> {
    let dir = socket_dir(data_dir);
    std::fs::create_dir_all(&dir)?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
    let path = socket_path(data_dir);
    // A socket left by a process that died: this one holds the folder now.
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let listener = tokio::net::UnixListener::bind(&path)?;
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_AT_ONCE));
    let accept = tokio::spawn(async move {
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "The control socket cannot accept.");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let slot = slots.clone().try_acquire_owned().ok();
            let store = store.clone();
            let runtime = tokio::runtime::Handle::current();
            let Ok(stream) = stream.into_std() else {
                continue;
            };
            tokio::task::spawn_blocking(move || {
                let _slot = slot.as_ref();
                let busy = slot.is_none();
                if let Err(error) = answer(stream, busy, store.as_ref(), &runtime) {
                    tracing::debug!(%error, "A control client went away.");
                }
            });
        }
    });
    Ok(ControlSocket { path, accept })
}

/// Reads one request from `stream`, runs it, and writes the answer.
fn answer(
    stream: std::os::unix::net::UnixStream,
    busy: bool,
    store: &dyn Store,
    runtime: &tokio::runtime::Handle,
) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    let mut writer = std::io::BufWriter::new(stream.try_clone()?);
    if busy {
        return finish(
            &mut writer,
            Err("the gateway is running other commands; try again".into()),
        );
    }
    let mut line = String::new();
    let mut reader = BufReader::new(stream.take(MAX_REQUEST_BYTES as u64 + 1));
    let request = match reader.read_line(&mut line) {
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            Err("the request is not UTF-8 text".to_string())
        }
        Err(e) => return Err(e),
        Ok(_) if !line.ends_with('\n') => Err(format!(
            "the request must be one line of JSON, at most {MAX_REQUEST_BYTES} bytes"
        )),
        Ok(_) => serde_json::from_str::<Request>(&line)
            .map_err(|e| format!("not a control request: {e}")),
    };
    let request = match request {
        Ok(request) => request,
        Err(refused) => {
            finish(&mut writer, Err(refused))?;
            // Read what is left (a little), so closing does not reset the
            // connection before the client reads the answer.
            let mut rest = reader
                .into_inner()
                .into_inner()
                .take(MAX_REQUEST_BYTES as u64);
            let _ = std::io::copy(&mut rest, &mut std::io::sink());
            return Ok(());
        }
    };
    let done = runtime.block_on(super::run(store, request, &mut |output: &str| {
        writeln!(writer, "{OUTPUT}{output}").map_err(ControlError::Output)
    }));
    finish(&mut writer, done.map_err(|e| e.to_string()))
}

/// Writes the last line: success, or the error in one line.
fn finish(writer: &mut impl Write, done: Result<(), String>) -> std::io::Result<()> {
    match done {
        Ok(()) => writeln!(writer, "{DONE}")?,
        Err(error) => writeln!(writer, "{FAILED}{}", error.replace('\n', " "))?,
    }
    writer.flush()
}
