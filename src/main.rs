//! The `frontdesk` command: run the gateway, check configuration and intent
//! rules, and move data in and out. `anyhow` lives here, at the edge, to
//! print the chain of causes.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use frontdesk::app;
use frontdesk::config::Config;
use frontdesk::core::agents;
use frontdesk::model::{ChannelKind, Role};
use frontdesk::rules::evaluation;
use frontdesk::rules::intents::Action;
use frontdesk::rules::templates::ReplyContext;
use frontdesk::store::sled::SledStore;
use frontdesk::store::{ExportRecord, Store};
use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Prints a line to stdout, returning write errors (a closed pipe, as in
/// `frontdesk agent list | head -1`) instead of panicking like `println!`.
macro_rules! out {
    ($($arg:tt)*) => {
        writeln!(std::io::stdout(), $($arg)*)?
    };
}

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
    /// Manage agent accounts (with the gateway stopped; while it runs, admins use the API).
    Agent {
        #[command(subcommand)]
        command: AgentCommand,
        #[arg(long, env = "FRONTDESK_CONFIG", global = true)]
        config: Option<PathBuf>,
        #[arg(long, global = true)]
        data: Option<PathBuf>,
    },
    /// Write every conversation, message and pending delivery as JSON lines.
    Export {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, env = "FRONTDESK_CONFIG")]
        config: Option<PathBuf>,
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// Load a JSON-lines export into an empty data folder.
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
    /// Add an agent; reads the password from the first line of standard input.
    Add {
        name: String,
        /// May manage agents and canned responses, and reassign anything.
        #[arg(long)]
        admin: bool,
    },
    /// List agents.
    List,
    /// Disable an agent: their sessions stop working at once.
    Disable { name: String },
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

fn main() -> ExitCode {
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
            init_logging();
            let mut config = Config::load(config.as_deref())?;
            if let Some(listen) = listen {
                config.server.listen = listen;
            }
            if let Some(data) = data {
                config.server.data_dir = data;
            }
            serve(config)?;
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
        Command::Agent {
            command,
            config,
            data,
        } => manage_agents(&open_store(config.as_deref(), data)?, command)?,
        Command::Export { out, config, data } => {
            export(&open_store(config.as_deref(), data)?, &out)?
        }
        Command::Import { file, config, data } => {
            import(&open_store(config.as_deref(), data)?, &file)?
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .init();
}

/// Seconds between attempts to start again after the store failed.
const RESTART_SECS: u64 = 5;

/// Runs the gateway until a signal. If its store fails while it runs (a
/// full disk), the gateway stops, having acknowledged nothing it could not
/// store, and starts again as soon as the store opens (when there is room
/// again), on the same address. A first start that fails is an error.
fn serve(mut config: Config) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let mut signal = std::pin::pin!(wait_for_signal());
        let mut gateway = app::start(config.clone()).await?;
        config.server.listen = gateway.addr;
        loop {
            tokio::select! {
                _ = &mut signal => {
                    tracing::info!("Stopping on signal.");
                    gateway.stop().await;
                    return Ok(());
                }
                failure = gateway.storage_failure() => {
                    tracing::error!(%failure, "The store cannot write (is the disk full?). Stopping: nothing more is acknowledged, and nothing acknowledged is lost. Frontdesk starts again once the store opens.");
                    gateway.stop().await;
                }
            }
            gateway = loop {
                tokio::select! {
                    _ = &mut signal => return Ok(()),
                    _ = tokio::time::sleep(std::time::Duration::from_secs(RESTART_SECS)) => {}
                }
                match app::start(config.clone()).await {
                    Ok(gateway) => {
                        tracing::info!("Started again after the storage failure.");
                        break gateway;
                    }
                    Err(error) => tracing::warn!(%error, retry_in_secs = RESTART_SECS, "Cannot start again yet."),
                }
            };
        }
    })
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

