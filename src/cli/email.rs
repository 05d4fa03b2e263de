//! `frontdesk email inspect`: what the gateway reads in a mail file.

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
