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
use regex::Regex;
use serde::Serialize;
use std::sync::LazyLock;

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
    let (from, from_name) = sender(&message);
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
    let forward_prefix = subject
        .as_deref()
        .and_then(|s| super::markers::MARKERS.forward_prefix(s))
        .map(str::to_string);
    let forward = forward_prefix.is_some();
    let full_text = (0..message.text_body_count())
        .filter_map(|i| {
            // An HTML-only mail: its quotes are read from the markup.
            if let Some(part) = message.text_part(i as u32)
                && part.is_text_html()
                && let Some(text) = super::html::to_text(part.text_contents()?, forward)
            {
                return Some(text);
            }
            let text = message.body_text(i)?;
            let format = message
                .text_part(i as u32)
                .and_then(|p| p.content_type())
                .map(|ct| (ct.attribute("format"), ct.attribute("delsp")));
            Some(match format {
                Some((Some(f), delsp)) if f.eq_ignore_ascii_case("flowed") => {
                    unflow(&text, delsp.is_some_and(|d| d.eq_ignore_ascii_case("yes")))
                }
                _ => text.into_owned(),
            })
        })
        .map(|t| strip_invisible(&t))
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
            let headers = raw
                .get(part.raw_header_offset() as usize..part.raw_body_offset() as usize)
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            let name = part
                .attachment_name()
                .map(|n| match n.contains('\u{FFFD}') {
                    true => rfc2231_name(&headers).unwrap_or_else(|| n.to_string()),
                    false => n.to_string(),
                })
                .map(|n| clean_line(&n))
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| format!("attachment-{}", i + 1));
            let raw_len = part.raw_end_offset().saturating_sub(part.raw_body_offset()) as usize;
            let content = part
                .content_transfer_encoding()
                .filter(|e| e.eq_ignore_ascii_case("base64"))
                .and_then(|_| undecoded_base64(part.contents(), raw_len))
                .unwrap_or_else(|| part.contents().to_vec());
            ParsedAttachment {
                name,
                content_type,
                size: content.len() as u64,
                content,
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
        text: quotes::visible_text_of(
            &strip_cid_placeholders(&full_text),
            forward_prefix.as_deref(),
        ),
        full_text,
        attachments,
        automatic,
        bounce,
    })
}

/// The sender's address and name. A display name with an unquoted comma
/// (`Smith, John <john@x>`) reads as two addresses, the first without an
/// address: the sender is the first with one, and the name is put back
/// together from the pieces before it.
fn sender(message: &mail_parser::Message<'_>) -> (Option<String>, Option<String>) {
    let Some(list) = message.from() else {
        return (None, None);
    };
    let addresses: Vec<&mail_parser::Addr<'_>> = list.iter().collect();
    let Some(at) = addresses
        .iter()
        .position(|a| a.address().is_some_and(|x| x.contains('@')))
    else {
        return (None, None);
    };
    let from = addresses[at].address().map(|a| a.trim().to_lowercase());
    let pieces: Vec<String> = addresses[..=at]
        .iter()
        .filter_map(|a| match (a.name(), a.address()) {
            (Some(name), _) => Some(name.to_string()),
            (None, Some(bare)) if !bare.contains('@') => Some(bare.to_string()),
            _ => None,
        })
        .collect();
    let name = clean_line(&pieces.join(", "));
    let from_name = (!name.is_empty() && Some(name.to_lowercase()) != from).then_some(name);
    (from, from_name)
}

static CID_PLACEHOLDER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\[cid:[^\]\s]{1,200}\]").expect("pattern compiles"));

