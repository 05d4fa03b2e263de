//! The customer's new words in a reply: quoted history and signature cut
//! away, so intents classify what the customer just wrote and agents read
//! it without scrolling through the thread. The original stays stored.
//!
//! Structure decides, and text is kept unless it is demonstrably history:
//!
//! - `>`-quoted lines go, with the attribution line above them ("On …
//!   wrote:" in any language of [`super::markers`], wrapped over up to three
//!   lines). Whatever the customer wrote above, between or below the quotes
//!   stays: top-posting, interleaving and bottom-posting all read right.
//! - An unquoted copy of the history is cut from where it starts: a
//!   separator line ("-----Original Message-----", "原始邮件"), a quoted
//!   header block (three header lines together, one of them the sender's:
//!   "From:/Sent:/To:", "Von:/Gesendet:/An:", "寄件者/寄件日期/收件者"), or
//!   a dated attribution with no `>` quote below it. A pasted "From: shop /
//!   Date: … / Amount: …" is not a header block and stays.
//! - A forwarded mail ("Begin forwarded message:", or a subject that says
//!   so) is what the customer wants read: nothing from the forward on is
//!   cut, and its separator line stays to mark it. (A subject prefix that
//!   is a forward in one language and a reply in another, "VS:", is taken
//!   for a reply when the quoted block's own subject carries it too.)
//! - A `-- ` signature of a few lines and a short client tagline at the
//!   end ("Sent from my iPhone") go; a longer text after `-- ` stays.
//!
//! If nothing is left, the whole text is kept: a person should see
//! something rather than nothing.

use super::markers::{Label, MARKERS};
use std::collections::BTreeSet;

/// Lines after a `-- ` that still make a signature, at most.
const SIGNATURE_LINES: usize = 12;
/// Words in a client tagline, at most.
const TAGLINE_WORDS: usize = 8;

/// The visible, newly written part of `text` (a reply or a new mail).
pub fn visible_text(text: &str) -> String {
    visible_text_of(text, None)
}

/// The same, for a mail whose subject starts with the forward prefix
/// `forward` ("Fwd"): then an unquoted block is the forwarded mail, not
/// history, unless its own subject starts with the same prefix.
pub fn visible_text_of(text: &str, forward: Option<&str>) -> String {
    let text = text.replace("\r\n", "\n");
    let lines: Vec<&str> = text.lines().collect();
    let (end, forwarded_at) = history_start(&lines, forward);
    let mut keep = vec![true; end];
    let mut i = 0;
    while i < end.min(forwarded_at.unwrap_or(end)) {
        if depth(lines[i]) > 0 {
            keep[i] = false;
        } else if let Some(span) = attribution_at(&lines, i, Guess::AboveQuote)
            && quote_follows(&lines, i + span)
        {
            keep[i..i + span].iter_mut().for_each(|k| *k = false);
            i += span;
            continue;
        }
        i += 1;
    }
    let mut kept: Vec<&str> = lines[..end]
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(l, _)| *l)
        .collect();
    let forward_line = forwarded_at.map(|f| {
        // Where the forward marker ended up among the kept lines.
        keep[..f].iter().filter(|k| **k).count()
    });
    drop_signature(&mut kept, forward_line);
    drop_trailer(&mut kept, forward_line);
    while kept.first().is_some_and(|l| l.trim().is_empty()) {
        kept.remove(0);
    }
    // Where quotes went, the blank lines around them stay: one is enough.
    kept.dedup_by(|next, previous| next.trim().is_empty() && previous.trim().is_empty());
    let visible = kept
        .iter()
        .map(|l| l.trim_end())
        .collect::<Vec<_>>()
        .join("\n");
    if visible.trim().is_empty() {
        text.trim().to_string()
    } else {
        visible
    }
}

/// How deep `line` is quoted: its leading `>` marks.
fn depth(line: &str) -> usize {
    line.trim_start()
        .chars()
        .take_while(|c| *c == '>' || *c == ' ')
        .filter(|c| *c == '>')
        .count()
}

