//! The command line's side of the control socket: sends one request to the
//! gateway that holds the sled folder, and hands its output lines on.

use anyhow::{Context, Result, bail};
use frontdesk::control::Request;
use frontdesk::control::protocol::{ReplyLine, reply_line};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

/// The gateway serving the control socket of `data_dir`, if one runs (a
/// socket file left by a gateway that died refuses the connection).
pub(super) fn running_gateway(data_dir: &Path) -> Option<UnixStream> {
    UnixStream::connect(frontdesk::control::socket_path(data_dir)).ok()
}

/// Runs `request` in the gateway at the other end of `stream`; each output
/// line goes to `out`. Fails with the gateway's error, or if the answer
/// stops before the gateway said it was done.
pub(super) fn send(
    stream: UnixStream,
    request: &Request,
    out: &mut dyn FnMut(&str) -> Result<()>,
) -> Result<()> {
    let mut writer = &stream;
    let line = serde_json::to_string(request).context("cannot encode the request")?;
    writeln!(writer, "{line}").context("cannot send the request to the gateway")?;
    for line in BufReader::new(&stream).lines() {
        let line = line.context("the connection to the gateway broke")?;
        match reply_line(&line) {
            Some(ReplyLine::Output(text)) => out(text)?,
            Some(ReplyLine::Done) => return Ok(()),
            Some(ReplyLine::Failed(error)) => bail!("{error}"),
            None => bail!("the gateway answered something unexpected: {line:?}"),
        }
    }
    bail!("the gateway stopped answering before the command finished")
}
