//! The PostgreSQL implementation of [`Store`], for a desk that runs
//! several instances on one database.
//!
//! Every call is one transaction, committed before it returns, so a write
//! is durable when its call returns and [`Store::sync`] has nothing left to
//! do (promise 1 holds with `synchronous_commit = on`, PostgreSQL's
//! default). Values are the same serde JSON the sled backend keeps, in
//! `jsonb` columns beside the keys the queries need (`schema_1.sql`, then
//! `schema_2.sql` for what instances share, `schema_3.sql` for erasure).
//! Changes to one conversation serialize on its row (`FOR UPDATE`); the
//! messages of one customer serialize on a transaction advisory lock, so
//! two first messages cannot open two conversations. The schema is
//! versioned and migrated at start under an advisory lock, so instances
//! starting together migrate once.

mod accounts;
mod channel_state;
mod conversations;
mod customers;
mod export;
mod notices;
mod outbox;
mod reports;

use super::{Cause, Leadership, StoreError};
use crate::model::Conversation;
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::path::PathBuf;
use tokio_postgres::types::Json;

/// The schema versions this build knows, in order; each is applied once.
const MIGRATIONS: &[(i32, &str)] = &[
    (1, include_str!("schema_1.sql")),
    (2, include_str!("schema_2.sql")),
    (3, include_str!("schema_3.sql")),
];

/// Migrations of all instances take turns on this advisory lock.
const MIGRATION_LOCK: i64 = 0x6672_6f6e_7464_6b01;

/// `[store]` when `backend = "postgres"`: where the database is and how to
/// talk to it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresConfig {
    /// `postgres://user:password@host:port/database`; use `${DATABASE_URL}`.
    pub url: String,
    /// Connections this instance keeps open.
    #[serde(default = "default_pool_size")]
    pub pool_size: usize,
    /// Require TLS, trusting these extra CA certificates (PEM), besides the
    /// system's roots.
    #[serde(default)]
    pub tls: bool,
    pub ca_file: Option<PathBuf>,
    /// Seconds one statement may run before the database cancels it.
    #[serde(default = "default_statement_timeout")]
    pub statement_timeout_secs: u64,
}

fn default_pool_size() -> usize {
    16
}
fn default_statement_timeout() -> u64 {
    10
}

/// The store on one PostgreSQL database; cheap to share (a pool).
pub struct PgStore {
    pool: Pool,
    /// This instance, as the owner of outbox leases and the origin of
    /// notices: new each time the store is opened.
    instance: uuid::Uuid,
    /// How to open a connection outside the pool (to listen for notices).
    connect: tokio_postgres::Config,
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
}

fn db(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Io(Box::new(e))
}

/// A stored JSON value, decoded.
fn decode<T: DeserializeOwned>(what: &str, value: serde_json::Value) -> Result<T, StoreError> {
    serde_json::from_value(value).map_err(|e| StoreError::Corrupt {
        what: what.to_string(),
        detail: e.to_string(),
    })
}

/// A value as the JSON stored for it.
fn encode<T: serde::Serialize>(value: &T) -> Result<Json<serde_json::Value>, StoreError> {
    serde_json::to_value(value)
        .map(Json)
        .map_err(|e| StoreError::Io(Box::new(e)))
}

/// Column `index` of `row` as a decoded JSON value.
fn column<T: DeserializeOwned>(
    row: &tokio_postgres::Row,
    index: usize,
    what: &str,
) -> Result<T, StoreError> {
    let Json(value): Json<serde_json::Value> = row.try_get(index).map_err(db)?;
    decode(what, value)
}

/// Writes `c` as it now is: its row, keyed columns recomputed.
async fn put_conversation(client: &impl GenericClient, c: &Conversation) -> Result<(), StoreError> {
    let status = conversations::status_name(c.status);
    let queue_key = super::keys::queue_of(c).map(|k| k.to_vec());
    client
        .execute(
            "INSERT INTO conversations (id, ticket, status, queue_key, data)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (id) DO UPDATE
             SET status = EXCLUDED.status, queue_key = EXCLUDED.queue_key, data = EXCLUDED.data",
            &[
                &c.id.0,
                &(c.ticket as i64),
                &status,
                &queue_key,
                &encode(c)?,
            ],
        )
        .await
        .map_err(db)?;
    Ok(())
}

/// The conversation `id`, locked for this transaction.
async fn conversation_for_update(
    client: &impl GenericClient,
    id: crate::model::ConversationId,
) -> Result<Option<Conversation>, StoreError> {
    match client
        .query_opt(
            "SELECT data FROM conversations WHERE id = $1 FOR UPDATE",
            &[&id.0],
        )
        .await
        .map_err(db)?
    {
        Some(row) => Ok(Some(column(&row, 0, "conversation")?)),
        None => Ok(None),
    }
}

/// Records a status or owner change for the reports.
async fn put_status_change(
    client: &impl GenericClient,
    change: &super::StatusChange,
) -> Result<(), StoreError> {
    client
        .execute(
            "INSERT INTO status_changes (at, data) VALUES ($1, $2)",
            &[&change.at, &encode(change)?],
        )
        .await
        .map_err(db)?;
    Ok(())
}

impl PgStore {
    /// Connects to the database in `config` and brings its schema up to
    /// this build's, refusing a schema newer than this build.
    pub async fn connect(config: &PostgresConfig) -> Result<Self, StoreError> {
        let store = Self::open(config)?;
        store.migrate().await?;
        Ok(store)
    }

