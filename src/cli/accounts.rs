//! `frontdesk agent add | passwd | list | disable`: agent accounts, in the
//! sled folder (through the running gateway if one holds it) or in the
//! shared database.

use super::AgentCommand;
use super::data::execute;
use anyhow::{Context, Result, bail};
use frontdesk::control::Request;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

pub(super) fn manage_agents(
    config: Option<&Path>,
    data: Option<PathBuf>,
    command: AgentCommand,
) -> Result<()> {
    let request = match command {
        AgentCommand::Add { name, admin } => Request::AgentAdd {
            password: read_password(&name)?,
            name,
            admin,
        },
        AgentCommand::Passwd { name } => Request::AgentPasswd {
            password: read_password(&name)?,
            name,
        },
        AgentCommand::List => Request::AgentList,
        AgentCommand::Disable { name } => Request::AgentDisable { name },
    };
    execute(config, data, request, &mut |line| {
        out!("{line}");
        Ok(())
    })
}

/// The new password: asked for twice without echo at a terminal, else the
/// first line of standard input (for scripts; keep it out of the shell's
/// history, for example `frontdesk agent add ann < password-file`).
fn read_password(name: &str) -> Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("Password for {name}: "))
            .context("cannot read the password")?;
        let again =
            rpassword::prompt_password("The same again: ").context("cannot read the password")?;
        if first != again {
            bail!("the two passwords differ; nothing changed");
        }
        return Ok(first);
    }
    let mut password = String::new();
    std::io::stdin()
        .read_line(&mut password)
        .context("cannot read the password from standard input")?;
    Ok(password.trim_end_matches(['\r', '\n']).to_string())
}
