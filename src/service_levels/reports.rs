//! The summary report for support leads: what happened to the
//! conversations opened in a period, read from what the store keeps (the
//! conversations, their transcripts and the log of status changes).
//!
//! For the conversations created in `[from, to)` (optionally of one channel
//! or segment), each is first reduced to its [`Facts`], then the facts are
//! summed up into [`Figures`]: for the whole period, for each day (in the
//! report's time zone) and, for what an agent did, for each agent.
//!
//! - **Bot resolution rate**: never handed to a person and no agent message.
//! - **First automatic response**: first customer message to the first bot
//!   message. **First human response**: hand-off to the first agent answer
//!   (where a deadline was set). **Pickup wait**: entering the queue to an
//!   agent taking it.
//! - **Resolution time**: from the start of a case (the conversation's
//!   creation, or the customer reopening it) to its resolution; every
//!   resolution counts.
//! - **First contact resolution**: of the conversations resolved, the share
//!   the customer did not reopen within `[reports] reopen_window_hours` of
//!   the first resolution (counted so far, for recent ones).
//! - **Agent handling time**: how long an agent owned a conversation and
//!   it was with them (`assigned`, not `pending` on the customer), summed
//!   per conversation and agent, counting only ownerships that ended.
//! - **SLA attainment**: deadlines met over met and missed.
//! - **CSAT, CES, NPS**: the survey answers, credited to the agent who had
//!   resolved the conversation, and how many left a comment.
//!
//! Times are summarized as count, mean, median and 90th percentile in seconds.

use crate::model::{
    Author, ChannelKind, Conversation, ConversationId, ConversationStatus, Message, SlaState,
    SurveyKind,
};
use crate::store::{StatusChange, Store, StoreError};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// How the reports count.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportsConfig {
    /// A resolved conversation the customer reopens within this many hours
    /// was not resolved on first contact.
    #[serde(default = "default_reopen_window")]
    pub reopen_window_hours: u32,
    /// Weeks of measured arrivals the staffing forecast averages.
    #[serde(default = "default_staffing_weeks")]
    pub staffing_weeks: u32,
    /// The share of customers to answer within the first-response target
    /// (the staffing forecast's service level), e.g. 0.8 for 80/20.
    #[serde(default = "default_service_level")]
    pub service_level: f64,
}

impl Default for ReportsConfig {
    fn default() -> Self {
        Self {
            reopen_window_hours: default_reopen_window(),
            staffing_weeks: default_staffing_weeks(),
            service_level: default_service_level(),
        }
    }
}

fn default_reopen_window() -> u32 {
    72
}
fn default_staffing_weeks() -> u32 {
    4
}
fn default_service_level() -> f64 {
    0.8
}

/// Which conversations a report covers, and how it counts.
#[derive(Debug, Clone)]
pub struct Period {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub channel: Option<ChannelKind>,
    pub segment: Option<String>,
    /// Days are counted in this zone.
    pub zone: Tz,
    /// A reopening within this long after the first resolution means it
    /// was not resolved on first contact.
    pub reopen_window: chrono::Duration,
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

    fn of(kind: SurveyKind, ratings: &[(SurveyKind, u8)]) -> Self {
        let values: Vec<u8> = ratings
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, v)| *v)
            .collect();
        match kind {
            SurveyKind::Nps => Self::nps(&values),
            SurveyKind::Csat | SurveyKind::Ces => Self::mean(&values),
        }
    }
}

fn share(part: usize, whole: usize) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// The figures of a set of conversations.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Figures {
    pub conversations: usize,
    pub by_channel: BTreeMap<String, usize>,
    pub handed_to_people: usize,
    /// Share of the conversations the bot handled alone.
    pub bot_resolution_rate: Option<f64>,
    pub first_automatic_response: Durations,
    pub first_human_response: Durations,
    pub pickup_wait: Durations,
    /// Conversations resolved at least once.
    pub resolved: usize,
    pub resolution_time: Durations,
    /// Of the resolved conversations, the share not reopened within the
    /// window.
    pub first_contact_resolution: Option<f64>,
    pub agent_handling: Durations,
    pub sla_met: usize,
    pub sla_breached: usize,
    /// Met over met and breached.
    pub sla_attainment: Option<f64>,
    pub csat: Score,
    pub ces: Score,
    /// NPS: answers, and % promoters (9–10) minus % detractors (0–6).
    pub nps: Score,
    /// Comments customers left on the surveys.
    pub survey_comments: usize,
}

