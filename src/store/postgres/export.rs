//! The store as a whole on PostgreSQL: durability (every call has
//! committed when it returns), health, and export / import as records, in
//! the same order and format as the sled backend, so a desk moves between
//! them with `frontdesk export` and `frontdesk import`.

use super::outbox::import_entry;
use super::{PgStore, column, db, encode, put_conversation, put_status_change};
use crate::model::ConversationId;
use crate::store::{ExportRecord, Leadership, PendingTurn, SCHEMA_VERSION, Store, StoreError};
use deadpool_postgres::GenericClient;

type Sink<'a> = &'a mut (dyn FnMut(ExportRecord) -> Result<(), StoreError> + Send);

impl PgStore {
    /// The ticket number the next new conversation gets.
    async fn next_ticket(&self) -> Result<u64, StoreError> {
        next_ticket_in(&self.client().await?).await
    }
}

/// The ticket number the next new conversation gets, as `client` sees it.
async fn next_ticket_in(client: &impl GenericClient) -> Result<u64, StoreError> {
    let row = client
        .query_one("SELECT last_value, is_called FROM tickets", &[])
        .await
        .map_err(db)?;
    let (last, called): (i64, bool) = (row.get(0), row.get(1));
    Ok(if called { last + 1 } else { last } as u64)
}

