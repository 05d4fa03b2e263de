//! Reading one raw email into what the gateway needs: sender, threading
//! headers, ticket tag, the visible text, attachments, and the loop-guard
//! verdict. Pure: no server, no store, so it is tested with golden
//! fixtures and shown by `frontdesk email inspect`.
//!
//! mail-parser (with `full_encoding`, for GB2312/GBK/Big5 and the rest)
//! does the MIME work. It has panicked on crafted input before, so it runs
//! inside `catch_unwind`: a mail it cannot read becomes an [`Unreadable`],
//! which intake stores raw and hands to a person.

use super::{ids, loop_guard, quotes};
use mail_parser::{MessageParser, MimeHeaders};
use serde::Serialize;

/// Longest subject kept, in characters.
const MAX_SUBJECT_CHARS: usize = 300;

/// One attachment as read from the mail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParsedAttachment {
    pub name: String,
    pub content_type: String,
    pub size: u64,
    #[serde(skip)]
    pub content: Vec<u8>,
}

/// A mail as the gateway reads it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParsedMail {
    /// The sender's address, lowercased.
    pub from: Option<String>,
    pub from_name: Option<String>,
    /// With angle brackets.
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    pub subject: Option<String>,
    /// The `[#1234]` tag in the subject.
    pub ticket: Option<u64>,
    /// The customer's new words: quotes and signature removed.
    pub text: String,
    /// The whole text body, before stripping.
    pub full_text: String,
    pub attachments: Vec<ParsedAttachment>,
    /// Set when the mail must not be answered: the rule that decided.
    pub automatic: Option<&'static str>,
    /// Set when the mail reports that one of our messages failed.
    pub bounce: Option<loop_guard::Bounce>,
}

/// A mail mail-parser could not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the mail could not be read: {0}")]
pub struct Unreadable(pub &'static str);

/// Reads `raw`. `own` are our addresses, `domain` our Message-ID domain.
pub fn parse(raw: &[u8], own: &[String], domain: &str) -> Result<ParsedMail, Unreadable> {
    std::panic::catch_unwind(|| parse_unguarded(raw, own, domain))
        .unwrap_or(Err(Unreadable("the MIME parser failed on it")))
}

fn parse_unguarded(raw: &[u8], own: &[String], domain: &str) -> Result<ParsedMail, Unreadable> {
    let message = MessageParser::default()
        .parse(raw)
        .ok_or(Unreadable("it has no headers"))?;
    let sender = message.from().and_then(|a| a.first());
    let from = sender
        .and_then(|a| a.address())
        .map(|a| a.trim().to_lowercase())
        .filter(|a| a.contains('@'));
    let from_name = sender
        .and_then(|a| a.name())
        .map(clean_line)
        .filter(|n| !n.is_empty() && Some(n.to_lowercase()) != from);
    let id_list = |value: &mail_parser::HeaderValue<'_>| -> Vec<String> {
        match value {
            mail_parser::HeaderValue::Text(t) => ids::canonical(t).into_iter().collect(),
            mail_parser::HeaderValue::TextList(list) => {
                list.iter().filter_map(|t| ids::canonical(t)).collect()
            }
            _ => Vec::new(),
        }
    };
    let subject = message
        .subject()
        .map(|s| {
            clean_line(s)
                .chars()
                .take(MAX_SUBJECT_CHARS)
                .collect::<String>()
        })
        .filter(|s| !s.is_empty());
    let full_text = (0..message.text_body_count())
        .filter_map(|i| message.body_text(i))
        .map(|t| t.replace('\u{0}', ""))
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string();
    let attachments = message
        .attachments()
        .enumerate()
        .map(|(i, part)| {
            let content_type = part
                .content_type()
                .map(|ct| match ct.subtype() {
                    Some(sub) => format!("{}/{}", ct.ctype(), sub),
                    None => ct.ctype().to_string(),
                })
                .unwrap_or_else(|| "application/octet-stream".into())
                .to_lowercase();
            let name = part
                .attachment_name()
                .map(clean_line)
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| format!("attachment-{}", i + 1));
            ParsedAttachment {
                name,
                content_type,
                size: part.contents().len() as u64,
                content: part.contents().to_vec(),
            }
        })
        .collect();
    let automatic = loop_guard::automatic(&message, own);
    let bounce = loop_guard::bounce(&message, raw, &|text| ids::ours_in(text, domain));
    Ok(ParsedMail {
        from,
        from_name,
        message_id: message.message_id().and_then(ids::canonical),
        in_reply_to: id_list(message.in_reply_to()),
        references: id_list(message.references()),
        ticket: subject.as_deref().and_then(ids::ticket_in),
        subject,
        text: quotes::visible_text(&full_text),
        full_text,
        attachments,
        automatic,
        bounce,
    })
}

/// One line of header text: control and direction-override characters
/// removed, whitespace collapsed.
fn clean_line(text: &str) -> String {
    text.chars()
        .filter(|c| {
            !c.is_control() && !matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

impl ParsedMail {
    /// Message-IDs this mail refers to, most recent first: In-Reply-To,
    /// then References from the end.
    pub fn thread_references(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.in_reply_to.iter().map(String::as_str).collect();
        for r in self.references.iter().rev() {
            if !out.contains(&r.as_str()) {
                out.push(r);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own() -> Vec<String> {
        vec!["support@example.test".into()]
    }

    #[test]
    fn a_plain_customer_mail() {
        let raw = b"From: =?UTF-8?B?5byg5LiJ?= <Zhang@Customer.TEST>\r\nTo: support@example.test\r\nSubject: =?GB2312?B?ztK1xLaptaXU2sTEwO8=?=\r\nMessage-ID: <abc@customer.test>\r\nContent-Type: text/plain; charset=gb2312\r\nContent-Transfer-Encoding: base64\r\n\r\nztK1xLaptaXU2sTEwO8=\r\n";
        let mail = parse(raw, &own(), "example.test").expect("parses");
        assert_eq!(mail.from.as_deref(), Some("zhang@customer.test"));
        assert_eq!(mail.from_name.as_deref(), Some("张三"));
        assert_eq!(mail.subject.as_deref(), Some("我的订单在哪里"));
        assert_eq!(mail.text, "我的订单在哪里");
        assert_eq!(mail.message_id.as_deref(), Some("<abc@customer.test>"));
        assert_eq!(mail.automatic, None);
    }

    #[test]
    fn garbage_does_not_panic() {
        for raw in [&b""[..], b"\xff\xfe\x00", b"\r\n\r\n", b"From:\r\n\r\n"] {
            let _ = parse(raw, &own(), "example.test");
        }
    }

    #[test]
    fn references_come_most_recent_first() {
        let raw =
            b"From: a@b.test\r\nIn-Reply-To: <3@x>\r\nReferences: <1@x> <2@x> <3@x>\r\n\r\nhi\r\n";
        let mail = parse(raw, &own(), "example.test").expect("parses");
        assert_eq!(mail.thread_references(), vec!["<3@x>", "<2@x>", "<1@x>"]);
    }
}
