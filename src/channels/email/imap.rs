//! The IMAP loop: watch the support mailbox and take in every new mail
//! exactly once, losing none.
//!
//! Progress is a saved `(UIDVALIDITY, last UID)` per mailbox. Each round
//! lists the UIDs above the last one, fetches each mail with `BODY.PEEK[]`
//! (which leaves it unread), takes it in (stored and flushed), then marks
//! it `\Seen`, then saves the new last UID. A crash anywhere re-reads at
//! most the mails after the saved UID, and the Message-ID dedupe makes
//! that harmless. On the first start, or when UIDVALIDITY changes (the
//! mailbox was rebuilt), the unread mails are taken in and the cursor
//! starts over.
//!
//! Between rounds the loop waits with IDLE when the server has it (woken
//! by new mail, and re-scanning by UID after every wake, since
//! notifications can be lost), or polls. Connection failures back off up
//! to a minute and reconnect; a mail that cannot be stored stops the round
//! before it is marked, so it is fetched again.

use super::intake::Intake;
use crate::config::{MailSecurity, MailServer};
use crate::store::Store;
use async_imap::Session;
use futures_util::TryStreamExt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls;

const MAX_BACKOFF: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// A command (login, fetch of one mail) that takes longer means a dead
/// connection.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);
/// IDLE is renewed this often (servers drop it after 30 minutes).
const IDLE_RENEW: Duration = Duration::from_secs(5 * 60);

/// A plain or TLS connection to the IMAP server.
#[derive(Debug)]
pub enum ImapStream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for ImapStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            ImapStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            ImapStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ImapStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            ImapStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            ImapStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            ImapStream::Plain(s) => Pin::new(s).poll_flush(cx),
            ImapStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            ImapStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            ImapStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

type ImapSession = Session<ImapStream>;

/// Why a round ended early.
#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    #[error("IMAP: {0}")]
    Protocol(String),
    #[error("cannot connect to the IMAP server: {0}")]
    Connect(String),
    #[error("the IMAP server refused the login: {0}")]
    Login(String),
    #[error("the IMAP server did not answer within {0:?}")]
    Timeout(Duration),
    #[error("a mail could not be stored: {0}")]
    Store(String),
}

fn protocol(e: impl std::fmt::Display) -> ImapError {
    ImapError::Protocol(e.to_string())
}