/// Sends every row of `sql` (one JSON column) to `sink` as `record`.
async fn export_rows<T: serde::de::DeserializeOwned>(
    client: &impl GenericClient,
    sql: &str,
    what: &str,
    record: fn(T) -> ExportRecord,
    sink: Sink<'_>,
) -> Result<(), StoreError> {
    for row in client.query(sql, &[]).await.map_err(db)? {
        sink(record(column(&row, 0, what)?))?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn lead(&self, name: &str) -> Result<Option<Leadership>, StoreError> {
        self.try_lead(name).await
    }

    async fn sync(&self) -> Result<(), StoreError> {
        // Every write committed before its call returned.
        Ok(())
    }

    fn failure(&self) -> Option<String> {
        // A lost database is not final: the pool reconnects, and each call
        // reports its own error meanwhile.
        None
    }

    async fn export(&self, sink: Sink<'_>) -> Result<(), StoreError> {
        // One snapshot: every record as of one moment, while the other
        // instances go on writing.
        let mut client = self.client().await?;
        let snapshot = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(db)?;
        let client = &snapshot;
        sink(ExportRecord::Schema {
            version: SCHEMA_VERSION,
            next_ticket: next_ticket_in(client).await?,
        })?;
        export_rows(
            client,
            "SELECT data FROM web_sessions ORDER BY token",
            "web session",
            ExportRecord::WebSession,
            sink,
        )
        .await?;
        export_rows(
            client,
            "SELECT data FROM agents ORDER BY username",
            "agent",
            ExportRecord::Agent,
            sink,
        )
        .await?;
        export_rows(
            client,
            "SELECT data FROM canned ORDER BY name",
            "canned response",
            ExportRecord::Canned,
            sink,
        )
        .await?;
        export_rows(
            client,
            "SELECT data FROM conversations ORDER BY id",
            "conversation",
            ExportRecord::Conversation,
            sink,
        )
        .await?;
        export_rows(
            client,
            "SELECT data FROM messages ORDER BY conversation_id, seq",
            "message",
            ExportRecord::Message,
            sink,
        )
        .await?;
        for row in client
            .query(
                "SELECT channel, external_id, conversation_id, seq FROM seen_ids
                 ORDER BY channel COLLATE \"C\", external_id COLLATE \"C\"",
                &[],
            )
            .await
            .map_err(db)?
        {
            let channel: String = row.get(0);
            sink(ExportRecord::SeenExternalId {
                channel: serde_json::from_value(serde_json::Value::String(channel.clone()))
                    .map_err(|_| StoreError::Corrupt {
                        what: "seen external id".into(),
                        detail: format!("unknown channel {channel:?}"),
                    })?,
                external_id: row.get(1),
                conversation_id: ConversationId(row.get(2)),
                seq: row.get::<_, i64>(3) as u64,
            })?;
        }
        for row in client
            .query(
                "SELECT conversation_id, seq FROM pending_turns ORDER BY conversation_id, seq",
                &[],
            )
            .await
            .map_err(db)?
        {
            sink(ExportRecord::PendingTurn(PendingTurn {
                conversation_id: ConversationId(row.get(0)),
                seq: row.get::<_, i64>(1) as u64,
            }))?;
        }
        export_rows(
            client,
            "SELECT data FROM outbox ORDER BY due_key",
            "outbox entry",
            ExportRecord::Outbox,
            sink,
        )
        .await?;
        export_rows(
            client,
            "SELECT data FROM pickups ORDER BY at, id",
            "pickup",
            ExportRecord::Pickup,
            sink,
        )
        .await?;
        export_rows(
            client,
            "SELECT data FROM status_changes ORDER BY at, id",
            "status change",
            ExportRecord::StatusChange,
            sink,
        )
        .await?;
        export_rows(
            client,
            "SELECT data FROM audit ORDER BY at, id",
            "audit entry",
            ExportRecord::Audit,
            sink,
        )
        .await?;
        for row in client
            .query("SELECT hash, bytes FROM blobs ORDER BY hash", &[])
            .await
            .map_err(db)?
        {
            let bytes: Vec<u8> = row.get(1);
            sink(ExportRecord::Blob {
                hash: row.get(0),
                base64: data_encoding::BASE64.encode(&bytes),
            })?;
        }
        snapshot.commit().await.map_err(db)
    }

    async fn import(&self, record: ExportRecord) -> Result<(), StoreError> {
        let client = self.client().await?;
        let client = &client;
        match record {
            ExportRecord::Schema {
                version,
                next_ticket,
            } => {
                if version > SCHEMA_VERSION {
                    return Err(StoreError::NewerSchema {
                        found: version,
                        supported: SCHEMA_VERSION,
                    });
                }
                let next = next_ticket.max(self.next_ticket().await?);
                client
                    .execute("SELECT setval('tickets', $1, false)", &[&(next as i64)])
                    .await
                    .map_err(db)?;
            }
            ExportRecord::Conversation(c) => {
                put_conversation(client, &c).await?;
                // A customer's current conversation is their newest.
                client
                    .execute(
                        "INSERT INTO customers (customer_key, conversation_id) VALUES ($1, $2)
                         ON CONFLICT (customer_key) DO UPDATE
                         SET conversation_id = EXCLUDED.conversation_id
                         WHERE customers.conversation_id < EXCLUDED.conversation_id",
                        &[&c.customer.key(), &c.id.0],
                    )
                    .await
                    .map_err(db)?;
            }
            ExportRecord::Message(m) => {
                client
                    .execute(
                        "INSERT INTO messages (conversation_id, seq, data) VALUES ($1, $2, $3)
                         ON CONFLICT (conversation_id, seq) DO UPDATE SET data = EXCLUDED.data",
                        &[&m.conversation_id.0, &(m.seq as i64), &encode(&m)?],
                    )
                    .await
                    .map_err(db)?;
            }
            ExportRecord::SeenExternalId {
                channel,
                external_id,
                conversation_id,
                seq,
            } => {
                client
                    .execute(
                        "INSERT INTO seen_ids (channel, external_id, conversation_id, seq)
                         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                        &[
                            &channel.as_str(),
                            &external_id,
                            &conversation_id.0,
                            &(seq as i64),
                        ],
                    )
                    .await
                    .map_err(db)?;
            }
            ExportRecord::PendingTurn(PendingTurn {
                conversation_id,
                seq,
            }) => {
                client
                    .execute(
                        "INSERT INTO pending_turns (conversation_id, seq) VALUES ($1, $2)
                         ON CONFLICT DO NOTHING",
                        &[&conversation_id.0, &(seq as i64)],
                    )
                    .await
                    .map_err(db)?;
            }
            ExportRecord::Outbox(e) => import_entry(client, &e).await?,
            ExportRecord::WebSession(s) => {
                crate::store::ChannelStateStore::create_web_session(self, &s).await?
            }
            ExportRecord::Agent(a) => crate::store::AccountStore::put_agent(self, &a).await?,
            ExportRecord::Canned(c) => crate::store::AccountStore::put_canned(self, &c).await?,
            ExportRecord::Pickup(p) => {
                client
                    .execute(
                        "INSERT INTO pickups (at, data) VALUES ($1, $2)",
                        &[&p.at, &encode(&p)?],
                    )
                    .await
                    .map_err(db)?;
            }
            ExportRecord::StatusChange(change) => put_status_change(client, &change).await?,
            ExportRecord::Audit(entry) => {
                client
                    .execute(
                        "INSERT INTO audit (at, data) VALUES ($1, $2)",
                        &[&entry.at, &encode(&entry)?],
                    )
                    .await
                    .map_err(db)?;
            }
            ExportRecord::Blob { hash, base64 } => {
                let bytes = data_encoding::BASE64
                    .decode(base64.as_bytes())
                    .map_err(|e| StoreError::Corrupt {
                        what: format!("blob {hash}"),
                        detail: e.to_string(),
                    })?;
                client
                    .execute(
                        "INSERT INTO blobs (hash, bytes) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                        &[&hash, &bytes],
                    )
                    .await
                    .map_err(db)?;
            }
        }
        Ok(())
    }
}
