//! The summary report for support leads: what happened to the
//! conversations opened in a period, read from what the store keeps.
//!
//! For the conversations created in `[from, to)` (optionally of one channel
//! or segment): how many, by channel; how many reached a person; the bot
//! resolution rate (never handed to a person and no agent message); the
//! first automatic response time (first customer message to first bot
//! message); the first human response time (hand-off to the first agent
//! answer, where a deadline was set); SLA attainment (deadlines met over
//! met and missed). Pickup waits count the pickups in the period. Times
//! are summarized as count, mean, median and 90th percentile in seconds.

use crate::model::{Author, ChannelKind, Conversation, ConversationStatus, SlaState, SurveyKind};
use crate::store::{Store, StoreError};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

/// Which conversations a report covers.
#[derive(Debug, Clone)]
pub struct Period {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub channel: Option<ChannelKind>,
    pub segment: Option<String>,
}

/// Count, mean, median and 90th percentile of durations in seconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Durations {
    pub count: usize,
    pub mean: Option<f64>,
    pub median: Option<f64>,
    pub p90: Option<f64>,
}

impl Durations {
    fn of(mut secs: Vec<f64>) -> Self {
        if secs.is_empty() {
            return Self::default();
        }
        secs.sort_by(f64::total_cmp);
        let at = |q: f64| secs[((secs.len() - 1) as f64 * q).round() as usize];
        Self {
            count: secs.len(),
            mean: Some(secs.iter().sum::<f64>() / secs.len() as f64),
            median: Some(at(0.5)),
            p90: Some(at(0.9)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub conversations: usize,
    pub by_channel: BTreeMap<String, usize>,
    pub handed_to_people: usize,
    /// Share of the conversations the bot handled alone.
    pub bot_resolution_rate: Option<f64>,
    pub first_automatic_response: Durations,
    pub first_human_response: Durations,
    pub pickup_wait: Durations,
    pub sla_met: usize,
    pub sla_breached: usize,
    /// Met over met and breached.
    pub sla_attainment: Option<f64>,
    /// Survey answers given in the period's conversations.
    pub csat: Score,
    pub ces: Score,
    /// NPS: answers, and % promoters (9–10) minus % detractors (0–6).
    pub nps: Score,
}

/// How many answered, and the score (a mean, or NPS).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Score {
    pub count: usize,
    pub score: Option<f64>,
}

impl Score {
    fn mean(values: &[u8]) -> Self {
        Self {
            count: values.len(),
            score: (!values.is_empty())
                .then(|| values.iter().map(|v| f64::from(*v)).sum::<f64>() / values.len() as f64),
        }
    }

    fn nps(values: &[u8]) -> Self {
        let share = |f: &dyn Fn(u8) -> bool| values.iter().filter(|v| f(**v)).count() as f64;
        Self {
            count: values.len(),
            score: (!values.is_empty())
                .then(|| (share(&|v| v >= 9) - share(&|v| v <= 6)) * 100.0 / values.len() as f64),
        }
    }
}

fn secs(a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
    (b - a).num_milliseconds() as f64 / 1000.0
}

/// Conversations per status read for a report.
const READ_LIMIT: usize = 1_000_000;
/// Transcript entries read per conversation.
const TRANSCRIPT_LIMIT: usize = 2000;

pub fn summary(store: &dyn Store, period: &Period) -> Result<Summary, StoreError> {
    let in_period = |c: &Conversation| {
        c.created_at >= period.from
            && c.created_at < period.to
            && period.channel.is_none_or(|ch| c.channel() == ch)
            && period
                .segment
                .as_ref()
                .is_none_or(|s| c.segment.as_ref() == Some(s))
    };
    let mut conversations = Vec::new();
    for status in [
        ConversationStatus::Bot,
        ConversationStatus::Waiting,
        ConversationStatus::Assigned,
        ConversationStatus::Pending,
        ConversationStatus::Resolved,
    ] {
        conversations.extend(
            store
                .conversations_with_status(status, READ_LIMIT)?
                .into_iter()
                .filter(in_period),
        );
    }
    let now = Utc::now();
    let mut by_channel = BTreeMap::new();
    let (mut handed, mut bot_only, mut met, mut breached) = (0, 0, 0, 0);
    let (mut automatic, mut human) = (Vec::new(), Vec::new());
    let mut ratings: BTreeMap<&'static str, Vec<u8>> = BTreeMap::new();
    for c in &conversations {
        *by_channel.entry(c.channel().to_string()).or_insert(0) += 1;
        let transcript = store.messages_after(c.id, 0, TRANSCRIPT_LIMIT)?;
        let first_customer = transcript.iter().find(|m| m.author == Author::Customer);
        let first_bot = transcript.iter().find(|m| m.author == Author::Bot);
        if let (Some(asked), Some(answered)) = (first_customer, first_bot) {
            automatic.push(secs(asked.at, answered.at));
        }
        for rating in transcript.iter().filter_map(|m| m.rating) {
            let kind = match rating.kind {
                SurveyKind::Csat => "csat",
                SurveyKind::Nps => "nps",
                SurveyKind::Ces => "ces",
            };
            ratings.entry(kind).or_default().push(rating.score);
        }
        let agent_wrote = transcript.iter().any(|m| m.author == Author::Agent);
        let with_people = agent_wrote
            || c.sla.is_some()
            || matches!(
                c.status,
                ConversationStatus::Waiting
                    | ConversationStatus::Assigned
                    | ConversationStatus::Pending
            );
        if with_people {
            handed += 1;
        } else {
            bot_only += 1;
        }
        if let Some(sla) = &c.sla {
            if let Some(answered) = sla.first_response_at {
                human.push(secs(sla.started_at, answered));
            }
            match sla.state(now) {
                SlaState::Met => met += 1,
                SlaState::Breached => breached += 1,
                SlaState::Ok | SlaState::Near => {}
            }
        }
    }
    let pickups = store
        .pickups_since(period.from)?
        .into_iter()
        .filter(|p| p.at < period.to)
        .map(|p| p.waited_ms as f64 / 1000.0)
        .collect();
    let total = conversations.len();
    Ok(Summary {
        from: period.from,
        to: period.to,
        conversations: total,
        by_channel,
        handed_to_people: handed,
        bot_resolution_rate: (total > 0).then(|| bot_only as f64 / total as f64),
        first_automatic_response: Durations::of(automatic),
        first_human_response: Durations::of(human),
        pickup_wait: Durations::of(pickups),
        sla_met: met,
        sla_breached: breached,
        sla_attainment: (met + breached > 0).then(|| met as f64 / (met + breached) as f64),
        csat: Score::mean(ratings.get("csat").map(Vec::as_slice).unwrap_or_default()),
        ces: Score::mean(ratings.get("ces").map(Vec::as_slice).unwrap_or_default()),
        nps: Score::nps(ratings.get("nps").map(Vec::as_slice).unwrap_or_default()),
    })
}

/// The report as `metric,value` lines, for spreadsheets.
pub fn to_csv(summary: &Summary) -> String {
    let mut rows: Vec<(String, String)> = vec![
        ("from".into(), summary.from.to_rfc3339()),
        ("to".into(), summary.to.to_rfc3339()),
        ("conversations".into(), summary.conversations.to_string()),
    ];
    for (channel, n) in &summary.by_channel {
        rows.push((format!("conversations_{channel}"), n.to_string()));
    }
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.3}"));
    rows.push((
        "handed_to_people".into(),
        summary.handed_to_people.to_string(),
    ));
    rows.push((
        "bot_resolution_rate".into(),
        opt(summary.bot_resolution_rate),
    ));
    for (name, d) in [
        (
            "first_automatic_response_secs",
            &summary.first_automatic_response,
        ),
        ("first_human_response_secs", &summary.first_human_response),
        ("pickup_wait_secs", &summary.pickup_wait),
    ] {
        rows.push((format!("{name}_count"), d.count.to_string()));
        rows.push((format!("{name}_mean"), opt(d.mean)));
        rows.push((format!("{name}_median"), opt(d.median)));
        rows.push((format!("{name}_p90"), opt(d.p90)));
    }
    rows.push(("sla_met".into(), summary.sla_met.to_string()));
    rows.push(("sla_breached".into(), summary.sla_breached.to_string()));
    rows.push(("sla_attainment".into(), opt(summary.sla_attainment)));
    for (name, score) in [
        ("csat", &summary.csat),
        ("nps", &summary.nps),
        ("ces", &summary.ces),
    ] {
        rows.push((format!("{name}_count"), score.count.to_string()));
        rows.push((format!("{name}_score"), opt(score.score)));
    }
    let mut out = String::from("metric,value\n");
    for (metric, value) in rows {
        out.push_str(&format!("{metric},{value}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_summarize_by_hand() {
        let d = Durations::of(vec![4.0, 1.0, 3.0, 2.0, 10.0]);
        assert_eq!(d.count, 5);
        assert_eq!(d.mean, Some(4.0));
        assert_eq!(d.median, Some(3.0));
        assert_eq!(d.p90, Some(10.0));
        assert_eq!(Durations::of(Vec::new()), Durations::default());
    }

    #[test]
    fn nps_is_promoters_minus_detractors() {
        // 2 promoters, 1 passive, 1 detractor of 4: 50% − 25% = 25.
        assert_eq!(Score::nps(&[10, 9, 8, 3]).score, Some(25.0));
        assert_eq!(Score::mean(&[4, 5]).score, Some(4.5));
        assert_eq!(Score::nps(&[]).score, None);
    }
}
