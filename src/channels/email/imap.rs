//! The IMAP loop: watch the support mailbox and take in every new mail
//! exactly once, losing none.
//!
//! Progress is a saved `(UIDVALIDITY, last UID)` per mailbox. Each round
//! lists the UIDs above the last one and their sizes, then works in
//! batches (up to 50 mails or 8 MB): one `BODY.PEEK[]` fetch (which leaves
//! them unread), each mail staged in the store, one flush for the batch,
//! then one `\Seen` store for it, then the new last UID saved. A crash
//! anywhere re-reads at most the mails after the saved UID, and the
//! Message-ID dedupe makes that harmless. On the first start, or when UIDVALIDITY changes (the
//! mailbox was rebuilt), the unread mails are taken in and the cursor
//! starts over.
//!
//! Between rounds the loop waits with IDLE when the server has it (woken
//! by news of mail announced at any moment since the round began, see
//! [`super::idle`], and re-scanning by UID after every wake), or polls. Connection failures back off up
//! to a minute and reconnect; a mail that cannot be stored stops the round
//! before it is marked, so it is fetched again.

use super::intake::Intake;
use crate::channels::email::config::MailSecurity;
use crate::channels::email::config::MailServer;
use crate::core::shutdown::Shutdown;
use crate::store::Store;
use async_imap::Session;
use futures_util::TryStreamExt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls;

const MAX_BACKOFF: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// A command (login, fetch of one mail) that takes longer means a dead
/// connection.
pub(super) const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);
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
    Store(#[from] super::intake::IntakeError),
}

pub(super) fn protocol(e: impl std::fmt::Display) -> ImapError {
    ImapError::Protocol(e.to_string())
}

