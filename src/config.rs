//! Typed configuration: TOML, unknown keys rejected, `${ENV_VAR}` for secrets.
//!
//! With no file the embedded `config/frontdesk.toml` is used, so
//! `frontdesk serve` runs with no arguments. Section names mirror modules:
//! `[channels.web]` configures `channels::web`.

use crate::model::ChannelKind;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

/// The default configuration, compiled into the binary.
pub const EMBEDDED_DEFAULT: &str = include_str!("../config/frontdesk.toml");

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("{path}:{line}: environment variable `{var}` is not set")]
    MissingVar {
        path: String,
        line: usize,
        var: String,
    },
    #[error("{path}:{line}: environment variable `{var}` contains a newline, which is not allowed")]
    MultilineVar {
        path: String,
        line: usize,
        var: String,
    },
    #[error("{path}:{line}: unterminated `${{` (write `$$` for a literal dollar sign)")]
    Unterminated { path: String, line: usize },
    #[error("{path}: `{key}`: {message}")]
    Invalid {
        path: String,
        key: String,
        message: String,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    #[serde(default)]
    pub locale: LocaleConfig,
    /// Free-form values every template can use (`{{ company }}`, links, hours).
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    #[serde(default)]
    pub intents: SourceDir,
    #[serde(default)]
    pub templates: SourceDir,
    #[serde(default)]
    pub queue: QueueConfig,
    #[serde(default)]
    pub channels: ChannelsConfig,
    /// Customer segments and their queue priority (`[[segments]]`).
    #[serde(default)]
    pub segments: Vec<SegmentConfig>,
    /// First-response targets; without it nothing is tracked.
    pub sla: Option<SlaConfig>,
    /// When people answer; without it, always.
    pub business_hours: Option<BusinessHoursConfig>,
    /// Satisfaction questions after a resolution; without it, none.
    pub surveys: Option<SurveysConfig>,
    /// How the reports count (`[reports]`).
    #[serde(default)]
    pub reports: ReportsConfig,
    /// Where the config came from, for error messages.
    #[serde(skip)]
    pub source: String,
}

/// How the reports count.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportsConfig {
    /// A resolved conversation the customer reopens within this many hours
    /// was not resolved on first contact.
    #[serde(default = "default_reopen_window")]
    pub reopen_window_hours: u32,
    /// Weeks of measured arrivals the staffing forecast averages.
    #[serde(default = "default_staffing_weeks")]
    pub staffing_weeks: u32,
    /// The share of customers to answer within the first-response target
    /// (the staffing forecast's service level), e.g. 0.8 for 80/20.
    #[serde(default = "default_service_level")]
    pub service_level: f64,
}

impl Default for ReportsConfig {
    fn default() -> Self {
        Self {
            reopen_window_hours: default_reopen_window(),
            staffing_weeks: default_staffing_weeks(),
            service_level: default_service_level(),
        }
    }
}

fn default_reopen_window() -> u32 {
    72
}
fn default_staffing_weeks() -> u32 {
    4
}
fn default_service_level() -> f64 {
    0.8
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Largest HTTP request body accepted, in bytes.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// Seconds a client gets to send a request's headers; a slower one
    /// (or an idle keep-alive connection) is closed.
    #[serde(default = "default_client_timeout")]
    pub header_timeout_secs: u64,
    /// Seconds a client gets to send a request's body; a slower one gets
    /// 408.
    #[serde(default = "default_client_timeout")]
    pub body_timeout_secs: u64,
}

fn default_client_timeout() -> u64 {
    10
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_data_dir() -> PathBuf {
    PathBuf::from("data")
}
fn default_max_body() -> usize {
    64 * 1024
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocaleConfig {
    /// Used when the customer's language is not detected confidently.
    #[serde(default = "default_locale")]
    pub default: String,
}

impl Default for LocaleConfig {
    fn default() -> Self {
        Self {
            default: default_locale(),
        }
    }
}

fn default_locale() -> String {
    "en".into()
}

/// Where intents or templates come from: the set built into the binary, or
/// a folder on disk (relative paths from the working directory).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceDir {
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// Priority of a new conversation (higher is served first).
    #[serde(default)]
    pub default_priority: u8,
    /// Minutes an agent needs per waiting customer, for the expected wait
    /// quoted in the hand-off acknowledgment.
    #[serde(default = "default_minutes_per_customer")]
    pub minutes_per_customer: u32,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            default_priority: 0,
            minutes_per_customer: default_minutes_per_customer(),
        }
    }
}

