//! The dispatcher decides each customer turn's automatic reply: nothing
//! while a human owns the conversation or when the message is automatic
//! mail; the intent's answer when one matches; otherwise the hand-off
//! acknowledgment (ticket, place in line, expected wait) and a place in the
//! waiting queue. Email is acknowledged once per conversation (follow-ups go
//! to a person as they are), and no email sender gets more automatic
//! replies than `[channels.email] auto_reply_limit` within its window.
//!
//! Turns of one conversation are handled in order by one worker (chosen by
//! hashing the conversation id); different conversations run in parallel.
//! A turn stays marked pending in the store until its reply is recorded, so
//! one interrupted by a crash is redone at start-up, and one left behind
//! (a failed attempt, an instance that died) by [`crate::core::turn_sweep`].

use crate::conversation::turn::after_turn;
use crate::core::events::{EventKind, Events};
use crate::core::metrics::Responder;
use crate::core::outbox::Outbox;
use crate::model::{
    Author, ChannelKind, Conversation, ConversationStatus, Handling, Message, OutboundReason,
    OutboxEntry, ReplyOption,
};
use crate::model::{Route, Sla};
use crate::rules::intents::{self, Action, Classification, Decision, Intent, IntentSet};
use crate::rules::locale;
use crate::rules::templates::{ReplyContext, Templates};
use crate::service_levels::hours::BusinessHours;
use crate::service_levels::segments::SegmentConfig;
use crate::service_levels::sla::{self, SlaConfig};
use crate::service_levels::surveys::SurveysConfig;
use crate::service_levels::teams::{RouteFacts, Teams};
use crate::service_levels::waiting;
use crate::store::{PendingTurn, Store, StoreError, TurnOutcome};
use serde::Deserialize;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use tokio::sync::mpsc;
use tracing::Instrument;

/// What a channel sends automatically for each customer turn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AckPolicy {
    /// One reply: the intent's answer, or the hand-off acknowledgment.
    #[default]
    Reply,
    /// A plain receipt first, then the reply.
    ReceiptThenReply,
}

/// Everything a dispatcher worker needs to decide a reply: the bot's rules
/// and the config sections that shape its answers.
pub struct Rules {
    /// When people answer (`[business_hours]`).
    pub hours: Option<BusinessHours>,
    pub intents: Arc<IntentSet>,
    pub templates: Arc<Templates>,
    pub events: Arc<Events>,
    /// The promise to customers handed to a person (`[sla]`).
    pub sla: Option<SlaConfig>,
    /// Customer segments, whose targets override `[sla]`'s.
    pub segments: Vec<SegmentConfig>,
    /// Teams and the routing rules (`[[teams]]`, `[routing]`).
    pub teams: Arc<Teams>,
    /// Satisfaction questions after a resolution (`[surveys]`).
    pub surveys: Option<SurveysConfig>,
    /// Minutes an agent needs per waiting customer (`[queue]`).
    pub minutes_per_customer: u32,
    /// What web chat sends first for each turn (`[channels.web] ack`).
    pub web_ack: AckPolicy,
    /// At most this many automatic replies to one email sender within
    /// the window (`[channels.email]`), when email is configured.
    pub auto_reply_cap: Option<AutoReplyCap>,
}

/// The per-sender cap on automatic email replies (promise 6).
#[derive(Debug, Clone, Copy)]
pub struct AutoReplyCap {
    pub limit: u32,
    pub window_hours: u32,
}

impl Rules {
    /// The acknowledgment policy of a channel.
    fn ack_policy(&self, channel: ChannelKind) -> AckPolicy {
        match channel {
            ChannelKind::Web => self.web_ack,
            // Telegram throttles about one message a second per chat, and
            // email gets one acknowledgment per conversation: one reply.
            ChannelKind::Telegram | ChannelKind::Email => AckPolicy::Reply,
        }
    }

