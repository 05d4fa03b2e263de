//! The `frontdesk` command line: check-config, intents test/try, and
//! export/import, run as the built binary the way an operator runs them.

use std::path::Path;
use std::process::{Command, Output};

fn frontdesk(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_frontdesk"))
        .args(args)
        .env("FRONTDESK_LISTEN", "127.0.0.1:9999")
        .env("COMPANY_NAME", "Test Company")
        .env("TELEGRAM_BOT_TOKEN", "123456:test")
        .env("SUPPORT_MAIL_PASSWORD", "test-password")
        .env("DATABASE_URL", "postgres://frontdesk@127.0.0.1/frontdesk")
        .env_remove("FRONTDESK_CONFIG")
        .output()
        .expect("run frontdesk")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn check_config_passes_on_every_file_in_config() {
    let mut checked = 0;
    for entry in std::fs::read_dir("config").expect("config folder") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            let out = frontdesk(&["check-config", "--config", path.to_str().expect("utf8")]);
            assert!(out.status.success(), "{}: {}", path.display(), text(&out));
            assert!(text(&out).contains("OK"), "{}", text(&out));
            checked += 1;
        }
    }
    assert!(checked >= 2, "found only {checked} config files");
    let embedded = frontdesk(&["check-config"]);
    assert!(embedded.status.success(), "{}", text(&embedded));
}

#[test]
fn check_config_rejects_a_retention_of_zero_days_and_an_unknown_log_format() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (section, key) in [
        (
            "[retention]\nresolved_days = 0\n",
            "retention.resolved_days",
        ),
        ("[log]\nformat = \"xml\"\n", "format"),
    ] {
        let file = dir.path().join("bad.toml");
        std::fs::write(
            &file,
            format!("[server]\nlisten = \"127.0.0.1:8080\"\n\n{section}"),
        )
        .expect("write");
        let out = frontdesk(&["check-config", "--config", file.to_str().expect("utf8")]);
        assert!(!out.status.success(), "{section}");
        assert!(text(&out).contains(key), "{section}: {}", text(&out));
    }
}

#[test]
fn check_config_rejects_an_unknown_key_naming_file_key_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("typo.toml");
    std::fs::write(
        &file,
        "[server]\nlisten = \"127.0.0.1:8080\"\n\n[channels.web]\nmax_mesage_bytes = 10\n",
    )
    .expect("write");
    let out = frontdesk(&["check-config", "--config", file.to_str().expect("utf8")]);
    assert!(!out.status.success());
    let msg = text(&out);
    assert!(msg.contains("typo.toml"), "{msg}");
    assert!(msg.contains("max_mesage_bytes"), "{msg}");
    assert!(msg.contains("line 5"), "{msg}");
}

#[test]
fn check_config_names_a_missing_environment_variable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("env.toml");
    std::fs::write(
        &file,
        "[server]\nlisten = \"${FRONTDESK_TEST_UNSET_VAR}\"\n",
    )
    .expect("write");
    let out = frontdesk(&["check-config", "--config", file.to_str().expect("utf8")]);
    assert!(!out.status.success());
    assert!(
        text(&out)
            .contains("env.toml:2: environment variable `FRONTDESK_TEST_UNSET_VAR` is not set"),
        "{}",
        text(&out)
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// A config using copies of the shipped intents and templates in `dir`.
fn config_with_rule_copies(dir: &Path) -> String {
    copy_dir(Path::new("intents"), &dir.join("intents"));
    copy_dir(Path::new("templates"), &dir.join("templates"));
    let file = dir.join("frontdesk.toml");
    std::fs::write(
        &file,
        format!(
            "[server]\n{}[intents]\ndir = \"{}\"\n[templates]\ndir = \"{}\"\n",
            crate::support::shipped_vars(),
            dir.join("intents").display(),
            dir.join("templates").display()
        ),
    )
    .expect("write");
    file.to_str().expect("utf8").to_string()
}

#[test]
fn check_config_rejects_an_invalid_regex_naming_file_intent_and_pattern() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config_with_rule_copies(dir.path());
    std::fs::write(
        dir.path().join("intents/broken.toml"),
        "name = \"broken\"\naction = \"handoff\"\n[patterns]\nen = ['\\bunclosed (group']\n",
    )
    .expect("write");
    let out = frontdesk(&["check-config", "--config", &config]);
    assert!(!out.status.success());
    let msg = text(&out);
    assert!(msg.contains("broken.toml"), "{msg}");
    assert!(msg.contains("intent `broken`"), "{msg}");
    assert!(msg.contains("unclosed (group"), "{msg}");
}

#[test]
fn check_config_rejects_a_template_with_an_undefined_variable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config_with_rule_copies(dir.path());
    std::fs::write(
        dir.path().join("templates/zh/greeting.txt"),
        "你好 {{ compnay }}",
    )
    .expect("write");
    let out = frontdesk(&["check-config", "--config", &config]);
    assert!(!out.status.success());
    let msg = text(&out);
    assert!(
        msg.contains("zh/greeting") && msg.contains("compnay"),
        "{msg}"
    );
}