/// `text` without the `[cid:image001.png@…]` placeholders some clients
/// leave where an inline picture was.
fn strip_cid_placeholders(text: &str) -> String {
    if !text.contains("[cid:") {
        return text.to_string();
    }
    text.lines()
        .filter_map(|line| {
            let stripped = CID_PLACEHOLDER.replace_all(line, "");
            // A line that held only the picture goes with it.
            let only_a_picture = stripped.trim().is_empty() && !line.trim().is_empty();
            (!only_a_picture).then(|| stripped.trim_end().to_string())
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Characters that change how text displays without being seen: zero-width
/// marks and direction overrides (which make `exe.pdf` of `fdp.exe`).
fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{0}'
            | '\u{200B}'..='\u{200D}'
            | '\u{2060}'
            | '\u{FEFF}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}'
    )
}

fn strip_invisible(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    chars
        .iter()
        .enumerate()
        .filter(|(i, c)| !invisible(**c) || joins_emoji(&chars, *i))
        .map(|(_, c)| *c)
        .collect()
}

/// A zero-width joiner between two pictographs (👩‍💻): part of one emoji.
fn joins_emoji(chars: &[char], i: usize) -> bool {
    let pictograph = |c: Option<&char>| {
        c.is_some_and(|c| matches!(*c as u32, 0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0xFE0F))
    };
    chars[i] == '\u{200D}' && i > 0 && pictograph(chars.get(i - 1)) && pictograph(chars.get(i + 1))
}

/// One line of header text: control and invisible characters removed,
/// whitespace collapsed.
fn clean_line(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() && !invisible(*c))
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Joins the soft line breaks of `format=flowed` text (RFC 3676): a line
/// ending in a space continues on the next. The signature line `-- ` is not
/// a soft break; space-stuffing is undone.
fn unflow(text: &str, delsp: bool) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    // The quote depth of the paragraph being joined: a line of another
    // depth never continues it (RFC 3676, 4.5).
    let mut current_depth = None;
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let depth = line.chars().take_while(|c| *c == '>').count();
        let (marks, content) = line.split_at(depth);
        let content = content.strip_prefix(' ').unwrap_or(content);
        if current_depth.is_some_and(|d| d != depth) {
            out.push(std::mem::take(&mut current));
        }
        if current.is_empty() {
            current.push_str(marks);
            if depth > 0 {
                current.push(' ');
            }
        }
        let soft = content.ends_with(' ') && content != "-- ";
        if soft && delsp {
            current.push_str(&content[..content.len() - 1]);
        } else {
            current.push_str(content);
        }
        if soft {
            current_depth = Some(depth);
        } else {
            out.push(std::mem::take(&mut current));
            current_depth = None;
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out.join("\n")
}

static RFC2231_PIECE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\b(filename|name)\*(\d+)(\*?)\s*=\s*(?:"([^"]*)"|([^;\s]*))"#)
        .expect("pattern compiles")
});

/// The file name from RFC 2231 continuations (`filename*0*=utf-8''%E8…;
/// filename*1*=…`), joined as bytes before decoding. mail-parser decodes
/// each piece alone, which breaks a character split between two pieces.
/// Only UTF-8 names are redone; others keep mail-parser's reading.
fn rfc2231_name(headers: &str) -> Option<String> {
    // (is `name` rather than `filename`, index, percent-encoded, value)
    let mut pieces: Vec<(bool, u32, bool, String)> = RFC2231_PIECE
        .captures_iter(headers)
        .filter_map(|c| {
            let is_filename = c[1].eq_ignore_ascii_case("filename");
            let index = c[2].parse().ok()?;
            let value = c.get(4).or(c.get(5))?.as_str().to_string();
            Some((!is_filename, index, !c[3].is_empty(), value))
        })
        .collect();
    pieces.sort();
    let first_kind = pieces.first()?.0;
    pieces.retain(|p| p.0 == first_kind);
    let mut bytes = Vec::new();
    for (n, (_, _, encoded, value)) in pieces.iter().enumerate() {
        let mut value = value.as_str();
        if n == 0 && *encoded {
            let mut parts = value.splitn(3, '\'');
            let charset = parts.next()?;
            if !charset.eq_ignore_ascii_case("utf-8") && !charset.eq_ignore_ascii_case("us-ascii") {
                return None;
            }
            let _language = parts.next()?;
            value = parts.next()?;
        }
        if !*encoded {
            bytes.extend_from_slice(value.as_bytes());
            continue;
        }
        let raw = value.as_bytes();
        let mut i = 0;
        while i < raw.len() {
            match (raw[i], raw.get(i + 1..i + 3)) {
                (b'%', Some(hex)) => {
                    let hex = std::str::from_utf8(hex).ok()?;
                    bytes.push(u8::from_str_radix(hex, 16).ok()?);
                    i += 3;
                }
                (b, _) => {
                    bytes.push(b);
                    i += 1;
                }
            }
        }
    }
    String::from_utf8(bytes).ok()
}