/// What one agent did for the period's conversations.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AgentFigures {
    /// Conversations taken from the queue.
    pub pickups: usize,
    /// Resolutions (a conversation resolved twice counts twice).
    pub resolutions: usize,
    /// First human responses this agent gave.
    pub first_human_response: Durations,
    pub handling: Durations,
    /// Of the conversations this agent resolved first, the share not
    /// reopened within the window.
    pub first_contact_resolution: Option<f64>,
    pub csat: Score,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub zone: String,
    pub reopen_window_hours: i64,
    #[serde(flatten)]
    pub figures: Figures,
    /// By the day the conversations were opened (`YYYY-MM-DD` in `zone`).
    pub by_day: BTreeMap<String, Figures>,
    pub by_agent: BTreeMap<String, AgentFigures>,
}

/// One conversation reduced to what the report counts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    pub channel: String,
    pub day: String,
    pub handed: bool,
    pub first_automatic_secs: Option<f64>,
    /// The first human response and who gave it.
    pub first_human: Option<(f64, Option<String>)>,
    pub pickups: Vec<(f64, Option<String>)>,
    /// Every resolution: how long the case took, and who resolved it.
    pub resolutions: Vec<(f64, Option<String>)>,
    /// Resolved at least once: whether it stayed resolved through the
    /// window, and who resolved it first.
    pub first_contact: Option<(bool, Option<String>)>,
    /// Per agent: seconds owned while with them (ended ownerships only).
    pub handling: Vec<(String, f64)>,
    pub sla: Option<SlaState>,
    /// Survey answers, with the agent who had resolved it.
    pub ratings: Vec<(SurveyKind, u8, Option<String>)>,
    /// Comments left on the survey.
    pub comments: usize,
}

fn secs(a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
    (b - a).num_milliseconds() as f64 / 1000.0
}

