//! Turns Telegram updates into inbound messages: pure functions, no I/O.
//!
//! The dedupe key is the chat and message id, so the same message seen
//! twice (redelivered, or by polling and webhook) is one message. Edits get
//! their own key per edit time. Photos, documents, voice notes and stickers
//! are recorded as a bracketed line for the agents, with any caption as the
//! text. The "Talk to a person" button arrives as a callback query and is
//! taken in as `/human`.

use crate::model::{CustomerAddress, InboundMessage};
use chrono::Utc;
use teloxide::types::{CallbackQuery, Message, Update, UpdateKind, User};

/// Callback data of the "Talk to a person" button.
pub const HUMAN_BUTTON: &str = "human";

/// What an update means for the gateway.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// A customer message to take in.
    Message(InboundMessage),
    /// A button press to take in, then answer with `answerCallbackQuery`.
    Button {
        inbound: InboundMessage,
        callback_id: String,
    },
    /// Nothing for us (group chats, channel posts, unknown update kinds).
    Ignore(&'static str),
}

fn display_name(user: Option<&User>) -> Option<String> {
    let user = user?;
    let name = match &user.last_name {
        Some(last) => format!("{} {last}", user.first_name),
        None => user.first_name.clone(),
    };
    Some(name.trim().to_string()).filter(|n| !n.is_empty())
}

/// The text we keep for a message: its text, or a line naming what was
/// sent plus its caption.
fn message_text(msg: &Message) -> Option<String> {
    if let Some(text) = msg.text() {
        return Some(text.to_string());
    }
    let kind = if let Some(photo) = msg.photo() {
        let id = photo
            .last()
            .map(|p| p.file.id.to_string())
            .unwrap_or_default();
        format!("[photo {id}]")
    } else if let Some(doc) = msg.document() {
        let name = doc.file_name.clone().unwrap_or_else(|| "file".into());
        format!("[document {name} {}]", doc.file.id)
    } else if let Some(voice) = msg.voice() {
        format!(
            "[voice message {} s {}]",
            voice.duration.seconds(),
            voice.file.id
        )
    } else if let Some(sticker) = msg.sticker() {
        format!("[sticker {}]", sticker.emoji.clone().unwrap_or_default())
    } else {
        return None;
    };
    Some(match msg.caption() {
        Some(caption) => format!("{kind}\n{caption}"),
        None => kind,
    })
}

fn from_message(msg: &Message, external_id: String) -> Parsed {
    if !msg.chat.is_private() {
        return Parsed::Ignore("not a private chat");
    }
    let Some(text) = message_text(msg) else {
        return Parsed::Ignore("a message kind we do not handle");
    };
    Parsed::Message(InboundMessage {
        display_name: display_name(msg.from.as_ref()),
        locale_hint: msg.from.as_ref().and_then(|u| u.language_code.clone()),
        ..InboundMessage::text(
            CustomerAddress::Telegram {
                chat_id: msg.chat.id.0,
            },
            external_id,
            text,
            Utc::now(),
        )
    })
}

/// Callback data of an option button: `pick:N`, N counting from 1.
pub const PICK_PREFIX: &str = "pick:";

/// The text a button press stands for: `/human`, or the option's label
/// (read back from the message's keyboard; its number if that is gone).
fn button_text(query: &CallbackQuery) -> Option<String> {
    let data = query.data.as_deref()?;
    if data == HUMAN_BUTTON {
        return Some("/human".into());
    }
    let number = data.strip_prefix(PICK_PREFIX)?;
    number.parse::<u8>().ok()?;
    let label = query
        .message
        .as_ref()
        .and_then(|m| m.regular_message())
        .and_then(|m| m.reply_markup())
        .and_then(|markup| {
            markup
                .inline_keyboard
                .iter()
                .flatten()
                .find_map(|button| match &button.kind {
                    teloxide::types::InlineKeyboardButtonKind::CallbackData(d) if d == data => {
                        Some(button.text.clone())
                    }
                    _ => None,
                })
        });
    Some(label.unwrap_or_else(|| number.to_string()))
}

fn from_callback(query: &CallbackQuery) -> Parsed {
    let Some(text) = button_text(query) else {
        return Parsed::Ignore("a button we did not send");
    };
    // Buttons are only in private chats with the bot: the chat is the user.
    Parsed::Button {
        inbound: InboundMessage {
            display_name: display_name(Some(&query.from)),
            locale_hint: query.from.language_code.clone(),
            ..InboundMessage::text(
                CustomerAddress::Telegram {
                    chat_id: query.from.id.0 as i64,
                },
                format!("callback:{}", query.id.0),
                text,
                Utc::now(),
            )
        },
        callback_id: query.id.0.clone(),
    }
}

