//! The command line: what each subcommand takes, and which function runs it.

mod accounts;
mod customers;
mod data;
mod email;
mod intents;
mod remote;
mod serve;

use accounts::manage_agents;
use customers::manage_customer;
use data::{backup, import, migrate, with_store};
use email::{email_eval, email_inspect};
use intents::{intents_eval, intents_test, intents_try};
use serve::{check_config, init_logging};

use anyhow::{Result, bail};
use clap::{Parser, Subcommand};
use frontdesk::config::Config;
use frontdesk::rules::evaluation;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "frontdesk",
    version,
    about = "A customer-support gateway: web chat in, intent answers or a human agent out."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway (default config: web chat on 127.0.0.1:8080, data in ./data).
    Serve {
        #[arg(long, env = "FRONTDESK_CONFIG")]
        config: Option<PathBuf>,
        /// Listen address, overriding the config.
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Data folder, overriding the config.
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// Validate the config, compile every intent and render every template.
    CheckConfig {
        #[arg(long, env = "FRONTDESK_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Work with the intent rules.
    Intents {
        #[command(subcommand)]
        command: IntentsCommand,
    },
    /// Work with the email channel.
    Email {
        #[command(subcommand)]
        command: EmailCommand,
    },
    /// Agents needed for an hour's traffic to meet a service level (Erlang C).
    Staffing {
        /// Conversations handed to people per hour.
        #[arg(long)]
        arrivals_per_hour: f64,
        /// Average agent handling time per conversation, in seconds.
        #[arg(long)]
        handling_secs: f64,
        /// The first-response target, in seconds.
        #[arg(long)]
        target_secs: f64,
        /// Share of customers to answer within the target (0 to 1).
        #[arg(long, default_value_t = 0.8)]
        share: f64,
    },
    /// Manage agent accounts (while the gateway runs too).
    Agent {
        #[command(subcommand)]
        command: AgentCommand,
        #[arg(long, env = "FRONTDESK_CONFIG", global = true)]
        config: Option<PathBuf>,
        #[arg(long, global = true)]
        data: Option<PathBuf>,
    },
    /// A customer's data: export it, or erase it everywhere (GDPR, PIPL),
    /// while the gateway runs too.
    Customer {
        #[command(subcommand)]
        command: CustomerCommand,
        #[arg(long, env = "FRONTDESK_CONFIG", global = true)]
        config: Option<PathBuf>,
        #[arg(long, global = true)]
        data: Option<PathBuf>,
    },
    /// Write every record (conversations, messages, deliveries, agents,
    /// files) as JSON lines, as of one moment, while the gateway runs too.
    #[command(visible_alias = "export")]
    Backup {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, env = "FRONTDESK_CONFIG")]
        config: Option<PathBuf>,
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// Bring the store's schema up to this build's (the gateway does so at
    /// start too); refuses a schema newer than this build.
    Migrate {
        #[arg(long, env = "FRONTDESK_CONFIG")]
        config: Option<PathBuf>,
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// Load a JSON-lines export into an empty data folder or database.
    Import {
        file: PathBuf,
        #[arg(long, env = "FRONTDESK_CONFIG")]
        config: Option<PathBuf>,
        #[arg(long)]
        data: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum AgentCommand {
    /// Add an agent; asks for the password (or reads the first line of
    /// standard input when it is not a terminal).
    Add {
        name: String,
        /// May manage agents and canned responses, and reassign anything.
        #[arg(long)]
        admin: bool,
    },
    /// Set an agent's password (asked like `add`); their sessions end.
    Passwd { name: String },
    /// List agents.
    List,
    /// Disable an agent: their sessions stop working at once.
    Disable { name: String },
}

#[derive(Subcommand)]
enum CustomerCommand {
    /// Everything kept about the customer, as JSON.
    Export {
        #[command(flatten)]
        who: Who,
        /// The file to write (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Erase the customer's words, names, addresses and files everywhere;
    /// their conversations stay as counts for the reports.
    Erase {
        #[command(flatten)]
        who: Who,
        /// Confirms: erasure cannot be undone.
        #[arg(long)]
        yes: bool,
    },
}

/// Which customer: by a ticket of theirs, or by their address.
#[derive(clap::Args)]
#[group(required = true, multiple = false)]
struct Who {
    /// A ticket number of the customer's (any channel).
    #[arg(long)]
    ticket: Option<u64>,
    /// The customer's email address.
    #[arg(long)]
    email: Option<String>,
    /// A Telegram chat id.
    #[arg(long)]
    telegram: Option<i64>,
}

impl Who {
    fn selector(self) -> frontdesk::core::customers::CustomerSelector {
        use frontdesk::core::customers::CustomerSelector;
        match (self.ticket, self.email, self.telegram) {
            (Some(ticket), _, _) => CustomerSelector::Ticket(ticket),
            (_, Some(email), _) => CustomerSelector::Email(email),
            (_, _, Some(chat)) => CustomerSelector::Telegram(chat),
            // clap requires one of them.
            (None, None, None) => CustomerSelector::Ticket(0),
        }
    }
}

#[derive(Subcommand)]
enum EmailCommand {
    /// Show how the gateway reads one mail: sender, threading, language,
    /// the visible text, attachments, and whether it gets an answer.
    Inspect {
        /// A raw message (.eml).
        file: PathBuf,
        #[arg(long)]
        json: bool,
        /// The support address (default: `[channels.email] address` of the config).
        #[arg(long)]
        address: Option<String>,
        #[arg(long, env = "FRONTDESK_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Read a folder of mails (NAME.eml with NAME.expected.txt beside it)
    /// and report how many read exactly and how many lost customer text.
    Eval {
        dir: PathBuf,
        /// Fail below this share of exact readings (percent).
        #[arg(long)]
        min_exact: Option<f64>,
        /// Fail when more mails than this lose text.
        #[arg(long)]
        max_lost: Option<usize>,
        /// Print what was read for every mail that is not exact.
        #[arg(long)]
        verbose: bool,
    },
}

#[derive(Subcommand)]
enum IntentsCommand {
    /// Run every intent's examples (must match) and counter-examples (must not).
    Test {
        #[arg(long, env = "FRONTDESK_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Measure the rules on a labelled `text,intent` CSV (`none` = no canned answer fits):
    /// coverage, precision, per-intent scores and the worst confusions.
    Eval {
        file: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Exit non-zero if the answers' precision is below this (0 to 1),
        /// or if any row labelled `none` gets an answer.
        #[arg(long)]
        min_precision: Option<f64>,
        /// Exit non-zero if the share of answerable rows answered is below this (0 to 1).
        #[arg(long)]
        min_coverage: Option<f64>,
        /// Confusions to list (text report).
        #[arg(long, default_value_t = 10)]
        confusions: usize,
        #[arg(long, env = "FRONTDESK_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Show which intent a text matches, why, and the reply it gets.
    Try {
        text: String,
        /// Locale to render the reply in (default: detected from the text).
        #[arg(long)]
        lang: Option<String>,
        #[arg(long, env = "FRONTDESK_CONFIG")]
        config: Option<PathBuf>,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            let closed_pipe = error
                .downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe);
            if closed_pipe {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Serve {
            config,
            listen,
            data,
        } => {
            let mut config = Config::load(config.as_deref())?;
            init_logging(config.log.format);
            config.first_admin = serve::first_admin_from_env();
            if let Some(listen) = listen {
                config.server.listen = listen;
            }
            if let Some(data) = data {
                config.server.data_dir = data;
            }
            serve::serve(config)?;
        }
        Command::CheckConfig { config } => check_config(config.as_deref())?,
        Command::Intents {
            command: IntentsCommand::Test { config },
        } => {
            return intents_test(config.as_deref());
        }
        Command::Intents {
            command:
                IntentsCommand::Eval {
                    file,
                    json,
                    min_precision,
                    min_coverage,
                    confusions,
                    config,
                },
        } => {
            let bars = evaluation::Bars {
                min_precision,
                min_coverage,
            };
            return intents_eval(config.as_deref(), &file, json, bars, confusions);
        }
        Command::Intents {
            command: IntentsCommand::Try { text, lang, config },
        } => {
            intents_try(config.as_deref(), &text, lang.as_deref())?;
        }
        Command::Staffing {
            arrivals_per_hour,
            handling_secs,
            target_secs,
            share,
        } => {
            use frontdesk::service_levels::staffing;
            let Some(agents) =
                staffing::agents_needed(arrivals_per_hour, handling_secs, target_secs, share)
            else {
                bail!("the handling time must be positive and the share below 1");
            };
            let level =
                staffing::service_level(agents, arrivals_per_hour, handling_secs, target_secs);
            out!(
                "{agents} agents answer {:.1}% within {target_secs} s ({:.1} erlangs of traffic)",
                level * 100.0,
                arrivals_per_hour / 3600.0 * handling_secs
            );
        }
        Command::Email {
            command:
                EmailCommand::Inspect {
                    file,
                    json,
                    address,
                    config,
                },
        } => email_inspect(config.as_deref(), &file, json, address)?,
        Command::Email {
            command:
                EmailCommand::Eval {
                    dir,
                    min_exact,
                    max_lost,
                    verbose,
                },
        } => email_eval(&dir, min_exact, max_lost, verbose)?,
        Command::Agent {
            command,
            config,
            data,
        } => manage_agents(config.as_deref(), data, command)?,
        Command::Backup { out, config, data } => backup(config.as_deref(), data, &out)?,
        Command::Customer {
            command,
            config,
            data,
        } => manage_customer(config.as_deref(), data, command)?,
        Command::Import { file, config, data } => {
            with_store(config.as_deref(), data, async |store| {
                import(store, &file).await
            })?
        }
        Command::Migrate { config, data } => migrate(config.as_deref(), data)?,
    }
    Ok(ExitCode::SUCCESS)
}
