//! The accept loop: HTTP/1.1 connections served with hyper, like
//! `axum::serve`, plus what a public endpoint needs against slow clients.
//! A client gets `[server] header_timeout_secs` to send a request's headers
//! (a slow-header "slowloris" connection is closed, idle keep-alive ones
//! too), and `body_timeout_secs` to send its body (408, see
//! [`crate::http::router`]).
//! WebSockets, once upgraded, are the chat channel's to keep or drop. On
//! stop, connections finish the request at hand, then close.

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::time::Duration;
use tokio::net::TcpListener;
use tower::ServiceExt;

/// Time open requests get to finish when the gateway stops.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves `router` on `listener` until `stop` resolves.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    header_timeout: Duration,
    stop: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    // Connections watch `stopping`; each holds a `done` receiver, dropped
    // when it ends, so the loop can wait for all of them.
    let (stopping, _) = tokio::sync::watch::channel(());
    let (all_done, done) = tokio::sync::watch::channel(());
    let mut stop = std::pin::pin!(stop);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(error) => {
                    // Out of file descriptors, say: wait, do not spin.
                    tracing::warn!(%error, "Could not accept a connection.");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(remote));
            router.clone().oneshot(request.map(axum::body::Body::new))
        });
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        let mut stopping = stopping.subscribe();
        let done = done.clone();
        tokio::spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                _ = stopping.changed() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(error) = result {
                tracing::debug!(%error, %remote, "A connection ended with an error.");
            }
            drop(done);
        });
    }
    drop(listener);
    drop(done);
    let _ = stopping.send(());
    if tokio::time::timeout(DRAIN_TIMEOUT, all_done.closed())
        .await
        .is_err()
    {
        tracing::warn!("Some requests did not finish before the stop.");
    }
    Ok(())
}
