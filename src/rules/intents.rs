//! Intent rules: load `intents/*.toml`, compile every pattern into one
//! [`PatternSet`], classify customer text in one pass over it.
//!
//! An intent has patterns per language (all are tried on every message, so
//! mixed "我的order在哪" text works), optional negative patterns that veto
//! it, a priority, and an action: answer with a template, or hand off to a
//! human. Text is normalized first (see [`normalize`]). `\b` in a pattern
//! means an ASCII word boundary: Unicode `\b` is about 1000× slower on
//! Chinese text.

use crate::assets;
use crate::rules::pattern_set::PatternSet;
use regex::Regex;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum IntentError {
    #[error("{file}: {message}")]
    File { file: String, message: String },
    #[error("{file}: intent `{intent}`: pattern {pattern:?} does not compile: {message}")]
    Pattern {
        file: String,
        intent: String,
        pattern: String,
        message: String,
    },
    #[error("the intent patterns together are too large to compile: {0}")]
    SetTooLarge(String),
}

/// What to do when an intent matches.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Reply with this template.
    Answer,
    /// Queue for a human, with the hand-off acknowledgment.
    Handoff,
}

/// One intent file, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct IntentFile {
    name: String,
    #[serde(default)]
    priority: i32,
    action: Action,
    /// Template to answer with (required for `answer`).
    template: Option<String>,
    #[serde(default)]
    examples: Vec<String>,
    #[serde(default)]
    counter_examples: Vec<String>,
    /// Patterns per language code.
    patterns: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    negative: BTreeMap<String, Vec<String>>,
    /// A short name per locale for the option button when the bot asks
    /// which of two intents the customer means.
    #[serde(default)]
    title: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct Intent {
    pub name: String,
    pub priority: i32,
    pub action: Action,
    pub template: Option<String>,
    pub examples: Vec<String>,
    pub counter_examples: Vec<String>,
    pub file: String,
    titles: BTreeMap<String, String>,
}

impl Intent {
    /// The intent's short name in `locale` (else English, else its name
    /// in words: `track_order` is "Track order").
    pub fn title(&self, locale: &str) -> String {
        if let Some(t) = self.titles.get(locale).or_else(|| self.titles.get("en")) {
            return t.clone();
        }
        let words = self.name.replace('_', " ");
        let mut chars = words.chars();
        match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect(),
            None => words,
        }
    }
}

/// What the rules make of a text.
#[derive(Debug, Clone)]
pub enum Decision<'a> {
    /// One intent fits best.
    Matched(Classification<'a>),
    /// Two answering intents fit equally well (same priority, as many
    /// patterns fired): ask the customer which one they mean rather than
    /// guess.
    Ambiguous(Classification<'a>, Classification<'a>),
    /// No intent fits: a person takes it.
    NoMatch,
}

/// Which intent a text matched and why.
#[derive(Debug, Clone)]
pub struct Classification<'a> {
    pub intent: &'a Intent,
    /// The positive patterns that fired.
    pub fired: Vec<&'a str>,
}

/// A pattern's owner in the compiled set.
#[derive(Debug, Clone)]
struct PatternOwner {
    intent: usize,
    negative: bool,
    source: String,
}

/// All intents, compiled.
#[derive(Debug, Clone)]
pub struct IntentSet {
    intents: Vec<Intent>,
    owners: Vec<PatternOwner>,
    set: PatternSet,
}

/// One example that did not behave as its intent file says.
#[derive(Debug, Clone, PartialEq)]
pub struct ExampleFailure {
    pub file: String,
    pub intent: String,
    pub text: String,
    /// The intent that matched instead, if any.
    pub matched: Option<String>,
    /// True for a counter-example that matched its own intent.
    pub counter_example: bool,
}

impl std::fmt::Display for ExampleFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let got = self.matched.as_deref().unwrap_or("no intent");
        if self.counter_example {
            write!(
                f,
                "{}: `{}` must not match {:?}, but it did",
                self.file, self.intent, self.text
            )
        } else {
            write!(
                f,
                "{}: `{}` must match {:?}, but got {got}",
                self.file, self.intent, self.text
            )
        }
    }
}

