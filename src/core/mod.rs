//! The message path: the inbox takes customer messages in, the dispatcher
//! answers each turn, the outbox delivers through the channels, and the
//! conversation service applies agents' changes; live updates, agent
//! events and places in line tell the people watching; a customer's data
//! is exported or erased on request, and by `[retention]`.

pub mod agents;
pub mod channel;
pub mod conversations;
pub mod customers;
pub mod dispatcher;
pub mod events;
pub mod inbox;
pub mod leader;
pub mod live;
pub mod metrics;
pub mod outbox;
pub mod queue_view;
pub mod relay;
pub mod shutdown;
pub mod sla_watch;
pub mod turn_sweep;
