//! The `frontdesk` command: run the gateway, check configuration and intent
//! rules, and move data in and out. `anyhow` lives here, at the edge, to
//! print the chain of causes; the commands are in [`cli`].

use std::process::ExitCode;

/// Prints a line to stdout, returning write errors (a closed pipe, as in
/// `frontdesk agent list | head -1`) instead of panicking like `println!`.
macro_rules! out {
    ($($arg:tt)*) => {
        writeln!(std::io::stdout(), $($arg)*)?
    };
}

mod cli;

fn main() -> ExitCode {
    cli::main()
}
