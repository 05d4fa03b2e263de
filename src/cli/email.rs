//! `frontdesk email inspect`: what the gateway reads in a mail file;
//! `frontdesk email eval`: how well it reads a folder of them.

use anyhow::{Context, Result};
use frontdesk::app;
use frontdesk::config::Config;
use std::io::Write;
use std::path::Path;
pub(super) fn email_inspect(
    path: Option<&Path>,
    file: &Path,
    json: bool,
    address: Option<String>,
) -> Result<()> {
    let config = Config::load(path)?;
    let (_, templates) = app::load_rules(&config)?;
    let raw = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let (own, domain) = match (&address, &config.channels.email) {
        (Some(a), _) => (
            vec![a.trim().to_lowercase()],
            a.rsplit_once('@')
                .map_or("localhost", |(_, d)| d)
                .to_string(),
        ),
        (None, Some(email)) => (email.own_addresses(), email.domain().to_string()),
        (None, None) => (Vec::new(), "localhost".to_string()),
    };
    let report = frontdesk::channels::email::inspect::inspect(
        &raw,
        &own,
        &domain,
        templates.locales(),
        templates.default_locale(),
    );
    if json {
        out!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let none = || "-".to_string();
    out!(
        "from:        {} {}",
        report.from_name.clone().unwrap_or_default(),
        report.from.clone().unwrap_or_else(none)
    );
    out!(
        "subject:     {}",
        report.subject.clone().unwrap_or_else(none)
    );
    out!(
        "message-id:  {}",
        report.message_id.clone().unwrap_or_else(none)
    );
    out!("in-reply-to: {}", report.in_reply_to.join(" "));
    out!("references:  {}", report.references.join(" "));
    out!(
        "ticket tag:  {}",
        report.ticket_tag.map_or_else(none, |t| format!("#{t}"))
    );
    out!("threading:   {}", report.threading);
    out!("language:    {}", report.language);
    out!(
        "verdict:     {}{}",
        report.verdict,
        report
            .rule
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    );
    if let Some(bounce) = &report.bounce {
        out!(
            "bounce:      {} for {}{}",
            if bounce.failed { "failed" } else { "delayed" },
            bounce.ours.join(" "),
            bounce
                .diagnostic
                .as_deref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default()
        );
    }
    for a in &report.attachments {
        out!(
            "attachment:  {} ({}, {} bytes)",
            a.name,
            a.content_type,
            a.size
        );
    }
    out!("visible text:");
    for line in report.visible_text.lines() {
        out!("  {line}");
    }
    Ok(())
}

/// `frontdesk email eval DIR`: exact readings and lost text over a folder,
/// failing below the bars given.
pub(super) fn email_eval(
    dir: &Path,
    min_exact: Option<f64>,
    max_lost: Option<usize>,
    verbose: bool,
) -> Result<()> {
    let own = vec!["support@example.test".to_string()];
    let report = frontdesk::channels::email::eval::eval(dir, &own, "example.test")?;
    for result in &report.results {
        let name = result.file.display();
        for line in &result.lost {
            out!("LOST   {name}: {line}");
        }
        if !result.exact && verbose {
            out!("DIFFER {name}:\n{}\n", result.visible);
        } else if !result.exact && result.lost.is_empty() {
            out!("DIFFER {name}");
        }
    }
    out!(
        "{} mails: {} exact ({:.1}%), {} lost text; {:.0} mails/s",
        report.mails,
        report.exact,
        report.exact_percent(),
        report.lost_text,
        report.mails_per_second
    );
    if let Some(min) = min_exact
        && report.exact_percent() < min
    {
        anyhow::bail!(
            "exact readings {:.1}% are below {min}%",
            report.exact_percent()
        );
    }
    if let Some(max) = max_lost
        && report.lost_text > max
    {
        anyhow::bail!(
            "{} mails lost text (at most {max} allowed)",
            report.lost_text
        );
    }
    Ok(())
}
