//! `frontdesk customer export | erase`: one customer's data, through the
//! running gateway when one holds the sled folder.

use super::CustomerCommand;
use super::data::execute;
use anyhow::{Context, Result, bail};
use frontdesk::control::Request;
use std::io::Write;
use std::path::{Path, PathBuf};

pub(super) fn manage_customer(
    config: Option<&Path>,
    data: Option<PathBuf>,
    command: CustomerCommand,
) -> Result<()> {
    match command {
        CustomerCommand::Export { who, out } => {
            let request = Request::CustomerExport {
                customer: who.selector(),
            };
            let mut exported = String::new();
            execute(config, data, request, &mut |line| {
                exported.push_str(line);
                exported.push('\n');
                Ok(())
            })?;
            match out {
                Some(path) => {
                    std::fs::write(&path, &exported)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    out!("exported the customer's data to {}", path.display());
                }
                None => write!(std::io::stdout(), "{exported}")?,
            }
        }
        CustomerCommand::Erase { who, yes } => {
            if !yes {
                bail!("erasure cannot be undone: add --yes to erase the customer's data");
            }
            let request = Request::CustomerErase {
                customer: who.selector(),
            };
            execute(config, data, request, &mut |line| {
                out!("{line}");
                Ok(())
            })?;
        }
    }
    Ok(())
}
