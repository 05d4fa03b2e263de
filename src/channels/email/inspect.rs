//! `frontdesk email inspect FILE.eml`: how the gateway reads one mail,
//! without a mail server, so an operator can answer "why did (or didn't)
//! this mail get a reply?" The golden fixtures run through the same
//! function, so what they pin down is what operators see.

use super::{ids, parse};
use serde::Serialize;

/// The report printed for one mail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inspection {
    pub from: Option<String>,
    pub from_name: Option<String>,
    pub subject: Option<String>,
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    /// Our own Message-IDs among the references: these thread the reply.
    pub our_references: Vec<String>,
    pub ticket_tag: Option<u64>,
    /// How the gateway threads it, in words.
    pub threading: String,
    /// The language the reply would be in (en/zh), from the visible text.
    pub language: String,
    pub visible_text: String,
    pub attachments: Vec<parse::ParsedAttachment>,
    /// `answer`, `do not answer` (automatic mail) or `hand to a person`.
    pub verdict: String,
    /// The loop-guard rule or reason behind the verdict.
    pub rule: Option<String>,
    pub bounce: Option<super::loop_guard::Bounce>,
}

/// Reads `raw` as intake would. `own` are our addresses, `domain` the one
/// our Message-IDs use, `locales` the template locales, `default_locale`
/// the fallback.
pub fn inspect(
    raw: &[u8],
    own: &[String],
    domain: &str,
    locales: &std::collections::BTreeSet<String>,
    default_locale: &str,
) -> Inspection {
    let mail = match parse::parse(raw, own, domain) {
        Ok(mail) => mail,
        Err(unreadable) => {
            return Inspection {
                from: None,
                from_name: None,
                subject: None,
                message_id: None,
                in_reply_to: Vec::new(),
                references: Vec::new(),
                our_references: Vec::new(),
                ticket_tag: None,
                threading: "a new conversation".into(),
                language: default_locale.into(),
                visible_text: String::new(),
                attachments: Vec::new(),
                verdict: "hand to a person".into(),
                rule: Some(unreadable.to_string()),
                bounce: None,
            };
        }
    };
    let our_references: Vec<String> = mail
        .thread_references()
        .into_iter()
        .filter(|r| ids::parse_ours(r, domain).is_some())
        .map(str::to_string)
        .collect();
    let threading = if let Some(first) = our_references.first() {
        format!("joins the conversation of our message {first}")
    } else if !mail.thread_references().is_empty() {
        format!(
            "joins the conversation of the mail it replies to, if that was taken in; otherwise {}",
            ticket_or_new(mail.ticket)
        )
    } else {
        ticket_or_new(mail.ticket)
    };
    let (verdict, rule) = match (mail.automatic, &mail.from) {
        (Some(rule), _) => ("do not answer", Some(rule.to_string())),
        (None, None) => (
            "hand to a person",
            Some("the mail names no sender to reply to".into()),
        ),
        (None, Some(_)) => ("answer", None),
    };
    Inspection {
        language: crate::rules::locale::detect(&mail.text, locales, default_locale),
        from: mail.from,
        from_name: mail.from_name,
        subject: mail.subject,
        message_id: mail.message_id,
        in_reply_to: mail.in_reply_to,
        references: mail.references,
        our_references,
        ticket_tag: mail.ticket,
        threading,
        visible_text: mail.text,
        attachments: mail.attachments,
        verdict: verdict.into(),
        rule,
        bounce: mail.bounce,
    }
}

fn ticket_or_new(ticket: Option<u64>) -> String {
    match ticket {
        Some(t) => format!(
            "joins ticket #{t} if the sender is that ticket's customer, else a new conversation"
        ),
        None => "a new conversation".into(),
    }
}