/// Where the unquoted history starts (the end of what is read), and where
/// a forwarded mail starts, if one does first.
fn history_start(lines: &[&str], forward: Option<&str>) -> (usize, Option<usize>) {
    for (i, line) in lines.iter().enumerate() {
        if depth(line) > 0 {
            continue;
        }
        let trimmed = line.trim();
        if MARKERS.forwarded(trimmed) {
            return (lines.len(), Some(i));
        }
        if forward.is_some_and(|prefix| !reply_chain(lines, i, prefix)) {
            continue;
        }
        if MARKERS.original(trimmed) {
            return (i, None);
        }
        if header_block_at(lines, i) {
            return (rule_above(lines, i), None);
        }
        // A phone client that put the attribution and the quoted text on
        // one line ("On Mon, … wrote:   Which size?").
        if opens_flattened_quote(trimmed) {
            return (i, None);
        }
        // A client's dated attribution with no quote below it: an
        // unquoted copy follows. Only the attributions that open with their
        // own words count here ("On …", "Am …"): a customer's line that
        // merely ends in an address and a colon is the customer's.
        if let Some(span) = attribution_at(lines, i, Guess::Strict)
            && MARKERS.attribution_opening(
                &lines[i..i + span]
                    .iter()
                    .map(|l| l.trim())
                    .collect::<Vec<_>>()
                    .join(" "),
            )
            && dated(&lines[i..i + span])
            && !quote_follows(lines, i + span)
        {
            return (i, None);
        }
    }
    (lines.len(), None)
}

/// Whether `line` opens with an attribution of the table's opening kind
/// that names an address ("On …, Acme <a@b> wrote:") and goes on after its
/// colon.
fn opens_flattened_quote(line: &str) -> bool {
    line.char_indices()
        .filter(|(_, c)| *c == ':' || *c == '：')
        .map(|(at, c)| at + c.len_utf8())
        .filter(|end| *end < line.len())
        .any(|end| {
            let head = &line[..end];
            head.contains('@') && MARKERS.attribution_opening(head)
        })
}

/// Whether a quoted block starting near line `i` has a subject starting
/// with `prefix` too: the chain of a reply whose prefix ("VS:", a reply in
/// Finnish) is a forward elsewhere (Danish).
fn reply_chain(lines: &[&str], i: usize, prefix: &str) -> bool {
    lines.iter().skip(i).take(10).any(|line| {
        MARKERS.label(line) == Some(Label::Subject)
            && line
                .split_once([':', '：'])
                .and_then(|(_, value)| MARKERS.forward_prefix(value))
                .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
    })
}

/// `i`, or the rule line just above it (Outlook's `______` before its
/// header block), so the rule goes with the history.
fn rule_above(lines: &[&str], i: usize) -> usize {
    let above = (0..i).rev().find(|&j| !lines[j].trim().is_empty());
    match above {
        Some(j) if is_rule(lines[j]) => j,
        _ => i,
    }
}

fn is_rule(line: &str) -> bool {
    let t = line.trim();
    t.chars().count() >= 8 && t.chars().all(|c| matches!(c, '_' | '-' | '=' | '—'))
}

/// Whether a quoted header block starts at `i`: header lines together, at
/// least three kinds, one of them the sender.
fn header_block_at(lines: &[&str], i: usize) -> bool {
    let Some(first) = MARKERS.label(lines[i]) else {
        return false;
    };
    let mut kinds = BTreeSet::from([first]);
    let mut unlabelled = 0;
    for line in lines.iter().skip(i + 1).take(8) {
        if line.trim().is_empty() {
            break;
        }
        match MARKERS.label(line) {
            Some(label) => {
                kinds.insert(label);
            }
            // A wrapped value (a long To: list) may take a line; a line of
            // another shape ("Amount: 49.00") ends the block.
            None if unlabelled == 0 && !looks_labelled(line) => unlabelled += 1,
            None => break,
        }
    }
    kinds.contains(&Label::From) && kinds.len() >= 3
}

