//! Measuring the intent rules against labelled utterances: how many
//! questions the bot answers (coverage), how many of its answers are right
//! (precision), per-intent precision and recall, and the confusions behind
//! the errors. `frontdesk intents eval FILE.csv` prints this report, and CI
//! runs it with bars so a rule change that answers wrongly fails the build.
//!
//! A row's label is an intent name, or `none` when no canned answer fits.
//! A row is *answered* when the winning intent's action is `answer`;
//! hand-off intents and no match both mean a person takes it. Coverage is
//! the share of rows labelled with an answering intent that got an answer
//! at all; precision is the share of all answers given (to any row) that
//! name the row's own intent, so an answer to a `none` row counts against it.
//! A row where the bot asks which of two intents the customer means counts
//! as not answered, and is reported apart.

use crate::rules::intents::{Action, Decision, IntentSet};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// The label of rows that no intent should answer.
pub const NONE: &str = "none";

/// Examples kept per confusion in the report.
const EXAMPLES_PER_CONFUSION: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("{path}: {message}")]
    Read { path: String, message: String },
    #[error("{path}:{line}: {message}")]
    Row {
        path: String,
        line: u64,
        message: String,
    },
}

/// One labelled utterance.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub text: String,
    pub label: String,
}

/// Reads a `text,intent` CSV (a header line first; other columns ignored).
/// Every label must be an intent of `set` or `none`.
pub fn read_samples(path: &Path, set: &IntentSet) -> Result<Vec<Sample>, EvalError> {
    let name = path.display().to_string();
    let read_error = |message: String| EvalError::Read {
        path: name.clone(),
        message,
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(|e| read_error(e.to_string()))?;
    let headers = reader
        .headers()
        .map_err(|e| read_error(e.to_string()))?
        .clone();
    let column = |wanted: &str| {
        headers
            .iter()
            .position(|h| h.trim() == wanted)
            .ok_or_else(|| read_error(format!("no `{wanted}` column in the header line")))
    };
    let (text_at, intent_at) = (column("text")?, column("intent")?);
    let mut samples = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| read_error(e.to_string()))?;
        let line = record.position().map_or(0, |p| p.line());
        let row_error = |message: String| EvalError::Row {
            path: name.clone(),
            line,
            message,
        };
        let (Some(text), Some(label)) = (record.get(text_at), record.get(intent_at)) else {
            return Err(row_error("the row has too few columns".into()));
        };
        let label = label.trim();
        if label != NONE && !set.intents().iter().any(|i| i.name == label) {
            return Err(row_error(format!(
                "`{label}` is neither an intent nor `{NONE}`"
            )));
        }
        samples.push(Sample {
            text: text.to_string(),
            label: label.to_string(),
        });
    }
    if samples.is_empty() {
        return Err(read_error("no rows to evaluate".into()));
    }
    Ok(samples)
}

/// How one intent did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IntentScore {
    pub intent: String,
    /// Rows labelled with this intent.
    pub support: usize,
    /// Rows classified as this intent.
    pub predicted: usize,
    /// Rows both labelled and classified as it.
    pub correct: usize,
    pub precision: Option<f64>,
    pub recall: Option<f64>,
}

/// Rows of one label that went to another intent (or to none).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Confusion {
    pub label: String,
    pub predicted: String,
    /// True when the bot answered with the wrong intent (worse than a
    /// hand-off, so these come first).
    pub wrong_answer: bool,
    pub count: usize,
    pub examples: Vec<String>,
}

/// The whole evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub rows: usize,
    /// Rows labelled with an answering intent.
    pub answerable: usize,
    /// Answerable rows that got an answer (right or wrong).
    pub covered: usize,
    /// Rows the bot answered (with any intent).
    pub answered: usize,
    /// Answered rows whose intent is the label.
    pub correct_answers: usize,
    /// Answerable rows that were answered, over answerable rows.
    pub coverage: Option<f64>,
    /// Correct answers over all answers given.
    pub precision: Option<f64>,
    /// Rows a person takes (hand-off intent or no match), over all rows.
    pub handoff_rate: f64,
    /// Rows where two intents fit equally and the bot asks which one
    /// (counted as not answered), and how many offered the right one.
    pub clarified: usize,
    pub clarified_right: usize,
    /// Rows labelled `none`, and how many of them got an answer.
    pub none_rows: usize,
    pub none_answered: usize,
    pub intents: Vec<IntentScore>,
    /// Most frequent first, wrong answers before missed ones.
    pub confusions: Vec<Confusion>,
}

