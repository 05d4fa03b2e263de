//! Business hours: when people are there to answer, in a named time zone,
//! with holidays.
//!
//! Outside the hours, the hand-off acknowledgment says when people are
//! back instead of promising a wait nobody can keep, and first-response
//! deadlines count only open time: a 60-minute promise made on Friday at
//! 17:30, closing at 18:00, falls due on Monday at 09:30.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::Deserialize;

/// Opening hours per weekday (`"09:00-18:00"` or `"closed"`; a day left
/// out is closed), in a named time zone, with holidays (`"2026-12-25"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusinessHoursConfig {
    pub timezone: String,
    pub monday: Option<String>,
    pub tuesday: Option<String>,
    pub wednesday: Option<String>,
    pub thursday: Option<String>,
    pub friday: Option<String>,
    pub saturday: Option<String>,
    pub sunday: Option<String>,
    #[serde(default)]
    pub holidays: Vec<String>,
}

/// Days looked ahead for the next opening before giving up (a config
/// with every day closed, or months of holidays).
const LOOKAHEAD_DAYS: i64 = 370;

#[derive(Debug, Clone)]
pub struct BusinessHours {
    zone: Tz,
    /// Opening and closing time per weekday, Monday first; `None` is closed.
    days: [Option<(NaiveTime, NaiveTime)>; 7],
    holidays: Vec<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct HoursError {
    pub key: String,
    pub message: String,
}

fn parse_span(key: &str, text: &str) -> Result<Option<(NaiveTime, NaiveTime)>, HoursError> {
    let error = |message: &str| HoursError {
        key: key.to_string(),
        message: message.to_string(),
    };
    if text.trim().eq_ignore_ascii_case("closed") {
        return Ok(None);
    }
    let (open, close) = text
        .split_once('-')
        .ok_or_else(|| error("write opening hours as \"09:00-18:00\" or \"closed\""))?;
    let time = |t: &str| {
        NaiveTime::parse_from_str(t.trim(), "%H:%M")
            .map_err(|_| error(&format!("{t:?} is not a time like 09:00")))
    };
    let (open, close) = (time(open)?, time(close)?);
    if close <= open {
        return Err(error(
            "closing must come after opening (no spans past midnight)",
        ));
    }
    Ok(Some((open, close)))
}

impl BusinessHours {
    pub fn from_config(config: &BusinessHoursConfig) -> Result<Self, HoursError> {
        let zone: Tz = config.timezone.parse().map_err(|_| HoursError {
            key: "business_hours.timezone".into(),
            message: format!(
                "{:?} is not a time zone like \"Europe/Berlin\"",
                config.timezone
            ),
        })?;
        let mut days = [None; 7];
        for (i, (name, span)) in [
            ("monday", &config.monday),
            ("tuesday", &config.tuesday),
            ("wednesday", &config.wednesday),
            ("thursday", &config.thursday),
            ("friday", &config.friday),
            ("saturday", &config.saturday),
            ("sunday", &config.sunday),
        ]
        .into_iter()
        .enumerate()
        {
            if let Some(span) = span {
                days[i] = parse_span(&format!("business_hours.{name}"), span)?;
            }
        }
        let holidays = config
            .holidays
            .iter()
            .map(|d| {
                NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| HoursError {
                    key: "business_hours.holidays".into(),
                    message: format!("{d:?} is not a date like 2026-12-25"),
                })
            })
            .collect::<Result<_, _>>()?;
        if days.iter().all(Option::is_none) {
            return Err(HoursError {
                key: "business_hours".into(),
                message: "every day is closed".into(),
            });
        }
        Ok(Self {
            zone,
            days,
            holidays,
        })
    }

    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// Today's opening span in local time, if open today.
    fn span_on(&self, date: NaiveDate) -> Option<(NaiveTime, NaiveTime)> {
        if self.holidays.contains(&date) {
            return None;
        }
        self.days[date.weekday().num_days_from_monday() as usize]
    }