fn default_minutes_per_customer() -> u32 {
    5
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelsConfig {
    #[serde(default)]
    pub web: WebConfig,
    /// Present when the gateway runs a Telegram bot.
    pub telegram: Option<TelegramConfig>,
    /// Present when the gateway reads a support mailbox.
    pub email: Option<EmailConfig>,
}

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

/// One send at a time whose outcome a crash could leave unknown.
pub fn one_unconfirmed_send() -> NonZeroUsize {
    NonZeroUsize::MIN
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
fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A group of customers served with their own priority.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentConfig {
    pub name: String,
    /// Queue priority of its conversations (higher is served first).
    pub priority: u8,
    /// Exact email addresses.
    #[serde(default)]
    pub emails: Vec<String>,
    /// Every address at these domains.
    #[serde(default)]
    pub email_domains: Vec<String>,
    /// Telegram user ids.
    #[serde(default)]
    pub telegram_users: Vec<i64>,
    /// Web chat visitors whose signed identity has all these attributes.
    #[serde(default)]
    pub web_attributes: BTreeMap<String, String>,
    /// Customers an agent tagged with any of these.
    #[serde(default)]
    pub tags: Vec<String>,
    /// This segment's first-response target, instead of `[sla]`'s.
    pub first_response_minutes: Option<u32>,
    /// This segment's resolution target, instead of `[sla]`'s.
    #[serde(default)]
    pub resolution_minutes: Option<u32>,
}

/// The promise to customers handed to a person.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaConfig {
    /// Minutes from the hand-off to an agent's first answer.
    pub first_response_minutes: u32,
    /// Minutes from the hand-off to the resolution; without it, resolution
    /// is not promised.
    #[serde(default)]
    pub resolution_minutes: Option<u32>,
    /// Seconds between checks of the deadlines.
    #[serde(default = "default_sla_check")]
    pub check_secs: u64,
    /// Posted a JSON notice when a conversation breaches its deadline.
    pub breach_webhook: Option<String>,
}

/// Opening hours per weekday (`"09:00-18:00"` or `"closed"`; a day left
/// out is closed), in a named time zone, with holidays (`"2026-12-25"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusinessHoursConfig {
    pub timezone: String,
    pub monday: Option<String>,
    pub tuesday: Option<String>,
    pub wednesday: Option<String>,
    pub thursday: Option<String>,
    pub friday: Option<String>,
    pub saturday: Option<String>,
    pub sunday: Option<String>,
    #[serde(default)]
    pub holidays: Vec<String>,
}

/// Which surveys are asked, in order, and on which channels.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SurveysConfig {
    #[serde(default = "default_survey_questions")]
    pub questions: Vec<crate::model::SurveyKind>,
    #[serde(default = "default_survey_channels")]
    pub channels: Vec<ChannelKind>,
    /// The gateway's public address (`https://support.example.com`): email
    /// surveys then link to a small rating page (`/rate/…`) instead of
    /// asking for a number in reply.
    #[serde(default)]
    pub rating_page_url: Option<String>,
}

fn default_survey_questions() -> Vec<crate::model::SurveyKind> {
    vec![crate::model::SurveyKind::Csat]
}
fn default_survey_channels() -> Vec<ChannelKind> {
    vec![ChannelKind::Web, ChannelKind::Telegram, ChannelKind::Email]
}

fn default_sla_check() -> u64 {
    30
}

