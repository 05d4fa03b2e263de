//! `frontdesk agent …` while the gateway holds the sled folder: the command
//! goes through the gateway's control socket, and what it changes is live
//! at once; bad requests on the socket change nothing.

use super::{frontdesk, text};
use crate::support::TestGateway;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;

#[tokio::test]
async fn agents_are_managed_while_the_gateway_runs() {
    let gw = TestGateway::start().await;
    let data = gw.data.path().to_path_buf();
    let run = |args: &'static [&'static str], stdin: &'static str| {
        let data = data.clone();
        tokio::task::spawn_blocking(move || frontdesk(&data, args, stdin))
    };

    let added = run(&["agent", "add", "ann"], "first-password\n")
        .await
        .expect("join");
    assert!(added.status.success(), "{}", text(&added));
    assert!(text(&added).contains("added agent ann"), "{}", text(&added));
    let old = gw.login("ann", "first-password").await;

    let again = run(&["agent", "add", "ann"], "other-password\n")
        .await
        .expect("join");
    assert!(!again.status.success());
    assert!(
        text(&again).contains("an agent named ann exists"),
        "{}",
        text(&again)
    );

    let weak = run(&["agent", "add", "bob"], "short\n")
        .await
        .expect("join");
    assert!(!weak.status.success());
    assert!(
        text(&weak).contains("at least 8 characters"),
        "{}",
        text(&weak)
    );

    // A new password ends the sessions signed in with the old one.
    let changed = run(&["agent", "passwd", "ann"], "second-password\n")
        .await
        .expect("join");
    assert!(changed.status.success(), "{}", text(&changed));
    let (status, _) = gw.agent_call(&old, reqwest::Method::GET, "/me", None).await;
    assert_eq!(status, 401, "a session from before the change");
    let refused = gw
        .http
        .post(gw.url("/api/v1/agent/login"))
        .json(&serde_json::json!({"username": "ann", "password": "first-password"}))
        .send()
        .await
        .expect("login");
    assert_eq!(refused.status(), 401);
    let new = gw.login("ann", "second-password").await;
    let (status, me) = gw.agent_call(&new, reqwest::Method::GET, "/me", None).await;
    assert_eq!(status, 200);
    assert_eq!(me["username"], "ann");

    let listed = run(&["agent", "list"], "").await.expect("join");
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout),
        "ann\tagent\tactive\n"
    );

    let disabled = run(&["agent", "disable", "ann"], "").await.expect("join");
    assert!(disabled.status.success(), "{}", text(&disabled));
    let (status, _) = gw.agent_call(&new, reqwest::Method::GET, "/me", None).await;
    assert_eq!(status, 401, "a disabled agent's session");

    let missing = run(&["agent", "passwd", "nobody"], "some-password\n")
        .await
        .expect("join");
    assert!(!missing.status.success());
    assert!(
        text(&missing).contains("no agent named nobody"),
        "{}",
        text(&missing)
    );
}

#[tokio::test]
async fn the_control_socket_is_private_and_refuses_what_it_cannot_read() {
    let gw = TestGateway::start().await;
    let socket = frontdesk::control::socket_path(gw.data.path());
    let dir = socket.parent().expect("socket folder");
    let mode = std::fs::metadata(dir)
        .expect("socket folder")
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o777,
        0o700,
        "only the owner may enter {}",
        dir.display()
    );

    let ask = |request: &[u8]| {
        let socket = socket.clone();
        let request = request.to_vec();
        tokio::task::spawn_blocking(move || {
            let mut stream = UnixStream::connect(&socket).expect("connect");
            stream.write_all(&request).expect("send");
            stream
                .shutdown(std::net::Shutdown::Write)
                .expect("half-close");
            BufReader::new(stream)
                .lines()
                .map(|l| l.expect("line"))
                .collect::<Vec<_>>()
        })
    };
    for bad in [
        &b"not json\n"[..],
        b"{\"command\":\"drop_everything\"}\n",
        b"{\"command\":\"agent_add\",\"name\":\"eve\"}\n",
        b"{\"command\":\"agent_list\"}",
        &[b'{'; 70_000][..],
    ] {
        let answer = ask(bad).await.expect("join");
        assert_eq!(answer.len(), 1, "{answer:?}");
        assert!(answer[0].starts_with('!'), "{answer:?}");
    }
    assert!(gw.store().agents().await.expect("agents").is_empty());

    let answer = ask(b"{\"command\":\"agent_list\"}\n").await.expect("join");
    assert_eq!(answer, vec!["=".to_string()], "no agents, and done");
}

#[tokio::test]
async fn a_folder_held_without_a_control_socket_is_explained() {
    let data = tempfile::tempdir().expect("tempdir");
    // Held by this process's store, with no gateway serving commands.
    let _store = frontdesk::store::sled::SledStore::open(data.path()).expect("open");
    let path = data.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || frontdesk(&path, &["agent", "list"], ""))
        .await
        .expect("join");
    assert!(!out.status.success());
    assert!(
        text(&out).contains("is in use by another process"),
        "{}",
        text(&out)
    );
}

#[tokio::test]
async fn the_first_admin_comes_from_the_environment_once() {
    let data = tempfile::tempdir().expect("tempdir");
    let http = reqwest::Client::new();
    let login = async |base: &str, password: &str| {
        http.post(format!("{base}/api/v1/agent/login"))
            .json(&serde_json::json!({"username": "boss", "password": password}))
            .send()
            .await
            .expect("login")
            .status()
            .as_u16()
    };
    let env = [
        ("FRONTDESK_ADMIN_USER", "boss"),
        ("FRONTDESK_ADMIN_PASSWORD", "first-boot-password"),
    ];
    let gateway = crate::crash::Process::start_with_env(data.path(), None, &env);
    assert_eq!(login(&gateway.base, "first-boot-password").await, 200);
    let logs = gateway.logs.lock().expect("logs").join("\n");
    assert!(logs.contains("Created the first admin"), "{logs}");
    assert!(
        !logs.contains("first-boot-password"),
        "the password is never logged"
    );
    gateway.kill();

    // Once an agent exists, the variables change nothing.
    let env = [
        ("FRONTDESK_ADMIN_USER", "boss"),
        ("FRONTDESK_ADMIN_PASSWORD", "another-password"),
    ];
    let gateway = crate::crash::Process::start_with_env(data.path(), None, &env);
    assert_eq!(login(&gateway.base, "another-password").await, 401);
    assert_eq!(login(&gateway.base, "first-boot-password").await, 200);
}