fn ratio(part: usize, whole: usize) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Classifies every sample and scores the result.
pub fn evaluate(set: &IntentSet, samples: &[Sample]) -> Report {
    let answers = |name: &str| {
        set.intents()
            .iter()
            .any(|i| i.name == name && i.action == Action::Answer)
    };
    let mut scores: BTreeMap<&str, (usize, usize, usize)> = set
        .intents()
        .iter()
        .map(|i| (i.name.as_str(), (0, 0, 0)))
        .collect();
    let mut confusions: HashMap<(String, String), Vec<&str>> = HashMap::new();
    let (mut answerable, mut covered, mut answered, mut correct_answers) = (0, 0, 0, 0);
    let (mut none_rows, mut none_answered) = (0, 0);
    let (mut clarified, mut clarified_right) = (0, 0);
    for sample in samples {
        let (predicted, asked) = match set.decide(&sample.text) {
            Decision::Matched(c) => (Some(c.intent), None),
            Decision::Ambiguous(a, b) => (
                None,
                Some(format!("{} or {}", a.intent.name, b.intent.name)),
            ),
            Decision::NoMatch => (None, None),
        };
        if let Some(asked) = &asked {
            clarified += 1;
            clarified_right += usize::from(asked.split(" or ").any(|n| n == sample.label));
        }
        let predicted_name = match (&asked, predicted) {
            (Some(asked), _) => asked.as_str(),
            (None, p) => p.map_or(NONE, |i| i.name.as_str()),
        };
        let is_answer = predicted.is_some_and(|i| i.action == Action::Answer);
        let label_answers = answers(&sample.label);
        answerable += usize::from(label_answers);
        covered += usize::from(label_answers && is_answer);
        answered += usize::from(is_answer);
        if sample.label == NONE {
            none_rows += 1;
            none_answered += usize::from(is_answer);
        }
        let right = asked.is_none() && predicted_name == sample.label;
        correct_answers += usize::from(is_answer && right);
        if let Some(score) = scores.get_mut(sample.label.as_str()) {
            score.0 += 1;
        }
        if let Some(score) = scores.get_mut(predicted.map_or(NONE, |i| i.name.as_str())) {
            score.1 += 1;
            score.2 += usize::from(right);
        }
        if !right {
            confusions
                .entry((sample.label.clone(), predicted_name.to_string()))
                .or_default()
                .push(&sample.text);
        }
    }
    let mut confusions: Vec<Confusion> = confusions
        .into_iter()
        .map(|((label, predicted), texts)| Confusion {
            wrong_answer: answers(&predicted),
            count: texts.len(),
            examples: texts
                .iter()
                .take(EXAMPLES_PER_CONFUSION)
                .map(|t| t.to_string())
                .collect(),
            label,
            predicted,
        })
        .collect();
    confusions.sort_by(|a, b| {
        (b.wrong_answer, b.count, &a.label, &a.predicted).cmp(&(
            a.wrong_answer,
            a.count,
            &b.label,
            &b.predicted,
        ))
    });
    let handed_off = samples.len() - answered;
    Report {
        rows: samples.len(),
        answerable,
        covered,
        answered,
        correct_answers,
        coverage: ratio(covered, answerable),
        precision: ratio(correct_answers, answered),
        handoff_rate: handed_off as f64 / samples.len().max(1) as f64,
        clarified,
        clarified_right,
        none_rows,
        none_answered,
        intents: scores
            .into_iter()
            .filter(|(_, (support, predicted, _))| support + predicted > 0)
            .map(|(name, (support, predicted, correct))| IntentScore {
                intent: name.to_string(),
                support,
                predicted,
                correct,
                precision: ratio(correct, predicted),
                recall: ratio(correct, support),
            })
            .collect(),
        confusions,
    }
}

/// The bars a report must clear; `None` checks nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bars {
    pub min_precision: Option<f64>,
    pub min_coverage: Option<f64>,
}