    /// A pool on `config`'s database, without touching the schema.
    pub fn open(config: &PostgresConfig) -> Result<Self, StoreError> {
        let mut pg: tokio_postgres::Config = config.url.parse().map_err(|e| StoreError::Open {
            path: PathBuf::from(redacted(&config.url)),
            source: Box::new(e),
        })?;
        pg.options(format!(
            "-c statement_timeout={}",
            config.statement_timeout_secs.max(1) * 1000
        ));
        pg.application_name("frontdesk");
        pg.connect_timeout(std::time::Duration::from_secs(10));
        pg.keepalives(true);
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let tls = match config.tls {
            true => Some(tls_connector(config.ca_file.as_deref())?),
            false => None,
        };
        let manager = match &tls {
            Some(tls) => Manager::from_config(pg.clone(), tls.clone(), manager_config),
            None => Manager::from_config(pg.clone(), tokio_postgres::NoTls, manager_config),
        };
        let pool = Pool::builder(manager)
            .max_size(config.pool_size.max(1))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(std::time::Duration::from_secs(10)))
            .create_timeout(Some(std::time::Duration::from_secs(10)))
            .build()
            .map_err(|e| StoreError::Io(Box::new(e)))?;
        Ok(Self {
            pool,
            instance: uuid::Uuid::new_v4(),
            connect: pg,
            tls,
        })
    }

    /// A connection from the pool.
    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool
            .get()
            .await
            .map_err(|e| StoreError::Io(Box::new(e)))
    }

    /// Takes the job `name` on a connection of its own with a session
    /// advisory lock, if no other instance holds it. The lock lives as long
    /// as that connection: if this process dies, the server frees it (at
    /// once with `client_connection_check_interval` set) and another
    /// instance takes the job.
    pub async fn try_lead(&self, name: &str) -> Result<Option<Leadership>, StoreError> {
        let client = deadpool_postgres::Object::take(self.client().await?);
        let taken: bool = client
            .query_one(
                "SELECT pg_try_advisory_lock(hashtextextended($1, 7))",
                &[&format!("frontdesk-job:{name}")],
            )
            .await
            .map_err(db)?
            .get(0);
        Ok(taken.then(|| Leadership::new(Box::new(HeldLock { client }))))
    }

    /// The schema version the database is at (0 for an empty one).
    pub async fn schema_version(&self) -> Result<i32, StoreError> {
        let client = self.client().await?;
        let exists: bool = client
            .query_one(
                "SELECT to_regclass('frontdesk_migrations') IS NOT NULL",
                &[],
            )
            .await
            .map_err(db)?
            .get(0);
        if !exists {
            return Ok(0);
        }
        let row = client
            .query_one(
                "SELECT coalesce(max(version), 0) FROM frontdesk_migrations",
                &[],
            )
            .await
            .map_err(db)?;
        Ok(row.get(0))
    }

    /// Applies the migrations the database lacks, each in one transaction,
    /// under an advisory lock so instances starting together take turns.
    /// Returns the versions applied.
    pub async fn migrate(&self) -> Result<Vec<i32>, StoreError> {
        let mut client = self.client().await?;
        client
            .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(db)?;
        let result = self.migrate_locked(&mut client).await;
        let unlocked = client
            .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(db);
        let applied = result?;
        unlocked?;
        Ok(applied)
    }

    async fn migrate_locked(
        &self,
        client: &mut deadpool_postgres::Object,
    ) -> Result<Vec<i32>, StoreError> {
        client
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS frontdesk_migrations (
                     version    integer PRIMARY KEY,
                     applied_at timestamptz NOT NULL DEFAULT now()
                 )",
            )
            .await
            .map_err(db)?;
        let current: i32 = client
            .query_one(
                "SELECT coalesce(max(version), 0) FROM frontdesk_migrations",
                &[],
            )
            .await
            .map_err(db)?
            .get(0);
        let supported = MIGRATIONS.last().map_or(0, |m| m.0);
        if current > supported {
            return Err(StoreError::NewerSchema {
                found: current as u32,
                supported: supported as u32,
            });
        }
        let mut applied = Vec::new();
        for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
            let tx = client.transaction().await.map_err(db)?;
            tx.batch_execute(sql).await.map_err(db)?;
            tx.execute(
                "INSERT INTO frontdesk_migrations (version) VALUES ($1)",
                &[version],
            )
            .await
            .map_err(db)?;
            tx.commit().await.map_err(db)?;
            tracing::info!(version, "Migrated the database.");
            applied.push(*version);
        }
        Ok(applied)
    }
}

/// `url` without its password, for messages.
fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("…"));
            parsed.to_string()
        }
        _ => url.split('@').next_back().unwrap_or(url).to_string(),
    }
}

/// A job's advisory lock, held by its own connection.
struct HeldLock {
    client: deadpool_postgres::ClientWrapper,
}

#[async_trait::async_trait]
impl crate::store::KeepLeadership for HeldLock {
    async fn lost(&mut self) {
        // The lock is the connection's: it is lost when the connection is.
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            let alive = tokio::time::timeout(
                std::time::Duration::from_secs(5),
                self.client.simple_query("SELECT 1"),
            )
            .await;
            if !matches!(alive, Ok(Ok(_))) {
                return;
            }
        }
    }
}

/// TLS to the database with rustls (ring): the bundled web roots plus
/// `ca_file` (a private CA's PEM).
fn tls_connector(
    ca_file: Option<&std::path::Path>,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, StoreError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls;
    let unreadable = |path: &std::path::Path, e: Cause| StoreError::Open {
        path: path.to_path_buf(),
        source: e,
    };
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let certs =
            CertificateDer::pem_file_iter(path).map_err(|e| unreadable(path, Box::new(e)))?;
        for cert in certs {
            let cert = cert.map_err(|e| unreadable(path, Box::new(e)))?;
            roots.add(cert).map_err(|e| unreadable(path, Box::new(e)))?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| StoreError::Io(Box::new(e)))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}
