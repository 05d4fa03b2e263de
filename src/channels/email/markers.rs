//! The marks of quoted history and forwarded mail, in every language the
//! table `quote_markers.toml` lists, compiled once: attribution lines,
//! separator lines, the labels of a quoted header block, forward subject
//! prefixes and client taglines. The table is data a contributor extends;
//! [`super::quotes`] holds the reading that uses it.

use regex::Regex;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::LazyLock;

/// One language's section of the table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Language {
    #[serde(default)]
    attribution: Vec<String>,
    #[serde(default)]
    original: Vec<String>,
    #[serde(default)]
    forwarded: Vec<String>,
    #[serde(default)]
    from: Vec<String>,
    #[serde(default)]
    sent: Vec<String>,
    #[serde(default)]
    to: Vec<String>,
    #[serde(default)]
    cc: Vec<String>,
    #[serde(default)]
    subject: Vec<String>,
    #[serde(default)]
    forward_subject: Vec<String>,
    #[serde(default)]
    taglines: Vec<String>,
}

/// What a header line of a quoted block names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Label {
    From,
    Sent,
    To,
    Cc,
    Subject,
}

/// Every language's marks, each kind as one pattern. The patterns are
/// large (every language, Unicode, any case), so each is asked only about
/// lines of the shape it could match: most lines are the customer's
/// sentences and never reach a pattern.
pub struct Markers {
    attribution: Regex,
    /// The attributions that open with their own words ("On …", "Am …",
    /// "在 …"), not with any text: only these are looked for across
    /// wrapped lines, so a customer's line above an attribution is never
    /// taken for its first half.
    attribution_opening: Regex,
    original: Regex,
    forwarded: Regex,
    labels: Vec<(Label, Regex)>,
    forward_subject: Regex,
    tagline: Regex,
}

/// How the table's attributions end: a colon, or one of these words.
const ATTRIBUTION_ENDINGS: &[&str] = &[
    ":",
    "：",
    "-",
    "wrote",
    "writes",
    "said",
    "sent",
    "작성",
    "씀",
    "เขียนว่า",
];
/// Separator lines are short.
const SEPARATOR_BYTES: usize = 160;
/// A header label ends within this many bytes of the line's start.
const LABEL_BYTES: usize = 64;

/// Whether `line` ends as the table's attributions do.
fn attribution_shaped(line: &str) -> bool {
    ATTRIBUTION_ENDINGS.iter().any(|e| line.ends_with(e))
}

/// Whether `line` could be a separator: short, and fenced by dashes and
/// the like, or ending in a colon ("Begin forwarded message:").
fn separator_shaped(line: &str) -> bool {
    let fence = |c: char| matches!(c, '-' | '_' | '=' | '*' | '<' | '>' | '|' | ':' | '：');
    line.len() <= SEPARATOR_BYTES && (line.starts_with(fence) || line.ends_with(fence))
}

impl Markers {
    /// Whether `line` (trimmed, or lines joined) is an attribution.
    pub fn attribution(&self, line: &str) -> bool {
        attribution_shaped(line) && self.attribution.is_match(line)
    }

    /// Whether `line` is an attribution that opens with its own words.
    pub fn attribution_opening(&self, line: &str) -> bool {
        attribution_shaped(line) && self.attribution_opening.is_match(line)
    }

    /// Whether `line` (trimmed) separates an unquoted copy of the history.
    pub fn original(&self, line: &str) -> bool {
        separator_shaped(line) && self.original.is_match(line)
    }

    /// Whether `line` (trimmed) opens a forwarded mail.
    pub fn forwarded(&self, line: &str) -> bool {
        separator_shaped(line) && self.forwarded.is_match(line)
    }

    /// Whether `line` (trimmed) is a client's tagline.
    pub fn tagline(&self, line: &str) -> bool {
        self.tagline.is_match(line)
    }

    /// The forward prefix `subject` starts with ("Fwd", "WG"), if any.
    pub fn forward_prefix<'s>(&self, subject: &'s str) -> Option<&'s str> {
        Some(self.forward_subject.captures(subject)?.get(1)?.as_str())
    }

    /// What header label `line` starts with, if any ("From: …", "*Von:* …",
    /// "发件人：…").
    pub fn label(&self, line: &str) -> Option<Label> {
        let head = match line.char_indices().find(|(at, _)| *at >= LABEL_BYTES) {
            Some((at, _)) => &line[..at],
            None => line,
        };
        if !head.contains([':', '：']) {
            return None;
        }
        self.labels
            .iter()
            .find(|(_, pattern)| pattern.is_match(line))
            .map(|(label, _)| *label)
    }
}

/// The table as shipped.
pub static MARKERS: LazyLock<Markers> = LazyLock::new(|| {
    compile(include_str!("quote_markers.toml")).expect("quote_markers.toml is valid")
});