/// How Telegram tells us about new messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TelegramMode {
    /// The gateway long-polls `getUpdates`.
    #[default]
    Polling,
    /// Telegram posts updates to `webhook_url`.
    Webhook,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramConfig {
    /// The bot token from @BotFather; use `${TELEGRAM_BOT_TOKEN}`.
    pub token: String,
    #[serde(default)]
    pub mode: TelegramMode,
    /// The Bot API server (Telegram's by default; tests and self-hosted Bot
    /// API servers set their own).
    #[serde(default = "default_telegram_api")]
    pub api_url: String,
    /// Public HTTPS URL Telegram posts to (webhook mode); it must reach
    /// this gateway's `/api/v1/telegram/webhook`.
    pub webhook_url: Option<String>,
    /// Shared secret Telegram sends in X-Telegram-Bot-Api-Secret-Token.
    pub webhook_secret: Option<String>,
    /// Long-poll timeout in seconds (polling mode; at most 15, below the
    /// HTTP client's 17 s).
    #[serde(default = "default_poll_timeout")]
    pub poll_timeout_secs: u32,
    /// Replies sent at once whose outcome a crash could leave unknown: each
    /// may go out again after a restart (the Bot API cannot say whether a
    /// message arrived). 1 (the default) means at most one duplicate reply
    /// per crash; more send faster over a slow link.
    #[serde(default = "one_unconfirmed_send")]
    pub unconfirmed_sends: NonZeroUsize,
}

fn default_telegram_api() -> String {
    "https://api.telegram.org".into()
}
fn default_poll_timeout() -> u32 {
    10
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Longest customer message accepted, in bytes of UTF-8.
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: usize,
    #[serde(default)]
    pub ack: AckPolicy,
    /// Sites that embed the widget from another origin, such as
    /// `"https://shop.example"` (CORS). The gateway's own pages need none.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// The secret the host site signs visitor identities with (HMAC-SHA256),
    /// so segments can trust a visitor's user id and attributes. Use
    /// `${ENV_VAR}`. Without it, identities are ignored.
    pub identity_secret: Option<String>,
    /// Messages one chat session may send a minute (HTTP and WebSocket);
    /// more get 429 with Retry-After. 0: no limit.
    #[serde(default = "default_session_messages_per_minute")]
    pub session_messages_per_minute: u32,
    /// Messages and new sessions one client address may send a minute, over
    /// all its sessions. Behind a reverse proxy every visitor has the
    /// proxy's address: raise it or set 0 (no limit).
    #[serde(default = "default_address_requests_per_minute")]
    pub address_requests_per_minute: u32,
    /// Seconds a frame may wait on a visitor who does not read before the
    /// WebSocket is closed (the visitor can reconnect and replay).
    #[serde(default = "default_ws_send_timeout")]
    pub ws_send_timeout_secs: u64,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_message_bytes: default_max_message_bytes(),
            ack: AckPolicy::default(),
            allowed_origins: Vec::new(),
            identity_secret: None,
            session_messages_per_minute: default_session_messages_per_minute(),
            address_requests_per_minute: default_address_requests_per_minute(),
            ws_send_timeout_secs: default_ws_send_timeout(),
        }
    }
}

fn default_session_messages_per_minute() -> u32 {
    30
}
fn default_address_requests_per_minute() -> u32 {
    600
}
fn default_ws_send_timeout() -> u64 {
    10
}

fn yes() -> bool {
    true
}
fn default_max_message_bytes() -> usize {
    4096
}

/// What a channel sends automatically for each customer turn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AckPolicy {
    /// One reply: the intent's answer, or the hand-off acknowledgment.
    #[default]
    Reply,
    /// A plain receipt first, then the reply.
    ReceiptThenReply,
}

impl Config {
    /// The acknowledgment policy of a channel.
    pub fn ack_policy(&self, channel: ChannelKind) -> AckPolicy {
        match channel {
            ChannelKind::Web => self.channels.web.ack,
            // Telegram throttles about one message a second per chat, and
            // email gets one acknowledgment per conversation: one reply.
            ChannelKind::Telegram | ChannelKind::Email => AckPolicy::Reply,
        }
    }

