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

mod csv;
mod facts;
mod figures;

pub use csv::to_csv;
pub use facts::{Facts, by_conversation, handling_of};
pub use figures::{AgentFigures, Durations, Figures, Score, by_agent};

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
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
            erased_at: None,
            team: None,
            routed_by: None,
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

    fn entry(c: &Conversation, seq: u64, author: Author, minute: i64) -> Message {
        let mut m = Message::note(
            crate::model::MessageId::new(),
            c.id,
            seq,
            "ann",
            "…",
            at(minute),
        );
        m.author = author;
        if author != Author::Agent {
            m.agent = None;
        }
        m
    }

    /// Without `[sla]` the first human response still counts: from the
    /// hand-off (joining the queue) to the first agent entry.
    #[test]
    fn the_first_human_response_is_measured_without_an_sla() {
        use ConversationStatus::*;
        let zone: Tz = chrono_tz::Europe::Berlin;
        let c = conversation(0);
        let transcript = [
            entry(&c, 1, Author::Customer, 0),
            entry(&c, 2, Author::Bot, 0),
            entry(&c, 3, Author::Customer, 2),
            entry(&c, 4, Author::Agent, 9),
        ];
        let changes = [
            change(&c, 3, Bot, Waiting, None),
            change(&c, 6, Waiting, Assigned, Some("ann")),
        ];
        let refs: Vec<&StatusChange> = changes.iter().collect();
        let facts = Facts::of(
            &c,
            &transcript,
            &refs,
            zone,
            chrono::Duration::hours(72),
            at(60),
        );
        assert_eq!(
            facts.first_human,
            Some((360.0, Some("ann".into()))),
            "minute 3 to minute 9"
        );

        // Never queued (an agent wrote first): from the customer's first message.
        let facts = Facts::of(
            &c,
            &transcript,
            &[],
            zone,
            chrono::Duration::hours(72),
            at(60),
        );
        assert_eq!(facts.first_human, Some((540.0, Some("ann".into()))));
        // No agent wrote: none.
        let facts = Facts::of(
            &c,
            &transcript[..3],
            &refs,
            zone,
            chrono::Duration::hours(72),
            at(60),
        );
        assert_eq!(facts.first_human, None);
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
