//! The summary report as CSV: one `name,value` row per figure, with
//! spreadsheet formula characters neutralised.

use super::*;

/// The report as `metric,value` lines, for spreadsheets: the period's
/// figures, then `day.YYYY-MM-DD.…` and `agent.NAME.…` lines.
pub fn to_csv(summary: &Summary) -> String {
    let mut rows: Vec<(String, String)> = vec![
        ("from".into(), summary.from.to_rfc3339()),
        ("to".into(), summary.to.to_rfc3339()),
        ("zone".into(), summary.zone.clone()),
    ];
    figure_rows(&mut rows, "", &summary.figures);
    for (day, figures) in &summary.by_day {
        figure_rows(&mut rows, &format!("day.{day}."), figures);
    }
    for (agent, a) in &summary.by_agent {
        let p = format!("agent.{}.", csv_safe(agent));
        rows.push((format!("{p}pickups"), a.pickups.to_string()));
        rows.push((format!("{p}resolutions"), a.resolutions.to_string()));
        duration_rows(
            &mut rows,
            &format!("{p}first_human_response_secs"),
            &a.first_human_response,
        );
        duration_rows(&mut rows, &format!("{p}handling_secs"), &a.handling);
        rows.push((
            format!("{p}first_contact_resolution"),
            opt(a.first_contact_resolution),
        ));
        rows.push((format!("{p}csat_count"), a.csat.count.to_string()));
        rows.push((format!("{p}csat_score"), opt(a.csat.score)));
    }
    let mut out = String::from("metric,value\n");
    for (metric, value) in rows {
        out.push_str(&format!("{metric},{value}\n"));
    }
    out
}

fn opt(v: Option<f64>) -> String {
    v.map_or(String::new(), |v| format!("{v:.3}"))
}

/// Agent names are usernames, but a comma or quote would break the line.
fn csv_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c == ',' || c == '"' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect()
}

fn duration_rows(rows: &mut Vec<(String, String)>, name: &str, d: &Durations) {
    rows.push((format!("{name}_count"), d.count.to_string()));
    rows.push((format!("{name}_mean"), opt(d.mean)));
    rows.push((format!("{name}_median"), opt(d.median)));
    rows.push((format!("{name}_p90"), opt(d.p90)));
}

fn figure_rows(rows: &mut Vec<(String, String)>, p: &str, f: &Figures) {
    rows.push((format!("{p}conversations"), f.conversations.to_string()));
    for (channel, n) in &f.by_channel {
        rows.push((format!("{p}conversations_{channel}"), n.to_string()));
    }
    rows.push((
        format!("{p}handed_to_people"),
        f.handed_to_people.to_string(),
    ));
    rows.push((
        format!("{p}bot_resolution_rate"),
        opt(f.bot_resolution_rate),
    ));
    for (name, d) in [
        ("first_automatic_response_secs", &f.first_automatic_response),
        ("first_human_response_secs", &f.first_human_response),
        ("pickup_wait_secs", &f.pickup_wait),
        ("resolution_time_secs", &f.resolution_time),
        ("agent_handling_secs", &f.agent_handling),
    ] {
        duration_rows(rows, &format!("{p}{name}"), d);
    }
    rows.push((format!("{p}resolved"), f.resolved.to_string()));
    rows.push((
        format!("{p}first_contact_resolution"),
        opt(f.first_contact_resolution),
    ));
    rows.push((format!("{p}sla_met"), f.sla_met.to_string()));
    rows.push((format!("{p}sla_breached"), f.sla_breached.to_string()));
    rows.push((format!("{p}sla_attainment"), opt(f.sla_attainment)));
    for (name, score) in [("csat", &f.csat), ("nps", &f.nps), ("ces", &f.ces)] {
        rows.push((format!("{p}{name}_count"), score.count.to_string()));
        rows.push((format!("{p}{name}_score"), opt(score.score)));
    }
    rows.push((format!("{p}survey_comments"), f.survey_comments.to_string()));
}
