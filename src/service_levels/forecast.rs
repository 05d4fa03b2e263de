//! The staffing forecast: how many agents each hour of the week needs to
//! meet each first-response target, from what the last weeks measured.
//!
//! Arrivals are the conversations handed to people (put in the queue by
//! the bot), counted by hour of the week in the report's time zone and
//! averaged over `[reports] staffing_weeks`. The handling time is the mean
//! agent handling time measured in the same weeks (see
//! [`crate::service_levels::reports::handling_of`]). For every target (`[sla]`, and each
//! segment with its own), [`crate::service_levels::staffing::agents_needed`] (Erlang C)
//! gives the agents that answer `[reports] service_level` of the arrivals
//! within it. Until a handling time has been measured, only the hours
//! without arrivals have a forecast (none needed).

use crate::model::ConversationStatus;
use crate::service_levels::reports::ReportsConfig;
use crate::service_levels::reports::{by_conversation, handling_of};
use crate::service_levels::segments::SegmentConfig;
use crate::service_levels::sla::SlaConfig;
use crate::service_levels::staffing::agents_needed;
use crate::store::{Store, StoreError};
use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Tz;
use serde::Serialize;

/// Seven days (Monday first) of 24 hours.
pub type Week<T> = [[T; 24]; 7];

/// One first-response target and the agents it needs, hour by hour.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TargetPlan {
    /// `default` for `[sla]`, else the segment's name.
    pub name: String,
    pub first_response_secs: f64,
    /// Seven days (Monday first) of 24 hours; null where no handling time
    /// is known.
    #[schema(value_type = Vec<Vec<Option<u32>>>)]
    pub agents: Week<Option<u32>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Forecast {
    pub zone: String,
    pub weeks: u32,
    pub service_level: f64,
    /// Mean conversations handed to people per hour of the week: seven
    /// days (Monday first) of 24 hours.
    #[schema(value_type = Vec<Vec<f64>>)]
    pub arrivals_per_hour: Week<f64>,
    /// Mean agent handling time, and how many handlings it is from.
    pub handling_secs: Option<f64>,
    pub handlings_measured: usize,
    pub targets: Vec<TargetPlan>,
}

/// Where an instant falls in the week: (day from Monday, hour).
fn slot(at: DateTime<Utc>, zone: Tz) -> (usize, usize) {
    let local = at.with_timezone(&zone);
    (
        local.weekday().num_days_from_monday() as usize,
        local.hour() as usize,
    )
}

/// The forecast from measured hand-offs and handlings.
pub fn plan(
    handoffs: &[DateTime<Utc>],
    handlings: &[f64],
    weeks: u32,
    zone: Tz,
    service_level: f64,
    targets: &[(String, f64)],
) -> Forecast {
    let mut arrivals = [[0.0; 24]; 7];
    for at in handoffs {
        let (day, hour) = slot(*at, zone);
        arrivals[day][hour] += 1.0 / f64::from(weeks.max(1));
    }
    let handling_secs = (!handlings.is_empty())
        .then(|| handlings.iter().sum::<f64>() / handlings.len() as f64)
        .filter(|h| *h > 0.0);
    let targets = targets
        .iter()
        .map(|(name, target_secs)| {
            let mut agents = [[None; 24]; 7];
            for (day, hours) in arrivals.iter().enumerate() {
                for (hour, rate) in hours.iter().enumerate() {
                    agents[day][hour] = if *rate == 0.0 {
                        Some(0)
                    } else {
                        handling_secs
                            .and_then(|h| agents_needed(*rate, h, *target_secs, service_level))
                    };
                }
            }
            TargetPlan {
                name: name.clone(),
                first_response_secs: *target_secs,
                agents,
            }
        })
        .collect();
    Forecast {
        zone: zone.name().to_string(),
        weeks,
        service_level,
        arrivals_per_hour: arrivals,
        handling_secs,
        handlings_measured: handlings.len(),
        targets,
    }
}

/// The first-response targets the config names, in seconds.
pub fn targets(sla: Option<&SlaConfig>, segments: &[SegmentConfig]) -> Vec<(String, f64)> {
    let mut targets = Vec::new();
    if let Some(sla) = sla {
        targets.push((
            "default".to_string(),
            f64::from(sla.first_response_minutes) * 60.0,
        ));
    }
    for segment in segments {
        if let Some(minutes) = segment.first_response_minutes {
            targets.push((segment.name.clone(), f64::from(minutes) * 60.0));
        }
    }
    targets
}

/// The forecast from the store's status log of the last weeks.
pub async fn from_store(
    store: &dyn Store,
    reports: &ReportsConfig,
    targets: &[(String, f64)],
    zone: Tz,
    now: DateTime<Utc>,
) -> Result<Forecast, StoreError> {
    let weeks = reports.staffing_weeks;
    let since = now - chrono::Duration::weeks(i64::from(weeks));
    let changes = store.status_changes_since(since).await?;
    let handoffs: Vec<DateTime<Utc>> = changes
        .iter()
        .filter(|c| {
            c.to == ConversationStatus::Waiting
                && matches!(
                    c.from,
                    ConversationStatus::Bot | ConversationStatus::Resolved
                )
        })
        .map(|c| c.at)
        .collect();
    let handlings: Vec<f64> = by_conversation(&changes)
        .values()
        .flat_map(|changes| handling_of(changes).into_values())
        .collect();
    Ok(plan(
        &handoffs,
        &handlings,
        weeks,
        zone,
        reports.service_level,
        targets,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// Four Mondays with 200 hand-offs each between 10:00 and 11:00 in
    /// Berlin, 3 minutes of handling each, 80% within 20 seconds: the
    /// textbook Erlang C case (10 erlangs), which needs 14 agents (see
    /// `staffing`). Every other hour has no arrivals and needs none.
    #[test]
    fn four_busy_mondays_need_the_textbook_fourteen_agents_at_ten() {
        let zone: Tz = chrono_tz::Europe::Berlin;
        let mut handoffs = Vec::new();
        for week in 0..4 {
            // Monday 2026-11-02 10:00 in Berlin is 09:00 UTC.
            let monday =
                Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap() + chrono::Duration::weeks(week);
            for i in 0..200 {
                handoffs.push(monday + chrono::Duration::seconds(i * 18));
            }
        }
        let forecast = plan(
            &handoffs,
            &[120.0, 240.0, 180.0],
            4,
            zone,
            0.8,
            &[("default".into(), 20.0)],
        );
        assert_eq!(forecast.arrivals_per_hour[0][10], 200.0);
        assert_eq!(forecast.handling_secs, Some(180.0));
        let agents = &forecast.targets[0].agents;
        assert_eq!(agents[0][10], Some(14));
        assert_eq!(agents[0][9], Some(0));
        assert_eq!(agents[6][23], Some(0));
        let total: u32 = agents.iter().flatten().map(|a| a.unwrap_or(0)).sum();
        assert_eq!(total, 14, "only Monday at ten needs anyone");
    }

    #[test]
    fn without_a_measured_handling_time_there_are_arrivals_but_no_plan() {
        let at = Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap();
        let forecast = plan(
            &[at],
            &[],
            1,
            chrono_tz::UTC,
            0.8,
            &[("default".into(), 60.0)],
        );
        assert_eq!(forecast.arrivals_per_hour[0][12], 1.0, "a Monday");
        assert_eq!(forecast.targets[0].agents[0][12], None);
        assert_eq!(forecast.targets[0].agents[0][13], Some(0), "no one comes");
    }
}
