//! What one conversation's record says happened: its [`Facts`], read from
//! the conversation, its transcript and its status changes.

use super::*;

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
        // From the hand-off to the first agent reply: the SLA clock's own
        // figures when `[sla]` ran one, else the first time it joined the
        // queue (or the customer's first message) to the first agent entry.
        let by_sla = c.sla.as_ref().and_then(|sla| {
            let answered = sla.first_response_at?;
            Some(secs(sla.started_at, answered))
        });
        let by_transcript = || {
            let answered = first_agent?.at;
            let handed_at = changes
                .iter()
                .find(|ch| ch.to == ConversationStatus::Waiting)
                .map(|ch| ch.at)
                .or(first_customer.map(|m| m.at))
                .unwrap_or(c.created_at);
            Some(secs(handed_at, answered).max(0.0))
        };
        let first_human = by_sla
            .or_else(by_transcript)
            .map(|secs| (secs, first_agent.and_then(|m| m.agent.clone())));

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
