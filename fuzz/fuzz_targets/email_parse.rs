//! Any bytes as a mail from the mailbox: reading it (MIME, encodings,
//! quotes, the loop guard, threading, language) never panics, and whatever
//! it makes of it is well-formed text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::collections::BTreeSet;
use std::sync::LazyLock;

static LOCALES: LazyLock<BTreeSet<String>> =
    LazyLock::new(|| ["en".to_string(), "zh".to_string()].into());

fuzz_target!(|raw: &[u8]| {
    let own = ["support@example.test".to_string()];
    let seen =
        frontdesk::channels::email::inspect::inspect(raw, &own, "example.test", &LOCALES, "en");
    assert!(
        !seen.visible_text.contains('\u{200b}'),
        "zero-width space left in"
    );
});
