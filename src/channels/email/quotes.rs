//! The customer's new words in a reply: quoted history and signature cut
//! away, so intents classify what the customer just wrote and agents read
//! it without scrolling through the thread. The original stays stored.
//!
//! Replies are cut at the first attribution line the common clients write
//! ("On … wrote:", Outlook's "-----Original Message-----" and its
//! `From:`/`Sent:` block, Chinese clients' "在 … 写道：" and
//! "------------------ 原始邮件 ------------------"), then every remaining
//! `>` line goes, then a `-- ` signature and the mobile taglines ("Sent from
//! my iPhone", "发自我的iPhone"). If nothing is left, the whole text is kept:
//! a person should see something rather than nothing.

use regex::Regex;
use std::sync::LazyLock;

/// Attribution lines above `>`-quoted history: "On … wrote:" and kin.
static QUOTING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^\s*(?:
            on\s.+\swrote:\s*$                          # Gmail, Apple Mail, Thunderbird
          | le\s.+\sa\sécrit\s?:\s*$                    # French clients
          | am\s.+\sschrieb\s.*:\s*$                    # German clients
          | 在\s?.+写道\s?[：:]\s*$                       # 163, Gmail in Chinese
          | .+于\s?.+写道\s?[：:]\s*$                     # Gmail in Chinese: Name 于 date 写道
        )",
    )
    .expect("attribution pattern compiles")
});

/// Lines that start an unquoted copy of the history (Outlook, QQ Mail,
/// Mail Master): everything from them on is history.
static BLOCK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^\s*(?:
            -{2,}\s*(?:original\smessage|ursprüngliche\snachricht|message\sd'origine)\s*-{2,}
          | -{2,}\s*(?:原始邮件|回复的原邮件|原邮件)\s*-{2,}   # QQ Mail, Foxmail, Mail Master
          | _{20,}\s*$                                  # Outlook's rule before From:/Sent:
          | (?:from|发件人)\s?[:：].+$                    # a header block (checked below)
        )",
    )
    .expect("history pattern compiles")
});

/// The first line of Gmail's attribution when it wraps: "On Mon, … <a@b"
static WRAPPED_ON: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^\s*on\s.+\d").expect("pattern compiles"));

/// Header-like lines that confirm a `From:` line opens a quoted block.
static HEADER_BLOCK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(?:sent|date|to|subject|发送时间|日期|收件人|主题)\s?[:：]")
        .expect("pattern compiles")
});

/// Taglines mobile clients append.
static TAGLINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\s*(?:sent\sfrom\smy\s.+|get\soutlook\sfor\s.+|sent\sfrom\s(?:mail|outlook|yahoo\smail)\sfor\s.+|发自我的\s?.+|发自网易邮箱.*|来自\s?.+客户端|sent\svia\s.+)\s*$",
    )
    .expect("tagline pattern compiles")
});

/// The visible, newly written part of `text`.
pub fn visible_text(text: &str) -> String {
    let text = text.replace("\r\n", "\n");
    let lines: Vec<&str> = text.lines().collect();
    let mut end = lines.len();
    let mut dropped = vec![false; lines.len()];
    let mut i = 0;
    while i < lines.len() {
        let wrapped = wrapped_attribution(&lines, i);
        if wrapped || QUOTING.is_match(lines[i]) {
            let written_above = lines[..i]
                .iter()
                .zip(&dropped)
                .any(|(l, gone)| !gone && !l.trim().is_empty() && !l.trim_start().starts_with('>'));
            if written_above {
                end = i;
                break;
            }
            // Nothing written above it: an interleaved reply. Keep reading,
            // without the attribution line(s); the quotes go below.
            dropped[i] = true;
            if wrapped {
                dropped[i + 1] = true;
                i += 1;
            }
        } else if starts_block(&lines, i) {
            end = i;
            break;
        }
        i += 1;
    }
    let mut kept: Vec<&str> = lines[..end]
        .iter()
        .zip(&dropped)
        .filter(|(l, gone)| !**gone && !l.trim_start().starts_with('>'))
        .map(|(l, _)| *l)
        .collect();
    if let Some(sig) = kept.iter().position(|l| *l == "-- " || *l == "--") {
        kept.truncate(sig);
    }
    while kept
        .last()
        .is_some_and(|l| l.trim().is_empty() || TAGLINE.is_match(l))
    {
        kept.pop();
    }
    while kept.first().is_some_and(|l| l.trim().is_empty()) {
        kept.remove(0);
    }
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

fn starts_block(lines: &[&str], i: usize) -> bool {
    let line = lines[i];
    if !BLOCK.is_match(line) {
        return false;
    }
    let is_header_line = {
        let t = line.trim_start().to_lowercase();
        t.starts_with("from") || t.starts_with("发件人")
    };
    // "From: x" alone could be the customer's own words; it starts the
    // history when header lines follow it.
    !is_header_line
        || lines
            .iter()
            .skip(i + 1)
            .take(4)
            .any(|l| HEADER_BLOCK.is_match(l))
}

/// "On Mon, 30 Nov 2026 at 10:00, Acme <support@" then "example.test> wrote:".
fn wrapped_attribution(lines: &[&str], i: usize) -> bool {
    WRAPPED_ON.is_match(lines[i])
        && lines
            .get(i + 1)
            .is_some_and(|next| next.trim_end().to_lowercase().ends_with("wrote:"))
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
    }

    #[test]
    fn interleaved_replies_keep_every_new_line() {
        let text = "> Which order?\nThe blue jacket.\n> Which size?\nXL please.";
        assert_eq!(visible_text(text), "The blue jacket.\nXL please.");
        let attributed = "On Mon, 30 Nov 2026 at 10:00, Acme <support@example.test> wrote:\n> Which size?\nL, please.\n> Colour?\nBlue.\n>\n> Best regards,\n> Acme";
        assert_eq!(visible_text(attributed), "L, please.\nBlue.");
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
    }

    #[test]
    fn all_quoted_keeps_the_whole_text() {
        assert_eq!(visible_text("> only quoted"), "> only quoted");
    }
}