    /// The promise to `conversation` (routed already) if it is handed to
    /// a person at `now`.
    fn promise(
        &self,
        conversation: &Conversation,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<Sla> {
        let team = conversation.team.as_deref().and_then(|t| self.teams.get(t));
        sla::promise(
            conversation,
            self.sla.as_ref(),
            &self.segments,
            team.map(|t| &t.config),
            self.hours_of(conversation),
            now,
        )
    }

    /// The hours of the conversation's team, else `[business_hours]`.
    fn hours_of(&self, conversation: &Conversation) -> Option<&BusinessHours> {
        conversation
            .team
            .as_deref()
            .and_then(|t| self.teams.get(t))
            .and_then(|t| t.hours.as_ref())
            .or(self.hours.as_ref())
    }

    /// `conversation` as a hand-off at `now` puts it in the queue: routed
    /// to its team, with the promise that starts then.
    fn queued(
        &self,
        conversation: &Conversation,
        language: &str,
        intent: Option<&str>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> (Conversation, Option<Route>) {
        let route = self.teams.route(&RouteFacts {
            channel: conversation.channel(),
            segment: conversation.segment.as_deref(),
            language,
            intent,
            tags: &conversation.tags,
        });
        let mut queued = Conversation {
            status: ConversationStatus::Waiting,
            waiting_since: Some(now),
            team: route.as_ref().map(|r| r.team.clone()),
            routed_by: route.as_ref().map(|r| r.reason.clone()),
            ..conversation.clone()
        };
        queued.sla = self.promise(&queued, now);
        (queued, route)
    }
}

/// A handle that submits turns to the worker owning their conversation.
#[derive(Clone)]
pub struct Dispatcher {
    workers: Arc<Vec<mpsc::Sender<PendingTurn>>>,
}

impl Dispatcher {
    /// Starts `workers` worker tasks. They end when every handle is dropped.
    pub fn start(store: Arc<dyn Store>, rules: Arc<Rules>, outbox: Outbox, workers: usize) -> Self {
        let senders = (0..workers.max(1))
            .map(|_| {
                let (tx, rx) = mpsc::channel(256);
                tokio::spawn(run_worker(rx, store.clone(), rules.clone(), outbox.clone()));
                tx
            })
            .collect();
        Self {
            workers: Arc::new(senders),
        }
    }

    /// Queues a turn; waits if its worker is backed up.
    pub async fn submit(&self, turn: PendingTurn) {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        turn.conversation_id.hash(&mut hasher);
        let index = (hasher.finish() % self.workers.len() as u64) as usize;
        if self.workers[index].send(turn).await.is_err() {
            // Only at shutdown; the turn stays pending and is redone on start.
            tracing::warn!(conversation_id = %turn.conversation_id, "Dispatcher stopped; the turn will be handled after restart.");
        }
    }
}

async fn run_worker(
    mut turns: mpsc::Receiver<PendingTurn>,
    store: Arc<dyn Store>,
    rules: Arc<Rules>,
    outbox: Outbox,
) {
    while let Some(turn) = turns.recv().await {
        let span =
            tracing::info_span!("turn", conversation_id = %turn.conversation_id, seq = turn.seq);
        let result = handle_turn(turn, store.as_ref(), &rules)
            .instrument(span.clone())
            .await;
        match result {
            Ok(true) => outbox.wake(),
            Ok(false) => {}
            Err(error) => {
                let _guard = span.enter();
                tracing::error!(%error, "Could not decide the reply to a customer turn; it stays pending and is tried again within seconds.");
            }
        }
    }
}

/// Decides and records one turn. True if replies were queued.
async fn handle_turn(
    turn: PendingTurn,
    store: &dyn Store,
    rules: &Rules,
) -> Result<bool, StoreError> {
    let id = turn.conversation_id;
    let conversation = store
        .conversation(id)
        .await?
        .ok_or(StoreError::ConversationNotFound(id))?;
    let message = store
        .message(id, turn.seq)
        .await?
        .ok_or_else(|| StoreError::Corrupt {
            what: "pending turn".into(),
            detail: format!("message {} of conversation {id} is missing", turn.seq),
        })?;
    let quiet = |handoff| TurnOutcome {
        turn,
        locale: conversation.locale.clone(),
        handoff,
        replies: Vec::new(),
        sla: None,
        route: None,
    };
    let email = conversation.channel() == ChannelKind::Email;
    let outcome = if conversation.status.human_owned() {
        quiet(false)
    } else if message.survey_comment {
        tracing::info!("Recorded a survey comment.");
        TurnOutcome {
            replies: crate::service_levels::surveys::after_comment(&rules.templates, &conversation)
                .into_iter()
                .collect(),
            ..quiet(false)
        }
    } else if let Some(rating) = message.rating {
        tracing::info!(kind = ?rating.kind, score = rating.score, "Recorded a survey answer.");
        TurnOutcome {
            replies: crate::service_levels::surveys::after_rating(
                &rules.templates,
                rules.surveys.as_ref(),
                &conversation,
                rating.kind,
            )
            .into_iter()
            .collect(),
            ..quiet(false)
        }
    } else {
        match &message.handling {
            Handling::Silent { rule } => {
                tracing::info!(rule, "Not answering automatic mail.");
                quiet(false)
            }
            Handling::HumanOnly { reason } => {
                tracing::info!(reason, "Handing a message to a person without a reply.");
                quiet(true)
            }
            // One acknowledgment per email conversation: a follow-up in an
            // open thread goes to a person as it is.
            Handling::Normal if email && !message.opens => quiet(true),
            Handling::Normal
                if email && over_auto_reply_cap(&conversation, store, rules).await? =>
            {
                tracing::warn!(
                    "Not answering: this sender reached the automatic-reply limit; a person takes it."
                );
                quiet(true)
            }
            Handling::Normal => decide(turn, &conversation, &message, store, rules).await?,
        }
    };
    // A hand-off without an acknowledgment decided above (a mail for a
    // person) is routed and gets its promise here; one already queued
    // keeps its own.
    let outcome = if outcome.handoff
        && outcome.route.is_none()
        && outcome.sla.is_none()
        && conversation.status != ConversationStatus::Waiting
    {
        let (queued, route) = rules.queued(
            &conversation,
            &conversation.locale,
            None,
            chrono::Utc::now(),
        );
        TurnOutcome {
            sla: queued.sla,
            route,
            ..outcome
        }
    } else {
        outcome
    };
    let recorded = store.record_turn(&outcome, &after_turn).await?;
    if email && recorded.replies_queued {
        for _ in &outcome.replies {
            store
                .record_auto_reply(&conversation.customer, chrono::Utc::now())
                .await?;
        }
    }
    store.sync().await?;
    if recorded.replies_queued
        && outcome.handoff
        && conversation.status != ConversationStatus::Waiting
    {
        rules
            .events
            .publish(EventKind::Queued, &recorded.conversation);
    }
    if recorded.replies_queued && turn.seq == 1 && !outcome.replies.is_empty() {
        crate::core::metrics::first_response(
            conversation.channel(),
            Responder::Bot,
            message.at,
            chrono::Utc::now(),
        );
    }
    if recorded.replies_queued {
        tracing::info!(
            handoff = outcome.handoff,
            replies = outcome.replies.len(),
            "Queued the automatic reply."
        );
    } else {
        tracing::debug!("An agent owns the conversation; the bot stays silent.");
    }
    Ok(recorded.replies_queued && !outcome.replies.is_empty())
}

/// Whether the customer already got the configured number of automatic
/// replies within the window (promise 6: a loop with another robot that
/// slipped past the header checks still ends).
async fn over_auto_reply_cap(
    conversation: &Conversation,
    store: &dyn Store,
    rules: &Rules,
) -> Result<bool, StoreError> {
    let Some(cap) = rules.auto_reply_cap else {
        return Ok(false);
    };
    let since = chrono::Utc::now() - chrono::Duration::hours(i64::from(cap.window_hours));
    Ok(store
        .auto_replies_since(&conversation.customer, since)
        .await?
        >= cap.limit as usize)
}

/// The intent of an option the bot just offered, when the customer's
/// message picks it (by its label, as the buttons send it, or its number).
async fn chosen_option<'a>(
    conversation: &Conversation,
    message: &Message,
    store: &dyn Store,
    rules: &'a Rules,
) -> Result<Option<&'a Intent>, StoreError> {
    let recent = store
        .messages_after(conversation.id, message.seq.saturating_sub(6), 6)
        .await?;
    let Some(offer) = recent
        .iter()
        .rev()
        .filter(|m| m.seq < message.seq)
        .find(|m| m.author == Author::Bot)
        .filter(|m| !m.options.is_empty())
    else {
        return Ok(None);
    };
    let said = intents::normalize(&message.text);
    let said = said.trim_end_matches(['.', '!', '。', '！']);
    Ok(offer
        .options
        .iter()
        .enumerate()
        .find(|(i, o)| intents::normalize(&o.label) == said || (i + 1).to_string() == said)
        .and_then(|(_, o)| rules.intents.by_name(&o.intent))
        .filter(|i| i.action == Action::Answer))
}

