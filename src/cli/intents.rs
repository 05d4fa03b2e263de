//! `frontdesk intents test | eval | try`: the intent rules' own examples,
//! their coverage and precision on labelled text, and one text tried.

use anyhow::{Result, bail};
use frontdesk::app;
use frontdesk::config::Config;
use frontdesk::model::ChannelKind;
use frontdesk::rules::evaluation;
use frontdesk::rules::intents::Action;
use frontdesk::rules::templates::ReplyContext;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
pub(super) fn intents_test(path: Option<&Path>) -> Result<ExitCode> {
    let config = Config::load(path)?;
    let (intents, _) = app::load_rules(&config)?;
    let failures = intents.test_examples();
    let total: usize = intents
        .intents()
        .iter()
        .map(|i| i.examples.len() + i.counter_examples.len())
        .sum();
    for failure in &failures {
        out!("FAIL {failure}");
    }
    out!(
        "{} passed, {} failed",
        total - failures.len(),
        failures.len()
    );
    Ok(if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

pub(super) fn intents_eval(
    path: Option<&Path>,
    file: &Path,
    json: bool,
    bars: evaluation::Bars,
    confusions: usize,
) -> Result<ExitCode> {
    for bar in [bars.min_precision, bars.min_coverage]
        .into_iter()
        .flatten()
    {
        if !(0.0..=1.0).contains(&bar) {
            bail!("bars are fractions from 0 to 1, such as 0.97; got {bar}");
        }
    }
    let config = Config::load(path)?;
    let (intents, _) = app::load_rules(&config)?;
    let samples = evaluation::read_samples(file, &intents)?;
    let report = evaluation::evaluate(&intents, &samples);
    let percent = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{:.1}%", v * 100.0));
    if json {
        out!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        out!("{}: {} rows", file.display(), report.rows);
        out!(
            "coverage:  {} ({} of {} answerable rows answered)",
            percent(report.coverage),
            report.covered,
            report.answerable
        );
        out!(
            "precision: {} ({} of {} answers right)",
            percent(report.precision),
            report.correct_answers,
            report.answered
        );
        out!(
            "asked:     {} rows got a question with two options ({} offered the right one)",
            report.clarified,
            report.clarified_right
        );
        out!(
            "hand-off:  {} of all rows; `none` rows answered: {} of {}",
            percent(Some(report.handoff_rate)),
            report.none_answered,
            report.none_rows
        );
        out!(
            "{:<28} {:>7} {:>9} {:>9} {:>9}",
            "intent",
            "support",
            "predicted",
            "precision",
            "recall"
        );
        for s in &report.intents {
            out!(
                "{:<28} {:>7} {:>9} {:>9} {:>9}",
                s.intent,
                s.support,
                s.predicted,
                percent(s.precision),
                percent(s.recall)
            );
        }
        if !report.confusions.is_empty() {
            out!("worst confusions (label → got):");
        }
        for c in report.confusions.iter().take(confusions) {
            let kind = if c.wrong_answer {
                "wrong answer"
            } else {
                "not answered"
            };
            out!("  {} → {}: {} ({kind})", c.label, c.predicted, c.count);
            for example in &c.examples {
                out!("      {example:?}");
            }
        }
    }
    let missed = report.shortfalls(bars);
    for shortfall in &missed {
        eprintln!("below the bar: {shortfall}");
    }
    Ok(if missed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

pub(super) fn intents_try(path: Option<&Path>, text: &str, lang: Option<&str>) -> Result<()> {
    let config = Config::load(path)?;
    let (intents, templates) = app::load_rules(&config)?;
    let locale = match lang {
        Some(l) => l.to_string(),
        None => {
            frontdesk::rules::locale::detect(text, templates.locales(), templates.default_locale())
        }
    };
    out!("normalized: {}", frontdesk::rules::intents::normalize(text));
    out!("locale:     {locale}");
    let context = ReplyContext {
        ticket: 1042,
        position: 1,
        wait_minutes: u64::from(config.queue.minutes_per_customer),
        ..ReplyContext::default()
    };
    if let frontdesk::rules::intents::Decision::Ambiguous(a, b) = intents.decide(text) {
        out!(
            "intent:     {} or {}? (equal priority and fit: the bot asks)",
            a.intent.name,
            b.intent.name
        );
        let context = ReplyContext {
            options: vec![a.intent.title(&locale), b.intent.title(&locale)],
            ..context
        };
        out!("reply (clarify):");
        out!(
            "{}",
            templates.render("clarify", &locale, ChannelKind::Web, &context)?
        );
        return Ok(());
    }
    let template = match intents.classify(text) {
        Some(c) => {
            out!(
                "intent:     {} (priority {}, {})",
                c.intent.name,
                c.intent.priority,
                c.intent.file
            );
            for pattern in &c.fired {
                out!("  fired:    {pattern}");
            }
            match (&c.intent.action, &c.intent.template) {
                (Action::Answer, Some(t)) => t.clone(),
                _ => "handoff".to_string(),
            }
        }
        None => {
            out!("intent:     none (hand-off to a person)");
            "handoff".to_string()
        }
    };
    out!("reply ({template}):");
    out!(
        "{}",
        templates.render(&template, &locale, ChannelKind::Web, &context)?
    );
    Ok(())
}