impl Facts {
    /// Reduces one conversation; `changes` are its status changes, oldest
    /// first.
    pub fn of(
        c: &Conversation,
        transcript: &[Message],
        changes: &[&StatusChange],
        zone: Tz,
        reopen_window: chrono::Duration,
        now: DateTime<Utc>,
    ) -> Self {
        let first_customer = transcript.iter().find(|m| m.author == Author::Customer);
        let first_bot = transcript.iter().find(|m| m.author == Author::Bot);
        let first_agent = transcript.iter().find(|m| m.author == Author::Agent);
        let agent_wrote = first_agent.is_some();
        let handed = agent_wrote
            || c.sla.is_some()
            || c.status != ConversationStatus::Bot
            || changes
                .iter()
                .any(|ch| ch.to == ConversationStatus::Waiting);
        let first_human = c.sla.as_ref().and_then(|sla| {
            let answered = sla.first_response_at?;
            Some((
                secs(sla.started_at, answered),
                first_agent.and_then(|m| m.agent.clone()),
            ))
        });

        let mut case_start = c.created_at;
        let mut queued_at: Option<DateTime<Utc>> = None;
        let mut resolutions = Vec::new();
        let mut first_resolution: Option<(DateTime<Utc>, Option<String>)> = None;
        let mut reopened_within = false;
        // (when, who) of each resolution, to credit survey answers.
        let mut resolvers: Vec<(DateTime<Utc>, Option<String>)> = Vec::new();
        let mut pickups = Vec::new();
        for ch in changes {
            match (ch.from, ch.to) {
                (from, ConversationStatus::Waiting) if from != ConversationStatus::Waiting => {
                    queued_at = queued_at.or(Some(ch.at));
                }
                (ConversationStatus::Waiting, to) if to.human_owned() => {
                    if let Some(queued) = queued_at.take() {
                        pickups.push((secs(queued, ch.at), ch.agent.clone()));
                    }
                }
                (ConversationStatus::Waiting, _) => queued_at = None,
                _ => {}
            }
            if ch.to == ConversationStatus::Resolved && ch.from != ConversationStatus::Resolved {
                resolutions.push((secs(case_start, ch.at), ch.agent.clone()));
                resolvers.push((ch.at, ch.agent.clone()));
                first_resolution.get_or_insert((ch.at, ch.agent.clone()));
            }
            if ch.from == ConversationStatus::Resolved && ch.to != ConversationStatus::Resolved {
                case_start = ch.at;
                if let Some((resolved_at, _)) = &first_resolution
                    && ch.at - *resolved_at <= reopen_window
                {
                    reopened_within = true;
                }
            }
        }
        let first_contact = first_resolution.map(|(_, agent)| (!reopened_within, agent));
        let ratings = transcript
            .iter()
            .filter_map(|m| {
                let rating = m.rating?;
                let resolver = resolvers
                    .iter()
                    .rev()
                    .find(|(at, _)| *at <= m.at)
                    .and_then(|(_, agent)| agent.clone())
                    .or_else(|| c.assigned_agent.clone());
                Some((rating.kind, rating.score, resolver))
            })
            .collect();
        Self {
            channel: c.channel().to_string(),
            day: c
                .created_at
                .with_timezone(&zone)
                .format("%Y-%m-%d")
                .to_string(),
            handed,
            first_automatic_secs: match (first_customer, first_bot) {
                (Some(asked), Some(answered)) => Some(secs(asked.at, answered.at)),
                _ => None,
            },
            first_human,
            pickups,
            resolutions,
            first_contact,
            handling: handling_of(changes).into_iter().collect(),
            sla: c.sla.as_ref().map(|sla| sla.state(now)),
            ratings,
            comments: transcript.iter().filter(|m| m.survey_comment).count(),
        }
    }
}

/// The status changes of each conversation, oldest first.
pub fn by_conversation(changes: &[StatusChange]) -> HashMap<ConversationId, Vec<&StatusChange>> {
    let mut of: HashMap<ConversationId, Vec<&StatusChange>> = HashMap::new();
    for change in changes {
        of.entry(change.conversation_id).or_default().push(change);
    }
    of
}

/// Seconds each agent had one conversation with them (`assigned`), from
/// its status changes, oldest first; an ownership still going is not
/// counted.
pub fn handling_of(changes: &[&StatusChange]) -> BTreeMap<String, f64> {
    let mut owner: Option<(&str, DateTime<Utc>)> = None;
    let mut handling: BTreeMap<String, f64> = BTreeMap::new();
    for ch in changes {
        // Time with an agent ends at any change of status or owner.
        if let Some((agent, since)) = owner.take() {
            *handling.entry(agent.to_string()).or_default() += secs(since, ch.at);
        }
        if ch.to == ConversationStatus::Assigned
            && let Some(agent) = &ch.agent
        {
            owner = Some((agent, ch.at));
        }
    }
    handling
}

