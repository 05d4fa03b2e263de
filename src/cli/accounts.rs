//! `frontdesk agent add | list | disable`: agent accounts, in a stopped
//! gateway's data folder or in the shared database.

use super::AgentCommand;
use anyhow::{Context, Result, bail};
use frontdesk::core::agents;
use frontdesk::model::Role;
use frontdesk::store::Store;
use std::io::Write;

pub(super) async fn manage_agents(store: &dyn Store, command: AgentCommand) -> Result<()> {
    match command {
        AgentCommand::Add { name, admin } => {
            if store.agent(&name).await?.is_some() {
                bail!("an agent named {name} exists");
            }
            let mut password = String::new();
            std::io::stdin()
                .read_line(&mut password)
                .context("cannot read the password from standard input")?;
            let password = password.trim_end_matches(['\r', '\n']);
            let role = if admin { Role::Admin } else { Role::Agent };
            let agent = agents::new_agent(&name, password, role)?;
            store.put_agent(&agent).await?;
            store.sync().await?;
            out!("added {} {name}", if admin { "admin" } else { "agent" });
        }
        AgentCommand::List => {
            for agent in store.agents().await? {
                let role = match agent.role {
                    Role::Admin => "admin",
                    Role::Agent => "agent",
                };
                let state = if agent.disabled { "disabled" } else { "active" };
                out!("{}\t{role}\t{state}", agent.username);
            }
        }
        AgentCommand::Disable { name } => {
            let mut agent = store
                .agent(&name)
                .await?
                .with_context(|| format!("no agent named {name}"))?;
            agent.disabled = true;
            store.put_agent(&agent).await?;
            store.sync().await?;
            out!("disabled {name}");
        }
    }
    Ok(())
}
