//! Email intake: 5,000 mails waiting in a real IMAP server, against a
//! bare fetch and the floors.

use super::*;

/// N mails waiting in the support mailbox → all taken in by the gateway
/// (one conversation each, every mail `\Seen`), against a bare IMAP client
/// fetching the same mailbox in one `UID FETCH 1:* (BODY.PEEK[])`.
pub(crate) async fn bench_email(scale: &Scale) -> String {
    let n = scale.email;
    let server = mail::MailServer::start();
    let mut session = server.login(mail::SUPPORT).await;
    for i in 0..n {
        let raw = format!(
            "From: Customer {c} <c{c}@customer.test>\r\nTo: {to}\r\nSubject: Question {i}\r\nMessage-ID: <bench{i}@customer.test>\r\nDate: Tue, 1 Dec 2026 09:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello, where is my order? It is order {i} and it has been a week.\r\n",
            c = i % 100,
            to = mail::SUPPORT
        );
        session
            .append("INBOX", None, None, raw)
            .await
            .expect("append");
    }
    let _ = session.logout().await;

    let started = Instant::now();
    let mut bare = server.login(mail::SUPPORT).await;
    bare.examine("INBOX").await.expect("examine");
    let fetched = fetch_all(&mut bare).await;
    let bare_secs = started.elapsed().as_secs_f64();
    assert_eq!(fetched.len(), n);
    let _ = bare.logout().await;

    let floor_dir = tempfile::tempdir().expect("tempdir");
    let floor_db = bench_sled(floor_dir.path());
    let step_secs = email_floor(&server, &floor_db, Layout::ThreeKeyStep).await;
    let one_key_secs = email_floor(&server, &floor_db, Layout::OneKey).await;

    let data = tempfile::tempdir().expect("tempdir");
    let mut config = frontdesk::config::Config::load(None).expect("config");
    config.server.listen = "127.0.0.1:0".parse().expect("addr");
    config.server.data_dir = data.path().to_path_buf();
    config.channels.email = Some(server.email_config());
    let started = Instant::now();
    let gateway = frontdesk::app::start(config).await.expect("gateway");
    let store = gateway.store();
    let deadline = Instant::now() + Duration::from_secs(900);
    while store.conversation_count().await.expect("count") < n as u64 {
        assert!(Instant::now() < deadline, "intake did not finish");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let taken_secs = started.elapsed().as_secs_f64();
    let unread = server
        .mailbox(mail::SUPPORT)
        .await
        .iter()
        .filter(|(_, seen, _)| !seen)
        .count();
    drop(store);
    gateway.stop().await;
    let (ours, base, step, one_key) = (
        n as f64 / taken_secs,
        n as f64 / bare_secs,
        n as f64 / step_secs,
        n as f64 / one_key_secs,
    );
    format!(
        "| email: {n} mails waiting in IMAP → all taken in (stored, flushed, \\Seen; {unread} left unread) | {ours:.0}/s ({taken_secs:.1} s, start-up included) | bare IMAP fetch: {base:.0}/s ({bare_secs:.2} s) | **{:.0}%** |\n\
         | (the least taking mail in can cost: the same fetch, the intake floor's three-key step per mail, one flush, one \\Seen for all) | {step:.0}/s ({step_secs:.2} s) | the same bare fetch | {:.0}% |\n\
         | (the same, writing each mail alone as one key) | {one_key:.0}/s ({one_key_secs:.2} s) | the same bare fetch | {:.0}% |\n",
        ours / base * 100.0,
        step / base * 100.0,
        one_key / base * 100.0,
    )
}

/// The least taking the mailbox in can cost with a floor layout (see
/// [`Layout`]): the bare fetch, each mail written as that layout, one
/// flush for them all, then every mail marked `\Seen` in one command. No
/// parsing, no conversation logic, no acknowledgment mail. Leaves the
/// mail unread again (not timed). Returns the seconds taken.
pub(crate) async fn email_floor(server: &mail::MailServer, db: &sled::Db, layout: Layout) -> f64 {
    let floor = Floor::open(db, layout);
    let started = Instant::now();
    let mut client = server.login(mail::SUPPORT).await;
    client.select("INBOX").await.expect("select");
    let fetched = fetch_all(&mut client).await;
    for (i, mail) in fetched.iter().enumerate() {
        floor.write(i, &String::from_utf8_lossy(mail.body().unwrap_or_default()));
    }
    floor.commit.sync().await.expect("flush");
    store_flags(&mut client, "+FLAGS (\\Seen)").await;
    let secs = started.elapsed().as_secs_f64();
    store_flags(&mut client, "-FLAGS (\\Seen)").await;
    let _ = client.logout().await;
    secs
}

/// Every mail of the selected mailbox, in one `UID FETCH 1:* (BODY.PEEK[])`.
pub(crate) async fn fetch_all(session: &mut ImapSession) -> Vec<async_imap::types::Fetch> {
    use futures_util::TryStreamExt;
    session
        .uid_fetch("1:*", "(UID BODY.PEEK[])")
        .await
        .expect("fetch")
        .try_collect()
        .await
        .expect("fetch all")
}

/// Changes the flags of every mail of the selected mailbox.
pub(crate) async fn store_flags(session: &mut ImapSession, change: &str) {
    use futures_util::TryStreamExt;
    let _: Vec<_> = session
        .uid_store("1:*", change)
        .await
        .expect("store")
        .try_collect()
        .await
        .expect("stored");
}
