//! Jobs that run once per desk: a mailbox poller, the Telegram poller, the
//! SLA watcher. Each runs only while this instance holds its
//! [`Leadership`](crate::store::Leadership); when the hold is lost (its
//! database connection died) the job is stopped, and every instance keeps
//! trying to take it, so another one takes over within seconds. On the
//! sled store the only instance always leads.

use crate::core::shutdown::Shutdown;
use crate::store::Store;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// How often an instance that does not lead a job tries to take it.
pub const RETRY: Duration = Duration::from_secs(2);

/// Runs `job` (given a stop signal of its own) whenever this instance
/// leads `name`, until `shutdown`.
pub async fn run_as_leader<F, Fut>(
    store: Arc<dyn Store>,
    name: &'static str,
    mut shutdown: Shutdown,
    job: F,
) where
    F: Fn(Shutdown) -> Fut,
    Fut: Future<Output = ()>,
{
    loop {
        match store.lead(name).await {
            Ok(Some(mut leadership)) => {
                tracing::info!(job = name, "This instance runs the job.");
                let (stop, job_shutdown) = Shutdown::channel();
                let run = job(job_shutdown);
                tokio::pin!(run);
                tokio::select! {
                    _ = &mut run => return,
                    _ = leadership.lost() => {
                        tracing::warn!(job = name, "Lost the hold on the job; stopping it until it can be taken again.");
                        stop.stop();
                        run.await;
                    }
                    _ = shutdown.stopped() => {
                        stop.stop();
                        run.await;
                        return;
                    }
                }
            }
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(job = name, %error, "Cannot ask who runs the job; trying again.");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(RETRY) => {}
            _ = shutdown.stopped() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sled::SledStore;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn on_sled_the_job_runs_at_once_and_stops_with_the_gateway() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).expect("store"));
        let (stop, shutdown) = Shutdown::channel();
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        let task = tokio::spawn(run_as_leader(
            store,
            "test",
            shutdown,
            move |mut job_shutdown| {
                let counted = counted.clone();
                async move {
                    counted.fetch_add(1, Ordering::SeqCst);
                    job_shutdown.stopped().await;
                }
            },
        ));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        stop.stop();
        tokio::time::timeout(Duration::from_secs(2), task)
            .await
            .expect("stops")
            .expect("join");
    }
}
