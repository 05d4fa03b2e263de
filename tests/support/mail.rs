//! A real mail stack per test: dovecot (IMAP + LMTP) and an SMTP front end
//! (`tests/servers/mail/`), on free loopback ports in a throwaway folder.
//! The SMTP server answers 250 only after dovecot delivered, so a mail is in
//! its mailbox when `send` returns. Every non-local recipient gets its own
//! mailbox (login: the address, password [`PASSWORD`]), so a test reads what
//! the customer received.

use async_imap::Session;
use frontdesk::channels::email::config::EmailConfig;
use frontdesk::channels::email::config::MailSecurity;
use frontdesk::channels::email::config::MailServer as MailServerConfig;
use futures_util::TryStreamExt;
use lettre::AsyncTransport;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::net::TcpStream;

pub const SUPPORT: &str = "support@example.test";
/// Every mailbox's password: one no log line could contain by chance, so
/// a test can check it never reaches the logs.
pub const PASSWORD: &str = "mbx-pass-Q7v2Lx9";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn scripts() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/servers/mail")
}

pub struct MailServer {
    pub dir: PathBuf,
    pub imap_port: u16,
    pub smtp_port: u16,
    lmtp_port: u16,
    /// Implicit-TLS ports (IMAPS, SMTPS), when started with TLS.
    pub tls_ports: Option<(u16, u16)>,
}

impl MailServer {
    /// Starts a fresh stack (the packages must be installed: tests/run.sh does).
    pub fn start() -> Self {
        Self::launch(false)
    }

    /// Also offers STARTTLS, IMAPS and SMTPS, with a self-signed
    /// certificate for 127.0.0.1 and localhost (`cert_path`).
    pub fn start_tls() -> Self {
        Self::launch(true)
    }

    pub fn cert_path(&self) -> PathBuf {
        self.dir.join("tls/cert.pem")
    }

