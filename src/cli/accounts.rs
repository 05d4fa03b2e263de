//! `frontdesk agent add | list | disable`: agent accounts, on a stopped
//! gateway's data folder.

use super::AgentCommand;
use super::data::{block_on, sync};
use anyhow::{Context, Result, bail};
use frontdesk::core::agents;
use frontdesk::model::Role;
use frontdesk::store::AccountStore;
use frontdesk::store::sled::SledStore;
use std::io::Write;
pub(super) fn manage_agents(store: &SledStore, command: AgentCommand) -> Result<()> {
    match command {
        AgentCommand::Add { name, admin } => {
            if block_on(store.agent(&name))??.is_some() {
                bail!("an agent named {name} exists");
            }
            let mut password = String::new();
            std::io::stdin()
                .read_line(&mut password)
                .context("cannot read the password from standard input")?;
            let password = password.trim_end_matches(['\r', '\n']);
            let role = if admin { Role::Admin } else { Role::Agent };
            let agent = agents::new_agent(&name, password, role)?;
            block_on(store.put_agent(&agent))??;
            sync(store)?;
            out!("added {} {name}", if admin { "admin" } else { "agent" });
        }
        AgentCommand::List => {
            for agent in block_on(store.agents())?? {
                let role = match agent.role {
                    Role::Admin => "admin",
                    Role::Agent => "agent",
                };
                let state = if agent.disabled { "disabled" } else { "active" };
                out!("{}\t{role}\t{state}", agent.username);
            }
        }
        AgentCommand::Disable { name } => {
            let mut agent =
                block_on(store.agent(&name))??.with_context(|| format!("no agent named {name}"))?;
            agent.disabled = true;
            block_on(store.put_agent(&agent))??;
            sync(store)?;
            out!("disabled {name}");
        }
    }
    Ok(())
}