/// The decoded bytes of a base64 part that mail-parser left encoded (a
/// broken line, or a mail cut off before its closing boundary): as much
/// as decodes. `None` when the content is already decoded, which is about
/// three quarters of the raw size rather than all of it.
fn undecoded_base64(content: &[u8], raw_len: usize) -> Option<Vec<u8>> {
    let looks_encoded = !content.is_empty()
        && content.len() * 100 >= raw_len * 95
        && content
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=\r\n \t".contains(b));
    if !looks_encoded {
        return None;
    }
    let clean: Vec<u8> = content
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace() && *b != b'=')
        .collect();
    let whole_quads = &clean[..clean.len() - clean.len() % 4];
    data_encoding::BASE64_NOPAD
        .decode(&clean)
        .or_else(|_| data_encoding::BASE64_NOPAD.decode(whole_quads))
        .ok()
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
    fn a_comma_in_the_display_name_keeps_the_sender() {
        let raw = b"From: Smith, John <John@Customer.test>\r\nTo: support@example.test\r\nSubject: Order\r\nX-Auto-Response-Suppress: All\r\n\r\nWhere is it?\r\n";
        let mail = parse(raw, &own(), "example.test").expect("parses");
        assert_eq!(mail.from.as_deref(), Some("john@customer.test"));
        assert_eq!(mail.from_name.as_deref(), Some("Smith, John"));
        assert_eq!(mail.automatic, None, "a request to us, not a robot's mark");
    }

    #[test]
    fn a_soft_break_never_joins_lines_of_another_quote_depth() {
        assert_eq!(
            unflow("My answer is yes \n> Did you \n> get it?\n>> old", false),
            "My answer is yes \n> Did you get it?\n>> old"
        );
    }

    #[test]
    fn emoji_sequences_keep_their_joiners_and_pictures_leave_no_placeholder() {
        assert_eq!(
            strip_invisible("a\u{200B}b 👩\u{200D}💻"),
            "ab 👩\u{200D}💻"
        );
        assert_eq!(
            strip_cid_placeholders("Look:\n[cid:image001.png@01D]\nbroken [cid:x@y] here"),
            "Look:\nbroken  here"
        );
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
    fn flowed_text_is_joined_and_split_utf8_file_names_are_whole() {
        assert_eq!(
            unflow("The tracking \r\npage is empty.\r\n-- \r\nBob", false),
            "The tracking page is empty.\n-- \nBob"
        );
        assert_eq!(unflow("ab \ncd", true), "abcd");
        // 退 is E9 80 80: split between the two pieces.
        let headers = "Content-Disposition: attachment;\r\n filename*0*=utf-8''%E9%80;\r\n filename*1*=%80.pdf\r\n";
        assert_eq!(rfc2231_name(headers).as_deref(), Some("退.pdf"));
        assert_eq!(rfc2231_name("filename*0*=gbk''%CD%CB"), None);
    }

    #[test]
    fn base64_left_encoded_is_decoded_leniently() {
        let encoded = b"SGVsbG8gd29ybGQh\r\nSGVsbG8=\r\n";
        assert_eq!(
            undecoded_base64(encoded, encoded.len()).as_deref(),
            Some(&b"Hello world!Hello"[..])
        );
        // Already decoded content (about 3/4 of the raw size) is left alone.
        assert_eq!(undecoded_base64(b"Helloworld", 16), None);
        assert_eq!(undecoded_base64(b"%PDF-1.4 binary", 15), None);
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
