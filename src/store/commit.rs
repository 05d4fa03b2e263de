//! Group commit: one thread makes writes durable for many waiters at once.
//!
//! sled's `flush_async` deadlocks when many tasks await it together, and a
//! blocking `flush` per write costs a disk sync each. Instead waiters send a
//! oneshot to this thread; it blocks for the first, drains every other
//! waiter already queued, flushes once, and answers them all. Writes made
//! before a waiter enqueued are covered by the flush that answers it.
//!
//! Under load the thread lingers before each flush while waiters keep
//! coming (half a millisecond at most), so that one flush answers more: a
//! flush costs a log write with a disk sync on sled's threads however
//! little it carries, and at thousands a second those took a fifth of the
//! machine. A waiter arriving after a quiet spell is flushed at once, so a
//! lone message waits for nothing.

use super::StoreError;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

type Waiter = oneshot::Sender<Result<(), SharedCause>>;

/// Why a flush failed, given to every waiter it answers.
pub type SharedCause = std::sync::Arc<dyn std::error::Error + Send + Sync>;

/// How long a flush under load waits for more waiters.
const LINGER: Duration = Duration::from_micros(500);
/// Lingering ends early when no waiter came for this long.
const GAP: Duration = Duration::from_micros(100);
/// A flush that started within this long after the last one is under load.
const BUSY: Duration = Duration::from_millis(5);

/// The committer thread's handle. Dropping it stops the thread and waits
/// for it, so the database it flushes is released when the store is.
pub struct GroupCommit {
    waiters: Option<mpsc::Sender<Waiter>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        self.waiters.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl GroupCommit {
    /// Starts the committer thread around a blocking flush function.
    pub fn start<F>(flush: F) -> Result<Self, StoreError>
    where
        F: Fn() -> Result<(), SharedCause> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel::<Waiter>();
        let thread = std::thread::Builder::new()
            .name("frontdesk-commit".into())
            .spawn(move || {
                let mut last_flush: Option<Instant> = None;
                while let Ok(first) = rx.recv() {
                    let mut batch = vec![first];
                    if last_flush.is_some_and(|at| at.elapsed() < BUSY) {
                        // While waiters keep coming, for a moment at most.
                        let until = Instant::now() + LINGER;
                        while let Some(left) = until.checked_duration_since(Instant::now()) {
                            match rx.recv_timeout(GAP.min(left)) {
                                Ok(waiter) => batch.push(waiter),
                                Err(_) => break,
                            }
                        }
                    }
                    batch.extend(rx.try_iter());
                    let result = flush();
                    last_flush = Some(Instant::now());
                    if let Err(error) = &result {
                        tracing::error!(%error, waiters = batch.len(), "Flushing the store failed; writes are not durable.");
                    }
                    for waiter in batch {
                        // A waiter that gave up is fine to ignore.
                        let _ = waiter.send(result.clone());
                    }
                }
            })
            .map_err(|e| StoreError::Io(Box::new(e)))?;
        Ok(Self {
            waiters: Some(tx),
            thread: Some(thread),
        })
    }

    /// Resolves once everything written before this call is durable.
    pub fn sync(
        &self,
    ) -> impl std::future::Future<Output = Result<(), StoreError>> + Send + 'static {
        let (tx, rx) = oneshot::channel();
        let sent = self
            .waiters
            .as_ref()
            .is_some_and(|waiters| waiters.send(tx).is_ok());
        async move {
            if !sent {
                return Err(StoreError::CommitStopped);
            }
            match rx.await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(StoreError::Flush(e)),
                Err(_) => Err(StoreError::CommitStopped),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_waiters_share_few_flushes() {
        let flushes = Arc::new(AtomicUsize::new(0));
        let counter = flushes.clone();
        let commit = GroupCommit::start(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(5));
            Ok(())
        })
        .expect("start");
        let waits: Vec<_> = (0..200).map(|_| tokio::spawn(commit.sync())).collect();
        for w in waits {
            w.await.expect("join").expect("sync");
        }
        let n = flushes.load(Ordering::SeqCst);
        assert!((1..200).contains(&n), "200 waiters took {n} flushes");
    }

    #[tokio::test]
    async fn a_failed_flush_reaches_every_waiter() {
        let commit =
            GroupCommit::start(|| Err(Arc::new(std::io::Error::other("disk full")) as SharedCause))
                .expect("start");
        let err = commit.sync().await.expect_err("must fail");
        assert!(err.to_string().contains("disk full"));
    }
}
