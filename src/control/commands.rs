//! What each control command does to a store: the same code whether the
//! command line opened the store itself or a running gateway runs it for
//! the command line over the socket.

use super::Request;
use crate::core::agents::{self, AccountError};
use crate::core::customers::{self, CustomerError};
use crate::model::Role;
use crate::store::{Store, StoreError};
use chrono::Utc;

/// Why a command failed, in words for the operator.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Customer(#[from] CustomerError),
    /// The output could not be written (the client went away).
    #[error("cannot write the output: {0}")]
    Output(#[source] std::io::Error),
}

/// Where a command's output lines go.
pub type Output<'a> = &'a mut (dyn FnMut(&str) -> Result<(), ControlError> + Send);

/// Runs `request` on `store`, writing its output line by line.
pub async fn run(store: &dyn Store, request: Request, out: Output<'_>) -> Result<(), ControlError> {
    match request {
        Request::AgentAdd {
            name,
            password,
            admin,
        } => {
            if store.agent(&name).await?.is_some() {
                return Err(ControlError::Refused(format!(
                    "an agent named {name} exists"
                )));
            }
            let role = if admin { Role::Admin } else { Role::Agent };
            let agent = agents::new_agent(&name, &password, role)?;
            store.put_agent(&agent).await?;
            store.sync().await?;
            out(&format!("added {} {name}", role_name(role)))?;
        }
        Request::AgentPasswd { name, password } => {
            let mut agent = store
                .agent(&name)
                .await?
                .ok_or_else(|| ControlError::Refused(format!("no agent named {name}")))?;
            let fresh = agents::new_agent(&name, &password, agent.role)?;
            agent.password_hash = fresh.password_hash;
            // Sessions signed in with the old password end.
            agent.password_changed_at = Some(Utc::now());
            store.put_agent(&agent).await?;
            store.sync().await?;
            out(&format!(
                "changed the password of {name}; their sessions have ended"
            ))?;
        }
        Request::AgentList => {
            for agent in store.agents().await? {
                let state = if agent.disabled { "disabled" } else { "active" };
                out(&format!(
                    "{}\t{}\t{state}",
                    agent.username,
                    role_name(agent.role)
                ))?;
            }
        }
        Request::AgentDisable { name } => {
            let mut agent = store
                .agent(&name)
                .await?
                .ok_or_else(|| ControlError::Refused(format!("no agent named {name}")))?;
            agent.disabled = true;
            store.put_agent(&agent).await?;
            store.sync().await?;
            out(&format!("disabled {name}"))?;
        }
        Request::CustomerExport { customer } => {
            let customer = customers::customer_of(store, &customer).await?;
            let data = customers::export_customer(store, &customer).await?;
            let line = serde_json::to_string(&data).map_err(|e| StoreError::Io(Box::new(e)))?;
            out(&line)?;
        }
        Request::CustomerErase { customer } => {
            let customer = customers::customer_of(store, &customer).await?;
            let entry = customers::erase_customer(store, &customer, "cli").await?;
            out(&format!(
                "erased {} conversations ({} messages, {} files) of the {} customer; the audit log records it",
                entry.conversations,
                entry.messages,
                entry.files,
                customer.channel()
            ))?;
        }
        Request::Backup => {
            let mut failed = None;
            let result = store
                .export(&mut |record| {
                    let line =
                        serde_json::to_string(&record).map_err(|e| StoreError::Io(Box::new(e)))?;
                    out(&line).map_err(|e| {
                        let message = e.to_string();
                        failed = Some(e);
                        StoreError::Io(message.into())
                    })
                })
                .await;
            result.map_err(|e| failed.take().unwrap_or(ControlError::Store(e)))?;
        }
    }
    Ok(())
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Admin => "admin",
        Role::Agent => "agent",
    }
}
