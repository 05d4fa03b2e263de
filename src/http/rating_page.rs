//! The rating page email surveys link to: `GET /rate/{conversation}/{question}?score=N`
//! shows the question with the score picked and a comment box, and the
//! form posts it back (`POST`, so a mail scanner following the links rates
//! nothing). The pair of ids in the path is the key: both are random
//! UUIDs only that customer's survey mail carries, and the question must
//! be a survey the bot sent in that conversation.
//!
//! A submitted rating goes in through the inbox like any customer message
//! (channel id `rate:{question}`, so a second submission is a no-op), as a
//! rating with the comment as its text: it reopens nothing, and the next
//! question or the thanks follows by mail (see [`crate::service_levels::surveys`]).

use super::error::AppError;
use crate::http::state::App;
use crate::model::{
    Author, ChannelKind, Conversation, ConversationId, InboundMessage, Rating, SurveyKind, Thread,
};
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::response::Html;
use axum::routing::get;
use serde::Deserialize;
use std::sync::Arc;

/// Longest comment kept, in characters.
const MAX_COMMENT: usize = 2000;

pub fn routes() -> Router<Arc<App>> {
    Router::new().route("/rate/{conversation}/{question}", get(show).post(submit))
}

#[derive(Deserialize)]
struct ShowQuery {
    score: Option<u8>,
}

#[derive(Deserialize)]
struct Submitted {
    score: u8,
    #[serde(default)]
    comment: String,
}

/// A survey question the bot sent, read with its conversation.
struct Survey {
    conversation: Conversation,
    kind: SurveyKind,
    /// A rating of this kind came after it (on this page or by mail).
    answered: bool,
}

/// The survey question `question` of `conversation`.
async fn survey_of(app: &App, conversation: &str, question: &str) -> Result<Survey, AppError> {
    let unknown = || AppError::not_found("not_found", "no such survey");
    let id: ConversationId = conversation.parse().map_err(|_| unknown())?;
    let conversation = app.store.conversation(id).await?.ok_or_else(unknown)?;
    let transcript = app.store.messages_after(id, 0, 2000).await?;
    let at = transcript
        .iter()
        .position(|m| m.author == Author::Bot && m.survey.is_some() && m.id.to_string() == question)
        .ok_or_else(unknown)?;
    let kind = transcript[at].survey.unwrap_or(SurveyKind::Csat);
    let answered = transcript[at + 1..]
        .iter()
        .any(|m| m.rating.is_some_and(|r| r.kind == kind));
    Ok(Survey {
        conversation,
        kind,
        answered,
    })
}

fn external_id(question: &str) -> String {
    format!("rate:{question}")
}

async fn show(
    State(app): State<Arc<App>>,
    Path((conversation, question)): Path<(String, String)>,
    Query(query): Query<ShowQuery>,
) -> Result<Html<String>, AppError> {
    let survey = survey_of(&app, &conversation, &question).await?;
    let (kind, locale) = (survey.kind, survey.conversation.locale.as_str());
    let words = Words::of(locale);
    let submitted = app
        .store
        .seen_external(ChannelKind::Email, &external_id(&question))
        .await?
        .is_some();
    if survey.answered || submitted {
        return Ok(Html(page(locale, words.thanks, "")));
    }
    let mut choices = String::new();
    for n in kind.scale() {
        let checked = if query.score == Some(n) {
            " checked"
        } else {
            ""
        };
        choices.push_str(&format!(
            "<label class=\"score\"><input type=\"radio\" name=\"score\" value=\"{n}\" required{checked}><span>{n}</span></label>"
        ));
    }
    let (low, high) = words.ends(kind);
    let body = format!(
        "<form method=\"post\"><h1>{}</h1><div class=\"scale\">{choices}</div><div class=\"ends\"><span>{}</span><span>{}</span></div><label for=\"comment\">{}</label><textarea id=\"comment\" name=\"comment\" rows=\"4\" maxlength=\"{MAX_COMMENT}\"></textarea><button type=\"submit\">{}</button></form>",
        escape(words.question(kind)),
        escape(low),
        escape(high),
        escape(words.comment),
        escape(words.send),
    );
    Ok(Html(page(locale, words.title, &body)))
}