async fn within<T, E: std::fmt::Display>(
    limit: Duration,
    future: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, ImapError> {
    match tokio::time::timeout(limit, future).await {
        Ok(result) => result.map_err(protocol),
        Err(_) => Err(ImapError::Timeout(limit)),
    }
}

fn tls_connector(server: &MailServer) -> Result<TlsConnector, ImapError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = &server.ca_file {
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| ImapError::Connect(format!("CA file {}: {e}", path.display())))?;
        for cert in certs {
            let cert =
                cert.map_err(|e| ImapError::Connect(format!("CA file {}: {e}", path.display())))?;
            roots
                .add(cert)
                .map_err(|e| ImapError::Connect(format!("CA file {}: {e}", path.display())))?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| ImapError::Connect(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

async fn tls(server: &MailServer, tcp: TcpStream) -> Result<ImapStream, ImapError> {
    let name = rustls::pki_types::ServerName::try_from(server.host.clone())
        .map_err(|e| ImapError::Connect(format!("{}: {e}", server.host)))?;
    let stream = tls_connector(server)?
        .connect(name, tcp)
        .await
        .map_err(|e| ImapError::Connect(format!("TLS with {}: {e}", server.host)))?;
    Ok(ImapStream::Tls(Box::new(stream)))
}

/// Connects, upgrades or wraps TLS as configured, and logs in.
pub async fn connect(server: &MailServer) -> Result<ImapSession, ImapError> {
    let tcp = tokio::time::timeout(
        CONNECT_TIMEOUT,
        TcpStream::connect((server.host.as_str(), server.port)),
    )
    .await
    .map_err(|_| ImapError::Timeout(CONNECT_TIMEOUT))?
    .map_err(|e| ImapError::Connect(format!("{}:{}: {e}", server.host, server.port)))?;
    let mut client = match server.security {
        MailSecurity::Tls => {
            let mut client = async_imap::Client::new(tls(server, tcp).await?);
            read_greeting(&mut client).await?;
            client
        }
        MailSecurity::Starttls => {
            let mut plain = async_imap::Client::new(ImapStream::Plain(tcp));
            read_greeting(&mut plain).await?;
            within(
                COMMAND_TIMEOUT,
                plain.run_command_and_check_ok("STARTTLS", None),
            )
            .await?;
            let ImapStream::Plain(tcp) = plain.into_inner() else {
                return Err(ImapError::Protocol("STARTTLS on a TLS stream".into()));
            };
            // No greeting after STARTTLS.
            async_imap::Client::new(tls(server, tcp).await?)
        }
        MailSecurity::Plain => {
            let mut client = async_imap::Client::new(ImapStream::Plain(tcp));
            read_greeting(&mut client).await?;
            client
        }
    };
    let _ = &mut client;
    let user = server.username.as_deref().unwrap_or_default();
    let password = server.password.as_deref().unwrap_or_default();
    match tokio::time::timeout(COMMAND_TIMEOUT, client.login(user, password)).await {
        Ok(Ok(session)) => Ok(session),
        Ok(Err((error, _))) => Err(ImapError::Login(error.to_string())),
        Err(_) => Err(ImapError::Timeout(COMMAND_TIMEOUT)),
    }
}

async fn read_greeting(client: &mut async_imap::Client<ImapStream>) -> Result<(), ImapError> {
    match tokio::time::timeout(CONNECT_TIMEOUT, client.read_response()).await {
        Ok(Ok(Some(_))) => Ok(()),
        Ok(Ok(None)) => Err(ImapError::Connect("closed before its greeting".into())),
        Ok(Err(e)) => Err(ImapError::Connect(e.to_string())),
        Err(_) => Err(ImapError::Timeout(CONNECT_TIMEOUT)),
    }
}

/// Where the loop is in a mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cursor {
    uid_validity: u32,
    last_uid: u32,
}

fn cursor_names(mailbox: &str) -> (String, String) {
    (
        format!("email.{mailbox}.uidvalidity"),
        format!("email.{mailbox}.last_uid"),
    )
}

fn load_cursor(store: &dyn Store, mailbox: &str) -> Option<Cursor> {
    let (validity, last) = cursor_names(mailbox);
    match (store.cursor(&validity), store.cursor(&last)) {
        (Ok(Some(v)), Ok(Some(l))) => Some(Cursor {
            uid_validity: v as u32,
            last_uid: l as u32,
        }),
        _ => None,
    }
}

async fn save_cursor(store: &dyn Store, mailbox: &str, cursor: Cursor) {
    let (validity, last) = cursor_names(mailbox);
    let saved = store
        .set_cursor(&validity, i64::from(cursor.uid_validity))
        .and_then(|_| store.set_cursor(&last, i64::from(cursor.last_uid)));
    let synced = match saved {
        Ok(()) => store.sync().await,
        Err(e) => Err(e),
    };
    if let Err(error) = synced {
        // Harmless: the mails after the saved UID are re-read and deduped.
        tracing::warn!(%error, "Could not save the mailbox position; some mails may be read again.");
    }
}

/// Runs the intake loop until `shutdown`.
pub async fn run(intake: Intake, mut shutdown: watch::Receiver<bool>) {
    let mut backoff = Duration::from_secs(1);
    loop {
        let result = tokio::select! {
            result = session(&intake, &mut backoff, shutdown.clone()) => result,
            _ = crate::app::stopped(&mut shutdown) => return,
        };
        match result {
            Ok(()) => return,
            Err(error) => {
                tracing::warn!(%error, retry_in = ?backoff, "The mailbox connection failed; reconnecting.");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = crate::app::stopped(&mut shutdown) => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// One connection: rounds of fetching and waiting until it fails or the
/// gateway stops (then `Ok`).
async fn session(
    intake: &Intake,
    backoff: &mut Duration,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), ImapError> {
    let config = &intake.config;
    let mut session = connect(&config.imap).await?;
    let idle = within(COMMAND_TIMEOUT, session.capabilities())
        .await?
        .has_str("IDLE");
    tracing::info!(mailbox = %config.mailbox, idle, "Connected to the mailbox.");
    loop {
        round(&mut session, intake).await?;
        *backoff = Duration::from_secs(1);
        if idle {
            let mut handle = session.idle();
            within(COMMAND_TIMEOUT, handle.init()).await?;
            let (wait, stop) = handle.wait_with_timeout(IDLE_RENEW);
            let woke = tokio::select! {
                woke = wait => Some(woke.map_err(protocol)?),
                _ = crate::app::stopped(&mut shutdown) => None,
            };
            drop(stop);
            session = within(COMMAND_TIMEOUT, handle.done()).await?;
            if woke.is_none() {
                let _ = tokio::time::timeout(Duration::from_secs(5), session.logout()).await;
                return Ok(());
            }
        } else {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(config.poll_secs)) => {}
                _ = crate::app::stopped(&mut shutdown) => {
                    let _ = tokio::time::timeout(Duration::from_secs(5), session.logout()).await;
                    return Ok(());
                }
            }
        }
    }
}

/// Takes in every mail after the cursor (or every unread one when the
/// cursor is new or stale).
async fn round(session: &mut ImapSession, intake: &Intake) -> Result<(), ImapError> {
    let config = &intake.config;
    let store = intake.store.as_ref();
    let mailbox = within(COMMAND_TIMEOUT, session.select(&config.mailbox)).await?;
    let uid_validity = mailbox.uid_validity.unwrap_or(0);
    let saved = load_cursor(store, &config.mailbox).filter(|c| c.uid_validity == uid_validity);
    let mut uids: Vec<u32> = match saved {
        Some(cursor) => {
            let found = within(
                COMMAND_TIMEOUT,
                session.uid_search(format!("UID {}:*", cursor.last_uid.saturating_add(1))),
            )
            .await?;
            // `n:*` always includes the newest mail, even below n.
            found.into_iter().filter(|u| *u > cursor.last_uid).collect()
        }
        None => {
            if load_cursor(store, &config.mailbox).is_some() {
                tracing::warn!(
                    uid_validity,
                    "The mailbox was rebuilt (UIDVALIDITY changed); taking in its unread mails again, duplicates are dropped."
                );
            }
            within(COMMAND_TIMEOUT, session.uid_search("UNSEEN"))
                .await?
                .into_iter()
                .collect()
        }
    };
    uids.sort_unstable();
    let mut cursor = saved.unwrap_or(Cursor {
        uid_validity,
        last_uid: 0,
    });
    if saved.is_none() {
        // Start after everything already there that was read.
        let newest = mailbox.uid_next.unwrap_or(1).saturating_sub(1);
        cursor.last_uid = uids.first().map_or(newest, |first| first.saturating_sub(1));
    }
    for uid in uids {
        take_in_uid(session, intake, uid_validity, uid).await?;
        cursor.last_uid = cursor.last_uid.max(uid);
        save_cursor(store, &config.mailbox, cursor).await;
    }
    if saved.is_none() {
        let newest = mailbox.uid_next.unwrap_or(1).saturating_sub(1);
        cursor.last_uid = cursor.last_uid.max(newest);
        save_cursor(store, &config.mailbox, cursor).await;
    }
    Ok(())
}

/// Fetches, stores and marks one mail.
async fn take_in_uid(
    session: &mut ImapSession,
    intake: &Intake,
    uid_validity: u32,
    uid: u32,
) -> Result<(), ImapError> {
    let max = intake.config.max_message_bytes;
    let size = fetch_one(session, uid, "(UID RFC822.SIZE)")
        .await?
        .and_then(|(size, _)| size);
    let Some(size) = size else {
        // Expunged meanwhile.
        return Ok(());
    };
    let query = if u64::from(size) > max {
        "(UID RFC822.SIZE BODY.PEEK[HEADER])"
    } else {
        "(UID RFC822.SIZE BODY.PEEK[])"
    };
    let Some((_, raw)) = fetch_one(session, uid, query).await? else {
        return Ok(());
    };
    let mut raw = raw.unwrap_or_default();
    if u64::from(size) > max {
        raw.extend_from_slice(
            format!(
                "\r\n\r\n(This email is {size} bytes, over the {max}-byte limit; only its headers were imported. Read it in the mailbox.)\r\n"
            )
            .as_bytes(),
        );
    }
    let fallback_id = format!("imap:{uid_validity}:{uid}");
    let span = tracing::info_span!("email", uid, conversation_id = tracing::field::Empty);
    let accepted =
        tracing::Instrument::instrument(intake.take_in(&raw, &fallback_id), span.clone())
            .await
            .map_err(|e| ImapError::Store(e.to_string()))?;
    span.record(
        "conversation_id",
        tracing::field::display(accepted.conversation.id),
    );
    // Only now, with the mail durable, does the mailbox learn we have it.
    let mut updates = within(
        COMMAND_TIMEOUT,
        session.uid_store(uid.to_string(), "+FLAGS.SILENT (\\Seen)"),
    )
    .await?;
    while within(COMMAND_TIMEOUT, updates.try_next()).await?.is_some() {}
    Ok(())
}

/// One FETCH for one UID: (size, body). `None` if the mail is gone.
async fn fetch_one(
    session: &mut ImapSession,
    uid: u32,
    query: &str,
) -> Result<Option<(Option<u32>, Option<Vec<u8>>)>, ImapError> {
    let mut stream = within(COMMAND_TIMEOUT, session.uid_fetch(uid.to_string(), query)).await?;
    let mut found = None;
    // Exhaust the stream before the next command.
    while let Some(fetch) = within(COMMAND_TIMEOUT, stream.try_next()).await? {
        if fetch.uid == Some(uid) {
            let body = fetch.body().or_else(|| fetch.header()).map(<[u8]>::to_vec);
            found = Some((fetch.size, body));
        }
    }
    Ok(found)
}