    fn launch(tls: bool) -> Self {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = PathBuf::from(format!("/tmp/frontdesk-mail-{}-{n}", std::process::id()));
        let server = Self {
            dir,
            imap_port: free_port(),
            smtp_port: free_port(),
            lmtp_port: free_port(),
            tls_ports: tls.then(|| (free_port(), free_port())),
        };
        let (imaps, smtps) = server.tls_ports.unwrap_or((0, 0));
        let out = Command::new("bash")
            .arg(scripts().join("mail-up.sh"))
            .env("MAIL_DIR", &server.dir)
            .env("IMAP_PORT", server.imap_port.to_string())
            .env("SMTP_PORT", server.smtp_port.to_string())
            .env("LMTP_PORT", server.lmtp_port.to_string())
            .env("IMAPS_PORT", imaps.to_string())
            .env("SMTPS_PORT", smtps.to_string())
            .env("MAIL_TLS", if tls { "1" } else { "0" })
            .env("MAIL_SKIP_INSTALL", "1")
            .env("SUPPORT_PASSWORD", PASSWORD)
            .env("CUSTOMER_PASSWORD", PASSWORD)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run mail-up.sh");
        assert!(
            out.status.success(),
            "mail-up.sh failed (are dovecot-imapd, dovecot-lmtpd and python3-aiosmtpd installed? tests/run.sh installs them):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        server
    }

    /// The gateway's `[channels.email]` for this stack.
    pub fn email_config(&self) -> EmailConfig {
        let server = |port| MailServerConfig {
            host: "127.0.0.1".into(),
            port,
            security: MailSecurity::Plain,
            username: Some(SUPPORT.into()),
            password: Some(PASSWORD.into()),
            allow_insecure: false,
            ca_file: None,
        };
        EmailConfig {
            address: SUPPORT.into(),
            aliases: Vec::new(),
            from_name: Some("Acme Shop Support".into()),
            imap: server(self.imap_port),
            smtp: MailServerConfig {
                username: None,
                password: None,
                ..server(self.smtp_port)
            },
            mailbox: "INBOX".into(),
            poll_secs: 1,
            max_attachment_bytes: 1 << 20,
            max_message_bytes: 8 << 20,
            auto_reply_limit: 3,
            auto_reply_window_hours: 24,
            send_timeout_secs: 10,
            unconfirmed_sends: frontdesk::core::channel::one_unconfirmed_send(),
        }
    }

    /// Delivers a raw mail over SMTP, as a customer's provider would.
    pub async fn send(&self, from: &str, to: &str, raw: &str) {
        let transport =
            lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous("127.0.0.1")
                .port(self.smtp_port)
                .build();
        let envelope = lettre::address::Envelope::new(
            Some(from.parse().expect("from")),
            vec![to.parse().expect("to")],
        )
        .expect("envelope");
        transport
            .send_raw(
                &envelope,
                raw.replace("\r\n", "\n").replace('\n', "\r\n").as_bytes(),
            )
            .await
            .expect("SMTP delivery");
    }

    pub async fn login(&self, user: &str) -> Session<TcpStream> {
        let tcp = TcpStream::connect(("127.0.0.1", self.imap_port))
            .await
            .expect("connect IMAP");
        let mut client = async_imap::Client::new(tcp);
        client.read_response().await.expect("greeting");
        client
            .login(user, PASSWORD)
            .await
            .map_err(|(e, _)| e)
            .expect("IMAP login")
    }

    /// Every mail in `user`'s INBOX: (uid, seen, raw).
    pub async fn mailbox(&self, user: &str) -> Vec<(u32, bool, Vec<u8>)> {
        let mut session = self.login(user).await;
        let mailbox = session.examine("INBOX").await.expect("examine");
        let mut out = Vec::new();
        if mailbox.exists > 0 {
            let fetches: Vec<_> = session
                .fetch("1:*", "(UID FLAGS BODY.PEEK[])")
                .await
                .expect("fetch")
                .try_collect()
                .await
                .expect("fetch all");
            for f in fetches {
                let seen = f
                    .flags()
                    .any(|flag| matches!(flag, async_imap::types::Flag::Seen));
                out.push((
                    f.uid.unwrap_or(0),
                    seen,
                    f.body().unwrap_or_default().to_vec(),
                ));
            }
        }
        let _ = session.logout().await;
        out
    }

    /// Waits until `user` has `count` mails (or 15 s pass); returns them raw.
    pub async fn wait_for(&self, user: &str, count: usize) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let mails = self.mailbox(user).await;
            if mails.len() >= count || tokio::time::Instant::now() > deadline {
                return mails
                    .into_iter()
                    .map(|(_, _, raw)| String::from_utf8_lossy(&raw).into_owned())
                    .collect();
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Stops dovecot only (the mailboxes stay); `restart_imap` brings it back.
    pub fn stop_imap(&self) {
        let pid =
            std::fs::read_to_string(self.dir.join("run/dovecot/master.pid")).expect("dovecot pid");
        let _ = Command::new("kill").args(["-KILL", pid.trim()]).status();
        std::thread::sleep(Duration::from_millis(300));
        // Its children die with the listening sockets closed.
        let _ = Command::new("pkill")
            .args([
                "-KILL",
                "-f",
                &format!("{}/etc/dovecot.conf", self.dir.display()),
            ])
            .status();
    }

    /// Puts a mail straight into `user`'s INBOX (IMAP APPEND), unseen.
    pub async fn append(&self, user: &str, raw: &str) {
        let mut session = self.login(user).await;
        session
            .append("INBOX", None, None, raw.as_bytes())
            .await
            .expect("IMAP APPEND");
        let _ = session.logout().await;
    }

    /// Stops the SMTP server (aiosmtpd); `restart_smtp` brings it back.
    pub fn stop_smtp(&self) {
        let pid = std::fs::read_to_string(self.dir.join("run/smtpd.pid")).expect("smtpd pid");
        let _ = Command::new("kill").args(["-KILL", pid.trim()]).status();
        std::thread::sleep(Duration::from_millis(300));
    }

    pub fn restart_smtp(&self) {
        let command =
            std::fs::read_to_string(self.dir.join("run/smtpd.cmd")).expect("smtpd command");
        let child = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "setsid {command} </dev/null >>{}/log/smtpd.log 2>&1 & echo $!",
                self.dir.display()
            ))
            .output()
            .expect("start smtpd");
        let pid = String::from_utf8_lossy(&child.stdout).trim().to_string();
        std::fs::write(self.dir.join("run/smtpd.pid"), pid).expect("pid");
        // Listening again?
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.smtp_port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "smtpd did not come back"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn restart_imap(&self) {
        let _ = std::fs::remove_file(self.dir.join("run/dovecot/master.pid"));
        let status = Command::new("/usr/sbin/dovecot")
            .arg("-c")
            .arg(self.dir.join("etc/dovecot.conf"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect("start dovecot");
        assert!(status.success(), "dovecot restarts");
    }
}

impl Drop for MailServer {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(scripts().join("mail-down.sh"))
            .arg("--purge")
            .env("MAIL_DIR", &self.dir)
            .env("MAIL_DOWN_GRACE", "0")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// A header's value in a raw mail (first occurrence, unfolded).
pub fn header(raw: &str, name: &str) -> Option<String> {
    let parsed = mail_parser::MessageParser::default().parse(raw.as_bytes())?;
    parsed
        .header_raw(name)
        .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// The plain-text body of a raw mail.
pub fn body(raw: &str) -> String {
    mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .and_then(|m| m.body_text(0).map(|t| t.into_owned()))
        .unwrap_or_default()
}
