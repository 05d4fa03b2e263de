//! Any text a customer could send: normalizing it and deciding on the
//! shipped intent pack never panics, the decision does not depend on case
//! or on invisible characters inserted, and the literal prefilter finds
//! exactly the patterns a plain `RegexSet` finds.
#![no_main]

use frontdesk::rules::intents::{Decision, IntentSet, normalize};
use frontdesk::rules::pattern_set::PatternSet;
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static INTENTS: LazyLock<IntentSet> =
    LazyLock::new(|| IntentSet::load(None).expect("the shipped intents load"));

static PATTERNS: LazyLock<(PatternSet, regex::RegexSet)> = LazyLock::new(|| {
    let patterns: Vec<String> = INTENTS
        .compiled_patterns()
        .into_iter()
        .map(str::to_string)
        .collect();
    (
        PatternSet::new(&patterns).expect("the pattern set compiles"),
        regex::RegexSet::new(&patterns).expect("the regex set compiles"),
    )
});

fn name(d: &Decision<'_>) -> String {
    match d {
        Decision::Matched(c) => c.intent.name.clone(),
        Decision::Ambiguous(..) => "(ambiguous)".into(),
        Decision::NoMatch => "(none)".into(),
    }
}

fuzz_target!(|bytes: &[u8]| {
    let text = String::from_utf8_lossy(bytes);
    let normalized = normalize(&text);
    assert_eq!(
        normalize(&normalized),
        normalized,
        "normalizing twice changes it"
    );
    let (ours, plain) = &*PATTERNS;
    for candidate in [&*text, &normalized] {
        let want: Vec<usize> = plain.matches(candidate).into_iter().collect();
        assert_eq!(
            ours.matches(candidate),
            want,
            "the prefilter changed the matches"
        );
    }
    let decided = INTENTS.decide(&text);
    let spaced: String = text.chars().flat_map(|c| [c, '\u{200b}']).collect();
    assert_eq!(
        name(&INTENTS.decide(&spaced)),
        name(&decided),
        "zero-width spaces changed the answer"
    );
});
