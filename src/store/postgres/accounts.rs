//! Agent accounts, their sessions and canned responses on PostgreSQL.

use super::{PgStore, column, db, encode};
use crate::model::{Agent, AgentSession, CannedResponse};
use crate::store::{AccountStore, StoreError};

#[async_trait::async_trait]
impl AccountStore for PgStore {
    async fn put_agent(&self, agent: &Agent) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO agents (username, data) VALUES ($1, $2)
                 ON CONFLICT (username) DO UPDATE SET data = EXCLUDED.data",
                &[&agent.username, &encode(agent)?],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn agent(&self, username: &str) -> Result<Option<Agent>, StoreError> {
        let client = self.client().await?;
        match client
            .query_opt("SELECT data FROM agents WHERE username = $1", &[&username])
            .await
            .map_err(db)?
        {
            Some(row) => Ok(Some(column(&row, 0, "agent")?)),
            None => Ok(None),
        }
    }

    async fn agents(&self) -> Result<Vec<Agent>, StoreError> {
        let client = self.client().await?;
        client
            .query("SELECT data FROM agents ORDER BY username", &[])
            .await
            .map_err(db)?
            .iter()
            .map(|row| column(row, 0, "agent"))
            .collect()
    }

    async fn put_agent_session(
        &self,
        token_hash: &str,
        session: &AgentSession,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO agent_sessions (token_hash, data) VALUES ($1, $2)
                 ON CONFLICT (token_hash) DO UPDATE SET data = EXCLUDED.data",
                &[&token_hash, &encode(session)?],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn agent_session(&self, token_hash: &str) -> Result<Option<AgentSession>, StoreError> {
        let client = self.client().await?;
        match client
            .query_opt(
                "SELECT data FROM agent_sessions WHERE token_hash = $1",
                &[&token_hash],
            )
            .await
            .map_err(db)?
        {
            Some(row) => Ok(Some(column(&row, 0, "agent session")?)),
            None => Ok(None),
        }
    }

    async fn delete_agent_session(&self, token_hash: &str) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "DELETE FROM agent_sessions WHERE token_hash = $1",
                &[&token_hash],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn put_canned(&self, canned: &CannedResponse) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO canned (name, data) VALUES ($1, $2)
                 ON CONFLICT (name) DO UPDATE SET data = EXCLUDED.data",
                &[&canned.name, &encode(canned)?],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn canned(&self) -> Result<Vec<CannedResponse>, StoreError> {
        let client = self.client().await?;
        client
            .query("SELECT data FROM canned ORDER BY name", &[])
            .await
            .map_err(db)?
            .iter()
            .map(|row| column(row, 0, "canned response"))
            .collect()
    }

    async fn delete_canned(&self, name: &str) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let removed = client
            .execute("DELETE FROM canned WHERE name = $1", &[&name])
            .await
            .map_err(db)?;
        Ok(removed > 0)
    }
}
