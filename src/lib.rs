//! Frontdesk: a customer-support gateway in one binary.
//!
//! Customers write on web chat, Telegram or email. Every message is stored durably, acknowledged at once, answered
//! from intent rules when it is a common question, and otherwise handed to a
//! human agent; replies go back out on the customer's own channel.
//!
//! # How a message flows
//!
//! ```text
//! customer ─► channel adapter (channels::web, channels::telegram, channels::email)
//!               parse + validate → InboundMessage (email: thread, loop guard)
//!               Inbox::accept    → Store::accept (dedupe, find/open conversation;
//!                                  conversation::intake::take_in decides what the
//!                                  message does; append, mark turn pending)
//!                                → Store::sync (group commit)
//!               confirm upstream (HTTP 202 / WebSocket `received` /
//!                 next getUpdates offset / webhook 200 / IMAP `\Seen`)
//!                          │
//!                          ▼
//!            Dispatcher (per-conversation order, conversations in parallel)
//!               human owns it? automatic mail? → stay silent
//!               email follow-up in an open thread → to a person, no new ack
//!               IntentSet::classify (one PatternSet pass)
//!                  answer  → Templates::render → outbox entry
//!                  handoff / no match → waiting queue → hand-off ack → outbox entry
//!               Store::record_turn (conversation::turn::after_turn decides;
//!                                   atomically clears the pending mark)
//!                          │
//!                          ▼
//!            Outbox (due-time ordered, retries with backoff, survives restarts)
//!               Channel::send → Store::finish_delivery (transcript) → sync
//!                 → LiveUpdates (web chat) + Events (agent consoles)
//!                          ▲
//! agent console / agent API ┘ (http::agent → conversation::Conversations::apply:
//!                              conversation::transitions decide claim, reply, note,
//!                              resolve; one place publishes events and metrics)
//! ```
//!
//! # Modules
//!
//! - [`config`]: typed TOML config, `${VAR}` secrets, the embedded default.
//! - [`model`]: channels, addresses, ids, conversations, messages, outbox entries.
//! - [`conversation`]: the conversation rules as plain functions (intake,
//!   turns, agents' transitions) and the one service that applies changes.
//! - [`store`]: the `Store` trait and its sled backend: changes as crash-atomic steps, group commit.
//! - [`inbox`]: the one way a customer message enters.
//! - [`dispatcher`]: the automatic reply to each customer turn.
//! - [`outbox`]: durable delivery with retries.
//! - [`intents`]: intent rules compiled into one `PatternSet`.
//! - [`pattern_set`]: many regexes matched at the cost of a few (literal prefilter).
//! - [`evaluation`]: coverage and precision of the rules on labelled text.
//! - [`templates`]: reply texts per locale and channel (minijinja).
//! - [`locale`]: which language to reply in.
//! - [`live`]: wake-ups for long polls and WebSockets when a transcript grows.
//! - [`channels`]: the `Channel` trait; web chat (`channels::web`),
//!   Telegram (`channels::telegram`: parse, poll loop, webhook, outbound) and
//!   email (`channels::email`: IMAP loop, intake and threading, parsing,
//!   quote stripping, loop guard, SMTP replies).
//! - [`agents`]: agent accounts, password hashes, the failed-login throttle.
//! - [`events`]: live events for agent consoles.
//! - [`queue_view`]: every waiting conversation's place, shared by the sockets.
//! - [`reports`]: the summary report of a period for support leads (by
//!   channel, segment, day and agent), from the status log.
//! - [`secrets`]: random tokens and their hashes.
//! - [`segments`]: customer segments, their priority, signed web identities.
//! - [`hours`]: business hours, the next opening, deadlines in open time.
//! - [`metrics`]: counters for operators, Prometheus text on `/metrics`.
//! - [`sla`]: first-response deadlines watched, announced, and posted on breach.
//! - [`surveys`]: CSAT, NPS and CES questions after a resolution.
//! - [`staffing`]: agents needed per hour by Erlang C.
//! - [`forecast`]: the staffing forecast from measured arrivals and handling.
//! - [`waiting`]: the expected wait quoted to a queued customer.
//! - [`http`]: the router, JSON errors, the agent API, static pages and probes.
//! - [`assets`]: files built into the binary (intents, templates, web).
//! - [`app`]: start-up and shutdown wiring.

pub mod app;
pub mod assets;
pub mod channels;
pub mod config;
pub mod conversation;
pub mod core;
pub mod http;
pub mod model;
pub mod rules;
pub mod secrets;
pub mod service_levels;
pub mod store;
