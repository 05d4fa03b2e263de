//! Any bytes as a Bot API update (a webhook body): reading and
//! interpreting it never panics.
#![no_main]

use frontdesk::channels::telegram::parse::{parse, read_update};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(update) = read_update(bytes) {
        let _ = parse(&update);
    }
});
