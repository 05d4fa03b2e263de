//! The audit trail of erasures: who erased how much, and when, without a
//! word of what was erased.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    /// The admin who asked, `cli` for the command line, `retention` for
    /// the `[retention]` job.
    pub actor: String,
    pub action: AuditAction,
    pub conversations: u64,
    pub messages: u64,
    pub files: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// One customer's data, on their request.
    EraseCustomer,
    /// Resolved conversations past `[retention] resolved_days`.
    Retention,
}