    /// Loads the file at `path`, or the embedded default.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        match path {
            Some(p) => {
                let name = p.display().to_string();
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: name.clone(),
                    source,
                })?;
                Self::parse(&text, &name)
            }
            None => Self::parse(EMBEDDED_DEFAULT, "<embedded config/frontdesk.toml>"),
        }
    }

    /// Parses config text; `name` is used in error messages.
    pub fn parse(text: &str, name: &str) -> Result<Self, ConfigError> {
        let text = interpolate_env(text, name, &|var| std::env::var(var).ok())?;
        let mut config: Config = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: name.to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        config.source = name.to_string();
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: &str| ConfigError::Invalid {
            path: self.source.clone(),
            key: key.to_string(),
            message: message.to_string(),
        };
        if self.channels.web.max_message_bytes == 0 {
            return Err(invalid(
                "channels.web.max_message_bytes",
                "must be greater than 0",
            ));
        }
        if self.channels.web.max_message_bytes > self.server.max_body_bytes {
            return Err(invalid(
                "channels.web.max_message_bytes",
                "must not exceed server.max_body_bytes",
            ));
        }
        for origin in &self.channels.web.allowed_origins {
            let scheme_ok = origin.starts_with("https://") || origin.starts_with("http://");
            let host = origin.split_once("://").map_or("", |(_, h)| h);
            if !scheme_ok
                || host.is_empty()
                || host.contains('/')
                || origin.contains(char::is_whitespace)
            {
                return Err(invalid(
                    "channels.web.allowed_origins",
                    &format!(
                        "{origin:?} is not an origin like \"https://shop.example\" (scheme and host, no path)"
                    ),
                ));
            }
        }
        if let Some(tg) = &self.channels.telegram {
            if tg.token.trim().is_empty() {
                return Err(invalid("channels.telegram.token", "must not be empty"));
            }
            if url::Url::parse(&tg.api_url).is_err() {
                return Err(invalid("channels.telegram.api_url", "is not a URL"));
            }
            if tg.poll_timeout_secs > 15 {
                return Err(invalid(
                    "channels.telegram.poll_timeout_secs",
                    "must be at most 15 (the HTTP client gives up at 17 s)",
                ));
            }
            if tg.mode == TelegramMode::Webhook {
                if tg
                    .webhook_url
                    .as_deref()
                    .is_none_or(|u| url::Url::parse(u).is_err())
                {
                    return Err(invalid(
                        "channels.telegram.webhook_url",
                        "webhook mode needs the public URL Telegram posts to",
                    ));
                }
                let secret_ok = tg.webhook_secret.as_deref().is_some_and(|s| {
                    (16..=256).contains(&s.len())
                        && s.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                });
                if !secret_ok {
                    return Err(invalid(
                        "channels.telegram.webhook_secret",
                        "webhook mode needs a secret of 16 to 256 characters: letters, digits, '_' or '-'",
                    ));
                }
            }
        }
        if let Some(email) = &self.channels.email {
            for (key, address) in std::iter::once(("channels.email.address", &email.address))
                .chain(email.aliases.iter().map(|a| ("channels.email.aliases", a)))
            {
                let valid = address
                    .split_once('@')
                    .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') || d == "localhost")
                    && !address.contains(char::is_whitespace);
                if !valid {
                    return Err(invalid(
                        key,
                        &format!("{address:?} is not an address like support@shop.example"),
                    ));
                }
            }
            for (key, server) in [
                ("channels.email.imap", &email.imap),
                ("channels.email.smtp", &email.smtp),
            ] {
                if server.host.trim().is_empty() {
                    return Err(invalid(&format!("{key}.host"), "must not be empty"));
                }
                if server.security == MailSecurity::Plain
                    && !server.allow_insecure
                    && !is_loopback(&server.host)
                {
                    return Err(invalid(
                        &format!("{key}.security"),
                        "\"plain\" sends the password unencrypted; use \"tls\" or \"starttls\", or set allow_insecure = true if this network is trusted",
                    ));
                }
                if server.username.is_some() != server.password.is_some() {
                    return Err(invalid(
                        &format!("{key}.password"),
                        "username and password go together",
                    ));
                }
            }
            if email.imap.username.is_none() {
                return Err(invalid(
                    "channels.email.imap.username",
                    "the mailbox needs a login",
                ));
            }
            if email.poll_secs == 0 || email.send_timeout_secs == 0 {
                return Err(invalid(
                    "channels.email.poll_secs",
                    "poll_secs and send_timeout_secs must be greater than 0",
                ));
            }
        }
        let mut names = std::collections::BTreeSet::new();
        for segment in &self.segments {
            if segment.name.trim().is_empty() || !names.insert(segment.name.as_str()) {
                return Err(invalid(
                    "segments.name",
                    &format!("{:?}: every segment needs a name of its own", segment.name),
                ));
            }
        }
        if self
            .channels
            .web
            .identity_secret
            .as_deref()
            .is_some_and(|s| s.len() < 16)
        {
            return Err(invalid(
                "channels.web.identity_secret",
                "must be at least 16 characters",
            ));
        }
        if let Some(hours) = &self.business_hours
            && let Err(e) = crate::hours::BusinessHours::from_config(hours)
        {
            return Err(invalid(&e.key, &e.message));
        }
        if let Some(sla) = &self.sla {
            if sla.first_response_minutes == 0 || sla.check_secs == 0 {
                return Err(invalid(
                    "sla.first_response_minutes",
                    "first_response_minutes and check_secs must be greater than 0",
                ));
            }
            if let Some(hook) = &sla.breach_webhook
                && !url::Url::parse(hook)
                    .is_ok_and(|u| u.scheme() == "http" || u.scheme() == "https")
            {
                return Err(invalid("sla.breach_webhook", "is not an http(s) URL"));
            }
        }
        if let Some(url) = self
            .surveys
            .as_ref()
            .and_then(|s| s.rating_page_url.as_ref())
            && !url::Url::parse(url).is_ok_and(|u| u.scheme() == "http" || u.scheme() == "https")
        {
            return Err(invalid("surveys.rating_page_url", "is not an http(s) URL"));
        }
        let reports = &self.reports;
        if reports.staffing_weeks == 0
            || !(reports.service_level > 0.0 && reports.service_level < 1.0)
        {
            return Err(invalid(
                "reports.service_level",
                "service_level must be between 0 and 1 (exclusive) and staffing_weeks at least 1",
            ));
        }
        if self.locale.default.is_empty() {
            return Err(invalid("locale.default", "must not be empty"));
        }
        Ok(())
    }
}

