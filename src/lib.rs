//! Frontdesk: a customer-support gateway in one binary.
//!
//! Customers write on web chat, Telegram or email. Every message is stored
//! durably, acknowledged at once, answered from intent rules when it is a
//! common question, and otherwise handed to a human agent; replies go back
//! out on the customer's own channel.
//!
//! # The promises
//!
//! Numbered here, once; the code and the README cite them by number.
//!
//! 1. **Nothing acknowledged is lost.** A customer message is durable in the
//!    store before anything upstream is told "got it" (HTTP 202, WebSocket
//!    `received`, the next Telegram offset or webhook 200, IMAP `\Seen`).
//! 2. **Intake is idempotent.** Every message carries its channel's own id;
//!    seeing it again changes nothing and answers nothing twice.
//! 3. **Every customer turn gets an immediate answer**: the intent's answer,
//!    or the hand-off acknowledgment with ticket, place in line and wait.
//!    Email is acknowledged once per conversation.
//! 4. **The bot goes quiet when a human owns the conversation**: no answers
//!    and no acknowledgments while an agent is assigned.
//! 5. **Every outbound message is durable before it leaves**: Telegram and
//!    email through the outbox (retries, resumed after a restart, a bound on
//!    sends whose outcome a crash could leave unknown); a web chat reply is
//!    delivered by its transcript append.
//! 6. **Auto-replies never loop**: ours say they are automatic, automatic
//!    mail is never answered, and each sender's automatic replies are capped.
//! 7. **Bad input gets a clear error and changes nothing else.**
//! 8. **Agents' ground is private**: every agent endpoint needs a sign-in;
//!    customer text is rendered as text.
//! 9. **Several instances, one desk** (on a shared database; the embedded
//!    sled store is one instance by design).
//!
//! # How a message flows
//!
//! Straight down: adapters call the inbox, the inbox the store, the store
//! asks the conversation rules what a change does and persists it.
//!
//! ```text
//! customer ─► channel adapter (http::chat, channels::telegram, channels::email)
//!               parse + validate → InboundMessage (email: thread, loop guard)
//!               Inbox::accept    → Store::accept (dedupe, find/open conversation;
//!                                  conversation::intake::take_in decides what the
//!                                  message does; append, mark turn pending)
//!                                → Store::sync (group commit)            [1, 2]
//!               confirm upstream (HTTP 202 / WebSocket `received` /
//!                 next getUpdates offset / webhook 200 / IMAP `\Seen`)
//!                          │
//!                          ▼
//!            Dispatcher (per-conversation order, conversations in parallel)
//!               human owns it? automatic mail? → stay silent           [4, 6]
//!               email follow-up in an open thread → to a person, no new ack
//!               IntentSet::classify (one PatternSet pass)
//!                  answer  → Templates::render → outbox entry            [3]
//!                  handoff / no match → waiting queue → hand-off ack → outbox entry
//!               Store::record_turn (conversation::turn::after_turn decides;
//!                                   atomically clears the pending mark)
//!                          │
//!                          ▼
//!            Outbox (due-time ordered, retries with backoff, survives restarts) [5]
//!               Store::lease_delivery (one instance at a time)            [9]
//!               Channel::send → Store::finish_delivery (transcript) → sync
//!                 → LiveUpdates (web chat) + Events (agent consoles)
//!                 → core::relay → the other instances' LiveUpdates + Events [9]
//!                          ▲
//! agent console / agent API ┘ (http::agent → core::conversations::Conversations::apply:
//!                              conversation::transitions decide claim, reply, note,
//!                              resolve or refuse; one place publishes events and metrics)
//! ```
//!
//! # Parts
//!
//! Dependencies point one way, down this list (`tests/architecture.rs`
//! checks it): nothing imports [`app`] but `main.rs` and tests, and the
//! store never decides.
//!
//! - [`model`]: the nouns: channels, addresses, ids, conversations,
//!   messages, outbox entries, accounts; refusals.
//! - [`store`]: the async store traits by concern, the durability contract,
//!   the sled backend (changes as crash-atomic steps, group commit) and the
//!   PostgreSQL backend (outbox leases, notices between instances).
//! - [`rules`]: intents and the pattern set that matches them, their
//!   evaluation, reply templates, the reply locale.
//! - [`service_levels`]: segments, business hours, the SLA policy, the wait
//!   quoted to customers, surveys, the leads' reports, the staffing forecast.
//! - [`conversation`]: the conversation rules as plain functions: what a
//!   customer message, a bot turn or an agent's request does.
//! - [`core`]: the message path: inbox, dispatcher, outbox and the outbound
//!   `Channel` trait, the conversation service, live updates, agent events,
//!   places in line, the SLA watcher, the shutdown signal, metrics; jobs
//!   led by one instance, the relay between instances, the sweep of turns
//!   left unanswered.
//! - [`channels`]: Telegram (poll loop, parse, send), email (IMAP, intake and
//!   threading, parsing, quotes, loop guard, SMTP), web chat's outbound
//!   side; each with its config section.
//! - [`config`]: the sections put together and checked, `${VAR}` secrets.
//! - [`control`]: commands for a running desk's sled folder (agents,
//!   backup), over a Unix socket in it, or on the store directly.
//! - [`http`]: the router, handler state, JSON errors, the chat API, the
//!   agent API by resource, the Telegram webhook, pages and probes.
//! - [`app`]: start-up and shutdown wiring.
//! - [`assets`], [`secrets`]: files built into the binary; random tokens.

pub mod app;
pub mod assets;
pub mod channels;
pub mod config;
pub mod control;
pub mod conversation;
pub mod core;
pub mod http;
pub mod model;
pub mod rules;
pub mod secrets;
pub mod service_levels;
pub mod store;
