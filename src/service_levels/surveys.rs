//! Satisfaction surveys after a resolution: CSAT (1–5), and as configured
//! NPS (0–10) and CES (1–7), asked one after another.
//!
//! Resolving a conversation queues the first question, with its scale as
//! buttons (web chat, Telegram) or a number to reply with (email). The
//! customer's next message, if it is a number on that scale, is stored as
//! the rating (and reopens nothing, see `conversation::intake`); the bot then asks
//! the next question or says thanks, inviting a comment: the customer's
//! next message is kept as the comment (it reopens nothing either, and the
//! bot thanks them and says how to get more help), and anything after that
//! is a new message as usual. Asked once per resolution, only on the
//! channels `[surveys] channels` names, and never when the customer's last
//! message was automatic mail.

use crate::model::ChannelKind;
use crate::model::{
    Conversation, ConversationId, Handling, Message, OutboundReason, OutboxEntry, ReplyOption,
    SurveyKind,
};
use crate::rules::templates::ReplyContext;
use crate::rules::templates::Templates;
use serde::Deserialize;

/// Which surveys are asked, in order, and on which channels.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SurveysConfig {
    #[serde(default = "default_survey_questions")]
    pub questions: Vec<crate::model::SurveyKind>,
    #[serde(default = "default_survey_channels")]
    pub channels: Vec<ChannelKind>,
    /// The gateway's public address (`https://support.example.com`): email
    /// surveys then link to a small rating page (`/rate/…`) instead of
    /// asking for a number in reply.
    #[serde(default)]
    pub rating_page_url: Option<String>,
}

fn default_survey_questions() -> Vec<crate::model::SurveyKind> {
    vec![crate::model::SurveyKind::Csat]
}
fn default_survey_channels() -> Vec<ChannelKind> {
    vec![ChannelKind::Web, ChannelKind::Telegram, ChannelKind::Email]
}

/// The message asking `kind`, or `None` if its template fails (logged).
pub fn question(
    templates: &Templates,
    config: Option<&SurveysConfig>,
    conversation: &Conversation,
    kind: SurveyKind,
) -> Option<OutboxEntry> {
    let labels: Vec<String> = kind.scale().map(|n| n.to_string()).collect();
    let id = crate::model::OutboxId::new();
    // By email, a link per score to the rating page, when it is public.
    let links = match config.and_then(|s| s.rating_page_url.as_deref()) {
        Some(base) if conversation.channel() == crate::model::ChannelKind::Email => kind
            .scale()
            .map(|n| rating_link(base, conversation.id, &id.to_string(), n))
            .collect(),
        _ => Vec::new(),
    };
    let context = ReplyContext {
        ticket: conversation.ticket,
        customer_name: conversation.display_name.clone(),
        options: labels.clone(),
        links,
        ..ReplyContext::default()
    };
    let text = templates
        .render(
            kind.template(),
            &conversation.locale,
            conversation.channel(),
            &context,
        )
        .map_err(
            |error| tracing::error!(%error, "A survey template failed; the question is not asked."),
        )
        .ok()?;
    Some(OutboxEntry {
        options: labels
            .into_iter()
            .map(|label| ReplyOption {
                label,
                intent: String::new(),
            })
            .collect(),
        survey: Some(kind),
        id,
        ..OutboxEntry::due_now(conversation.id, OutboundReason::Survey, text, None, None)
    })
}

/// The first question for a conversation being resolved, if one is due.
pub fn on_resolve(
    templates: &Templates,
    config: Option<&SurveysConfig>,
    conversation: &Conversation,
    transcript: &[Message],
) -> Option<OutboxEntry> {
    let surveys = config?;
    let first = *surveys.questions.first()?;
    let automatic = transcript
        .iter()
        .rev()
        .find(|m| m.author == crate::model::Author::Customer)
        .is_some_and(|m| matches!(m.handling, Handling::Silent { .. }));
    if !surveys.channels.contains(&conversation.channel()) || automatic {
        return None;
    }
    question(templates, config, conversation, first)
}

/// After a rating of `answered`: the next question, or thanks.
pub fn after_rating(
    templates: &Templates,
    config: Option<&SurveysConfig>,
    conversation: &Conversation,
    answered: SurveyKind,
) -> Option<OutboxEntry> {
    let questions = config.map(|s| s.questions.as_slice()).unwrap_or_default();
    let next = questions
        .iter()
        .skip_while(|k| **k != answered)
        .nth(1)
        .copied();
    if let Some(next) = next {
        return question(templates, config, conversation, next);
    }
    Some(OutboxEntry {
        invites_comment: true,
        ..plain(templates, conversation, "survey_thanks")?
    })
}

/// After the customer's comment: thanks, and how to get more help.
pub fn after_comment(templates: &Templates, conversation: &Conversation) -> Option<OutboxEntry> {
    plain(templates, conversation, "survey_comment_thanks")
}

/// A survey message from `template` with no choices, or `None` if the
/// template fails (logged).
fn plain(
    templates: &Templates,
    conversation: &Conversation,
    template: &str,
) -> Option<OutboxEntry> {
    let context = ReplyContext {
        ticket: conversation.ticket,
        customer_name: conversation.display_name.clone(),
        ..ReplyContext::default()
    };
    let text = templates
        .render(
            template,
            &conversation.locale,
            conversation.channel(),
            &context,
        )
        .map_err(|error| tracing::error!(%error, template, "A survey template failed."))
        .ok()?;
    Some(OutboxEntry::due_now(
        conversation.id,
        OutboundReason::Survey,
        text,
        None,
        None,
    ))
}

/// The link for `score` in a survey mail.
pub fn rating_link(base: &str, conversation: ConversationId, question: &str, score: u8) -> String {
    format!(
        "{}/rate/{conversation}/{question}?score={score}",
        base.trim_end_matches('/')
    )
}