/// An update as the Bot API sends it (JSON), as a webhook body arrives.
pub fn read_update(body: &[u8]) -> Result<Update, serde_json::Error> {
    serde_json::from_slice(body)
}

/// What `update` means for the gateway.
pub fn parse(update: &Update) -> Parsed {
    match &update.kind {
        UpdateKind::Message(msg) => from_message(msg, format!("{}:{}", msg.chat.id.0, msg.id.0)),
        UpdateKind::EditedMessage(msg) => {
            let edited = msg.edit_date().map(|d| d.timestamp()).unwrap_or_default();
            match from_message(msg, format!("{}:{}:edit:{edited}", msg.chat.id.0, msg.id.0)) {
                Parsed::Message(mut inbound) => {
                    inbound.text = format!("(edited) {}", inbound.text);
                    Parsed::Message(inbound)
                }
                other => other,
            }
        }
        UpdateKind::CallbackQuery(query) => from_callback(query),
        _ => Parsed::Ignore("an update kind we do not handle"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// As the webhook and poller do: from the JSON text. (teloxide's
    /// `Update` does not deserialize through `serde_json::from_value`.)
    fn update(value: serde_json::Value) -> Update {
        serde_json::from_str(&value.to_string()).expect("a valid update")
    }

    fn text_update(update_id: u32, chat: i64, message_id: i32, text: &str) -> Update {
        update(json!({
            "update_id": update_id,
            "message": {
                "message_id": message_id, "date": 1_700_000_000,
                "chat": {"id": chat, "type": "private", "first_name": "Li"},
                "from": {"id": chat, "is_bot": false, "first_name": "Li", "last_name": "Wei", "language_code": "zh-hans"},
                "text": text
            }
        }))
    }

    #[test]
    fn a_private_text_message_becomes_an_inbound_message() {
        let Parsed::Message(m) = parse(&text_update(7, 42, 10, "我的订单到哪了")) else {
            panic!("not a message")
        };
        assert_eq!(m.customer, CustomerAddress::Telegram { chat_id: 42 });
        assert_eq!(m.external_id, "42:10");
        assert_eq!(m.text, "我的订单到哪了");
        assert_eq!(m.display_name.as_deref(), Some("Li Wei"));
        assert_eq!(m.locale_hint.as_deref(), Some("zh-hans"));
    }

    #[test]
    fn the_same_message_in_two_updates_has_one_key() {
        let a = parse(&text_update(7, 42, 10, "hi"));
        let b = parse(&text_update(8, 42, 10, "hi"));
        match (a, b) {
            (Parsed::Message(a), Parsed::Message(b)) => assert_eq!(a.external_id, b.external_id),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn photos_and_edits_are_recorded_and_groups_ignored() {
        let photo = update(json!({"update_id": 1, "message": {
            "message_id": 3, "date": 1_700_000_000, "chat": {"id": 5, "type": "private", "first_name": "A"},
            "photo": [{"file_id": "small", "file_unique_id": "u1", "width": 90, "height": 90},
                      {"file_id": "big", "file_unique_id": "u2", "width": 900, "height": 900}],
            "caption": "the scratch"}}));
        let Parsed::Message(m) = parse(&photo) else {
            panic!("photo")
        };
        assert_eq!(m.text, "[photo big]\nthe scratch");

        let edit = update(json!({"update_id": 2, "edited_message": {
            "message_id": 3, "date": 1_700_000_000, "edit_date": 1_700_000_100,
            "chat": {"id": 5, "type": "private", "first_name": "A"}, "text": "fixed typo"}}));
        let Parsed::Message(m) = parse(&edit) else {
            panic!("edit")
        };
        assert_eq!(
            (m.external_id.as_str(), m.text.as_str()),
            ("5:3:edit:1700000100", "(edited) fixed typo")
        );

        let group = update(json!({"update_id": 3, "message": {
            "message_id": 4, "date": 1_700_000_000, "chat": {"id": -100, "type": "group", "title": "G"}, "text": "hi"}}));
        assert!(matches!(parse(&group), Parsed::Ignore(_)));
    }

    #[test]
    fn the_human_button_is_taken_in_as_a_request_for_a_person() {
        let press = update(json!({"update_id": 4, "callback_query": {
            "id": "cb1", "chat_instance": "x", "data": "human",
            "from": {"id": 42, "is_bot": false, "first_name": "Li"}}}));
        let Parsed::Button {
            inbound,
            callback_id,
        } = parse(&press)
        else {
            panic!("button")
        };
        assert_eq!(
            (inbound.text.as_str(), callback_id.as_str()),
            ("/human", "cb1")
        );
        assert_eq!(inbound.customer, CustomerAddress::Telegram { chat_id: 42 });
    }
}
