//! Waiting for new mail between rounds with IMAP IDLE, without missing an
//! announcement.
//!
//! A server announces new mail with an untagged `EXISTS` (or `RECENT`),
//! and may send it at any time: inside the reply to a command of the round
//! (a FETCH, the `\Seen` STORE) or between our `IDLE` and its `+`
//! continuation. async-imap files those on the session's unsolicited
//! channel instead of ending the wait, so a mail delivered while a round
//! ran would wait for the next mail or the IDLE renewal (minutes). The
//! wait therefore also watches that channel: news that came in since the
//! round began starts the next round at once. The channel is emptied when
//! a round begins, since the round's search covers what it announced.

use super::imap::{COMMAND_TIMEOUT, ImapError, protocol, within};
use crate::core::shutdown::Shutdown;
use async_imap::Session;
use async_imap::types::UnsolicitedResponse;
use std::fmt::Debug;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// Why a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Woke {
    /// The server said something (new mail, flags, expunge): look again.
    News,
    /// The renewal time passed with nothing said.
    Renewal,
    /// The gateway is stopping.
    Stopped,
}

/// Drops what the server announced before now: the round about to start
/// sees it anyway.
pub fn forget_news<T>(session: &Session<T>)
where
    T: AsyncRead + AsyncWrite + Unpin + Debug + Send,
{
    while session.unsolicited_responses.try_recv().is_ok() {}
}

/// Waits in IDLE until the server announces something, `renew` passes, or
/// the gateway stops, and leaves IDLE (the session is usable again).
pub async fn idle<T>(
    session: Session<T>,
    renew: Duration,
    shutdown: &mut Shutdown,
) -> Result<(Session<T>, Woke), ImapError>
where
    T: AsyncRead + AsyncWrite + Unpin + Debug + Send,
{
    let announced = session.unsolicited_responses.clone();
    // Ends when the channel holds an `EXISTS` or `RECENT`; never, if it
    // is closed.
    let new_mail = async move {
        loop {
            match announced.recv().await {
                Ok(UnsolicitedResponse::Exists(_) | UnsolicitedResponse::Recent(_)) => return,
                Ok(_) => {}
                Err(_) => std::future::pending::<()>().await,
            }
        }
    };
    let mut handle = session.idle();
    within(COMMAND_TIMEOUT, handle.init()).await?;
    let (wait, stop) = handle.wait_with_timeout(renew);
    let woke = tokio::select! {
        woke = wait => match woke.map_err(protocol)? {
            async_imap::extensions::idle::IdleResponse::Timeout => Woke::Renewal,
            _ => Woke::News,
        },
        () = new_mail => Woke::News,
        () = shutdown.stopped() => Woke::Stopped,
    };
    drop(stop);
    let session = within(COMMAND_TIMEOUT, handle.done()).await?;
    Ok((session, woke))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    /// A scripted server: greets, accepts any login, and answers `IDLE`
    /// with `before_continuation` then `+ idling`; `DONE` ends the IDLE;
    /// `NOOP` is answered with news of a fourth mail.
    async fn session_with(before_continuation: &'static str) -> Session<tokio::io::DuplexStream> {
        let (client, server) = tokio::io::duplex(4096);
        tokio::spawn(async move {
            let (read, mut write) = tokio::io::split(server);
            let mut lines = BufReader::new(read).lines();
            write.write_all(b"* OK ready\r\n").await.ok();
            let mut idle_tag = String::new();
            while let Ok(Some(line)) = lines.next_line().await {
                let (tag, command) = line.split_once(' ').unwrap_or((line.as_str(), ""));
                let reply = if command.starts_with("LOGIN") {
                    format!("{tag} OK logged in\r\n")
                } else if command == "IDLE" {
                    idle_tag = tag.to_string();
                    format!("{before_continuation}+ idling\r\n")
                } else if command == "NOOP" {
                    format!("* 4 EXISTS\r\n{tag} OK done\r\n")
                } else if line == "DONE" {
                    format!("{idle_tag} OK IDLE done\r\n")
                } else {
                    format!("{tag} BAD unknown\r\n")
                };
                if write.write_all(reply.as_bytes()).await.is_err() {
                    break;
                }
            }
        });
        let mut client = async_imap::Client::new(client);
        client.read_response().await.expect("greeting");
        client
            .login("u", "p")
            .await
            .map_err(|(e, _)| e)
            .expect("login")
    }

    #[tokio::test]
    async fn mail_announced_before_the_continuation_ends_the_wait() {
        let session = session_with("* 3 EXISTS\r\n").await;
        let (_stop, mut shutdown) = Shutdown::channel();
        let (_, woke) = idle(session, Duration::from_secs(300), &mut shutdown)
            .await
            .expect("idle");
        assert_eq!(woke, Woke::News);
    }

    #[tokio::test]
    async fn mail_announced_during_the_round_ends_the_next_wait_unless_the_round_saw_it() {
        let mut session = session_with("").await;
        // A reply to a command of the round carries the announcement.
        session.noop().await.expect("noop");
        let (_stop, mut shutdown) = Shutdown::channel();
        let (mut session, woke) = idle(session, Duration::from_secs(300), &mut shutdown)
            .await
            .expect("idle");
        assert_eq!(woke, Woke::News);

        session.noop().await.expect("noop");
        forget_news(&session);
        let (_, woke) = idle(session, Duration::from_millis(100), &mut shutdown)
            .await
            .expect("idle");
        assert_eq!(
            woke,
            Woke::Renewal,
            "nothing new: the wait lasts until renewal"
        );
    }

    #[tokio::test]
    async fn a_stopping_gateway_ends_the_wait() {
        let session = session_with("").await;
        let (stop, mut shutdown) = Shutdown::channel();
        stop.stop();
        let (_, woke) = idle(session, Duration::from_secs(300), &mut shutdown)
            .await
            .expect("idle");
        assert_eq!(woke, Woke::Stopped);
    }
}