async fn submit(
    State(app): State<Arc<App>>,
    Path((conversation, question)): Path<(String, String)>,
    Form(form): Form<Submitted>,
) -> Result<Html<String>, AppError> {
    let Survey {
        conversation: c,
        kind,
        ..
    } = survey_of(&app, &conversation, &question).await?;
    if !kind.scale().contains(&form.score) {
        return Err(AppError::bad_request(
            "invalid_score",
            format!(
                "the score is a whole number from {} to {}",
                kind.scale().start(),
                kind.scale().end()
            ),
        ));
    }
    let comment: String = form.comment.trim().chars().take(MAX_COMMENT).collect();
    let inbound = InboundMessage {
        thread: Thread::Conversation(c.id),
        rating: Some(Rating {
            kind,
            score: form.score,
        }),
        ..InboundMessage::text(
            c.customer.clone(),
            external_id(&question),
            if comment.is_empty() {
                form.score.to_string()
            } else {
                comment
            },
            chrono::Utc::now(),
        )
    };
    app.inbox
        .accept(inbound)
        .await
        .map_err(|e| AppError::unavailable(e.to_string()))?;
    Ok(Html(page(&c.locale, Words::of(&c.locale).thanks, "")))
}

struct Words {
    title: &'static str,
    comment: &'static str,
    send: &'static str,
    thanks: &'static str,
    zh: bool,
}

impl Words {
    fn of(locale: &str) -> Self {
        if locale == "zh" {
            Self {
                title: "评价我们的服务",
                comment: "还有什么想告诉我们的吗？（可选）",
                send: "提交",
                thanks: "感谢您的评价！",
                zh: true,
            }
        } else {
            Self {
                title: "Rate our help",
                comment: "Anything you would like to tell us? (optional)",
                send: "Send",
                thanks: "Thank you for your rating!",
                zh: false,
            }
        }
    }

    fn question(&self, kind: SurveyKind) -> &'static str {
        match (kind, self.zh) {
            (SurveyKind::Csat, false) => "How satisfied are you with our help?",
            (SurveyKind::Nps, false) => "How likely are you to recommend us to a friend?",
            (SurveyKind::Ces, false) => "How easy was it to get your issue solved?",
            (SurveyKind::Csat, true) => "您对我们的服务满意吗？",
            (SurveyKind::Nps, true) => "您向朋友推荐我们的可能性有多大？",
            (SurveyKind::Ces, true) => "解决您的问题有多容易？",
        }
    }

    fn ends(&self, kind: SurveyKind) -> (&'static str, &'static str) {
        match (kind, self.zh) {
            (SurveyKind::Csat, false) => ("not at all", "very"),
            (SurveyKind::Nps, false) => ("not at all likely", "very likely"),
            (SurveyKind::Ces, false) => ("very hard", "very easy"),
            (SurveyKind::Csat, true) => ("很不满意", "非常满意"),
            (SurveyKind::Nps, true) => ("完全不会", "非常可能"),
            (SurveyKind::Ces, true) => ("非常困难", "非常容易"),
        }
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(locale: &str, heading: &str, body: &str) -> String {
    let main = if body.is_empty() {
        format!("<h1>{}</h1>", escape(heading))
    } else {
        body.to_string()
    };
    format!(
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#1e293b}}h1{{font-size:1.3rem}}.scale{{display:flex;flex-wrap:wrap;gap:6px}}.score input{{position:absolute;opacity:0}}.score span{{display:inline-block;min-width:2.2rem;padding:8px 0;text-align:center;border:1px solid #94a3b8;border-radius:6px;cursor:pointer}}.score input:checked+span{{background:#2563eb;color:#fff;border-color:#2563eb}}.ends{{display:flex;justify-content:space-between;font-size:.85rem;color:#64748b;margin:4px 0 1rem}}textarea{{width:100%;box-sizing:border-box;margin:6px 0 1rem}}button{{background:#2563eb;color:#fff;border:0;border-radius:6px;padding:8px 18px;font-size:1rem}}</style></head><body>{main}</body></html>",
        escape(locale),
        escape(heading),
    )
}
