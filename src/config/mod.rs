//! Typed configuration: TOML, unknown keys rejected, `${ENV_VAR}` for secrets.
//!
//! With no file the embedded `config/frontdesk.toml` is used, so
//! `frontdesk serve` runs with no arguments. Each section's type lives
//! beside the module it configures (`[channels.web]` is
//! `channels::web::WebConfig`); this module puts them together, checks
//! what spans sections, and reads the file.

mod vars;

use crate::channels::ChannelsConfig;
use crate::channels::email::config::{MailSecurity, is_loopback};
use crate::channels::telegram::config::TelegramMode;
use crate::core::dispatcher::AckPolicy;
use crate::model::ChannelKind;
use crate::rules::SourceDir;
use crate::rules::locale::LocaleConfig;
use crate::service_levels::hours::BusinessHoursConfig;
use crate::service_levels::reports::ReportsConfig;
use crate::service_levels::segments::SegmentConfig;
use crate::service_levels::sla::SlaConfig;
use crate::service_levels::surveys::SurveysConfig;
use crate::service_levels::teams::{RoutingConfig, TeamConfig};
use crate::service_levels::waiting::QueueConfig;
use crate::store::StoreConfig;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use vars::interpolate_env;

/// The default configuration, compiled into the binary.
pub const EMBEDDED_DEFAULT: &str = include_str!("../../config/frontdesk.toml");

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
    /// Teams of agents (`[[teams]]`); without any, one shared queue.
    #[serde(default)]
    pub teams: Vec<TeamConfig>,
    /// Which team a conversation handed to a person goes to.
    #[serde(default)]
    pub routing: RoutingConfig,
    /// First-response targets; without it nothing is tracked.
    pub sla: Option<SlaConfig>,
    /// When people answer; without it, always.
    pub business_hours: Option<BusinessHoursConfig>,
    /// Satisfaction questions after a resolution; without it, none.
    pub surveys: Option<SurveysConfig>,
    /// How the reports count (`[reports]`).
    #[serde(default)]
    pub reports: ReportsConfig,
    /// Where state is kept: sled (default) or PostgreSQL.
    #[serde(default)]
    pub store: StoreConfig,
    /// How the log is written (`[log]`).
    #[serde(default)]
    pub log: LogConfig,
    /// How long resolved conversations keep their content; without it,
    /// for ever.
    pub retention: Option<RetentionConfig>,
    /// Where the config came from, for error messages.
    #[serde(skip)]
    pub source: String,
    /// An admin to create at start if the desk has no agents yet (from the
    /// environment of `frontdesk serve`; never from a file).
    #[serde(skip)]
    pub first_admin: Option<FirstAdmin>,
}

/// `[retention]`: resolved conversations untouched for `resolved_days`
/// are erased (their words, names and files; the counts stay).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    pub resolved_days: u32,
}

/// The first admin's name and password.
#[derive(Clone)]
pub struct FirstAdmin {
    pub name: String,
    pub password: String,
}

impl std::fmt::Debug for FirstAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FirstAdmin")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// `[log]`: the log's format; what it holds is chosen with `RUST_LOG`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    #[serde(default)]
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One readable line an event, colored only at a terminal.
    #[default]
    Text,
    /// One JSON object a line, for log collectors.
    Json,
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
        if self
            .retention
            .as_ref()
            .is_some_and(|r| r.resolved_days == 0)
        {
            return Err(invalid("retention.resolved_days", "must be at least 1"));
        }
        if let Err(e) = crate::service_levels::teams::Teams::new(&self.teams, &self.routing) {
            return Err(invalid(&e.key, &e.message));
        }
        if let Some(hours) = &self.business_hours
            && let Err(e) = crate::service_levels::hours::BusinessHours::from_config(hours)
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
        if let StoreConfig::Postgres(pg) = &self.store {
            if pg.url.parse::<tokio_postgres::Config>().is_err() {
                return Err(invalid(
                    "store.url",
                    "is not a PostgreSQL URL like postgres://user:password@host:5432/database",
                ));
            }
            if pg.pool_size == 0 || pg.statement_timeout_secs == 0 {
                return Err(invalid(
                    "store.pool_size",
                    "pool_size and statement_timeout_secs must be greater than 0",
                ));
            }
            if pg.ca_file.is_some() && !pg.tls {
                return Err(invalid("store.ca_file", "needs tls = true"));
            }
        }
        if self.locale.default.is_empty() {
            return Err(invalid("locale.default", "must not be empty"));
        }
        Ok(())
    }
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
    fn the_store_is_sled_unless_postgres_is_named_with_a_usable_url() {
        let sled = Config::parse("[server]\n", "f.toml").expect("default");
        assert!(matches!(sled.store, StoreConfig::Sled(_)));
        let pg = Config::parse(
            "[server]\n[store]\nbackend = \"postgres\"\nurl = \"postgres://u@db.internal/desk\"\n",
            "f.toml",
        )
        .expect("postgres");
        let StoreConfig::Postgres(pg) = pg.store else {
            panic!("postgres");
        };
        assert_eq!((pg.pool_size, pg.statement_timeout_secs), (16, 10));
        for (bad, key) in [
            ("url = \"mysql:/nope\"", "store.url"),
            (
                "url = \"postgres://u@h/d\"\npool_size = 0",
                "store.pool_size",
            ),
            (
                "url = \"postgres://u@h/d\"\nca_file = \"ca.pem\"",
                "store.ca_file",
            ),
            ("url = \"postgres://u@h/d\"\ndata_dir = \"x\"", "data_dir"),
        ] {
            let text = format!("[server]\n[store]\nbackend = \"postgres\"\n{bad}\n");
            let err = Config::parse(&text, "f.toml").expect_err(bad).to_string();
            assert!(err.contains(key), "{bad}: {err}");
        }
        let unknown = Config::parse("[server]\n[store]\nbackend = \"mongo\"\n", "f.toml");
        assert!(unknown.is_err());
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
