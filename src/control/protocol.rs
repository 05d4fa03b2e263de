//! What goes over the control socket. The client sends one request as a
//! JSON line; the server answers with lines, each led by one character
//! that says what it is: `.` a line of output, then `=` when the command
//! succeeded or `!` and the error when it failed. Output lines are text or
//! JSON and never hold a newline, so nothing needs escaping.

use crate::core::customers::CustomerSelector;
use serde::{Deserialize, Serialize};

/// Longest request line the server reads.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// A command, with what it needs (passwords are read by the client).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    AgentAdd {
        name: String,
        password: String,
        admin: bool,
    },
    AgentPasswd {
        name: String,
        password: String,
    },
    AgentList,
    AgentDisable {
        name: String,
    },
    /// Every record as JSON lines, as of one moment (`frontdesk backup`).
    Backup,
    /// Everything kept about one customer, as one JSON line.
    CustomerExport {
        customer: CustomerSelector,
    },
    /// One customer's data erased everywhere.
    CustomerErase {
        customer: CustomerSelector,
    },
}

/// Leads a line of output.
pub const OUTPUT: char = '.';
/// Leads the last line when the command succeeded.
pub const DONE: char = '=';
/// Leads the last line when it failed, followed by the error.
pub const FAILED: char = '!';

/// One line of the server's answer, read back.
#[derive(Debug, PartialEq)]
pub enum ReplyLine<'a> {
    Output(&'a str),
    Done,
    Failed(&'a str),
}

/// Reads one answer line (without its newline); `None` if it is not one.
pub fn reply_line(line: &str) -> Option<ReplyLine<'_>> {
    let mut chars = line.chars();
    let lead = chars.next()?;
    let rest = chars.as_str();
    match lead {
        OUTPUT => Some(ReplyLine::Output(rest)),
        DONE if rest.is_empty() => Some(ReplyLine::Done),
        FAILED => Some(ReplyLine::Failed(rest)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_lines_read_back() {
        assert_eq!(
            reply_line(".added agent x"),
            Some(ReplyLine::Output("added agent x"))
        );
        assert_eq!(reply_line("."), Some(ReplyLine::Output("")));
        assert_eq!(reply_line("="), Some(ReplyLine::Done));
        assert_eq!(
            reply_line("!no agent named x"),
            Some(ReplyLine::Failed("no agent named x"))
        );
        assert_eq!(reply_line("=trailing"), None);
        assert_eq!(reply_line("hello"), None);
        assert_eq!(reply_line(""), None);
    }

    #[test]
    fn requests_are_tagged_json() {
        let line =
            serde_json::to_string(&Request::AgentDisable { name: "ann".into() }).expect("encodes");
        assert_eq!(line, r#"{"command":"agent_disable","name":"ann"}"#);
        assert!(serde_json::from_str::<Request>(r#"{"command":"drop_tables"}"#).is_err());
    }
}