#[test]
fn intents_test_passes_on_the_shipped_rules_and_fails_on_a_wrong_example() {
    let out = frontdesk(&["intents", "test"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(" 0 failed"), "{}", text(&out));

    let dir = tempfile::tempdir().expect("tempdir");
    let config = config_with_rule_copies(dir.path());
    let path = dir.path().join("intents/opening_hours.toml");
    let original = std::fs::read_to_string(&path).expect("read");
    std::fs::write(
        &path,
        original.replace("examples = [", "examples = [\"where is my order\", "),
    )
    .expect("write");
    let out = frontdesk(&["intents", "test", "--config", &config]);
    assert!(!out.status.success());
    let msg = text(&out);
    assert!(
        msg.contains("FAIL") && msg.contains("opening_hours") && msg.contains("where is my order"),
        "{msg}"
    );
    assert!(msg.contains(" 1 failed"), "{msg}");
}

#[test]
fn intents_try_shows_intent_patterns_and_reply() {
    let out = frontdesk(&["intents", "try", "我的订单到哪了"]);
    assert!(out.status.success(), "{}", text(&out));
    let msg = text(&out);
    assert!(msg.contains("intent:     track_order"), "{msg}");
    assert!(msg.contains("fired:"), "{msg}");
    assert!(msg.contains("locale:     zh"), "{msg}");
    assert!(msg.contains("查看订单进度"), "{msg}");

    let out = frontdesk(&["intents", "try", "my cat ate the invoice", "--lang", "zh"]);
    let msg = text(&out);
    assert!(msg.contains("intent:     none"), "{msg}");
    assert!(msg.contains("排在第"), "{msg}");
}

#[tokio::test]
async fn export_then_import_reproduces_the_store() {
    let mut gw = crate::support::TestGateway::start().await;
    let s = gw.session().await;
    gw.post(&s, "1", "Where is my order?").await;
    gw.post(&s, "2", "something only a person can answer").await;
    gw.wait_for_messages(&s, 4).await;
    gw.stop().await;

    let work = tempfile::tempdir().expect("tempdir");
    let first = work.path().join("first.jsonl");
    let second = work.path().join("second.jsonl");
    let copy = work.path().join("copy");
    let data = gw.data.path().to_str().expect("utf8").to_string();
    let out = frontdesk(&[
        "export",
        "--data",
        &data,
        "--out",
        first.to_str().expect("utf8"),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let out = frontdesk(&[
        "import",
        first.to_str().expect("utf8"),
        "--data",
        copy.to_str().expect("utf8"),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let out = frontdesk(&[
        "export",
        "--data",
        copy.to_str().expect("utf8"),
        "--out",
        second.to_str().expect("utf8"),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let a = std::fs::read_to_string(&first).expect("first");
    let b = std::fs::read_to_string(&second).expect("second");
    assert_eq!(a, b);
    assert!(
        a.lines()
            .filter(|l| l.contains("\"type\":\"message\""))
            .count()
            == 4,
        "{a}"
    );

    // Importing twice is refused rather than mixing data.
    let out = frontdesk(&[
        "import",
        first.to_str().expect("utf8"),
        "--data",
        copy.to_str().expect("utf8"),
    ]);
    assert!(!out.status.success());
    assert!(text(&out).contains("empty"), "{}", text(&out));

    // The imported copy serves the same conversation: a retried message is still a duplicate.
    let mut config = crate::support::test_config(&gw.data);
    config.server.data_dir = copy;
    let gateway = frontdesk::app::start(config)
        .await
        .expect("start on the copy");
    let r: serde_json::Value = reqwest::Client::new()
        .post(format!("http://{}/api/v1/chat/messages", gateway.addr))
        .json(&serde_json::json!({"session": s, "client_id": "1", "text": "Where is my order?"}))
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert_eq!(
        r["seq"], 1,
        "the imported dedupe index still knows client id 1"
    );
    gateway.stop().await;
}

#[test]
fn staffing_gives_the_agents_an_hour_needs_by_erlang_c() {
    // The textbook case: 10 erlangs, 80% within 20 s needs 14 agents.
    let out = frontdesk(&[
        "staffing",
        "--arrivals-per-hour",
        "200",
        "--handling-secs",
        "180",
        "--target-secs",
        "20",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).starts_with("14 agents answer 88.8%"),
        "{}",
        text(&out)
    );
    let bad = frontdesk(&[
        "staffing",
        "--arrivals-per-hour",
        "5",
        "--handling-secs",
        "0",
        "--target-secs",
        "20",
    ]);
    assert!(!bad.status.success());
    assert!(text(&bad).contains("handling time"), "{}", text(&bad));
}
