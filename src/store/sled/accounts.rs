//! Agent accounts, sessions and canned responses on sled.

use super::*;

#[async_trait::async_trait]
impl AccountStore for SledStore {
    async fn put_agent(&self, agent: &Agent) -> Result<(), StoreError> {
        put_encoded(&self.username_agent, agent.username.as_bytes(), agent)
    }

    async fn agent(&self, username: &str) -> Result<Option<Agent>, StoreError> {
        get_decoded(&self.username_agent, username.as_bytes(), "agent")
    }

    async fn agents(&self) -> Result<Vec<Agent>, StoreError> {
        self.decode_all(&self.username_agent, "agent")
    }

    async fn put_agent_session(
        &self,
        token_hash: &str,
        session: &AgentSession,
    ) -> Result<(), StoreError> {
        put_encoded(&self.tokenhash_agentsession, token_hash.as_bytes(), session)
    }

    async fn agent_session(&self, token_hash: &str) -> Result<Option<AgentSession>, StoreError> {
        get_decoded(
            &self.tokenhash_agentsession,
            token_hash.as_bytes(),
            "agent session",
        )
    }

    async fn delete_agent_session(&self, token_hash: &str) -> Result<(), StoreError> {
        self.tokenhash_agentsession
            .remove(token_hash.as_bytes())
            .map_err(io)?;
        Ok(())
    }

    async fn put_canned(&self, canned: &CannedResponse) -> Result<(), StoreError> {
        put_encoded(&self.name_canned, canned.name.as_bytes(), canned)
    }

    async fn canned(&self) -> Result<Vec<CannedResponse>, StoreError> {
        self.decode_all(&self.name_canned, "canned response")
    }

    async fn delete_canned(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self
            .name_canned
            .remove(name.as_bytes())
            .map_err(io)?
            .is_some())
    }
}