    /// The UTC instants of a local date and time (the earliest, across a
    /// clock change).
    fn instant(&self, date: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
        self.zone
            .from_local_datetime(&date.and_time(time))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    }

    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        let local = at.with_timezone(&self.zone);
        self.span_on(local.date_naive())
            .is_some_and(|(open, close)| local.time() >= open && local.time() < close)
    }

    /// The next open span starting at or after `at` (the current one if
    /// open now): (from, until) in UTC.
    fn next_span(&self, at: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let start = at.with_timezone(&self.zone).date_naive();
        for offset in 0..LOOKAHEAD_DAYS {
            let date = start + chrono::Duration::days(offset);
            let Some((open, close)) = self.span_on(date) else {
                continue;
            };
            let (Some(from), Some(until)) = (self.instant(date, open), self.instant(date, close))
            else {
                continue;
            };
            if until > at {
                return Some((from.max(at), until));
            }
        }
        None
    }

    /// When people are back (now, if open).
    pub fn next_open(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.next_span(at).map(|(from, _)| from)
    }

    /// `at` plus `minutes` of open time.
    pub fn add_open_minutes(&self, at: DateTime<Utc>, minutes: i64) -> Option<DateTime<Utc>> {
        self.add_open_secs(at, minutes * 60)
    }

    /// `at` plus `secs` seconds of open time.
    pub fn add_open_secs(&self, at: DateTime<Utc>, secs: i64) -> Option<DateTime<Utc>> {
        let mut left = chrono::Duration::seconds(secs);
        let mut cursor = at;
        loop {
            let (from, until) = self.next_span(cursor)?;
            if from + left <= until {
                return Some(from + left);
            }
            left -= until - from;
            cursor = until;
        }
    }

    /// A reopening time as customers read it, in the business's zone.
    pub fn describe(&self, at: DateTime<Utc>, locale: &str) -> String {
        let local = at.with_timezone(&self.zone);
        match locale {
            "zh" => {
                let weekday = match local.weekday() {
                    Weekday::Mon => "周一",
                    Weekday::Tue => "周二",
                    Weekday::Wed => "周三",
                    Weekday::Thu => "周四",
                    Weekday::Fri => "周五",
                    Weekday::Sat => "周六",
                    Weekday::Sun => "周日",
                };
                format!(
                    "{}月{}日{weekday} {}（{}时间）",
                    local.month(),
                    local.day(),
                    local.format("%H:%M"),
                    self.zone.name()
                )
            }
            _ => format!(
                "{} ({})",
                local.format("%A %-d %B, %H:%M"),
                self.zone.name()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hours() -> BusinessHours {
        BusinessHours::from_config(&BusinessHoursConfig {
            timezone: "Europe/Berlin".into(),
            monday: Some("09:00-18:00".into()),
            tuesday: Some("09:00-18:00".into()),
            wednesday: Some("09:00-18:00".into()),
            thursday: Some("09:00-18:00".into()),
            friday: Some("09:00-18:00".into()),
            saturday: Some("closed".into()),
            sunday: None,
            holidays: vec!["2026-12-25".into()],
        })
        .expect("valid hours")
    }

    fn berlin(text: &str) -> DateTime<Utc> {
        chrono_tz::Europe::Berlin
            .from_local_datetime(
                &chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").expect("time"),
            )
            .single()
            .expect("unambiguous")
            .with_timezone(&Utc)
    }

    #[test]
    fn open_closed_and_the_next_opening() {
        let h = hours();
        assert!(h.is_open(berlin("2026-12-04 10:00"))); // Friday
        assert!(!h.is_open(berlin("2026-12-04 18:00")));
        assert!(!h.is_open(berlin("2026-12-05 10:00"))); // Saturday
        assert_eq!(
            h.next_open(berlin("2026-12-04 19:00")),
            Some(berlin("2026-12-07 09:00"))
        );
        assert_eq!(
            h.next_open(berlin("2026-12-04 10:00")),
            Some(berlin("2026-12-04 10:00"))
        );
        // Christmas Day is a Friday holiday: back on Monday the 28th.
        assert_eq!(
            h.next_open(berlin("2026-12-24 18:30")),
            Some(berlin("2026-12-28 09:00"))
        );
        assert_eq!(
            h.describe(berlin("2026-12-07 09:00"), "en"),
            "Monday 7 December, 09:00 (Europe/Berlin)"
        );
        assert_eq!(
            h.describe(berlin("2026-12-07 09:00"), "zh"),
            "12月7日周一 09:00（Europe/Berlin时间）"
        );
    }

    #[test]
    fn deadlines_count_only_open_time() {
        let h = hours();
        // 60 minutes from Friday 17:30: 30 on Friday, 30 on Monday.
        assert_eq!(
            h.add_open_minutes(berlin("2026-12-04 17:30"), 60),
            Some(berlin("2026-12-07 09:30"))
        );
        // From Saturday night: Monday 10:00.
        assert_eq!(
            h.add_open_minutes(berlin("2026-12-05 22:00"), 60),
            Some(berlin("2026-12-07 10:00"))
        );
        assert_eq!(
            h.add_open_minutes(berlin("2026-12-07 10:00"), 15),
            Some(berlin("2026-12-07 10:15"))
        );
    }

    #[test]
    fn bad_hours_name_their_key() {
        let mut config = BusinessHoursConfig {
            timezone: "Mars/Olympus".into(),
            monday: Some("09:00-18:00".into()),
            tuesday: None,
            wednesday: None,
            thursday: None,
            friday: None,
            saturday: None,
            sunday: None,
            holidays: Vec::new(),
        };
        let err = BusinessHours::from_config(&config).expect_err("zone");
        assert_eq!(err.key, "business_hours.timezone");
        config.timezone = "UTC".into();
        config.monday = Some("18:00-09:00".into());
        assert_eq!(
            BusinessHours::from_config(&config).expect_err("span").key,
            "business_hours.monday"
        );
        config.monday = Some("closed".into());
        assert_eq!(
            BusinessHours::from_config(&config).expect_err("closed").key,
            "business_hours"
        );
    }
}