fn check_config(path: Option<&Path>) -> Result<()> {
    let config = Config::load(path)?;
    // Loading renders every template with sample values.
    let (intents, templates) = app::load_rules(&config)?;
    let rendered = templates.len();
    out!(
        "{}: OK ({} intents, {} patterns, {} templates in {})",
        config.source,
        intents.intents().len(),
        intents.pattern_count(),
        rendered,
        templates
            .locales()
            .iter()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

fn intents_test(path: Option<&Path>) -> Result<ExitCode> {
    let config = Config::load(path)?;
    let (intents, _) = app::load_rules(&config)?;
    let failures = intents.test_examples();
    let total: usize = intents
        .intents()
        .iter()
        .map(|i| i.examples.len() + i.counter_examples.len())
        .sum();
    for failure in &failures {
        out!("FAIL {failure}");
    }
    out!(
        "{} passed, {} failed",
        total - failures.len(),
        failures.len()
    );
    Ok(if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn intents_eval(
    path: Option<&Path>,
    file: &Path,
    json: bool,
    bars: evaluation::Bars,
    confusions: usize,
) -> Result<ExitCode> {
    for bar in [bars.min_precision, bars.min_coverage]
        .into_iter()
        .flatten()
    {
        if !(0.0..=1.0).contains(&bar) {
            bail!("bars are fractions from 0 to 1, such as 0.97; got {bar}");
        }
    }
    let config = Config::load(path)?;
    let (intents, _) = app::load_rules(&config)?;
    let samples = evaluation::read_samples(file, &intents)?;
    let report = evaluation::evaluate(&intents, &samples);
    let percent = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{:.1}%", v * 100.0));
    if json {
        out!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        out!("{}: {} rows", file.display(), report.rows);
        out!(
            "coverage:  {} ({} of {} answerable rows answered)",
            percent(report.coverage),
            report.covered,
            report.answerable
        );
        out!(
            "precision: {} ({} of {} answers right)",
            percent(report.precision),
            report.correct_answers,
            report.answered
        );
        out!(
            "asked:     {} rows got a question with two options ({} offered the right one)",
            report.clarified,
            report.clarified_right
        );
        out!(
            "hand-off:  {} of all rows; `none` rows answered: {} of {}",
            percent(Some(report.handoff_rate)),
            report.none_answered,
            report.none_rows
        );
        out!(
            "{:<28} {:>7} {:>9} {:>9} {:>9}",
            "intent",
            "support",
            "predicted",
            "precision",
            "recall"
        );
        for s in &report.intents {
            out!(
                "{:<28} {:>7} {:>9} {:>9} {:>9}",
                s.intent,
                s.support,
                s.predicted,
                percent(s.precision),
                percent(s.recall)
            );
        }
        if !report.confusions.is_empty() {
            out!("worst confusions (label → got):");
        }
        for c in report.confusions.iter().take(confusions) {
            let kind = if c.wrong_answer {
                "wrong answer"
            } else {
                "not answered"
            };
            out!("  {} → {}: {} ({kind})", c.label, c.predicted, c.count);
            for example in &c.examples {
                out!("      {example:?}");
            }
        }
    }
    let missed = report.shortfalls(bars);
    for shortfall in &missed {
        eprintln!("below the bar: {shortfall}");
    }
    Ok(if missed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn email_inspect(
    path: Option<&Path>,
    file: &Path,
    json: bool,
    address: Option<String>,
) -> Result<()> {
    let config = Config::load(path)?;
    let (_, templates) = app::load_rules(&config)?;
    let raw = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let (own, domain) = match (&address, &config.channels.email) {
        (Some(a), _) => (
            vec![a.trim().to_lowercase()],
            a.rsplit_once('@')
                .map_or("localhost", |(_, d)| d)
                .to_string(),
        ),
        (None, Some(email)) => (email.own_addresses(), email.domain().to_string()),
        (None, None) => (Vec::new(), "localhost".to_string()),
    };
    let report = frontdesk::channels::email::inspect::inspect(
        &raw,
        &own,
        &domain,
        templates.locales(),
        templates.default_locale(),
    );
    if json {
        out!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let none = || "-".to_string();
    out!(
        "from:        {} {}",
        report.from_name.clone().unwrap_or_default(),
        report.from.clone().unwrap_or_else(none)
    );
    out!(
        "subject:     {}",
        report.subject.clone().unwrap_or_else(none)
    );
    out!(
        "message-id:  {}",
        report.message_id.clone().unwrap_or_else(none)
    );
    out!("in-reply-to: {}", report.in_reply_to.join(" "));
    out!("references:  {}", report.references.join(" "));
    out!(
        "ticket tag:  {}",
        report.ticket_tag.map_or_else(none, |t| format!("#{t}"))
    );
    out!("threading:   {}", report.threading);
    out!("language:    {}", report.language);
    out!(
        "verdict:     {}{}",
        report.verdict,
        report
            .rule
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    );
    if let Some(bounce) = &report.bounce {
        out!(
            "bounce:      {} for {}{}",
            if bounce.failed { "failed" } else { "delayed" },
            bounce.ours.join(" "),
            bounce
                .diagnostic
                .as_deref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default()
        );
    }
    for a in &report.attachments {
        out!(
            "attachment:  {} ({}, {} bytes)",
            a.name,
            a.content_type,
            a.size
        );
    }
    out!("visible text:");
    for line in report.visible_text.lines() {
        out!("  {line}");
    }
    Ok(())
}

fn intents_try(path: Option<&Path>, text: &str, lang: Option<&str>) -> Result<()> {
    let config = Config::load(path)?;
    let (intents, templates) = app::load_rules(&config)?;
    let locale = match lang {
        Some(l) => l.to_string(),
        None => {
            frontdesk::rules::locale::detect(text, templates.locales(), templates.default_locale())
        }
    };
    out!("normalized: {}", frontdesk::rules::intents::normalize(text));
    out!("locale:     {locale}");
    let context = ReplyContext {
        ticket: 1042,
        position: 1,
        wait_minutes: u64::from(config.queue.minutes_per_customer),
        ..ReplyContext::default()
    };
    if let frontdesk::rules::intents::Decision::Ambiguous(a, b) = intents.decide(text) {
        out!(
            "intent:     {} or {}? (equal priority and fit: the bot asks)",
            a.intent.name,
            b.intent.name
        );
        let context = ReplyContext {
            options: vec![a.intent.title(&locale), b.intent.title(&locale)],
            ..context
        };
        out!("reply (clarify):");
        out!(
            "{}",
            templates.render("clarify", &locale, ChannelKind::Web, &context)?
        );
        return Ok(());
    }
    let template = match intents.classify(text) {
        Some(c) => {
            out!(
                "intent:     {} (priority {}, {})",
                c.intent.name,
                c.intent.priority,
                c.intent.file
            );
            for pattern in &c.fired {
                out!("  fired:    {pattern}");
            }
            match (&c.intent.action, &c.intent.template) {
                (Action::Answer, Some(t)) => t.clone(),
                _ => "handoff".to_string(),
            }
        }
        None => {
            out!("intent:     none (hand-off to a person)");
            "handoff".to_string()
        }
    };
    out!("reply ({template}):");
    out!(
        "{}",
        templates.render(&template, &locale, ChannelKind::Web, &context)?
    );
    Ok(())
}

fn manage_agents(store: &SledStore, command: AgentCommand) -> Result<()> {
    match command {
        AgentCommand::Add { name, admin } => {
            if store.agent(&name)?.is_some() {
                bail!("an agent named {name} exists");
            }
            let mut password = String::new();
            std::io::stdin()
                .read_line(&mut password)
                .context("cannot read the password from standard input")?;
            let password = password.trim_end_matches(['\r', '\n']);
            let role = if admin { Role::Admin } else { Role::Agent };
            let agent = agents::new_agent(&name, password, role)?;
            store.put_agent(&agent)?;
            sync(store)?;
            out!("added {} {name}", if admin { "admin" } else { "agent" });
        }
        AgentCommand::List => {
            for agent in store.agents()? {
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
                .agent(&name)?
                .with_context(|| format!("no agent named {name}"))?;
            agent.disabled = true;
            store.put_agent(&agent)?;
            sync(store)?;
            out!("disabled {name}");
        }
    }
    Ok(())
}

/// Waits for the store's writes to be durable, outside any runtime.
fn sync(store: &SledStore) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    runtime.block_on(store.sync())?;
    Ok(())
}

fn open_store(config: Option<&Path>, data: Option<PathBuf>) -> Result<SledStore> {
    let config = Config::load(config)?;
    let dir = data.unwrap_or(config.server.data_dir);
    if !dir.exists() {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    Ok(SledStore::open(&dir)?)
}

fn export(store: &SledStore, out: &Path) -> Result<()> {
    let file =
        std::fs::File::create(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut writer = std::io::BufWriter::new(file);
    let mut count = 0u64;
    store.export(&mut |record| {
        let line = serde_json::to_string(&record)
            .map_err(|e| frontdesk::store::StoreError::Io(e.to_string()))?;
        writeln!(writer, "{line}").map_err(|e| frontdesk::store::StoreError::Io(e.to_string()))?;
        count += 1;
        Ok(())
    })?;
    writer.flush().context("cannot write the export")?;
    writer
        .get_ref()
        .sync_all()
        .context("cannot sync the export")?;
    out!("exported {count} records to {}", out.display());
    Ok(())
}

fn import(store: &SledStore, file: &Path) -> Result<()> {
    if store.conversation_count()? > 0 {
        bail!("the data folder already holds conversations; import into an empty one");
    }
    let reader = std::io::BufReader::new(
        std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?,
    );
    let mut count = 0u64;
    for (index, line) in reader.lines().enumerate() {
        let line =
            line.with_context(|| format!("{}: cannot read line {}", file.display(), index + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let record: ExportRecord = serde_json::from_str(&line)
            .with_context(|| format!("{}:{}: not an export record", file.display(), index + 1))?;
        store.import(record)?;
        count += 1;
    }
    sync(store)?;
    out!("imported {count} records from {}", file.display());
    Ok(())
}
