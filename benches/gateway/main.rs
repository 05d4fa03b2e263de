//! Frontdesk's benchmarks, each a ratio against a baseline measured in the
//! same run (these machines are noisy):
//!
//! 1. intent classification: 300 intents in one `PatternSet` against the same
//!    patterns as 300 `Regex`es in a loop, on English and Chinese text;
//! 2. durable intake: `Store::accept` + group commit with 64 concurrent
//!    producers, against raw sled inserts with the same group commit;
//! 3. web chat: message → durable `received` (HTTP 202), and message → bot
//!    answer visible to the client, with 64 sessions, against a bare axum
//!    echo endpoint driven by the same client;
//! 4. the shipped intent pack on the held-out utterances of
//!    `tests/data/intents/`, against its patterns as separate `Regex`es;
//! 5. email: N mails waiting in a real IMAP mailbox (dovecot, started from
//!    `tests/servers/mail/`) → all taken in (stored, flushed, `\Seen`),
//!    against a bare IMAP client fetching the same mailbox;
//! 6. many web chat sessions at once (1,000), each asking and waiting for
//!    the answer: errors and lost answers;
//! 7. the real binary's start-up time and memory, on an empty folder and
//!    on one holding 100,000 conversations;
//! 8. a backup of those 100,000 conversations, and how long intake waits
//!    while it reads (against the same intake with no backup).
//!
//! Parts 2, 3 and 5 also measure floors against the same baseline: the
//! same work with only what a store must write per message (`Layout`), so
//! a target below what sled allows shows as such.
//!
//! `cargo bench --bench gateway` prints a Markdown report (copied into
//! BENCHMARKS.md). `-- --quick` runs a few iterations only, as CI does to
//! check that the harness still works. Naming parts (`intents`, `shipped`,
//! `sled`, `intake`, `postgres`, `chat`, `email`, `reading`, `sessions`, `startup`, `backup`) after `--`
//! runs only those.

#[allow(dead_code)]
#[path = "../../tests/support/mail.rs"]
mod mail;

use frontdesk::conversation::{intake::take_in, turn::after_turn};
use frontdesk::model::{CustomerAddress, InboundMessage};
use frontdesk::rules::intents::IntentSet;
use frontdesk::store::postgres::{PgStore, PostgresConfig};
use frontdesk::store::sled::SledStore;
use frontdesk::store::{ConversationStore, NewConversation, Store, StoreConfig};
use regex::Regex;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod postgres;
use postgres::bench_postgres;
mod postgres_chat;
use postgres_chat::bench_postgres_chat;
mod reading;
use reading::bench_reading;

mod intents;
use intents::*;
mod email;
use email::*;
mod store;
use store::*;
mod chat;
use chat::*;
mod startup;
use startup::*;
mod backup;
use backup::bench_backup;

struct Scale {
    messages: usize,
    rounds: usize,
    intake: usize,
    chat: usize,
    email: usize,
    /// Concurrent web chat sessions, each asking once.
    sessions: usize,
    /// Conversations in the store for the start-up and memory run.
    stored: usize,
}

type ImapSession = async_imap::Session<tokio::net::TcpStream>;

/// Message `i` of a load spread over 5,000 customers.
fn inbound(i: usize) -> InboundMessage {
    inbound_from(i % 5000, i)
}

/// Message `i`, from the Telegram customer `customer`.
fn inbound_from(customer: usize, i: usize) -> InboundMessage {
    InboundMessage::text(
        CustomerAddress::Telegram {
            chat_id: customer as i64,
        },
        format!("bench-{i}"),
        "Where is my order? It has been a week.".into(),
        chrono::Utc::now(),
    )
}

/// Runs `total` operations spread over 64 tasks; returns (ops/s, p50,
/// p99, failures).
async fn concurrent<F, Fut>(total: usize, op: F) -> (f64, Duration, Duration, usize)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    concurrent_in(64, total, op).await
}

/// Runs `total` operations spread over `width` tasks.
async fn concurrent_in<F, Fut>(
    width: usize,
    total: usize,
    op: F,
) -> (f64, Duration, Duration, usize)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let op = Arc::new(op);
    let started = Instant::now();
    let tasks: Vec<_> = (0..width)
        .map(|task| {
            let op = op.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0;
                for i in (task..total).step_by(width) {
                    let t = Instant::now();
                    if !op(i).await {
                        errors += 1;
                    }
                    latencies.push(t.elapsed());
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.expect("task");
        all.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let pick = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)];
    (total as f64 / elapsed, pick(0.5), pick(0.99), errors)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let scale = if quick {
        Scale {
            messages: 10,
            rounds: 2,
            intake: 256,
            chat: 128,
            email: 40,
            sessions: 50,
            stored: 1_000,
        }
    } else {
        Scale {
            messages: 100,
            rounds: 200,
            intake: 20_000,
            chat: 5_000,
            email: 5_000,
            sessions: 1_000,
            stored: 100_000,
        }
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let machine = format!(
        "{} cores, {}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        std::env::consts::ARCH
    );
    println!(
        "## Run of {} on {machine}{}\n",
        chrono::Utc::now().format("%Y-%m-%d"),
        if quick { " (quick)" } else { "" }
    );
    // `cargo bench --bench gateway -- intake chat` runs only those parts.
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wanted = |part: &str| only.is_empty() || only.iter().any(|o| o == part);
    if wanted("intents") {
        println!(
            "### Intent classification (300 intents, 600 patterns)\n\n{}",
            bench_intents(&scale)
        );
    }
    if wanted("shipped") {
        println!(
            "### The shipped intent pack on held-out text\n\n{}",
            bench_shipped_intents(&scale)
        );
    }
    if wanted("sled") {
        println!(
            "### What sled costs here (one writer; CPU time counts all threads)\n\n| operation | wall time | CPU time |\n|---|---|---|\n{}",
            bench_sled_floor(&scale)
        );
    }
    let run = |part: &str, bench: &dyn Fn() -> String| {
        if wanted(part) { bench() } else { String::new() }
    };
    let intake = run("intake", &|| runtime.block_on(bench_intake(&scale)));
    let chat = run("chat", &|| runtime.block_on(bench_chat(&scale)));
    let email = run("email", &|| runtime.block_on(bench_email(&scale)))
        + &run("reading", &|| bench_reading(&scale));
    let postgres = run("postgres", &|| runtime.block_on(bench_postgres(&scale)))
        + &run("postgres", &|| {
            runtime.block_on(bench_postgres_chat(&scale))
        });
    let sessions = run("sessions", &|| runtime.block_on(bench_sessions(&scale)));
    let startup = run("startup", &|| {
        runtime.block_on(bench_startup_memory(&scale))
    });
    let backup = run("backup", &|| runtime.block_on(bench_backup(&scale)));
    println!(
        "### Throughput and latency\n\n| what | measured | baseline (same run) | ratio |\n|---|---|---|---|\n{intake}{postgres}{chat}{sessions}{email}{startup}{backup}"
    );
}
