//! The service-level promises: each conversation handed to a person gets a
//! first-response deadline (`[sla] first_response_minutes`, or its
//! segment's) and, when a target is set, a resolution deadline
//! (`resolution_minutes`), counted in business time from the hand-off
//! ([`promise`]). `crate::core::sla_watch` tells agents when one is close
//! and when one is missed.

use crate::model::Conversation;
use crate::service_levels::hours::BusinessHours;
use crate::service_levels::segments::SegmentConfig;
use crate::service_levels::teams::TeamConfig;
use serde::Deserialize;

/// The promise to customers handed to a person.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaConfig {
    /// Minutes from the hand-off to an agent's first answer.
    pub first_response_minutes: u32,
    /// Minutes from the hand-off to the resolution; without it, resolution
    /// is not promised.
    #[serde(default)]
    pub resolution_minutes: Option<u32>,
    /// Seconds between checks of the deadlines.
    #[serde(default = "default_sla_check")]
    pub check_secs: u64,
    /// Posted a JSON notice when a conversation breaches its deadline.
    pub breach_webhook: Option<String>,
}

fn default_sla_check() -> u64 {
    30
}

/// The promise to this conversation if it is handed to a person at `now`:
/// its segment's targets, else its team's, else `[sla]`'s, with each
/// deadline and its 80% mark counted in business hours when there are any
/// (`hours`: the team's, else `[business_hours]`); none without `[sla]`.
pub fn promise(
    conversation: &Conversation,
    sla: Option<&SlaConfig>,
    segments: &[SegmentConfig],
    team: Option<&TeamConfig>,
    hours: Option<&BusinessHours>,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<crate::model::Sla> {
    let sla = sla?;
    let segment = conversation
        .segment
        .as_ref()
        .and_then(|name| segments.iter().find(|s| &s.name == name));
    let first = segment
        .and_then(|s| s.first_response_minutes)
        .or(team.and_then(|t| t.first_response_minutes))
        .unwrap_or(sla.first_response_minutes);
    let resolution = segment
        .and_then(|s| s.resolution_minutes)
        .or(team.and_then(|t| t.resolution_minutes))
        .or(sla.resolution_minutes);
    // (deadline, 80% mark) of a target in minutes, in seconds of work.
    let after = |minutes: u32| {
        let secs = i64::from(minutes) * 60;
        let at = |secs: i64| match hours {
            Some(hours) => hours.add_open_secs(now, secs),
            None => Some(now + chrono::Duration::seconds(secs)),
        };
        Some((at(secs)?, at(secs * 8 / 10)?))
    };
    let (first_response_due, first_response_near) = after(first)?;
    let resolution = resolution.and_then(after);
    Some(crate::model::Sla {
        started_at: now,
        first_response_due,
        first_response_near: Some(first_response_near),
        first_response_at: None,
        resolution_due: resolution.map(|r| r.0),
        resolution_near: resolution.map(|r| r.1),
        resolved_at: None,
        announced: crate::model::SlaState::Ok,
    })
}

#[cfg(test)]
mod tests {
    use crate::model::{Sla, SlaState};
    use chrono::{Duration, Utc};

    #[test]
    fn a_promise_is_ok_then_near_at_80_percent_then_breached_or_met() {
        let start = Utc::now();
        let sla = |answered: Option<i64>| Sla {
            started_at: start,
            first_response_due: start + Duration::minutes(60),
            first_response_near: None,
            first_response_at: answered.map(|m| start + Duration::minutes(m)),
            resolution_due: None,
            resolution_near: None,
            resolved_at: None,
            announced: SlaState::Ok,
        };
        let at = |m: i64| start + Duration::minutes(m);
        assert_eq!(sla(None).state(at(47)), SlaState::Ok);
        assert_eq!(sla(None).state(at(48)), SlaState::Near);
        assert_eq!(sla(None).state(at(61)), SlaState::Breached);
        assert_eq!(sla(Some(30)).state(at(90)), SlaState::Met);
        assert_eq!(sla(Some(75)).state(at(90)), SlaState::Breached);
    }

    #[test]
    fn the_stored_near_mark_counts_and_the_worse_promise_wins() {
        let start = Utc::now();
        let at = |m: i64| start + Duration::minutes(m);
        // Business time: 80% of the hour is reached only at minute 600
        // (the office closed in between).
        let mut sla = Sla {
            started_at: start,
            first_response_due: at(700),
            first_response_near: Some(at(600)),
            first_response_at: None,
            resolution_due: Some(at(2000)),
            resolution_near: Some(at(1900)),
            resolved_at: None,
            announced: SlaState::Ok,
        };
        assert_eq!(sla.state(at(560)), SlaState::Ok, "not 80% of wall-clock");
        assert_eq!(sla.state(at(600)), SlaState::Near);
        sla.first_response_at = Some(at(650));
        assert_eq!(sla.first_response_state(at(900)), SlaState::Met);
        assert_eq!(sla.state(at(900)), SlaState::Ok, "resolution still running");
        assert_eq!(sla.state(at(1950)), SlaState::Near);
        assert_eq!(sla.state(at(2001)), SlaState::Breached);
        sla.resolved_at = Some(at(1500));
        assert_eq!(sla.state(at(3000)), SlaState::Met, "both kept");
    }
}
