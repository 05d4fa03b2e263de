//! `[channels.email]`: the support mailbox, its IMAP and SMTP servers, and
//! the limits on what is read and answered.

use crate::core::channel::one_unconfirmed_send;
use serde::Deserialize;
use std::num::NonZeroUsize;
use std::path::PathBuf;

/// How a mail connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailSecurity {
    /// TLS from the first byte (IMAPS 993, SMTPS 465).
    Tls,
    /// Plain connection upgraded with STARTTLS (IMAP 143, submission 587).
    Starttls,
    /// No encryption: only for a server on this machine, unless
    /// `allow_insecure` says otherwise.
    Plain,
}

/// One mail server connection (IMAP or SMTP).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailServer {
    pub host: String,
    pub port: u16,
    pub security: MailSecurity,
    /// Login name; SMTP without it sends unauthenticated.
    pub username: Option<String>,
    /// Use `${ENV_VAR}`.
    pub password: Option<String>,
    /// Allows `security = "plain"` to a host that is not this machine.
    #[serde(default)]
    pub allow_insecure: bool,
    /// A PEM file of extra CA certificates to trust (a private CA).
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// The support address customers write to; replies come from it.
    pub address: String,
    /// Other addresses that deliver into the same mailbox (aliases). Mail
    /// from any of ours is never answered.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// The name shown beside the address in replies.
    pub from_name: Option<String>,
    pub imap: MailServer,
    pub smtp: MailServer,
    /// The folder read for new mail.
    #[serde(default = "default_mailbox")]
    pub mailbox: String,
    /// Seconds between checks when the server has no IDLE.
    #[serde(default = "default_email_poll")]
    pub poll_secs: u64,
    /// Attachments larger than this are listed but their content not kept.
    #[serde(default = "default_max_attachment")]
    pub max_attachment_bytes: u64,
    /// Mails larger than this are not downloaded: a person reads them in
    /// the mailbox.
    #[serde(default = "default_max_mail")]
    pub max_message_bytes: u64,
    /// Automatic replies one sender gets at most per `auto_reply_window_hours`.
    #[serde(default = "default_auto_reply_limit")]
    pub auto_reply_limit: u32,
    #[serde(default = "default_auto_reply_window")]
    pub auto_reply_window_hours: u32,
    /// Seconds one SMTP send may take before it counts as a transient failure.
    #[serde(default = "default_smtp_timeout")]
    pub send_timeout_secs: u64,
    /// Mails sent at once whose outcome a crash could leave unknown: each
    /// may go out again after a restart. 1 (the default) means at most one
    /// duplicate mail per crash; more send faster to a slow server.
    #[serde(default = "one_unconfirmed_send")]
    pub unconfirmed_sends: NonZeroUsize,
}

fn default_mailbox() -> String {
    "INBOX".into()
}
fn default_email_poll() -> u64 {
    60
}
fn default_max_attachment() -> u64 {
    10 << 20
}
fn default_max_mail() -> u64 {
    32 << 20
}
fn default_auto_reply_limit() -> u32 {
    3
}
fn default_auto_reply_window() -> u32 {
    24
}
fn default_smtp_timeout() -> u64 {
    30
}

impl EmailConfig {
    /// Every address of ours, lowercased.
    pub fn own_addresses(&self) -> Vec<String> {
        std::iter::once(&self.address)
            .chain(&self.aliases)
            .map(|a| a.trim().to_lowercase())
            .collect()
    }

    /// The domain of the support address (our Message-IDs end in it).
    pub fn domain(&self) -> &str {
        self.address
            .rsplit_once('@')
            .map_or("localhost", |(_, d)| d)
    }
}

/// A host name that means this machine.
pub fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
