//! Teams and routing: which group of agents serves a conversation handed
//! to a person, with whose hours and promises.
//!
//! A team (`[[teams]]`) has members, and may have business hours, holidays
//! and service-level targets of its own, the languages it serves, and push
//! assignment with a per-agent capacity. Routing (`[[routing.rules]]`) is
//! one list read top to bottom: the first rule whose conditions all hold
//! (segment, channel, language, intent, tag) names the team; then a team
//! that lists the conversation's language; then `[routing] default_team`.
//! A conversation no rule sends anywhere waits in the shared queue, as on
//! a desk without teams. Agents see which rule matched.

use crate::model::{ChannelKind, Route};
use crate::service_levels::hours::{BusinessHours, BusinessHoursConfig, HoursError};
use serde::Deserialize;

/// How a team's conversations reach its agents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Assignment {
    /// Agents claim from the team's queue.
    #[default]
    Pull,
    /// The gateway hands each conversation to the online member with the
    /// fewest open conversations under `max_open` (claiming still works).
    Push,
}

/// `[[teams]]`: one team as the config states it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamConfig {
    pub name: String,
    /// Agent usernames; an agent may be in several teams.
    #[serde(default)]
    pub members: Vec<String>,
    /// The languages (locales) it serves: a conversation in one of them
    /// comes here when no routing rule decided.
    #[serde(default)]
    pub languages: Vec<String>,
    /// Its own hours and holidays, instead of `[business_hours]`.
    pub business_hours: Option<BusinessHoursConfig>,
    /// Its own first-response target, instead of `[sla]`'s (a segment's
    /// own target still wins).
    pub first_response_minutes: Option<u32>,
    /// Its own resolution target, instead of `[sla]`'s.
    pub resolution_minutes: Option<u32>,
    #[serde(default)]
    pub assignment: Assignment,
    /// With push assignment: nobody is given more open conversations.
    #[serde(default = "default_max_open")]
    pub max_open: u32,
}

fn default_max_open() -> u32 {
    5
}

/// `[routing]`: the rules and the team for the rest.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingConfig {
    pub default_team: Option<String>,
    #[serde(default)]
    pub rules: Vec<RouteRule>,
}

/// One routing rule: every condition given must hold.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteRule {
    pub team: String,
    pub segment: Option<String>,
    pub channel: Option<ChannelKind>,
    pub language: Option<String>,
    /// The intent that handed the conversation off (`payment_issue`).
    pub intent: Option<String>,
    /// A tag agents put on the customer.
    pub tag: Option<String>,
}

impl RouteRule {
    fn holds(&self, facts: &RouteFacts<'_>) -> bool {
        let same = |want: &Option<String>, have: Option<&str>| {
            want.as_deref().is_none_or(|w| Some(w) == have)
        };
        same(&self.segment, facts.segment)
            && self.channel.is_none_or(|c| c == facts.channel)
            && same(&self.language, Some(facts.language))
            && same(&self.intent, facts.intent)
            && self
                .tag
                .as_ref()
                .is_none_or(|t| facts.tags.iter().any(|have| have == t))
    }

    /// What agents see: `language = zh, channel = telegram`.
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(s) = &self.segment {
            parts.push(format!("segment = {s}"));
        }
        if let Some(c) = self.channel {
            parts.push(format!("channel = {}", c.as_str()));
        }
        if let Some(l) = &self.language {
            parts.push(format!("language = {l}"));
        }
        if let Some(i) = &self.intent {
            parts.push(format!("intent = {i}"));
        }
        if let Some(t) = &self.tag {
            parts.push(format!("tag = {t}"));
        }
        if parts.is_empty() {
            "every conversation".to_string()
        } else {
            parts.join(", ")
        }
    }
}

/// What routing looks at.
#[derive(Debug, Clone, Copy)]
pub struct RouteFacts<'a> {
    pub channel: ChannelKind,
    pub segment: Option<&'a str>,
    pub language: &'a str,
    pub intent: Option<&'a str>,
    pub tags: &'a [String],
}

/// A team ready to use: its hours parsed.
#[derive(Debug, Clone)]
pub struct Team {
    pub config: TeamConfig,
    pub hours: Option<BusinessHours>,
}

impl Team {
    pub fn name(&self) -> &str {
        &self.config.name
    }

    pub fn has_member(&self, username: &str) -> bool {
        self.config.members.iter().any(|m| m == username)
    }
}

/// Every team and the routing rules.
#[derive(Debug, Clone, Default)]
pub struct Teams {
    teams: Vec<Team>,
    routing: RoutingConfig,
}

/// A team or routing setting that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct TeamsError {
    pub key: String,
    pub message: String,
}

impl From<HoursError> for TeamsError {
    fn from(e: HoursError) -> Self {
        TeamsError {
            key: format!("teams.{}", e.key),
            message: e.message,
        }
    }
}