/// "Word: value": a label this table does not know.
fn looks_labelled(line: &str) -> bool {
    line.split_once([':', '：'])
        .is_some_and(|(head, _)| !head.trim().is_empty() && head.split_whitespace().count() <= 3)
}

/// How far an attribution may be guessed.
#[derive(Clone, Copy, PartialEq)]
enum Guess {
    /// The table's patterns only.
    Strict,
    /// Right above a quote, also a line of any language that ends in a
    /// colon and names an address or a time ("… 10:00, Acme <a@b> …:").
    AboveQuote,
}

/// The attribution starting at line `i`, as its number of lines (one, or
/// two or three when a client wrapped it).
fn attribution_at(lines: &[&str], i: usize, guess: Guess) -> Option<usize> {
    if lines[i].trim().is_empty() || depth(lines[i]) > 0 {
        return None;
    }
    if guess == Guess::AboveQuote && unknown_attribution(lines[i].trim()) {
        return Some(1);
    }
    let mut joined = String::new();
    for span in 1..=3 {
        let line = lines.get(i + span - 1)?;
        if span > 1 && (line.trim().is_empty() || depth(line) > 0) {
            return None;
        }
        if !joined.is_empty() {
            joined.push(' ');
        }
        joined.push_str(line.trim());
        let found = match span {
            1 => MARKERS.attribution(&joined),
            _ => MARKERS.attribution_opening(&joined),
        };
        if found {
            return Some(span);
        }
    }
    None
}

/// A line in a language the table lacks that reads like an attribution:
/// it ends in a colon and names an address, or a date and a time.
fn unknown_attribution(line: &str) -> bool {
    let ends_in_colon = line.ends_with(':') || line.ends_with('：');
    let address = line.contains('@');
    let time = line.as_bytes().windows(5).any(|w| {
        w[0].is_ascii_digit()
            && w[1].is_ascii_digit()
            && w[2] == b':'
            && w[3].is_ascii_digit()
            && w[4].is_ascii_digit()
    });
    let year = line
        .as_bytes()
        .windows(4)
        .any(|w| w.iter().all(u8::is_ascii_digit) && (w[0] == b'1' || w[0] == b'2'));
    ends_in_colon && (address || (time && year)) && line.chars().count() <= 200
}

/// Whether quoted lines follow line `from` (past blank lines).
fn quote_follows(lines: &[&str], from: usize) -> bool {
    lines
        .iter()
        .skip(from)
        .find(|l| !l.trim().is_empty())
        .is_some_and(|l| depth(l) > 0)
}

/// An attribution that names an address or a date with its year: a
/// client wrote it, not the customer ("On Monday at 10 I wrote:" stays).
fn dated(lines: &[&str]) -> bool {
    lines.iter().any(|l| l.contains('@') || DATE.is_match(l))
}

/// A year (19xx, 20xx) or a numeric date (30/11/26, 30.11.2026).
static DATE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"(?:19|20)\d\d|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}")
        .expect("pattern compiles")
});

/// Cuts a `-- ` signature of a few lines (not inside a forwarded mail).
fn drop_signature(kept: &mut Vec<&str>, forward_line: Option<usize>) {
    let limit = forward_line.unwrap_or(kept.len());
    let Some(sig) = kept[..limit]
        .iter()
        .rposition(|l| *l == "-- " || *l == "--")
    else {
        return;
    };
    let after = kept[sig + 1..limit]
        .iter()
        .filter(|l| !l.trim().is_empty())
        .count();
    if after <= SIGNATURE_LINES {
        kept.drain(sig..limit);
    }
}

/// Drops trailing blank lines, rules and a short client tagline (only at
/// the very end, and not after a forwarded mail's start).
fn drop_trailer(kept: &mut Vec<&str>, forward_line: Option<usize>) {
    let floor = forward_line.map_or(0, |f| f + 1);
    while kept.len() > floor
        && kept.last().is_some_and(|l| {
            let t = l.trim();
            t.is_empty() || is_rule(t) || is_tagline(t)
        })
    {
        kept.pop();
    }
}

