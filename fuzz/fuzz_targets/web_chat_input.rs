//! Any bytes as a web chat request: a session body, a message body, a
//! WebSocket frame. Reading and checking them never panics; every refusal
//! is a 4xx with a code.
#![no_main]

use frontdesk::http::chat::{check_message, read_frame, read_session_request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    for secret in [None, Some("a-secret-of-16-chars-or-more")] {
        if let Err(e) = read_session_request(bytes, secret) {
            assert!(e.status.is_client_error(), "{e:?}");
        }
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        match read_frame(text) {
            Ok((client_id, text)) => {
                if let Err(e) = check_message(&client_id, &text, 4096) {
                    assert!(e.status.is_client_error(), "{e:?}");
                }
            }
            Err(e) => assert!(e.status.is_client_error(), "{e:?}"),
        }
    }
});
