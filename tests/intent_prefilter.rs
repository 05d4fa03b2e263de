//! The intent pack's literal prefilter changes nothing: on every labelled
//! utterance, on their pieces glued together, and on their mixed-case and
//! spaced-out variants, `PatternSet` finds exactly the patterns a plain
//! `RegexSet` over the same patterns finds.

use frontdesk::rules::intents::{IntentSet, normalize};
use frontdesk::rules::pattern_set::PatternSet;

fn utterances() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/intents");
    let mut texts = Vec::new();
    for entry in std::fs::read_dir(dir).expect("data folder") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "csv") {
            let mut reader = csv::Reader::from_path(&path).expect("csv");
            for record in reader.records() {
                texts.push(record.expect("record")[0].to_string());
            }
        }
    }
    texts
}

#[test]
fn the_prefilter_finds_what_a_regex_set_finds() {
    let intents = IntentSet::load(None).expect("shipped intents");
    let patterns: Vec<String> = intents
        .compiled_patterns()
        .into_iter()
        .map(str::to_string)
        .collect();
    let ours = PatternSet::new(&patterns).expect("pattern set");
    let plain = regex::RegexSet::new(&patterns).expect("regex set");
    let texts = utterances();
    assert!(texts.len() > 2000, "only {} utterances", texts.len());
    // A fixed-seed generator: the same glued pieces on every run.
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move |bound: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % bound as u64) as usize
    };
    let mut checked = 0;
    let mut matched = 0;
    for (i, text) in texts.iter().enumerate() {
        let other = &texts[next(texts.len())];
        let cut = |t: &str, at: usize| {
            let at = t.char_indices().map(|(i, _)| i).nth(at).unwrap_or(t.len());
            t[..at].to_string()
        };
        let glued = format!(
            "{}{}",
            cut(text, next(40)),
            other.chars().skip(next(20)).collect::<String>()
        );
        let variants = [
            text.clone(),
            normalize(text),
            text.to_uppercase(),
            glued.clone(),
            normalize(&glued),
            text.chars().rev().collect(),
        ];
        for variant in variants {
            let want: Vec<usize> = plain.matches(&variant).into_iter().collect();
            let got = ours.matches(&variant);
            assert_eq!(got, want, "utterance {i}, variant {variant:?}");
            checked += 1;
            matched += usize::from(!want.is_empty());
        }
    }
    // The comparison means something only if many texts match patterns.
    assert!(
        matched * 3 > checked,
        "{matched} of {checked} matched anything"
    );
}