impl Report {
    /// Which bars the report misses, as sentences. A measure that cannot be
    /// computed (no answers given, no answerable rows) passes its bar, and
    /// an answered `none` row always fails a precision bar.
    pub fn shortfalls(&self, bars: Bars) -> Vec<String> {
        let mut out = Vec::new();
        if let (Some(min), Some(p)) = (bars.min_precision, self.precision)
            && p < min
        {
            out.push(format!(
                "precision {:.1}% is below {:.1}%",
                p * 100.0,
                min * 100.0
            ));
        }
        if bars.min_precision.is_some() && self.none_answered > 0 {
            out.push(format!(
                "{} of {} rows labelled `none` got an answer",
                self.none_answered, self.none_rows
            ));
        }
        if let (Some(min), Some(c)) = (bars.min_coverage, self.coverage)
            && c < min
        {
            out.push(format!(
                "coverage {:.1}% is below {:.1}%",
                c * 100.0,
                min * 100.0
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDER: &str = r#"
name = "track_order"
priority = 10
action = "answer"
template = "track_order"
[patterns]
en = ['\border\b']
"#;
    const REFUND: &str = r#"
name = "get_refund"
priority = 9
action = "answer"
template = "get_refund"
[patterns]
en = ['\brefund\b']
"#;
    const HUMAN: &str = r#"
name = "contact_human_agent"
priority = 20
action = "handoff"
[patterns]
en = ['\bhuman\b']
"#;

    fn set() -> IntentSet {
        IntentSet::from_files(vec![
            ("a.toml".into(), ORDER.into()),
            ("b.toml".into(), REFUND.into()),
            ("c.toml".into(), HUMAN.into()),
        ])
        .expect("intents")
    }

    fn sample(text: &str, label: &str) -> Sample {
        Sample {
            text: text.into(),
            label: label.into(),
        }
    }

    #[test]
    fn scores_coverage_precision_and_confusions() {
        let samples = [
            sample("where is my order", "track_order"),      // right
            sample("order refund status", "track_order"),    // tie → a.toml wins: right
            sample("my refund for the order", "get_refund"), // wrong answer (order wins)
            sample("money back please", "get_refund"),       // missed
            sample("a human please", "contact_human_agent"), // right hand-off
            sample("what is the weather", "none"),           // right: no answer
            sample("the order of the phoenix", "none"),      // wrong answer
        ];
        let r = evaluate(&set(), &samples);
        assert_eq!(r.rows, 7);
        assert_eq!(r.answerable, 4);
        assert_eq!(r.answered, 4);
        assert_eq!(r.correct_answers, 2);
        assert_eq!(r.coverage, Some(0.75));
        assert_eq!(r.precision, Some(0.5));
        assert!((r.handoff_rate - 3.0 / 7.0).abs() < 1e-9);
        assert_eq!((r.none_rows, r.none_answered), (2, 1));
        assert_eq!(r.clarified, 0);
        let order = r
            .intents
            .iter()
            .find(|s| s.intent == "track_order")
            .expect("score");
        assert_eq!((order.support, order.predicted, order.correct), (2, 4, 2));
        let first = &r.confusions[0];
        assert!(first.wrong_answer);
        assert_eq!(first.predicted, "track_order");
        assert_eq!(r.confusions.last().map(|c| c.wrong_answer), Some(false));
    }

    #[test]
    fn a_question_between_two_is_not_an_answer() {
        let set = IntentSet::from_files(vec![
            ("a.toml".into(), ORDER.into()),
            (
                "b.toml".into(),
                REFUND.replace("priority = 9", "priority = 10"),
            ),
        ])
        .expect("intents");
        let r = evaluate(&set, &[sample("refund for my order", "get_refund")]);
        assert_eq!((r.answered, r.clarified, r.clarified_right), (0, 1, 1));
        assert_eq!(r.coverage, Some(0.0));
        assert_eq!(r.confusions[0].predicted, "track_order or get_refund");
        assert!(!r.confusions[0].wrong_answer);
    }

    #[test]
    fn bars_fail_on_low_numbers_and_any_answered_none() {
        let r = evaluate(&set(), &[sample("the order of things", "none")]);
        assert_eq!(r.coverage, None);
        let missed = r.shortfalls(Bars {
            min_precision: Some(0.97),
            min_coverage: Some(0.7),
        });
        assert_eq!(missed.len(), 2, "{missed:?}");
        let clean = evaluate(&set(), &[sample("hello", "none")]);
        assert!(
            clean
                .shortfalls(Bars {
                    min_precision: Some(0.97),
                    min_coverage: Some(0.7)
                })
                .is_empty()
        );
    }

    #[test]
    fn unknown_labels_and_missing_columns_name_the_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("u.csv");
        std::fs::write(
            &path,
            "text,intent\n\"where, is it\",track_order\nhi,cancel_everything\n",
        )
        .expect("write");
        let err = read_samples(&path, &set()).expect_err("unknown label");
        assert!(err.to_string().contains(":3:"), "{err}");
        assert!(err.to_string().contains("cancel_everything"), "{err}");
        std::fs::write(&path, "utterance,label\nhi,none\n").expect("write");
        let err = read_samples(&path, &set()).expect_err("bad header");
        assert!(err.to_string().contains("`text`"), "{err}");
        std::fs::write(&path, "text,intent\n\"where, is it\",track_order\n").expect("write");
        let samples = read_samples(&path, &set()).expect("good file");
        assert_eq!(samples, vec![sample("where, is it", "track_order")]);
    }
}
