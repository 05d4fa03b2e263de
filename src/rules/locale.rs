//! Picks the language to reply in from what the customer wrote.
//!
//! Any Han character means Chinese (mixed "我的order" text included), unless
//! there is kana too: that is Japanese, which shares the Han characters. Other
//! text goes through whatlang, trusted only when it says it is reliable,
//! which it rarely is for short messages; so Latin-script text of three or
//! more words that no supported language claims reliably is taken as
//! English. Shorter text ("ok", "thanks!") keeps the conversation's current
//! locale.

use serde::Deserialize;
use std::collections::BTreeSet;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocaleConfig {
    /// Used when the customer's language is not detected confidently.
    #[serde(default = "default_locale")]
    pub default: String,
}

impl Default for LocaleConfig {
    fn default() -> Self {
        Self {
            default: default_locale(),
        }
    }
}

fn default_locale() -> String {
    "en".into()
}

/// The locale for a reply to `text`, among `supported`; `current` otherwise.
pub fn detect(text: &str, supported: &BTreeSet<String>, current: &str) -> String {
    let pick = |code: &str| supported.contains(code).then(|| code.to_string());
    if let Some(zh) = chinese(text, supported) {
        return zh;
    }
    // Latin-script text of three or more words is English unless whatlang
    // reliably names another supported language: with no other supported
    // language written in Latin script, its answer cannot change that, and
    // it is the costliest step of a bot turn.
    if word_count(text) >= 3
        && !supported.iter().any(|c| c != "en" && is_latin_language(c))
        && whatlang::detect_script(text) == Some(whatlang::Script::Latin)
    {
        return pick("en").unwrap_or_else(|| current.to_string());
    }
    by_whatlang(text, supported, current)
}

/// "zh" for text with Han characters and no kana, when supported.
fn chinese(text: &str, supported: &BTreeSet<String>) -> Option<String> {
    (text.chars().any(is_han) && !text.chars().any(is_kana) && supported.contains("zh"))
        .then(|| "zh".to_string())
}

/// Words with a letter in them.
fn word_count(text: &str) -> usize {
    text.split_whitespace()
        .filter(|w| w.chars().any(char::is_alphabetic))
        .count()
}

/// `detect` for text that is not Chinese, asking whatlang.
fn by_whatlang(text: &str, supported: &BTreeSet<String>, current: &str) -> String {
    let pick = |code: &str| supported.contains(code).then(|| code.to_string());
    let info = whatlang::detect(text);
    if let Some(code) = info
        .as_ref()
        .filter(|i| i.is_reliable())
        .and_then(|i| iso639_1(i.lang()))
        .and_then(pick)
    {
        return code;
    }
    let latin = info.is_some_and(|i| i.script() == whatlang::Script::Latin);
    if latin
        && word_count(text) >= 3
        && let Some(en) = pick("en")
    {
        return en;
    }
    current.to_string()
}

fn is_han(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{F900}'..='\u{FAFF}')
}

/// Hiragana and katakana: only Japanese writes them.
fn is_kana(c: char) -> bool {
    matches!(c, '\u{3040}'..='\u{30FF}' | '\u{31F0}'..='\u{31FF}')
}

/// Whether `code` is one of the languages below written in Latin script.
fn is_latin_language(code: &str) -> bool {
    matches!(code, "en" | "es" | "fr" | "de" | "it" | "pt" | "nl")
}

fn iso639_1(lang: whatlang::Lang) -> Option<&'static str> {
    use whatlang::Lang::*;
    Some(match lang {
        Eng => "en",
        Cmn => "zh",
        Spa => "es",
        Fra => "fr",
        Deu => "de",
        Ita => "it",
        Por => "pt",
        Nld => "nl",
        Rus => "ru",
        Jpn => "ja",
        Kor => "ko",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locales() -> BTreeSet<String> {
        ["en", "zh"].iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn chinese_text_is_chinese_even_when_mixed() {
        assert_eq!(detect("我的订单到哪了", &locales(), "en"), "zh");
        assert_eq!(detect("我的order在哪", &locales(), "en"), "zh");
    }

    #[test]
    fn japanese_is_not_taken_for_chinese() {
        assert_eq!(
            detect("注文した商品がまだ届きません。", &locales(), "en"),
            "en"
        );
    }

    #[test]
    fn english_sentence_is_english() {
        assert_eq!(
            detect(
                "Where is my order? It has been a week already.",
                &locales(),
                "zh"
            ),
            "en"
        );
        assert_eq!(detect("How do I get a refund", &locales(), "zh"), "en");
    }

    /// The shortcut past whatlang answers as whatlang would, on every
    /// labelled customer text, whatever languages are supported.
    #[test]
    fn skipping_whatlang_changes_no_answer() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/intents");
        let mut texts = vec![
            "Où est ma commande, s'il vous plaît ?".to_string(),
            "¿Dónde está mi pedido? Llevo una semana esperando".to_string(),
            "Wo ist meine Bestellung geblieben".to_string(),
        ];
        for file in ["bitext-test.csv", "none.csv"] {
            let csv = std::fs::read_to_string(dir.join(file)).expect("labelled texts");
            texts.extend(csv.lines().skip(1).map(|l| l.to_string()));
        }
        let sets: Vec<BTreeSet<String>> = [&["en", "zh"][..], &["zh"], &["de"]]
            .iter()
            .map(|set| set.iter().map(|s| s.to_string()).collect())
            .collect();
        let mut shortcut = 0;
        for text in &texts {
            for set in &sets {
                // "zh" now: an English answer is never just the current one.
                let asking_whatlang =
                    chinese(text, set).unwrap_or_else(|| by_whatlang(text, set, "zh"));
                assert_eq!(
                    detect(text, set, "zh"),
                    asking_whatlang,
                    "{text:?} with {set:?}"
                );
            }
            shortcut += usize::from(word_count(text) >= 3);
        }
        assert!(
            shortcut > 300,
            "the shortcut was tried on {shortcut} texts only"
        );
    }

    #[test]
    fn short_or_unsupported_text_keeps_the_current_locale() {
        assert_eq!(detect("ok", &locales(), "zh"), "zh");
        assert_eq!(detect("thanks a lot", &locales(), "zh"), "en");
        assert_eq!(detect("thanks!", &locales(), "zh"), "zh");
        assert_eq!(
            detect("Où est ma commande, s'il vous plaît ?", &locales(), "en"),
            "en"
        );
    }
}