/// Replaces `${VAR}` with the variable's value (`$$` is a literal `$`).
/// Values with newlines are refused: they could smuggle in TOML keys.
/// Comments are copied as they are, so a commented-out `${VAR}` line needs
/// no variable. (A `#` inside a multi-line string counts as a comment.)
fn interpolate_env(
    text: &str,
    name: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(text.len());
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let (code, comment) = line.split_at(comment_start(line));
        interpolate_line(code, name, index + 1, lookup, &mut out)?;
        out.push_str(comment);
    }
    Ok(out)
}

/// Byte offset of the `#` starting a TOML comment on this line, or its length.
fn comment_start(line: &str) -> usize {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match quote {
            Some('"') if escaped => escaped = false,
            Some('"') if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '#' => return i,
            None => {}
        }
    }
    line.len()
}

fn interpolate_line(
    code: &str,
    name: &str,
    line: usize,
    lookup: &dyn Fn(&str) -> Option<String>,
    out: &mut String,
) -> Result<(), ConfigError> {
    let mut rest = code;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(tail) = after.strip_prefix('{') {
            let end = tail.find('}').ok_or(ConfigError::Unterminated {
                path: name.to_string(),
                line,
            })?;
            let var = &tail[..end];
            let value = lookup(var).ok_or_else(|| ConfigError::MissingVar {
                path: name.to_string(),
                line,
                var: var.to_string(),
            })?;
            if value.contains('\n') || value.contains('\r') {
                return Err(ConfigError::MultilineVar {
                    path: name.to_string(),
                    line,
                    var: var.to_string(),
                });
            }
            out.push_str(&value);
            rest = &tail[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(var: &str) -> Option<String> {
        match var {
            "TOKEN" => Some("s3cret".into()),
            "EVIL" => Some("x\"\n[server]".into()),
            _ => None,
        }
    }

    #[test]
    fn embedded_default_parses() {
        let c = Config::load(None).expect("embedded config");
        assert_eq!(c.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.server.data_dir, PathBuf::from("data"));
    }

    #[test]
    fn env_vars_are_interpolated() {
        let out = interpolate_env("a = \"${TOKEN} costs $$5 and $x\"", "t", &env).expect("ok");
        assert_eq!(out, "a = \"s3cret costs $5 and $x\"");
    }

    #[test]
    fn missing_env_var_names_the_line() {
        let err = interpolate_env("a = 1\nb = \"${NOPE}\"", "f.toml", &env).expect_err("missing");
        assert_eq!(
            err.to_string(),
            "f.toml:2: environment variable `NOPE` is not set"
        );
    }

    #[test]
    fn comments_are_not_interpolated() {
        let text = "# token = \"${NOPE}\"\na = \"#${TOKEN}\" # ${NOPE}\n";
        let out = interpolate_env(text, "t", &env).expect("ok");
        assert_eq!(out, "# token = \"${NOPE}\"\na = \"#s3cret\" # ${NOPE}\n");
    }

    #[test]
    fn multiline_env_var_is_refused() {
        let err = interpolate_env("a = \"${EVIL}\"", "f.toml", &env).expect_err("newline");
        assert!(err.to_string().contains("newline"), "{err}");
    }

    #[test]
    fn unconfirmed_sends_must_be_at_least_one() {
        let text = "[server]\n[channels.email]\naddress = \"s@x.test\"\nunconfirmed_sends = 0\n\
                    [channels.email.imap]\nhost = \"h\"\nport = 993\nsecurity = \"tls\"\nusername = \"u\"\npassword = \"p\"\n\
                    [channels.email.smtp]\nhost = \"h\"\nport = 465\nsecurity = \"tls\"\n";
        let err = Config::parse(text, "f.toml").expect_err("zero");
        let message = err.to_string();
        assert!(
            message.contains("unconfirmed_sends") && message.contains("nonzero"),
            "{message}"
        );
        let one = text.replace("unconfirmed_sends = 0", "unconfirmed_sends = 1");
        assert!(Config::parse(&one, "f.toml").is_ok());
    }

    #[test]
    fn allowed_origins_must_be_origins() {
        let ok = "[server]\n[channels.web]\nallowed_origins = [\"https://shop.example\", \"http://localhost:3000\"]\n";
        assert!(Config::parse(ok, "ok.toml").is_ok());
        for bad in ["https://shop.example/", "shop.example", "https://"] {
            let text = format!("[server]\n[channels.web]\nallowed_origins = [\"{bad}\"]\n");
            let err = Config::parse(&text, "bad.toml").expect_err(bad).to_string();
            assert!(err.contains("channels.web.allowed_origins"), "{err}");
        }
    }

    const EMAIL: &str = "[server]\n[channels.email]\naddress = \"support@shop.example\"\n\
        [channels.email.imap]\nhost = \"HOST\"\nport = 993\nsecurity = \"SECURITY\"\nusername = \"u\"\npassword = \"p\"\n\
        [channels.email.smtp]\nhost = \"HOST\"\nport = 465\nsecurity = \"tls\"\n";

    #[test]
    fn plain_mail_connections_only_on_loopback() {
        let config = |host: &str, security: &str| {
            Config::parse(
                &EMAIL.replace("HOST", host).replace("SECURITY", security),
                "e.toml",
            )
        };
        assert!(config("imap.shop.example", "tls").is_ok());
        assert!(config("127.0.0.1", "plain").is_ok());
        assert!(config("localhost", "plain").is_ok());
        let err = config("imap.shop.example", "plain").expect_err("plain remote");
        assert!(
            err.to_string().contains("channels.email.imap.security"),
            "{err}"
        );
        let forced = EMAIL
            .replace("HOST", "imap.lan")
            .replace("SECURITY", "plain")
            .replace(
                "password = \"p\"\n",
                "password = \"p\"\nallow_insecure = true\n",
            );
        assert!(Config::parse(&forced, "e.toml").is_ok());
        let c = config("127.0.0.1", "tls").expect("ok");
        let email = c.channels.email.expect("email");
        assert_eq!(email.mailbox, "INBOX");
        assert_eq!(email.auto_reply_limit, 3);
        assert_eq!(email.domain(), "shop.example");
    }

    #[test]
    fn unknown_key_is_rejected_with_its_name_and_line() {
        let text = "[server]\nlisten = \"127.0.0.1:1\"\nlisen = \"x\"\n";
        let err = Config::parse(text, "bad.toml").expect_err("unknown key");
        let msg = err.to_string();
        assert!(msg.contains("bad.toml"), "{msg}");
        assert!(msg.contains("lisen"), "{msg}");
        assert!(msg.contains("line 3"), "{msg}");
    }
}
