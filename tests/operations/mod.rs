//! What operators rely on, through the built binary as they run it: agent
//! commands and backups while the gateway serves (the control socket), the
//! first admin from the environment, and the log's formats.

mod backup;
mod control;
mod dashboard;
mod erasure;
mod logs;
mod openapi;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs `frontdesk ARGS --data DIR`, with `stdin` as its standard input.
pub fn frontdesk(data: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_frontdesk"))
        .args(args)
        .arg("--data")
        .arg(data)
        .env_remove("FRONTDESK_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run frontdesk");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("frontdesk output")
}

/// Standard output and error together.
pub fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
