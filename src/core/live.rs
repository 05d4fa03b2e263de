//! Live transcript updates: who is waiting for news of which customer.
//!
//! Web chat long polls and WebSockets subscribe by customer address key;
//! whoever appends to that customer's transcript publishes the new sequence
//! number. A watch channel per key keeps only the latest value, so a slow
//! subscriber never holds up a publisher; it re-reads the store on wake.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use tokio::sync::watch;

/// Where publications go besides this instance's subscribers: to the
/// other instances on a shared store (see [`crate::core::relay`]).
pub type Forward = Box<dyn Fn(&str, u64) + Send + Sync>;

#[derive(Default)]
pub struct LiveUpdates {
    senders: Mutex<HashMap<String, watch::Sender<u64>>>,
    forward: OnceLock<Forward>,
}

impl LiveUpdates {
    /// A receiver that changes whenever the customer's transcript grows.
    pub fn subscribe(&self, customer_key: &str) -> watch::Receiver<u64> {
        let mut senders = self.senders.lock().unwrap_or_else(|p| p.into_inner());
        senders
            .entry(customer_key.to_string())
            .or_insert_with(|| watch::channel(0).0)
            .subscribe()
    }

    /// Tells subscribers, here and on other instances, that the
    /// transcript reached `seq`.
    pub fn publish(&self, customer_key: &str, seq: u64) {
        self.publish_here(customer_key, seq);
        if let Some(forward) = self.forward.get() {
            forward(customer_key, seq);
        }
    }

    /// Sends this instance's publications to `forward` too (set once).
    pub fn forward_to(&self, forward: Forward) {
        let _ = self.forward.set(forward);
    }

    /// Tells this instance's subscribers the transcript reached `seq`.
    pub fn publish_here(&self, customer_key: &str, seq: u64) {
        let mut senders = self.senders.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(sender) = senders.get(customer_key) {
            if sender.receiver_count() == 0 {
                senders.remove(customer_key);
            } else {
                sender.send_replace(seq);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn subscribers_see_publishes_for_their_key_only() {
        let live = LiveUpdates::default();
        let mut a = live.subscribe("web:a");
        let b = live.subscribe("web:b");
        live.publish("web:a", 3);
        a.changed().await.expect("changed");
        assert_eq!(*a.borrow(), 3);
        assert!(!b.has_changed().expect("open"));
    }

    #[test]
    fn keys_without_subscribers_are_forgotten() {
        let live = LiveUpdates::default();
        drop(live.subscribe("web:a"));
        live.publish("web:a", 1);
        assert!(live.senders.lock().expect("lock").is_empty());
    }
}
