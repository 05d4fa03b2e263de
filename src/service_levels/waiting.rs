//! The expected wait quoted to a customer handed to a person.
//!
//! It comes from how fast agents have been taking conversations lately:
//! with p pickups in the last hour, agents take p/60 conversations a
//! minute, so the customer at place n waits about n·60/p minutes (rounded
//! up). With fewer than three pickups in the hour the rate says little
//! (a quiet night, a fresh install), and the configured
//! `[queue] minutes_per_customer` per place in line is quoted instead.

use crate::model::Conversation;
use crate::store::{Pickup, Store, StoreError};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// Priority of a new conversation (higher is served first).
    #[serde(default)]
    pub default_priority: u8,
    /// Minutes an agent needs per waiting customer, for the expected wait
    /// quoted in the hand-off acknowledgment.
    #[serde(default = "default_minutes_per_customer")]
    pub minutes_per_customer: u32,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            default_priority: 0,
            minutes_per_customer: default_minutes_per_customer(),
        }
    }
}

fn default_minutes_per_customer() -> u32 {
    5
}

/// Pickups in the window needed before the measured rate is trusted.
pub const MIN_PICKUPS: usize = 3;
/// The window the rate is measured over, in minutes.
pub const WINDOW_MINUTES: u64 = 60;

/// The pickups of the last [`WINDOW_MINUTES`].
pub async fn recent_pickups(store: &dyn Store) -> Result<Vec<Pickup>, StoreError> {
    let window = chrono::Duration::minutes(WINDOW_MINUTES as i64);
    store.pickups_since(chrono::Utc::now() - window).await
}

/// A conversation's place in line (or the one it would get if queued now)
/// and its expected wait in minutes.
pub async fn place_of(
    store: &dyn Store,
    conversation: &Conversation,
    minutes_per_customer: u32,
) -> Result<(u64, u64), StoreError> {
    let position = store.queue_position(conversation).await?;
    let wait = expected_wait_minutes(
        position,
        &recent_pickups(store).await?,
        minutes_per_customer,
    );
    Ok((position, wait))
}

/// Expected wait in minutes for the customer at `position` (1-based).
pub fn expected_wait_minutes(position: u64, recent: &[Pickup], minutes_per_customer: u32) -> u64 {
    let pickups = recent.len() as u64;
    if recent.len() < MIN_PICKUPS {
        return position * u64::from(minutes_per_customer);
    }
    (position * WINDOW_MINUTES).div_ceil(pickups)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn pickups(n: usize) -> Vec<Pickup> {
        (0..n)
            .map(|_| Pickup {
                at: Utc::now(),
                waited_ms: 60_000,
            })
            .collect()
    }

    #[test]
    fn the_wait_follows_the_pickup_rate_once_there_is_one() {
        // 12 pickups an hour: one every 5 minutes.
        assert_eq!(expected_wait_minutes(1, &pickups(12), 9), 5);
        assert_eq!(expected_wait_minutes(3, &pickups(12), 9), 15);
        // 40 an hour: 1.5 minutes each, rounded up.
        assert_eq!(expected_wait_minutes(1, &pickups(40), 9), 2);
        // Too few pickups to trust: the configured minutes per place.
        assert_eq!(expected_wait_minutes(2, &pickups(2), 9), 18);
    }
}