/// Rewrites `\b` and `\B` into their ASCII forms, leaving `\\b` alone.
fn ascii_word_boundaries(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('b') => out.push_str("(?-u:\\b)"),
            Some('B') => out.push_str("(?-u:\\B)"),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Puts text in the form patterns are written against: lowercase,
/// full-width ASCII folded to half-width, zero-width characters removed,
/// whitespace runs collapsed to one space, trimmed.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.chars() {
        let c = match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}' => continue,
            other => other,
        };
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.extend(c.to_lowercase());
    }
    out
}

impl IntentSet {
    /// Loads from `dir`, or from the set built into the binary.
    pub fn load(dir: Option<&Path>) -> Result<Self, IntentError> {
        let files = assets::intent_files(dir).map_err(|e| IntentError::File {
            file: dir.map(|d| d.display().to_string()).unwrap_or_default(),
            message: e.to_string(),
        })?;
        Self::from_files(files)
    }

    /// Builds from `(file name, contents)` pairs.
    pub fn from_files(files: Vec<(String, String)>) -> Result<Self, IntentError> {
        let mut intents = Vec::new();
        let mut owners = Vec::new();
        let mut patterns = Vec::new();
        let mut names = BTreeMap::new();
        for (file, text) in files {
            let parsed: IntentFile = toml::from_str(&text).map_err(|e| IntentError::File {
                file: file.clone(),
                message: e.to_string().trim_end().to_string(),
            })?;
            let file_error = |message: String| IntentError::File {
                file: file.clone(),
                message,
            };
            if let Some(other) = names.insert(parsed.name.clone(), file.clone()) {
                return Err(file_error(format!(
                    "intent `{}` is also defined in {other}",
                    parsed.name
                )));
            }
            if parsed.action == Action::Answer && parsed.template.is_none() {
                return Err(file_error(format!(
                    "intent `{}` answers but names no `template`",
                    parsed.name
                )));
            }
            if parsed.patterns.values().all(Vec::is_empty) {
                return Err(file_error(format!(
                    "intent `{}` has no patterns",
                    parsed.name
                )));
            }
            let index = intents.len();
            for (negative, table) in [(false, &parsed.patterns), (true, &parsed.negative)] {
                for pattern in table.values().flatten() {
                    let compiled = Regex::new(&ascii_word_boundaries(pattern)).map_err(|e| {
                        IntentError::Pattern {
                            file: file.clone(),
                            intent: parsed.name.clone(),
                            pattern: pattern.clone(),
                            message: e.to_string(),
                        }
                    })?;
                    owners.push(PatternOwner {
                        intent: index,
                        negative,
                        source: pattern.clone(),
                    });
                    patterns.push(compiled);
                }
            }
            intents.push(Intent {
                name: parsed.name,
                priority: parsed.priority,
                action: parsed.action,
                template: parsed.template,
                examples: parsed.examples,
                counter_examples: parsed.counter_examples,
                file,
                titles: parsed.title,
            });
        }
        let set = PatternSet::from_regexes(patterns)
            .map_err(|e| IntentError::SetTooLarge(e.to_string()))?;
        Ok(Self {
            intents,
            owners,
            set,
        })
    }

    pub fn intents(&self) -> &[Intent] {
        &self.intents
    }

    pub fn pattern_count(&self) -> usize {
        self.owners.len()
    }

    /// Every pattern as compiled (ASCII word boundaries), in set order:
    /// for benchmarks that compare the set with a loop over them.
    pub fn compiled_patterns(&self) -> Vec<&str> {
        self.set.patterns().collect()
    }

