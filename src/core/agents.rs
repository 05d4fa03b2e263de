//! Agent accounts and sign-in: Argon2id password hashes, username rules,
//! and the throttle that slows down repeated failed logins per account and
//! per address.

use crate::model::{Agent, Role};
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use chrono::Utc;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a sign-in lasts.
pub const SESSION_HOURS: i64 = 12;
pub const MIN_PASSWORD_CHARS: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("usernames are 1 to 64 characters: letters, digits, '.', '_' or '-'")]
    BadUsername,
    #[error("passwords need at least {MIN_PASSWORD_CHARS} characters")]
    WeakPassword,
    #[error("cannot hash the password: {0}")]
    Hash(String),
}

pub fn validate_username(name: &str) -> Result<(), AccountError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(AccountError::BadUsername)
    }
}

/// A new agent with a hashed password.
pub fn new_agent(username: &str, password: &str, role: Role) -> Result<Agent, AccountError> {
    validate_username(username)?;
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AccountError::WeakPassword);
    }
    let hash = Argon2::default()
        .hash_password(password.as_bytes())
        .map_err(|e| AccountError::Hash(e.to_string()))?;
    Ok(Agent {
        username: username.to_string(),
        password_hash: hash.to_string(),
        role,
        disabled: false,
        created_at: Utc::now(),
        password_changed_at: None,
    })
}

/// Whether `password` matches the agent's stored hash. Slow on purpose:
/// call it off the async threads.
pub fn verify_password(agent: &Agent, password: &str) -> bool {
    match PasswordHash::new(&agent.password_hash) {
        Ok(hash) => Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash to verify against when the username does not exist, so a wrong
/// username takes as long as a wrong password.
pub fn decoy_agent() -> &'static Agent {
    static DECOY: std::sync::OnceLock<Agent> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        new_agent("decoy", "decoy-password-never-used", Role::Agent).unwrap_or_else(|_| Agent {
            username: "decoy".into(),
            password_hash: String::new(),
            role: Role::Agent,
            disabled: true,
            created_at: Utc::now(),
            password_changed_at: None,
        })
    })
}

/// Failed logins allowed before each further try must wait.
const FREE_FAILURES: u32 = 5;
const MAX_LOCKOUT: Duration = Duration::from_secs(15 * 60);

/// Counts failed logins per key ("user:NAME", "addr:IP"). After
/// five in a row, each further attempt must wait a doubling
/// delay (1 s, 2 s, 4 s … up to 15 minutes) after the last failure. Kept in
/// memory: a restart forgives.
#[derive(Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl LoginThrottle {
    /// How long the caller must wait before trying `keys` again, if at all.
    pub fn wait_for(&self, keys: &[String]) -> Option<Duration> {
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        keys.iter()
            .filter_map(|k| failures.get(k))
            .filter(|(count, _)| *count >= FREE_FAILURES)
            .map(|(count, last)| {
                let lockout =
                    Duration::from_secs(1u64 << (count - FREE_FAILURES).min(20)).min(MAX_LOCKOUT);
                lockout.saturating_sub(last.elapsed())
            })
            .filter(|wait| !wait.is_zero())
            .max()
    }

    pub fn failed(&self, keys: &[String]) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        // Bound the memory a flood of made-up usernames can take.
        if failures.len() > 100_000 {
            failures.retain(|_, (_, last)| last.elapsed() < MAX_LOCKOUT);
        }
        for key in keys {
            let entry = failures.entry(key.clone()).or_insert((0, Instant::now()));
            entry.0 += 1;
            entry.1 = Instant::now();
        }
    }

    pub fn succeeded(&self, keys: &[String]) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        for key in keys {
            failures.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_and_wrong_ones_do_not() {
        let agent = new_agent("ann", "correct horse", Role::Agent).expect("agent");
        assert!(agent.password_hash.starts_with("$argon2id$"));
        assert!(verify_password(&agent, "correct horse"));
        assert!(!verify_password(&agent, "wrong horse"));
    }

    #[test]
    fn bad_usernames_and_short_passwords_are_refused() {
        assert!(new_agent("", "long enough", Role::Agent).is_err());
        assert!(new_agent("a b", "long enough", Role::Agent).is_err());
        assert!(new_agent("<script>", "long enough", Role::Agent).is_err());
        assert!(matches!(
            new_agent("ann", "short", Role::Agent),
            Err(AccountError::WeakPassword)
        ));
    }

    #[test]
    fn throttle_waits_after_repeated_failures_and_forgets_on_success() {
        let throttle = LoginThrottle::default();
        let keys = vec!["user:ann".to_string()];
        for _ in 0..FREE_FAILURES {
            assert!(throttle.wait_for(&keys).is_none());
            throttle.failed(&keys);
        }
        let wait = throttle.wait_for(&keys).expect("must wait");
        assert!(wait <= Duration::from_secs(1));
        throttle.failed(&keys);
        throttle.failed(&keys);
        assert!(throttle.wait_for(&keys).expect("must wait") > Duration::from_secs(2));
        assert!(
            throttle.wait_for(&["user:bob".to_string()]).is_none(),
            "per key"
        );
        throttle.succeeded(&keys);
        assert!(throttle.wait_for(&keys).is_none());
    }
}
