//! Typed configuration: TOML, unknown keys rejected, `${ENV_VAR}` for secrets.
//!
//! With no file the embedded `config/frontdesk.toml` is used, so
//! `frontdesk serve` runs with no arguments. Section names mirror modules:
//! `[channels.web]` configures `channels::web`.

use crate::model::ChannelKind;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
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
    /// Where the config came from, for error messages.
    #[serde(skip)]
    pub source: String,
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
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_message_bytes: default_max_message_bytes(),
            ack: AckPolicy::default(),
            allowed_origins: Vec::new(),
        }
    }
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
            // Telegram throttles about one message a second per chat: one reply.
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
    fn allowed_origins_must_be_origins() {
        let ok = "[server]\n[channels.web]\nallowed_origins = [\"https://shop.example\", \"http://localhost:3000\"]\n";
        assert!(Config::parse(ok, "ok.toml").is_ok());
        for bad in ["https://shop.example/", "shop.example", "https://"] {
            let text = format!("[server]\n[channels.web]\nallowed_origins = [\"{bad}\"]\n");
            let err = Config::parse(&text, "bad.toml").expect_err(bad).to_string();
            assert!(err.contains("channels.web.allowed_origins"), "{err}");
        }
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
