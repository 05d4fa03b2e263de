//! The control socket: commands for a desk whose sled folder a running
//! gateway holds. `frontdesk agent …` and `frontdesk backup` open the store
//! themselves when they can; when a gateway holds the folder, they send
//! the same [`Request`] over a Unix socket in the data folder, and the
//! gateway runs it on its own store ([`commands::run`] either way).
//!
//! The socket sits in a folder only its owner may enter, so whoever can
//! use it could read the data folder anyway. On PostgreSQL every command
//! opens the shared database itself, and no socket is served.

pub mod commands;
pub mod protocol;
pub mod server;

pub use commands::{ControlError, run};
pub use protocol::Request;

use std::path::{Path, PathBuf};

/// The folder (mode 0700) holding the socket, inside the data folder.
pub fn socket_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("control")
}

/// Where a gateway serving `data_dir` listens for commands.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    socket_dir(data_dir).join("frontdesk.sock")
}