impl Figures {
    pub fn of(facts: &[&Facts]) -> Self {
        let mut by_channel = BTreeMap::new();
        for f in facts {
            *by_channel.entry(f.channel.clone()).or_insert(0) += 1;
        }
        let handed = facts.iter().filter(|f| f.handed).count();
        let resolved: Vec<bool> = facts
            .iter()
            .filter_map(|f| f.first_contact.as_ref().map(|(kept, _)| *kept))
            .collect();
        let sla = |state: SlaState| facts.iter().filter(|f| f.sla == Some(state)).count();
        let (met, breached) = (sla(SlaState::Met), sla(SlaState::Breached));
        let ratings: Vec<(SurveyKind, u8)> = facts
            .iter()
            .flat_map(|f| f.ratings.iter().map(|(k, v, _)| (*k, *v)))
            .collect();
        Self {
            conversations: facts.len(),
            by_channel,
            handed_to_people: handed,
            bot_resolution_rate: share(facts.len() - handed, facts.len()),
            first_automatic_response: Durations::of(
                facts
                    .iter()
                    .filter_map(|f| f.first_automatic_secs)
                    .collect(),
            ),
            first_human_response: Durations::of(
                facts
                    .iter()
                    .filter_map(|f| f.first_human.as_ref().map(|(s, _)| *s))
                    .collect(),
            ),
            pickup_wait: Durations::of(
                facts
                    .iter()
                    .flat_map(|f| f.pickups.iter().map(|(s, _)| *s))
                    .collect(),
            ),
            resolved: resolved.len(),
            resolution_time: Durations::of(
                facts
                    .iter()
                    .flat_map(|f| f.resolutions.iter().map(|(s, _)| *s))
                    .collect(),
            ),
            first_contact_resolution: share(
                resolved.iter().filter(|kept| **kept).count(),
                resolved.len(),
            ),
            agent_handling: Durations::of(
                facts
                    .iter()
                    .flat_map(|f| f.handling.iter().map(|(_, s)| *s))
                    .collect(),
            ),
            sla_met: met,
            sla_breached: breached,
            sla_attainment: share(met, met + breached),
            csat: Score::of(SurveyKind::Csat, &ratings),
            ces: Score::of(SurveyKind::Ces, &ratings),
            nps: Score::of(SurveyKind::Nps, &ratings),
            survey_comments: facts.iter().map(|f| f.comments).sum(),
        }
    }
}

/// What each agent did, from the facts.
pub fn by_agent(facts: &[&Facts]) -> BTreeMap<String, AgentFigures> {
    #[derive(Default)]
    struct Sums {
        pickups: usize,
        resolutions: usize,
        first_human: Vec<f64>,
        handling: Vec<f64>,
        first_contact: Vec<bool>,
        csat: Vec<u8>,
    }
    let mut sums: BTreeMap<String, Sums> = BTreeMap::new();
    fn entry<'a>(
        sums: &'a mut BTreeMap<String, Sums>,
        agent: &Option<String>,
    ) -> Option<&'a mut Sums> {
        agent.clone().map(|a| sums.entry(a).or_default())
    }
    for f in facts {
        for (_, agent) in &f.pickups {
            if let Some(s) = entry(&mut sums, agent) {
                s.pickups += 1;
            }
        }
        for (_, agent) in &f.resolutions {
            if let Some(s) = entry(&mut sums, agent) {
                s.resolutions += 1;
            }
        }
        if let Some((secs, agent)) = &f.first_human
            && let Some(s) = entry(&mut sums, agent)
        {
            s.first_human.push(*secs);
        }
        if let Some((kept, agent)) = &f.first_contact
            && let Some(s) = entry(&mut sums, agent)
        {
            s.first_contact.push(*kept);
        }
        for (agent, secs) in &f.handling {
            if let Some(s) = entry(&mut sums, &Some(agent.clone())) {
                s.handling.push(*secs);
            }
        }
        for (kind, score, agent) in &f.ratings {
            if *kind == SurveyKind::Csat
                && let Some(s) = entry(&mut sums, agent)
            {
                s.csat.push(*score);
            }
        }
    }
    sums.into_iter()
        .map(|(agent, s)| {
            let kept = s.first_contact.iter().filter(|k| **k).count();
            (
                agent,
                AgentFigures {
                    pickups: s.pickups,
                    resolutions: s.resolutions,
                    first_human_response: Durations::of(s.first_human),
                    handling: Durations::of(s.handling),
                    first_contact_resolution: share(kept, s.first_contact.len()),
                    csat: Score::mean(&s.csat),
                },
            )
        })
        .collect()
}