    /// The best intent for `text`: among intents with a positive match and
    /// no negative match, the highest priority, then the most patterns fired.
    pub fn classify(&self, text: &str) -> Option<Classification<'_>> {
        self.ranked(text).into_iter().next()
    }

    /// What the bot does with `text`: answer one intent, ask which of two,
    /// or hand off.
    pub fn decide(&self, text: &str) -> Decision<'_> {
        let mut ranked = self.ranked(text).into_iter();
        match (ranked.next(), ranked.next()) {
            (None, _) => Decision::NoMatch,
            (Some(best), Some(next))
                if best.intent.action == Action::Answer
                    && next.intent.action == Action::Answer
                    && best.intent.priority == next.intent.priority
                    && best.fired.len() == next.fired.len()
                    && best.intent.template != next.intent.template =>
            {
                Decision::Ambiguous(best, next)
            }
            (Some(best), _) => Decision::Matched(best),
        }
    }

    /// Every intent that matches `text` and is not vetoed, best first:
    /// highest priority, then the most patterns fired, then the earlier
    /// (alphabetical) file.
    fn ranked(&self, text: &str) -> Vec<Classification<'_>> {
        let normalized = normalize(text);
        let mut scan = self.set.scan(&normalized);
        let candidates = scan.candidates().to_vec();
        // (intent, positive patterns that fired), ascending by intent.
        let mut fired: Vec<(usize, Vec<&str>)> = Vec::new();
        for &i in &candidates {
            let owner = &self.owners[i];
            if !owner.negative && scan.is_match(i) {
                match fired.binary_search_by_key(&owner.intent, |(intent, _)| *intent) {
                    Ok(at) => fired[at].1.push(owner.source.as_str()),
                    Err(at) => fired.insert(at, (owner.intent, vec![owner.source.as_str()])),
                }
            }
        }
        // A veto matters only to an intent that fired: the others' negative
        // patterns are not tried.
        let mut vetoed = Vec::new();
        for &i in &candidates {
            let owner = &self.owners[i];
            let intent = owner.intent;
            if owner.negative
                && fired.binary_search_by_key(&intent, |(i, _)| *i).is_ok()
                && !vetoed.contains(&intent)
                && scan.is_match(i)
            {
                vetoed.push(intent);
            }
        }
        let mut ranked: Vec<(usize, Vec<&str>)> = fired
            .into_iter()
            .filter(|(i, _)| !vetoed.contains(i))
            .collect();
        ranked.sort_by(|(a, fa), (b, fb)| {
            let ia = &self.intents[*a];
            let ib = &self.intents[*b];
            (ib.priority, fb.len())
                .cmp(&(ia.priority, fa.len()))
                .then(a.cmp(b))
        });
        ranked
            .into_iter()
            .map(|(i, fired)| Classification {
                intent: &self.intents[i],
                fired,
            })
            .collect()
    }

    /// The intent called `name`.
    pub fn by_name(&self, name: &str) -> Option<&Intent> {
        self.intents.iter().find(|i| i.name == name)
    }

    /// Runs every intent's examples and counter-examples.
    pub fn test_examples(&self) -> Vec<ExampleFailure> {
        let mut failures = Vec::new();
        for intent in &self.intents {
            for text in &intent.examples {
                // An example must be answered by its intent, not turned
                // into a question between two.
                let got = match self.decide(text) {
                    Decision::Matched(c) => Some(c.intent.name.clone()),
                    Decision::Ambiguous(a, b) => Some(format!(
                        "a question: {} or {}",
                        a.intent.name, b.intent.name
                    )),
                    Decision::NoMatch => None,
                };
                if got.as_deref() != Some(intent.name.as_str()) {
                    failures.push(ExampleFailure {
                        file: intent.file.clone(),
                        intent: intent.name.clone(),
                        text: text.clone(),
                        matched: got,
                        counter_example: false,
                    });
                }
            }
            for text in &intent.counter_examples {
                let got = self.classify(text).map(|c| c.intent.name.clone());
                if got.as_deref() == Some(intent.name.as_str()) {
                    failures.push(ExampleFailure {
                        file: intent.file.clone(),
                        intent: intent.name.clone(),
                        text: text.clone(),
                        matched: got,
                        counter_example: true,
                    });
                }
            }
        }
        failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(files: &[(&str, &str)]) -> Result<IntentSet, IntentError> {
        IntentSet::from_files(
            files
                .iter()
                .map(|(n, t)| (n.to_string(), t.to_string()))
                .collect(),
        )
    }

    const ORDER: &str = r#"
name = "order_status"
priority = 10
action = "answer"
template = "order_status"
[patterns]
en = ['\bwhere\b.*\border\b']
zh = ['订单.*(哪|状态)']
[negative]
en = ['\bcancel']
"#;

    const HUMAN: &str = r#"
name = "human"
priority = 20
action = "handoff"
[patterns]
en = ['\b(human|person|agent)\b']
"#;

    #[test]
    fn normalize_folds_case_width_and_space() {
        assert_eq!(
            normalize("  ＷＨＥＲＥ\u{3000}is   My\u{200B} ORDER？ "),
            "where is my order?"
        );
        assert_eq!(normalize("我的订单\t到哪了"), "我的订单 到哪了");
    }

    #[test]
    fn word_boundaries_become_ascii() {
        assert_eq!(ascii_word_boundaries(r"\bfoo\B"), r"(?-u:\b)foo(?-u:\B)");
        assert_eq!(ascii_word_boundaries(r"a\\b\d"), r"a\\b\d");
    }

    #[test]
    fn classify_matches_english_chinese_and_respects_negatives() {
        let s = set(&[("order.toml", ORDER), ("human.toml", HUMAN)]).expect("load");
        assert_eq!(
            s.classify("Where is my ORDER?")
                .map(|c| c.intent.name.as_str()),
            Some("order_status")
        );
        assert_eq!(
            s.classify("我的订单到哪了").map(|c| c.intent.name.as_str()),
            Some("order_status")
        );
        assert!(s.classify("where do I cancel my order").is_none());
        assert!(s.classify("hello there").is_none());
    }

    #[test]
    fn two_answers_that_fit_equally_are_a_question_for_the_customer() {
        let refund = r#"
name = "refund"
priority = 10
action = "answer"
template = "refund"
title = { en = "Get a refund", zh = "申请退款" }
[patterns]
en = ['\brefund\b']
"#;
        let s = set(&[
            ("order.toml", ORDER),
            ("refund.toml", refund),
            ("human.toml", HUMAN),
        ])
        .expect("load");
        match s.decide("where is my order refund") {
            Decision::Ambiguous(a, b) => {
                assert_eq!(
                    (a.intent.name.as_str(), b.intent.name.as_str()),
                    ("order_status", "refund")
                );
                assert_eq!(b.intent.title("zh"), "申请退款");
                assert_eq!(a.intent.title("zh"), "Order status");
            }
            other => panic!("expected a question, got {other:?}"),
        }
        // A hand-off in the running is not a question: a person decides.
        assert!(
            matches!(s.decide("where is my order, human please"), Decision::Matched(c) if c.intent.name == "human")
        );
        assert!(matches!(s.decide("refund"), Decision::Matched(c) if c.intent.name == "refund"));
        assert!(matches!(s.decide("hello"), Decision::NoMatch));
    }

    #[test]
    fn higher_priority_wins() {
        let s = set(&[("order.toml", ORDER), ("human.toml", HUMAN)]).expect("load");
        let c = s
            .classify("where is my order, I want a human")
            .expect("match");
        assert_eq!(c.intent.name, "human");
    }

    #[test]
    fn bad_pattern_names_file_intent_and_pattern() {
        let bad = ORDER.replace("订单.*(哪|状态)", "订单(");
        let err = set(&[("order.toml", &bad)]).expect_err("bad regex");
        let msg = err.to_string();
        assert!(msg.contains("order.toml"), "{msg}");
        assert!(msg.contains("order_status"), "{msg}");
        assert!(msg.contains("订单("), "{msg}");
    }

    #[test]
    fn answer_without_template_is_refused() {
        let bad = ORDER.replace("template = \"order_status\"\n", "");
        let err = set(&[("order.toml", &bad)]).expect_err("no template");
        assert!(err.to_string().contains("template"), "{err}");
    }

    #[test]
    fn duplicate_names_are_refused() {
        let err = set(&[("a.toml", ORDER), ("b.toml", ORDER)]).expect_err("dup");
        assert!(err.to_string().contains("also defined in a.toml"), "{err}");
    }

    #[test]
    fn shipped_intents_pass_their_examples() {
        let s = IntentSet::load(None).expect("shipped intents load");
        let failures = s.test_examples();
        assert!(
            failures.is_empty(),
            "{}",
            failures
                .iter()
                .map(|f| f.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        );
        assert!(s.intents().len() >= 5);
    }
}