async fn decide(
    turn: PendingTurn,
    conversation: &Conversation,
    message: &Message,
    store: &dyn Store,
    rules: &Rules,
) -> Result<TurnOutcome, StoreError> {
    let channel = conversation.channel();
    let templates = &rules.templates;
    let locale = locale::detect(&message.text, templates.locales(), &conversation.locale);
    let decision = match chosen_option(conversation, message, store, rules).await? {
        Some(intent) => Decision::Matched(Classification {
            intent,
            fired: Vec::new(),
        }),
        None => rules.intents.decide(&message.text),
    };
    let mut context = ReplyContext {
        ticket: conversation.ticket,
        customer_name: conversation.display_name.clone(),
        intent: match &decision {
            Decision::Matched(c) => Some(c.intent.name.clone()),
            _ => None,
        },
        ..ReplyContext::default()
    };
    let mut replies = Vec::new();
    if rules.ack_policy(channel) == AckPolicy::ReceiptThenReply {
        match templates.render("receipt", &locale, channel, &context) {
            Ok(text) => replies.push(entry(conversation, OutboundReason::Receipt, text, None)),
            Err(error) => {
                tracing::error!(%error, "The receipt template failed; sending the reply alone.")
            }
        }
    }
    // The bot's own reply: a question between two intents, or one
    // intent's answer. A template that fails leaves it to a person.
    let bot_reply = match &decision {
        Decision::Ambiguous(first, second) => {
            let options: Vec<ReplyOption> = [first, second]
                .iter()
                .map(|c| ReplyOption {
                    label: c.intent.title(&locale),
                    intent: c.intent.name.clone(),
                })
                .collect();
            context.options = options.iter().map(|o| o.label.clone()).collect();
            tracing::debug!(first = %first.intent.name, second = %second.intent.name, "Two intents fit; asking which.");
            templates
                .render("clarify", &locale, channel, &context)
                .map(|text| OutboxEntry {
                    options,
                    ..entry(conversation, OutboundReason::Answer, text, None)
                })
                .map_err(|error| tracing::error!(%error, "The clarify template failed; handing off to a person instead."))
                .ok()
        }
        Decision::Matched(c) => match (&c.intent.action, &c.intent.template) {
            (Action::Answer, Some(template)) => {
                let intent = c.intent.name.clone();
                tracing::debug!(%intent, "Matched an intent.");
                templates
                    .render(template, &locale, channel, &context)
                    .map_err(|error| tracing::error!(%error, %intent, "The answer template failed; handing off to a person instead."))
                    .ok()
                    .map(|text| entry(conversation, OutboundReason::Answer, text, Some(intent)))
            }
            _ => None,
        },
        Decision::NoMatch => None,
    };
    if let Some(reply) = bot_reply {
        replies.push(reply);
        return Ok(TurnOutcome {
            turn,
            locale,
            handoff: false,
            replies,
            sla: None,
            route: None,
        });
    }
    // The place it takes: in the queue already, or where its promise puts
    // it. That promise is the one recorded with the turn.
    let (queued, route) = if conversation.status == ConversationStatus::Waiting {
        (conversation.clone(), None)
    } else {
        rules.queued(
            conversation,
            &locale,
            context.intent.as_deref(),
            chrono::Utc::now(),
        )
    };
    let promised = if conversation.status == ConversationStatus::Waiting {
        None
    } else {
        queued.sla.clone()
    };
    (context.position, context.wait_minutes) =
        waiting::place_of(store, &queued, rules.minutes_per_customer).await?;
    // Outside business hours, say when people are back rather than quote
    // a wait nobody is there to keep.
    let closed_until = rules
        .hours_of(&queued)
        .filter(|h| !h.is_open(chrono::Utc::now()))
        .and_then(|h| Some(h.describe(h.next_open(chrono::Utc::now())?, &locale)));
    let ack = if closed_until.is_some() {
        "handoff_closed"
    } else {
        "handoff"
    };
    context.reopens_at = closed_until;
    match templates.render(ack, &locale, channel, &context) {
        Ok(text) => replies.push(entry(
            conversation,
            OutboundReason::Handoff,
            text,
            context.intent,
        )),
        Err(error) => {
            tracing::error!(%error, "The hand-off template failed; the customer gets no acknowledgment.")
        }
    }
    Ok(TurnOutcome {
        turn,
        locale,
        handoff: true,
        replies,
        sla: promised,
        route,
    })
}

fn entry(
    conversation: &Conversation,
    reason: OutboundReason,
    text: String,
    intent: Option<String>,
) -> OutboxEntry {
    OutboxEntry::due_now(conversation.id, reason, text, intent, None)
}
