//! Outgoing mail: one pooled lettre transport, and each outbox entry
//! turned into a threaded plain-text reply.
//!
//! A reply carries our Message-ID for its outbox entry (a retry is the same
//! mail), In-Reply-To the customer's latest mail, References the whole
//! chain, and a `Re:` subject with the ticket tag, so it lands in the
//! customer's existing thread in every client. Automatic replies also say
//! so (`Auto-Submitted: auto-replied`, RFC 3834, and
//! `X-Auto-Response-Suppress: All` for Exchange), so other robots don't
//! answer them.

use super::ids;
use crate::channels::email::config::EmailConfig;
use crate::channels::email::config::MailSecurity;
use crate::channels::email::config::MailServer;
use crate::core::channel::SendError;
use crate::model::{
    Author, Conversation, CustomerAddress, Delivery, Message, OutboxEntry, OutboxId,
};
use lettre::message::Mailbox;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, Tokio1Executor};
use std::time::Duration;

/// References kept in one mail: the first (the thread's root) and the most
/// recent ones. Clients thread on these; hundreds would bloat every header.
const MAX_REFERENCES: usize = 20;

pub type Transport = AsyncSmtpTransport<Tokio1Executor>;

#[derive(Debug, thiserror::Error)]
pub enum SmtpSetupError {
    #[error("cannot read the CA file {path}: {source}")]
    CaFile {
        path: String,
        source: std::io::Error,
    },
    #[error("SMTP: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
}

/// The transport for `server`, built once and cloned (it shares a pool).
pub fn transport(server: &MailServer, timeout: Duration) -> Result<Transport, SmtpSetupError> {
    let mut tls = TlsParameters::builder(server.host.clone());
    if let Some(path) = &server.ca_file {
        let pem = std::fs::read(path).map_err(|source| SmtpSetupError::CaFile {
            path: path.display().to_string(),
            source,
        })?;
        tls = tls.add_root_certificate(Certificate::from_pem(&pem)?);
    }
    let builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(server.host.clone())
        .port(server.port)
        .timeout(Some(timeout));
    let builder = match server.security {
        MailSecurity::Tls => builder.tls(Tls::Wrapper(tls.build_rustls()?)),
        MailSecurity::Starttls => builder.tls(Tls::Required(tls.build_rustls()?)),
        MailSecurity::Plain => builder.tls(Tls::None),
    };
    let builder = match (&server.username, &server.password) {
        (Some(user), Some(password)) => {
            builder.credentials(Credentials::new(user.clone(), password.clone()))
        }
        _ => builder,
    };
    Ok(builder.build())
}

/// The subject of our replies: the conversation's, once `Re:`, with the tag.
pub fn reply_subject(subject: Option<&str>, ticket: u64) -> String {
    let mut base = subject
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or("Your message");
    loop {
        let lower = base.to_lowercase();
        let prefix = [
            "re:",
            "aw:",
            "fw:",
            "fwd:",
            "回复:",
            "回复：",
            "答复:",
            "答复：",
            "转发:",
        ]
        .iter()
        .find(|p| lower.starts_with(*p));
        match prefix {
            Some(p) => base = base.get(p.len()..).unwrap_or_default().trim_start(),
            None => break,
        }
    }
    let tag = format!("[#{ticket}]");
    let base = base.replace(&tag, "");
    let base = base.trim();
    if base.is_empty() {
        format!("Re: {tag}")
    } else {
        format!("Re: {base} {tag}")
    }
}

/// The Message-IDs of a conversation's mails in order: the customer's, and
/// ours for every reply that went out.
pub fn thread_chain(
    conversation: &Conversation,
    transcript: &[Message],
    domain: &str,
) -> Vec<String> {
    transcript
        .iter()
        .filter_map(|m| match m.author {
            Author::Customer => m
                .external_id
                .as_deref()
                .filter(|id| id.starts_with('<'))
                .map(str::to_string),
            Author::Bot | Author::Agent if m.delivery == Some(Delivery::Delivered) => {
                Some(ids::message_id(conversation.id, OutboxId(m.id.0), domain))
            }
            _ => None,
        })
        .collect()
}

/// Builds the mail for `entry`. `transcript` is the conversation so far.
pub fn build(
    config: &EmailConfig,
    conversation: &Conversation,
    entry: &OutboxEntry,
    transcript: &[Message],
) -> Result<lettre::Message, SendError> {
    let CustomerAddress::Email { address } = &conversation.customer else {
        return Err(SendError::Permanent("not an email conversation".into()));
    };
    let permanent =
        |what: &str, e: &dyn std::fmt::Display| SendError::Permanent(format!("{what}: {e}"));
    let to = Mailbox::new(
        conversation.display_name.clone(),
        address
            .parse()
            .map_err(|e| permanent("the customer's address is invalid", &e))?,
    );
    let from = Mailbox::new(
        config.from_name.clone(),
        config
            .address
            .parse()
            .map_err(|e| permanent("the support address is invalid", &e))?,
    );
    let domain = config.domain();
    let chain = thread_chain(conversation, transcript, domain);
    let last_customer = transcript
        .iter()
        .rev()
        .filter(|m| m.author == Author::Customer)
        .find_map(|m| m.external_id.as_deref().filter(|id| id.starts_with('<')));
    let mut builder = lettre::Message::builder()
        .from(from)
        .to(to)
        .subject(reply_subject(
            conversation.subject.as_deref(),
            conversation.ticket,
        ))
        .message_id(Some(ids::message_id(conversation.id, entry.id, domain)))
        .date_now()
        .header(ContentType::TEXT_PLAIN);
    if let Some(parent) = last_customer {
        builder = builder.in_reply_to(parent.to_string());
    }
    if !chain.is_empty() {
        let kept: Vec<&str> = if chain.len() > MAX_REFERENCES {
            std::iter::once(chain[0].as_str())
                .chain(
                    chain[chain.len() - (MAX_REFERENCES - 1)..]
                        .iter()
                        .map(String::as_str),
                )
                .collect()
        } else {
            chain.iter().map(String::as_str).collect()
        };
        builder = builder.references(kept.join(" "));
    }
    if entry.reason.is_automatic() {
        builder = builder
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                "auto-replied".into(),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("X-Auto-Response-Suppress"),
                "All".into(),
            ));
    }
    builder
        .body(entry.text.clone())
        .map_err(|e| permanent("the reply could not be built", &e))
}

/// Whether a failed send is worth retrying.
pub fn classify(error: &lettre::transport::smtp::Error) -> SendError {
    if error.is_permanent() {
        SendError::Permanent(format!("the mail server refused the reply: {error}"))
    } else {
        SendError::Transient {
            message: format!("SMTP: {error}"),
            retry_after: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_subjects_keep_one_re_and_one_tag() {
        assert_eq!(
            reply_subject(Some("Where is my order?"), 1042),
            "Re: Where is my order? [#1042]"
        );
        assert_eq!(
            reply_subject(Some("RE: Re: Where? [#1042]"), 1042),
            "Re: Where? [#1042]"
        );
        assert_eq!(
            reply_subject(Some("回复：我的订单"), 7),
            "Re: 我的订单 [#7]"
        );
        assert_eq!(reply_subject(None, 7), "Re: Your message [#7]");
        assert_eq!(reply_subject(Some("  "), 7), "Re: Your message [#7]");
    }
}
