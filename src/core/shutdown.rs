//! The stop signal every long-running task selects on: the start-up code
//! keeps the sending half and hands each task a [`Shutdown`] clone, so no
//! task needs to know who starts or stops it.

use tokio::sync::watch;

/// The receiving half of the stop signal; cheap to clone.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

/// The sending half: [`Stop::stop`] ends every task holding a [`Shutdown`].
#[derive(Debug)]
pub struct Stop(watch::Sender<bool>);

impl Shutdown {
    /// A new signal, not yet given.
    pub fn channel() -> (Stop, Shutdown) {
        let (sender, receiver) = watch::channel(false);
        (Stop(sender), Shutdown(receiver))
    }

    /// Resolves once the signal is given (or its sender is gone).
    pub async fn stopped(&mut self) {
        let _ = self.0.wait_for(|stop| *stop).await;
    }

    /// Whether the signal was given.
    pub fn is_stopped(&self) -> bool {
        *self.0.borrow()
    }
}

impl Stop {
    pub fn stop(&self) {
        let _ = self.0.send(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_clone_sees_the_stop() {
        let (stop, shutdown) = Shutdown::channel();
        let mut waiting = shutdown.clone();
        assert!(!shutdown.is_stopped());
        let task = tokio::spawn(async move { waiting.stopped().await });
        stop.stop();
        task.await.expect("task ends");
        assert!(shutdown.is_stopped());
    }

    #[tokio::test]
    async fn a_dropped_sender_ends_the_wait() {
        let (stop, mut shutdown) = Shutdown::channel();
        drop(stop);
        shutdown.stopped().await;
    }
}
