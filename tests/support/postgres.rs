//! A real PostgreSQL server for the tests, and a fresh database on it for
//! each test that asks.
//!
//! `tests/run.sh` starts one server for the whole run and exports
//! `DATABASE_URL`; without it, the first test that needs a database starts
//! one with `tests/servers/postgres/pg-up.sh` (PostgreSQL must be installed;
//! it is left running in a temporary folder when the tests end).

use frontdesk::store::postgres::PostgresConfig;
use std::sync::OnceLock;

/// A new server from `tests/servers/postgres/pg-up.sh`: (its folder, its
/// admin URL).
pub fn start_server() -> (String, String) {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/servers/postgres/pg-up.sh"
    );
    let out = std::process::Command::new("sh")
        .arg(script)
        .output()
        .expect("run pg-up.sh");
    assert!(
        out.status.success(),
        "cannot start PostgreSQL for the tests: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let exports = String::from_utf8_lossy(&out.stdout);
    let value = |name: &str| {
        exports
            .split_whitespace()
            .find_map(|word| word.strip_prefix(name)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("pg-up.sh prints {name}"))
            .to_string()
    };
    (value("PG_DIR"), value("DATABASE_URL"))
}

/// The shared server's admin URL (its `postgres` database).
pub fn server_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| match std::env::var("DATABASE_URL") {
        Ok(url) => url,
        Err(_) => start_server().1,
    })
}

/// A new, empty database on the shared test server, and the config to
/// reach it.
pub async fn fresh_database() -> PostgresConfig {
    let admin = server_url();
    let (client, connection) = tokio_postgres::connect(admin, tokio_postgres::NoTls)
        .await
        .expect("connect to the test PostgreSQL server");
    let driver = tokio::spawn(connection);
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    client
        .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE template0"))
        .await
        .expect("create a test database");
    drop(client);
    let _ = driver.await;
    let (base, _) = admin.rsplit_once('/').expect("a database URL");
    PostgresConfig {
        url: format!("{base}/{name}"),
        pool_size: 8,
        tls: false,
        ca_file: None,
        statement_timeout_secs: 10,
    }
}