/// Conversations per status read for a report.
const READ_LIMIT: usize = 1_000_000;
/// Transcript entries read per conversation.
const TRANSCRIPT_LIMIT: usize = 2000;

pub async fn summary(store: &dyn Store, period: &Period) -> Result<Summary, StoreError> {
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
                .conversations_with_status(status, READ_LIMIT)
                .await?
                .into_iter()
                .filter(in_period),
        );
    }
    let changes = store.status_changes_since(period.from).await?;
    let changes_of = by_conversation(&changes);
    let now = Utc::now();
    let mut facts = Vec::with_capacity(conversations.len());
    for c in &conversations {
        let transcript = store.messages_after(c.id, 0, TRANSCRIPT_LIMIT).await?;
        let changes = changes_of.get(&c.id).map(Vec::as_slice).unwrap_or_default();
        facts.push(Facts::of(
            c,
            &transcript,
            changes,
            period.zone,
            period.reopen_window,
            now,
        ));
    }
    let all: Vec<&Facts> = facts.iter().collect();
    let mut days: BTreeMap<String, Vec<&Facts>> = BTreeMap::new();
    for f in &facts {
        days.entry(f.day.clone()).or_default().push(f);
    }
    Ok(Summary {
        from: period.from,
        to: period.to,
        zone: period.zone.name().to_string(),
        reopen_window_hours: period.reopen_window.num_hours(),
        figures: Figures::of(&all),
        by_day: days
            .into_iter()
            .map(|(day, facts)| (day, Figures::of(&facts)))
            .collect(),
        by_agent: by_agent(&all),
    })
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CustomerAddress, Rating};
    use chrono::TimeZone;

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

    fn at(minute: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 30, 22, 0, 0).unwrap() + chrono::Duration::minutes(minute)
    }

    fn conversation(created: i64) -> Conversation {
        Conversation {
            id: ConversationId::new(),
            ticket: 1,
            customer: CustomerAddress::Email {
                address: "a@example.com".into(),
            },
            display_name: None,
            status: ConversationStatus::Resolved,
            priority: 0,
            locale: "en".into(),
            created_at: at(created),
            updated_at: at(created),
            waiting_since: None,
            assigned_agent: Some("bob".into()),
            last_seq: 0,
            undelivered: false,
            subject: None,
            segment: None,
            sla: None,
            tags: Vec::new(),
        }
    }

    fn change(
        c: &Conversation,
        minute: i64,
        from: ConversationStatus,
        to: ConversationStatus,
        agent: Option<&str>,
    ) -> StatusChange {
        StatusChange {
            at: at(minute),
            conversation_id: c.id,
            from,
            to,
            agent: agent.map(str::to_string),
        }
    }

    /// Two conversations scripted minute by minute, counted by hand.
    #[test]
    fn resolution_fcr_and_handling_match_a_script_counted_by_hand() {
        use ConversationStatus::*;
        let window = chrono::Duration::hours(72);
        let zone: Tz = chrono_tz::Europe::Berlin;
        // X: opened 22:00 UTC (23:00 in Berlin, 30 Nov), queued at 1, taken
        // by ann at 5, pending on the customer 15–20, resolved by ann at
        // 30; never reopened.
        let x = conversation(0);
        let x_changes = [
            change(&x, 1, Bot, Waiting, None),
            change(&x, 5, Waiting, Assigned, Some("ann")),
            change(&x, 15, Assigned, Pending, Some("ann")),
            change(&x, 20, Pending, Assigned, Some("ann")),
            change(&x, 30, Assigned, Resolved, Some("ann")),
        ];
        let rating = Message {
            id: crate::model::MessageId::new(),
            conversation_id: x.id,
            seq: 9,
            author: Author::Customer,
            text: "5".into(),
            at: at(31),
            external_id: None,
            reason: None,
            delivery: None,
            intent: None,
            agent: None,
            opens: false,
            handling: crate::model::Handling::Normal,
            attachments: Vec::new(),
            original: None,
            options: Vec::new(),
            survey: None,
            rating: Some(Rating {
                kind: SurveyKind::Csat,
                score: 5,
            }),
            invites_comment: false,
            survey_comment: false,
        };
        // Y: opened at 120 (1 Dec in Berlin), queued at 120, taken by ann
        // at 130, handed to bob at 140, resolved by bob at 160, reopened
        // at 220 (within 72 h), taken by bob at 230, resolved at 250.
        let y = conversation(120);
        let y_changes = [
            change(&y, 120, Bot, Waiting, None),
            change(&y, 130, Waiting, Assigned, Some("ann")),
            change(&y, 140, Assigned, Assigned, Some("bob")),
            change(&y, 160, Assigned, Resolved, Some("bob")),
            change(&y, 220, Resolved, Bot, None),
            change(&y, 221, Bot, Waiting, None),
            change(&y, 230, Waiting, Assigned, Some("bob")),
            change(&y, 250, Assigned, Resolved, Some("bob")),
        ];
        let refs = |c: &[StatusChange]| -> Vec<StatusChange> { c.to_vec() };
        let (xc, yc) = (refs(&x_changes), refs(&y_changes));
        let fx = Facts::of(
            &x,
            &[rating],
            &xc.iter().collect::<Vec<_>>(),
            zone,
            window,
            at(300),
        );
        let fy = Facts::of(
            &y,
            &[],
            &yc.iter().collect::<Vec<_>>(),
            zone,
            window,
            at(300),
        );
        assert_eq!(fx.day, "2026-11-30");
        assert_eq!(fy.day, "2026-12-01");
        // X handled by ann 5–15 and 20–30: 20 min. Y: ann 130–140 (10
        // min), bob 140–160 and 230–250 (40 min).
        assert_eq!(fx.handling, vec![("ann".to_string(), 1200.0)]);
        assert_eq!(
            fy.handling,
            vec![("ann".to_string(), 600.0), ("bob".to_string(), 2400.0)]
        );
        let f = Figures::of(&[&fx, &fy]);
        // Resolutions: X 30 min from creation; Y 40 min, then 30 min from
        // the reopening at 220 → 30, 40, 30 min.
        assert_eq!(f.resolution_time.count, 3);
        assert_eq!(f.resolution_time.median, Some(1800.0));
        assert_eq!(f.resolution_time.mean, Some(2000.0));
        // X stayed resolved, Y was reopened: FCR 1 of 2.
        assert_eq!(f.resolved, 2);
        assert_eq!(f.first_contact_resolution, Some(0.5));
        // Pickup waits: 4, 10 and 9 minutes.
        assert_eq!(f.pickup_wait.count, 3);
        assert_eq!(f.pickup_wait.median, Some(540.0));
        // Handling: 1200, 600, 2400.
        assert_eq!(f.agent_handling.mean, Some(1400.0));
        let agents = by_agent(&[&fx, &fy]);
        let ann = &agents["ann"];
        assert_eq!((ann.pickups, ann.resolutions), (2, 1));
        assert_eq!(ann.handling.mean, Some(900.0));
        assert_eq!(ann.first_contact_resolution, Some(1.0));
        assert_eq!(ann.csat.score, Some(5.0), "X's rating is ann's");
        let bob = &agents["bob"];
        assert_eq!((bob.pickups, bob.resolutions), (1, 2));
        assert_eq!(bob.first_contact_resolution, Some(0.0));
        assert_eq!(bob.handling.mean, Some(2400.0));

        // A reopening after the window keeps the first contact resolution.
        let late = [
            change(&y, 160, Assigned, Resolved, Some("bob")),
            change(&y, 160 + 73 * 60, Resolved, Bot, None),
        ];
        let late = Facts::of(
            &y,
            &[],
            &late.iter().collect::<Vec<_>>(),
            zone,
            window,
            at(10_000),
        );
        assert_eq!(late.first_contact, Some((true, Some("bob".to_string()))));
    }
}
