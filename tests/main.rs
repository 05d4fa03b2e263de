//! Integration tests: one test binary (see ripgrep's layout). Each module
//! drives the real gateway over loopback: in-process on port 0, or as the
//! built `frontdesk` binary where a test must kill the process.

mod support;

mod agent_api;
mod architecture;
mod browser;
mod cli;
pub mod crash;
mod email;
mod email_fixtures;
mod faults;
mod hostile_input;
mod intent_prefilter;
mod operations;
mod postgres;
mod previous_release;
mod secrets_in_logs;
mod several_instances;
mod store_contract;
pub mod telegram;
mod web_chat;