/// Any of `patterns` (each anchored as written), case-insensitively.
fn any_of(patterns: impl Iterator<Item = String>) -> Result<Regex, regex::Error> {
    let alternatives: Vec<String> = patterns.map(|p| format!("(?:{p})")).collect();
    let joined = match alternatives.is_empty() {
        true => "[^\\s\\S]".to_string(),
        false => alternatives.join("|"),
    };
    regex::RegexBuilder::new(&joined)
        .case_insensitive(true)
        .size_limit(SIZE_LIMIT)
        .build()
}

/// Room for every language's patterns compiled together (Unicode classes
/// under case folding are large).
const SIZE_LIMIT: usize = 64 << 20;

/// `phrase` as a pattern: its words escaped, joined by `gap`.
fn phrase_pattern(phrase: &str, gap: &str) -> String {
    phrase
        .split_whitespace()
        .map(regex::escape)
        .collect::<Vec<_>>()
        .join(gap)
}

/// A line holding one of `words` alone, between dashes, underscores,
/// equals signs, stars or angle brackets, with a colon allowed at its end.
fn separator(words: impl Iterator<Item = String>) -> Result<Regex, regex::Error> {
    let phrases: Vec<String> = words.map(|w| phrase_pattern(&w, r"\s+")).collect();
    Regex::new(&format!(
        r"(?i)^[\s\-_=*<>|]*(?:{})[\s\-_=*<>|:：]*$",
        phrases.join("|")
    ))
}

/// A line that starts with one of `labels` and a colon.
fn label_line(labels: impl Iterator<Item = String>) -> Result<Regex, regex::Error> {
    let words: Vec<String> = labels.map(|w| phrase_pattern(&w, r"\s?")).collect();
    Regex::new(&format!(
        r"(?i)^\s*[*|]?\s*(?:{})\s*[*]?\s*[:：]",
        words.join("|")
    ))
}

fn compile(table: &str) -> Result<Markers, String> {
    let languages: BTreeMap<String, Language> = toml::from_str(table).map_err(|e| e.to_string())?;
    let all = |pick: fn(&Language) -> &Vec<String>| {
        languages
            .values()
            .flat_map(move |l| pick(l).iter().cloned())
            .collect::<Vec<_>>()
            .into_iter()
    };
    let bad = |e: regex::Error| e.to_string();
    let labels = [
        (Label::From, all(|l| &l.from)),
        (Label::Sent, all(|l| &l.sent)),
        (Label::To, all(|l| &l.to)),
        (Label::Cc, all(|l| &l.cc)),
        (Label::Subject, all(|l| &l.subject)),
    ]
    .into_iter()
    .map(|(label, words)| Ok((label, label_line(words).map_err(bad)?)))
    .collect::<Result<Vec<_>, String>>()?;
    let prefixes: Vec<String> = all(|l| &l.forward_subject)
        .map(|p| regex::escape(&p))
        .collect();
    Ok(Markers {
        attribution: any_of(all(|l| &l.attribution)).map_err(bad)?,
        attribution_opening: any_of(all(|l| &l.attribution).filter(|p| !p.starts_with("^.")))
            .map_err(bad)?,
        original: separator(all(|l| &l.original)).map_err(bad)?,
        forwarded: separator(all(|l| &l.forwarded)).map_err(bad)?,
        labels,
        forward_subject: Regex::new(&format!(
            r"(?i)^\s*(?:\[[^\]]*\]\s*)?({})\s*[:：]",
            prefixes.join("|")
        ))
        .map_err(bad)?,
        tagline: any_of(all(|l| &l.taglines)).map_err(bad)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_table_compiles_and_reads_each_kind() {
        let m = &*MARKERS;
        assert!(
            m.attribution
                .is_match("Il giorno lun 30 nov 2026 alle 10:00 Acme ha scritto:")
        );
        assert!(
            m.attribution
                .is_match("El lun, 30 nov 2026 a las 10:00, Acme escribió:")
        );
        assert!(m.original("-----Ursprüngliche Nachricht-----"));
        assert!(
            m.original
                .is_match("------------------ 原始邮件 ------------------")
        );
        assert!(
            m.forwarded
                .is_match("---------- Forwarded message ---------")
        );
        assert!(m.forwarded("Begin forwarded message:"));
        assert_eq!(m.label("*From:* Acme"), Some(Label::From));
        assert_eq!(m.label("Betreff: Ihre Bestellung"), Some(Label::Subject));
        assert_eq!(m.label("寄件者： Acme"), Some(Label::From));
        assert_eq!(m.label("Amount: 49.00"), None);
        assert_eq!(m.forward_prefix("Fwd: your order"), Some("Fwd"));
        assert_eq!(m.forward_prefix("WG: Bestellung"), Some("WG"));
        assert_eq!(m.forward_prefix("Re: your order"), None);
        assert!(m.tagline("Sent from my iPhone"));
        assert!(
            !m.tagline
                .is_match("Sent from my desk, which is easier than my phone")
        );
    }

    #[test]
    fn a_broken_table_says_what_is_wrong() {
        assert!(compile("[xx]\nattribution = ['(']").is_err());
        assert!(compile("[xx]\nunknown = []").is_err());
    }
}