impl Teams {
    /// Checks names and references and parses each team's hours.
    pub fn new(teams: &[TeamConfig], routing: &RoutingConfig) -> Result<Self, TeamsError> {
        let error = |key: &str, message: String| TeamsError {
            key: key.to_string(),
            message,
        };
        let mut built: Vec<Team> = Vec::with_capacity(teams.len());
        for config in teams {
            if !crate::service_levels::segments::valid_tag(&config.name) {
                return Err(error(
                    "teams.name",
                    format!(
                        "{:?}: a team name is 1 to 40 of a-z, 0-9, '_' or '-'",
                        config.name
                    ),
                ));
            }
            if built.iter().any(|t| t.name() == config.name) {
                return Err(error(
                    "teams.name",
                    format!("{:?} is named twice", config.name),
                ));
            }
            if config.max_open == 0 || config.first_response_minutes == Some(0) {
                return Err(error(
                    "teams.max_open",
                    format!(
                        "team {:?}: max_open and first_response_minutes must be greater than 0",
                        config.name
                    ),
                ));
            }
            let hours = config
                .business_hours
                .as_ref()
                .map(BusinessHours::from_config)
                .transpose()?;
            built.push(Team {
                config: config.clone(),
                hours,
            });
        }
        let known = |name: &str| built.iter().any(|t| t.name() == name);
        for rule in &routing.rules {
            if !known(&rule.team) {
                return Err(error(
                    "routing.rules.team",
                    format!("{:?} is not a team in [[teams]]", rule.team),
                ));
            }
        }
        if let Some(team) = &routing.default_team
            && !known(team)
        {
            return Err(error(
                "routing.default_team",
                format!("{team:?} is not a team in [[teams]]"),
            ));
        }
        Ok(Teams {
            teams: built,
            routing: routing.clone(),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.teams.is_empty()
    }

    pub fn all(&self) -> &[Team] {
        &self.teams
    }

    pub fn get(&self, name: &str) -> Option<&Team> {
        self.teams.iter().find(|t| t.name() == name)
    }

    /// The teams `username` belongs to.
    pub fn of_agent<'a>(&'a self, username: &'a str) -> impl Iterator<Item = &'a Team> + 'a {
        self.teams.iter().filter(move |t| t.has_member(username))
    }

    /// The team a conversation handed to a person goes to, if any.
    pub fn route(&self, facts: &RouteFacts<'_>) -> Option<Route> {
        if let Some((n, rule)) = self
            .routing
            .rules
            .iter()
            .enumerate()
            .find(|(_, r)| r.holds(facts))
        {
            return Some(Route {
                team: rule.team.clone(),
                reason: format!("rule {}: {}", n + 1, rule.describe()),
            });
        }
        if let Some(team) = self
            .teams
            .iter()
            .find(|t| t.config.languages.iter().any(|l| l == facts.language))
        {
            return Some(Route {
                team: team.name().to_string(),
                reason: format!("serves language {}", facts.language),
            });
        }
        self.routing.default_team.as_ref().map(|team| Route {
            team: team.clone(),
            reason: "default team".to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn team(name: &str, languages: &[&str]) -> TeamConfig {
        TeamConfig {
            name: name.into(),
            members: Vec::new(),
            languages: languages.iter().map(|l| l.to_string()).collect(),
            business_hours: None,
            first_response_minutes: None,
            resolution_minutes: None,
            assignment: Assignment::Pull,
            max_open: 5,
        }
    }

    fn rule(team: &str) -> RouteRule {
        RouteRule {
            team: team.into(),
            segment: None,
            channel: None,
            language: None,
            intent: None,
            tag: None,
        }
    }

    fn facts<'a>(
        language: &'a str,
        segment: Option<&'a str>,
        intent: Option<&'a str>,
    ) -> RouteFacts<'a> {
        RouteFacts {
            channel: ChannelKind::Web,
            segment,
            language,
            intent,
            tags: &[],
        }
    }

    fn teams() -> Teams {
        let routing = RoutingConfig {
            default_team: Some("general".into()),
            rules: vec![
                RouteRule {
                    segment: Some("premium".into()),
                    ..rule("premium")
                },
                RouteRule {
                    intent: Some("payment_issue".into()),
                    channel: Some(ChannelKind::Web),
                    ..rule("billing")
                },
            ],
        };
        Teams::new(
            &[
                team("general", &[]),
                team("premium", &[]),
                team("billing", &[]),
                team("chinese", &["zh"]),
            ],
            &routing,
        )
        .expect("valid")
    }

    #[test]
    fn rules_are_read_top_to_bottom_then_languages_then_the_default() {
        let teams = teams();
        let to = |f: RouteFacts<'_>| teams.route(&f).map(|r| (r.team, r.reason));
        assert_eq!(
            to(facts("zh", Some("premium"), Some("payment_issue"))),
            Some(("premium".into(), "rule 1: segment = premium".into())),
            "the first rule that holds wins"
        );
        assert_eq!(
            to(facts("en", None, Some("payment_issue"))),
            Some((
                "billing".into(),
                "rule 2: channel = web, intent = payment_issue".into()
            ))
        );
        assert_eq!(
            to(facts("zh", None, None)),
            Some(("chinese".into(), "serves language zh".into()))
        );
        assert_eq!(
            to(facts("en", None, None)),
            Some(("general".into(), "default team".into()))
        );
        let email = RouteFacts {
            channel: ChannelKind::Email,
            ..facts("en", None, Some("payment_issue"))
        };
        assert_eq!(teams.route(&email).map(|r| r.team), Some("general".into()));
    }

    #[test]
    fn without_teams_nothing_is_routed() {
        let none = Teams::default();
        assert_eq!(none.route(&facts("en", None, None)), None);
    }

    #[test]
    fn rules_must_name_known_teams_and_names_must_be_unique() {
        let unknown = RoutingConfig {
            default_team: None,
            rules: vec![rule("nobody")],
        };
        let e = Teams::new(&[team("general", &[])], &unknown).expect_err("unknown team");
        assert_eq!(e.key, "routing.rules.team");
        let twice = Teams::new(&[team("a", &[]), team("a", &[])], &RoutingConfig::default());
        assert_eq!(twice.expect_err("twice").key, "teams.name");
        let spaced = Teams::new(&[team("Two Words", &[])], &RoutingConfig::default());
        assert_eq!(spaced.expect_err("bad name").key, "teams.name");
        let default = RoutingConfig {
            default_team: Some("x".into()),
            rules: Vec::new(),
        };
        let e = Teams::new(&[team("a", &[])], &default).expect_err("unknown default");
        assert_eq!(e.key, "routing.default_team");
    }
}
