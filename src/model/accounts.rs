//! Accounts: web chat sessions and their verified identities, agents,
//! their sign-ins, and canned responses.

use super::*;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A web chat visitor's session. The token is the secret the browser holds;
/// the id is what appears in the customer address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebSession {
    pub id: Uuid,
    pub token: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Who the host site says the visitor is, when it signed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<VerifiedIdentity>,
}

/// A web chat visitor's identity as the host site signed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiedIdentity {
    pub user_id: String,
    pub attributes: std::collections::BTreeMap<String, String>,
}

/// What an agent may do beyond handling conversations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Agent,
    /// Also manages agents and canned responses, and reassigns anything.
    Admin,
}

/// A person who answers customers in the console.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agent {
    pub username: String,
    /// Argon2id PHC string; never leaves the server.
    pub password_hash: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    /// When the password last changed: sessions from before it are over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_changed_at: Option<DateTime<Utc>>,
}

/// A signed-in agent. Stored under a hash of its token, so a copy of the
/// database does not hold usable tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentSession {
    pub username: String,
    /// Must accompany cookie-authenticated writes (X-CSRF-Token).
    pub csrf: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A reply text agents insert in one click; a template with the
/// conversation's variables (`customer_name`, `ticket`, config `[vars]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CannedResponse {
    pub name: String,
    pub title: String,
    pub text: String,
}