fn is_tagline(line: &str) -> bool {
    // Outlook writes its link after the words: "Get Outlook for
    // Android<https://aka.ms/…>".
    let line = match line.find("<http") {
        Some(link) if line.ends_with('>') => line[..link].trim_end(),
        _ => line,
    };
    line.split_whitespace().count() <= TAGLINE_WORDS && MARKERS.tagline(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gmail_reply_keeps_only_the_new_text() {
        let text = "Thanks, but it still has not arrived.\n\nOn Mon, 30 Nov 2026 at 10:00, Acme Shop Support <support@example.test> wrote:\n> Your order shipped.\n> Ticket #1042";
        assert_eq!(visible_text(text), "Thanks, but it still has not arrived.");
    }

    #[test]
    fn wrapped_gmail_attribution_is_cut_too() {
        let text = "Still waiting.\n\nOn Mon, 30 Nov 2026 at 10:00, Acme Shop Support <\nsupport@example.test> wrote:\n\n> old";
        assert_eq!(visible_text(text), "Still waiting.");
    }

    #[test]
    fn outlook_and_chinese_clients() {
        let outlook = "Please cancel it.\n\n________________________________\nFrom: Acme Shop Support <support@example.test>\nSent: Monday, November 30, 2026 10:00\nTo: Alice\nSubject: Re: order";
        assert_eq!(visible_text(outlook), "Please cancel it.");
        let original = "Please cancel it.\n-----Original Message-----\nFrom: support@example.test";
        assert_eq!(visible_text(original), "Please cancel it.");
        let qq = "还没收到货\n\n------------------ 原始邮件 ------------------\n发件人: \"Acme\"<support@example.test>\n发送时间: 2026年11月30日\n";
        assert_eq!(visible_text(qq), "还没收到货");
        let netease = "好的，谢谢\n在 2026-11-30 10:00:00，\"Acme Shop Support\" <support@example.test> 写道：\n>您的订单已发货";
        assert_eq!(visible_text(netease), "好的，谢谢");
    }

    #[test]
    fn signatures_and_taglines_go_but_closings_stay() {
        let text = "Where is my order?\n\nBest regards,\nAlice\n\n-- \nAlice Smith | ACME Corp\n+1 555 0100";
        assert_eq!(
            visible_text(text),
            "Where is my order?\n\nBest regards,\nAlice"
        );
        assert_eq!(visible_text("退款到哪了\n\n发自我的iPhone"), "退款到哪了");
        assert_eq!(visible_text("Refund?\n\nSent from my iPhone"), "Refund?");
        let desk = "Refund?\n\nSent from my desk, which is easier than my phone";
        assert_eq!(visible_text(desk), desk);
    }

    #[test]
    fn interleaved_replies_keep_every_new_line() {
        let text = "> Which order?\nThe blue jacket.\n> Which size?\nXL please.";
        assert_eq!(visible_text(text), "The blue jacket.\nXL please.");
        let attributed = "On Mon, 30 Nov 2026 at 10:00, Acme <support@example.test> wrote:\n> Which size?\nL, please.\n> Colour?\nBlue.\n>\n> Best regards,\n> Acme";
        assert_eq!(visible_text(attributed), "L, please.\nBlue.");
    }

    #[test]
    fn a_reply_below_the_quote_is_kept() {
        let text = "Hi,\n\nOn Mon, 30 Nov 2026 at 10:00, Acme <support@example.test> wrote:\n> Which size do you need?\n\nXL, and in blue please.\n\nAlice";
        assert_eq!(
            visible_text(text),
            "Hi,\n\nXL, and in blue please.\n\nAlice"
        );
    }

    #[test]
    fn gmail_chinese_name_first_and_mail_master_blocks() {
        let gmail = "好的\n\nAcme Shop Support <support@example.test> 于2026年11月30日周一 上午10:00写道：\n> 已发货";
        assert_eq!(visible_text(gmail), "好的");
        let master =
            "好的，谢谢。\n\n发自网易邮箱大师\n---- 回复的原邮件 ----\n| 发件人 | Acme |\n您的订单";
        assert_eq!(visible_text(master), "好的，谢谢。");
    }

    #[test]
    fn a_from_line_in_the_customers_own_words_is_kept() {
        let text = "From: my office I cannot log in.\nPlease help.";
        assert_eq!(visible_text(text), text);
        let bank = "I was charged twice:\n\nFrom: ACME SHOP\nDate: 28/11/2026\nAmount: 49.00 EUR\n\nFrom: ACME SHOP\nDate: 28/11/2026\nAmount: 49.00 EUR\n\nPlease refund one.";
        assert_eq!(visible_text(bank), bank);
    }

    #[test]
    fn a_forwarded_mail_is_kept_and_marked() {
        let text = "Please look at this.\n\n---------- Forwarded message ---------\nFrom: Courier <track@courier.test>\nDate: Mon, 30 Nov 2026\nSubject: Delivery failed\nTo: alice@customer.test\n\nWe could not deliver parcel 123.";
        assert_eq!(visible_text(text), text);
        let outlook = "See below.\n\n________________________________\nFrom: Courier <track@courier.test>\nSent: Monday, November 30, 2026 10:00\nTo: Alice\nSubject: Delivery failed\n\nWe could not deliver parcel 123.";
        assert_eq!(visible_text_of(outlook, Some("FW")), outlook);
        let finnish = "Kiitos.\n\n________________________________\nLähettäjä: Acme\nLähetetty: maanantai\nVastaanottaja: Anna\nAihe: VS: Tilaus\n\nVanha viesti";
        assert_eq!(visible_text_of(finnish, Some("VS")), "Kiitos.");
    }

    #[test]
    fn localised_attributions_and_header_blocks() {
        let italian = "Grazie, ma non è arrivato.\n\nIl giorno lun 30 nov 2026 alle ore 10:00 Acme <support@example.test> ha scritto:\n> Il suo ordine è stato spedito.";
        assert_eq!(visible_text(italian), "Grazie, ma non è arrivato.");
        let german = "Bitte stornieren.\n\nVon: Acme <support@example.test>\nGesendet: Montag, 30. November 2026 10:00\nAn: Alice\nBetreff: Ihre Bestellung\n\nIhre Bestellung wurde versandt.";
        assert_eq!(visible_text(german), "Bitte stornieren.");
        let taiwan = "還沒收到。\n\n寄件者: Acme <support@example.test>\n寄件日期: 2026年11月30日 上午 10:00\n收件者: Alice\n主旨: 您的訂單\n\n已出貨";
        assert_eq!(visible_text(taiwan), "還沒收到。");
    }

    #[test]
    fn attributions_in_languages_the_table_lacks_go_with_their_quote() {
        let estonian = "Tänan!\n\nE, 30. nov 2026 10:00 Acme <support@example.test> kirjutas:\n> Tellimus on teel.";
        assert_eq!(visible_text(estonian), "Tänan!");
        let list = "My order numbers, as of 2026-11-30 10:00:\n12345\n67890";
        assert_eq!(
            visible_text(list),
            list,
            "no quote below: the customer's own line"
        );
        let address = "Please send it to Bob <bob@customer.test> at 2026 Main St 10:00:\nThanks";
        assert_eq!(visible_text(address), address);
    }

    #[test]
    fn a_phone_client_quote_flattened_onto_one_line_goes() {
        let text = "Blue, size M.\n\nSent from Yahoo Mail on Android\n\n  On Mon, Nov 30, 2026 at 18:00, Acme<support@example.test> wrote:   Which colour?";
        assert_eq!(visible_text(text), "Blue, size M.");
        let own = "Hello,\nOn Monday at 10:00 I wrote: please call me before delivery.";
        assert_eq!(visible_text(own), own, "no address: the customer's line");
        let told = "Hello,\nOn Monday at 10:00 I wrote:\nplease call me before delivery.";
        assert_eq!(
            visible_text(told),
            told,
            "no date, no quote: the customer's words"
        );
    }

    #[test]
    fn all_quoted_keeps_the_whole_text() {
        assert_eq!(visible_text("> only quoted"), "> only quoted");
    }
}
