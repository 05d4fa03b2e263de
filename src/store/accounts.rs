//! Agent accounts, their sign-in sessions, and canned responses.

use super::StoreError;
use crate::model::{Agent, AgentSession, CannedResponse};

#[async_trait::async_trait]
pub trait AccountStore: Send + Sync {
    async fn put_agent(&self, agent: &Agent) -> Result<(), StoreError>;

    async fn agent(&self, username: &str) -> Result<Option<Agent>, StoreError>;

    async fn agents(&self) -> Result<Vec<Agent>, StoreError>;

    /// Stores a sign-in under the hash of its token.
    async fn put_agent_session(
        &self,
        token_hash: &str,
        session: &AgentSession,
    ) -> Result<(), StoreError>;

    async fn agent_session(&self, token_hash: &str) -> Result<Option<AgentSession>, StoreError>;

    async fn delete_agent_session(&self, token_hash: &str) -> Result<(), StoreError>;

    async fn put_canned(&self, canned: &CannedResponse) -> Result<(), StoreError>;

    async fn canned(&self) -> Result<Vec<CannedResponse>, StoreError>;

    /// False if there was none by that name.
    async fn delete_canned(&self, name: &str) -> Result<bool, StoreError>;
}