pub(super) async fn within<T, E: std::fmt::Display>(
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

async fn load_cursor(store: &dyn Store, mailbox: &str) -> Option<Cursor> {
    let (validity, last) = cursor_names(mailbox);
    match (store.cursor(&validity).await, store.cursor(&last).await) {
        (Ok(Some(v)), Ok(Some(l))) => Some(Cursor {
            uid_validity: v as u32,
            last_uid: l as u32,
        }),
        _ => None,
    }
}

async fn save_cursor(store: &dyn Store, mailbox: &str, cursor: Cursor) {
    let (validity, last) = cursor_names(mailbox);
    let saved = match store
        .set_cursor(&validity, i64::from(cursor.uid_validity))
        .await
    {
        Ok(()) => store.set_cursor(&last, i64::from(cursor.last_uid)).await,
        Err(e) => Err(e),
    };
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
pub async fn run(intake: Intake, mut shutdown: Shutdown) {
    let mut backoff = Duration::from_secs(1);
    loop {
        let result = tokio::select! {
            result = session(&intake, &mut backoff, shutdown.clone()) => result,
            _ = shutdown.stopped() => return,
        };
        match result {
            Ok(()) => return,
            Err(error) => {
                tracing::warn!(%error, retry_in = ?backoff, "The mailbox connection failed; reconnecting.");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = shutdown.stopped() => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// One connection: rounds of fetching and waiting until it fails or the
/// gateway stops (then `Ok`).
async fn session(
    intake: &Intake,
    backoff: &mut Duration,
    mut shutdown: Shutdown,
) -> Result<(), ImapError> {
    let config = &intake.config;
    let mut session = connect(&config.imap).await?;
    let idle = within(COMMAND_TIMEOUT, session.capabilities())
        .await?
        .has_str("IDLE");
    tracing::info!(mailbox = %config.mailbox, idle, "Connected to the mailbox.");
    loop {
        super::idle::forget_news(&session);
        round(&mut session, intake).await?;
        *backoff = Duration::from_secs(1);
        let stopping = if idle {
            let (back, woke) = super::idle::idle(session, IDLE_RENEW, &mut shutdown).await?;
            session = back;
            woke == super::idle::Woke::Stopped
        } else {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(config.poll_secs)) => false,
                _ = shutdown.stopped() => true,
            }
        };
        if stopping {
            let _ = tokio::time::timeout(Duration::from_secs(5), session.logout()).await;
            return Ok(());
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
    let saved = load_cursor(store, &config.mailbox)
        .await
        .filter(|c| c.uid_validity == uid_validity);
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
            if load_cursor(store, &config.mailbox).await.is_some() {
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
    let mut sizes = Vec::with_capacity(uids.len());
    for chunk in uids.chunks(SIZE_QUERY_UIDS) {
        sizes.extend(fetch_sizes(session, chunk).await?);
    }
    for batch in batches(&sizes, intake.config.max_message_bytes) {
        take_in_batch(session, intake, uid_validity, &batch).await?;
        cursor.last_uid = batch
            .iter()
            .fold(cursor.last_uid, |m, (uid, _)| m.max(*uid));
        save_cursor(store, &config.mailbox, cursor).await;
    }
    if saved.is_none() {
        let newest = mailbox.uid_next.unwrap_or(1).saturating_sub(1);
        cursor.last_uid = cursor.last_uid.max(newest);
        save_cursor(store, &config.mailbox, cursor).await;
    }
    Ok(())
}

/// UIDs asked for their sizes in one command.
const SIZE_QUERY_UIDS: usize = 500;
/// A batch fetched in one command and committed with one flush: at most
/// this many mails and bytes (a huge FETCH can break the session,
/// async-imap#66; mails over the byte limit come one by one).
const BATCH_MAILS: usize = 50;
const BATCH_BYTES: u64 = 8 << 20;

/// A compact IMAP UID set: `3:7,9,12:13`.
fn uid_set(uids: &[u32]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < uids.len() {
        let mut j = i;
        while j + 1 < uids.len() && uids[j + 1] == uids[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            uids[i].to_string()
        } else {
            format!("{}:{}", uids[i], uids[j])
        });
        i = j + 1;
    }
    out.join(",")
}

/// (uid, size) of the listed mails still there, in UID order.
async fn fetch_sizes(
    session: &mut ImapSession,
    uids: &[u32],
) -> Result<Vec<(u32, u64)>, ImapError> {
    let mut stream = within(
        COMMAND_TIMEOUT,
        session.uid_fetch(uid_set(uids), "(UID RFC822.SIZE)"),
    )
    .await?;
    let mut sizes = Vec::new();
    while let Some(fetch) = within(COMMAND_TIMEOUT, stream.try_next()).await? {
        if let (Some(uid), Some(size)) = (fetch.uid, fetch.size)
            && uids.binary_search(&uid).is_ok()
        {
            sizes.push((uid, u64::from(size)));
        }
    }
    sizes.sort_unstable();
    Ok(sizes)
}

/// Groups mails into batches by count and bytes, in UID order. A mail over
/// `max_mail` counts as its headers only (that is all that is fetched).
fn batches(sizes: &[(u32, u64)], max_mail: u64) -> Vec<Vec<(u32, u64)>> {
    let mut out: Vec<Vec<(u32, u64)>> = Vec::new();
    let mut bytes = 0;
    for &(uid, size) in sizes {
        let counted = if size > max_mail { 0 } else { size };
        let full = out
            .last()
            .is_none_or(|b| b.len() >= BATCH_MAILS || bytes + counted > BATCH_BYTES);
        if full {
            out.push(Vec::new());
            bytes = 0;
        }
        bytes += counted;
        if let Some(batch) = out.last_mut() {
            batch.push((uid, size));
        }
    }
    out
}

/// Fetches a batch, stages every mail, commits them with one flush, and
/// only then marks them `\Seen`. A mail that cannot be stored ends the
/// round before anything of the batch is marked; what was staged before it
/// is still committed (and deduped when the batch is read again).
async fn take_in_batch(
    session: &mut ImapSession,
    intake: &Intake,
    uid_validity: u32,
    batch: &[(u32, u64)],
) -> Result<(), ImapError> {
    let max = intake.config.max_message_bytes;
    let (small, large): (Vec<u32>, Vec<u32>) = {
        let (s, l): (Vec<_>, Vec<_>) = batch.iter().partition(|(_, size)| *size <= max);
        (
            s.iter().map(|(u, _)| *u).collect(),
            l.iter().map(|(u, _)| *u).collect(),
        )
    };
    let mut raws = if small.is_empty() {
        Vec::new()
    } else {
        fetch_raw(session, &uid_set(&small), "(UID BODY.PEEK[])").await?
    };
    for uid in large {
        let size = batch.iter().find(|(u, _)| *u == uid).map_or(0, |(_, s)| *s);
        for (uid, mut raw) in
            fetch_raw(session, &uid.to_string(), "(UID BODY.PEEK[HEADER])").await?
        {
            raw.extend_from_slice(
                format!(
                    "\r\n\r\n(This email is {size} bytes, over the {max}-byte limit; only its headers were imported. Read it in the mailbox.)\r\n"
                )
                .as_bytes(),
            );
            raws.push((uid, raw));
        }
    }
    raws.sort_by_key(|(uid, _)| *uid);
    let mut staged = Vec::with_capacity(raws.len());
    let mut failure = None;
    for (uid, raw) in &raws {
        let fallback_id = format!("imap:{uid_validity}:{uid}");
        match intake.stage(raw, &fallback_id).await {
            Ok(accepted) => staged.push(accepted),
            Err(error) => {
                failure = Some(ImapError::Store(error));
                break;
            }
        }
    }
    intake
        .inbox
        .commit(&staged)
        .await
        .map_err(|e| ImapError::Store(e.into()))?;
    if let Some(error) = failure {
        return Err(error);
    }
    tracing::debug!(mails = staged.len(), "Took in a batch of mail.");
    // Only now, with the batch durable, does the mailbox learn we have it.
    let taken: Vec<u32> = raws.iter().map(|(uid, _)| *uid).collect();
    if !taken.is_empty() {
        let mut updates = within(
            COMMAND_TIMEOUT,
            session.uid_store(uid_set(&taken), "+FLAGS.SILENT (\\Seen)"),
        )
        .await?;
        while within(COMMAND_TIMEOUT, updates.try_next()).await?.is_some() {}
    }
    Ok(())
}

/// One FETCH: (uid, body or header) of every listed mail still there.
async fn fetch_raw(
    session: &mut ImapSession,
    set: &str,
    query: &str,
) -> Result<Vec<(u32, Vec<u8>)>, ImapError> {
    let mut stream = within(COMMAND_TIMEOUT, session.uid_fetch(set, query)).await?;
    let mut found = Vec::new();
    // Exhaust the stream before the next command.
    while let Some(fetch) = within(COMMAND_TIMEOUT, stream.try_next()).await? {
        if let Some(uid) = fetch.uid {
            let body = fetch.body().or_else(|| fetch.header()).unwrap_or_default();
            found.push((uid, body.to_vec()));
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets_are_compact() {
        assert_eq!(uid_set(&[3, 4, 5, 6, 7, 9, 12, 13]), "3:7,9,12:13");
        assert_eq!(uid_set(&[1]), "1");
        assert_eq!(uid_set(&[]), "");
    }

    #[test]
    fn batches_split_by_count_and_bytes() {
        let many: Vec<(u32, u64)> = (1..=120).map(|u| (u, 1000)).collect();
        let b = batches(&many, 1 << 30);
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), vec![50, 50, 20]);
        let big = [(1, 5 << 20), (2, 5 << 20), (3, 100 << 20), (4, 10)];
        let b = batches(&big, 32 << 20);
        // 5 MB + 5 MB is over 8 MB; the 100 MB mail counts as headers only.
        assert_eq!(
            b,
            vec![
                vec![(1, 5 << 20)],
                vec![(2, 5 << 20), (3, 100 << 20), (4, 10)]
            ]
        );
    }
}
