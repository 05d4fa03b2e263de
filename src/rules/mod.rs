//! What the bot knows: intent rules and the pattern set that matches them,
//! their evaluation on labelled text, reply templates and the reply locale.

pub mod evaluation;
pub mod intents;
pub mod locale;
pub mod pattern_set;
pub mod templates;
use serde::Deserialize;
use std::path::PathBuf;

/// Where intents or templates come from: the set built into the binary, or
/// a folder on disk (relative paths from the working directory).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceDir {
    pub dir: Option<PathBuf>,
}
