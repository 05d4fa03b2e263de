//! Figures: counts, shares and time summaries (mean, median, 90th
//! percentile) of a set of conversations' facts, overall and per agent.

use super::*;

/// Count, mean, median and 90th percentile of durations in seconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Durations {
    pub count: usize,
    pub mean: Option<f64>,
    pub median: Option<f64>,
    pub p90: Option<f64>,
}

impl Durations {
    pub(super) fn of(mut secs: Vec<f64>) -> Self {
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
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Score {
    pub count: usize,
    pub score: Option<f64>,
}

impl Score {
    pub(super) fn mean(values: &[u8]) -> Self {
        Self {
            count: values.len(),
            score: (!values.is_empty())
                .then(|| values.iter().map(|v| f64::from(*v)).sum::<f64>() / values.len() as f64),
        }
    }

    pub(super) fn nps(values: &[u8]) -> Self {
        let share = |f: &dyn Fn(u8) -> bool| values.iter().filter(|v| f(**v)).count() as f64;
        Self {
            count: values.len(),
            score: (!values.is_empty())
                .then(|| (share(&|v| v >= 9) - share(&|v| v <= 6)) * 100.0 / values.len() as f64),
        }
    }

    pub(super) fn of(kind: SurveyKind, ratings: &[(SurveyKind, u8)]) -> Self {
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
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
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
