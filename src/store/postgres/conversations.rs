//! Conversations and transcripts on PostgreSQL: intake, turns and changes
//! as transactions that lock the conversation's row (and, at intake, the
//! customer), the waiting queue by its key column.

use super::{
    PgStore, column, conversation_for_update, db, encode, put_conversation, put_status_change,
};
use crate::model::{
    Conversation, ConversationId, ConversationStatus, CustomerAddress, Delivery, InboundMessage,
    Message, MessageId, Thread,
};
use crate::store::{
    Accepted, Change, ConversationStore, Decision, IntakeFacts, IntakeRule, NewConversation,
    PendingTurn, StatusChange, StoreError, TurnOutcome, TurnRecorded, TurnRule, UpdateError,
    Updated, keys,
};
use chrono::Utc;
use deadpool_postgres::GenericClient;

/// The message `seq` of conversation `id`.
async fn message_at(
    client: &impl GenericClient,
    id: ConversationId,
    seq: u64,
) -> Result<Option<Message>, StoreError> {
    match client
        .query_opt(
            "SELECT data FROM messages WHERE conversation_id = $1 AND seq = $2",
            &[&id.0, &(seq as i64)],
        )
        .await
        .map_err(db)?
    {
        Some(row) => Ok(Some(column(&row, 0, "message")?)),
        None => Ok(None),
    }
}

/// Where the inbound channel id `external_id` was stored, if it was.
pub(super) async fn seen(
    client: &impl GenericClient,
    channel: &str,
    external_id: &str,
) -> Result<Option<(ConversationId, u64)>, StoreError> {
    Ok(client
        .query_opt(
            "SELECT conversation_id, seq FROM seen_ids WHERE channel = $1 AND external_id = $2",
            &[&channel, &external_id],
        )
        .await
        .map_err(db)?
        .map(|row| (ConversationId(row.get(0)), row.get::<_, i64>(1) as u64)))
}

pub(super) async fn put_message(
    client: &impl GenericClient,
    m: &Message,
) -> Result<(), StoreError> {
    client
        .execute(
            "INSERT INTO messages (conversation_id, seq, data) VALUES ($1, $2, $3)
             ON CONFLICT (conversation_id, seq) DO UPDATE SET data = EXCLUDED.data",
            &[&m.conversation_id.0, &(m.seq as i64), &encode(m)?],
        )
        .await
        .map_err(db)?;
    Ok(())
}

pub(super) async fn put_outbox(
    client: &impl GenericClient,
    entry: &crate::model::OutboxEntry,
) -> Result<(), StoreError> {
    client
        .execute(
            "INSERT INTO outbox (id, conversation_id, due_key, due_at, data)
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &entry.id.0,
                &entry.conversation_id.0,
                &keys::outbox(entry).to_vec(),
                &entry.due_at,
                &encode(entry)?,
            ],
        )
        .await
        .map_err(db)?;
    Ok(())
}

impl PgStore {
    /// The earlier copy of a message seen before.
    async fn duplicate(
        &self,
        client: &impl GenericClient,
        id: ConversationId,
        seq: u64,
    ) -> Result<Accepted, StoreError> {
        let conversation = self
            .read_conversation(client, id)
            .await?
            .ok_or(StoreError::ConversationNotFound(id))?;
        let message = message_at(client, id, seq)
            .await?
            .ok_or_else(|| StoreError::Corrupt {
                what: "transcript".into(),
                detail: format!("message {seq} of conversation {id} is missing"),
            })?;
        Ok(Accepted {
            conversation,
            message,
            duplicate: true,
        })
    }

    async fn read_conversation(
        &self,
        client: &impl GenericClient,
        id: ConversationId,
    ) -> Result<Option<Conversation>, StoreError> {
        match client
            .query_opt("SELECT data FROM conversations WHERE id = $1", &[&id.0])
            .await
            .map_err(db)?
        {
            Some(row) => Ok(Some(column(&row, 0, "conversation")?)),
            None => Ok(None),
        }
    }
}

#[async_trait::async_trait]
impl ConversationStore for PgStore {
    async fn accept(
        &self,
        inbound: &InboundMessage,
        new: &NewConversation,
        rule: IntakeRule<'_>,
    ) -> Result<Accepted, StoreError> {
        let channel = inbound.customer.channel().as_str();
        let customer_key = inbound.customer.key();
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        // One customer's messages take turns: two first messages must not
        // open two conversations.
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            &[&customer_key],
        )
        .await
        .map_err(db)?;
        if let Some((id, seq)) = seen(&tx, channel, &inbound.external_id).await? {
            return self.duplicate(&tx, id, seq).await;
        }
        let existing = match inbound.thread {
            Thread::New => None,
            Thread::Conversation(id) => conversation_for_update(&tx, id).await?,
            Thread::Current => {
                let current = tx
                    .query_opt(
                        "SELECT conversation_id FROM customers WHERE customer_key = $1",
                        &[&customer_key],
                    )
                    .await
                    .map_err(db)?;
                match current {
                    Some(row) => conversation_for_update(&tx, ConversationId(row.get(0))).await?,
                    None => None,
                }
            }
        };
        let last_message = match &existing {
            Some(c) => message_at(&tx, c.id, c.last_seq).await?,
            None => None,
        };
        let opened = match &existing {
            Some(_) => None,
            None => {
                let ticket: i64 = tx
                    .query_one("SELECT nextval('tickets')", &[])
                    .await
                    .map_err(db)?
                    .get(0);
                Some((ConversationId::new(), ticket as u64))
            }
        };
        let facts = IntakeFacts {
            existing: existing.as_ref(),
            last_message: last_message.as_ref(),
            opened,
        };
        let (conversation, message) = rule(inbound, new, facts, MessageId::new());
        let taken = tx
            .execute(
                "INSERT INTO seen_ids (channel, external_id, conversation_id, seq)
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                &[
                    &channel,
                    &inbound.external_id,
                    &conversation.id.0,
                    &(message.seq as i64),
                ],
            )
            .await
            .map_err(db)?;
        if taken == 0 {
            // Another customer's copy of the same channel id got in first.
            tx.rollback().await.map_err(db)?;
            let client = self.client().await?;
            let (id, seq) = seen(&client, channel, &inbound.external_id)
                .await?
                .ok_or_else(|| StoreError::Corrupt {
                    what: "seen external id".into(),
                    detail: format!("{channel} id {} vanished", inbound.external_id),
                })?;
            return self.duplicate(&client, id, seq).await;
        }
        put_message(&tx, &message).await?;
        tx.execute(
            "INSERT INTO pending_turns (conversation_id, seq) VALUES ($1, $2)",
            &[&conversation.id.0, &(message.seq as i64)],
        )
        .await
        .map_err(db)?;
        put_conversation(&tx, &conversation).await?;
        if opened.is_some() {
            tx.execute(
                "INSERT INTO customers (customer_key, conversation_id) VALUES ($1, $2)
                 ON CONFLICT (customer_key) DO UPDATE SET conversation_id = EXCLUDED.conversation_id",
                &[&customer_key, &conversation.id.0],
            )
            .await
            .map_err(db)?;
        }
        if let Some(change) = existing
            .as_ref()
            .and_then(|before| StatusChange::between(before, &conversation, inbound.received_at))
        {
            put_status_change(&tx, &change).await?;
        }
        tx.commit().await.map_err(db)?;
        Ok(Accepted {
            conversation,
            message,
            duplicate: false,
        })
    }

    async fn conversation(&self, id: ConversationId) -> Result<Option<Conversation>, StoreError> {
        let client = self.client().await?;
        self.read_conversation(&client, id).await
    }

    async fn conversation_count(&self) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let n: i64 = client
            .query_one("SELECT count(*) FROM conversations", &[])
            .await
            .map_err(db)?
            .get(0);
        Ok(n as u64)
    }

    async fn conversation_of(
        &self,
        customer: &CustomerAddress,
    ) -> Result<Option<Conversation>, StoreError> {
        let client = self.client().await?;
        match client
            .query_opt(
                "SELECT c.data FROM customers k JOIN conversations c ON c.id = k.conversation_id
                 WHERE k.customer_key = $1",
                &[&customer.key()],
            )
            .await
            .map_err(db)?
        {
            Some(row) => Ok(Some(column(&row, 0, "conversation")?)),
            None => Ok(None),
        }
    }

    async fn conversation_by_ticket(
        &self,
        ticket: u64,
    ) -> Result<Option<Conversation>, StoreError> {
        let client = self.client().await?;
        match client
            .query_opt(
                "SELECT data FROM conversations WHERE ticket = $1",
                &[&(ticket as i64)],
            )
            .await
            .map_err(db)?
        {
            Some(row) => Ok(Some(column(&row, 0, "conversation")?)),
            None => Ok(None),
        }
    }

    async fn messages_after(
        &self,
        id: ConversationId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Message>, StoreError> {
        let client = self.client().await?;
        client
            .query(
                "SELECT data FROM messages WHERE conversation_id = $1 AND seq > $2
                 ORDER BY seq LIMIT $3",
                &[&id.0, &(after.min(i64::MAX as u64) as i64), &(limit as i64)],
            )
            .await
            .map_err(db)?
            .iter()
            .map(|row| column(row, 0, "message"))
            .collect()
    }

    async fn message(&self, id: ConversationId, seq: u64) -> Result<Option<Message>, StoreError> {
        let client = self.client().await?;
        message_at(&client, id, seq).await
    }

    async fn pending_turns(&self) -> Result<Vec<PendingTurn>, StoreError> {
        let client = self.client().await?;
        Ok(client
            .query(
                "SELECT conversation_id, seq FROM pending_turns ORDER BY conversation_id, seq",
                &[],
            )
            .await
            .map_err(db)?
            .iter()
            .map(|row| PendingTurn {
                conversation_id: ConversationId(row.get(0)),
                seq: row.get::<_, i64>(1) as u64,
            })
            .collect())
    }

    async fn record_turn(
        &self,
        outcome: &TurnOutcome,
        rule: TurnRule<'_>,
    ) -> Result<TurnRecorded, StoreError> {
        let id = outcome.turn.conversation_id;
        let now = Utc::now();
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let old = conversation_for_update(&tx, id)
            .await?
            .ok_or(StoreError::ConversationNotFound(id))?;
        // A turn is recorded once: one redone elsewhere (a replay, a sweep
        // of stale turns, another instance) finds its mark gone.
        let was_pending = tx
            .execute(
                "DELETE FROM pending_turns WHERE conversation_id = $1 AND seq = $2",
                &[&id.0, &(outcome.turn.seq as i64)],
            )
            .await
            .map_err(db)?
            > 0;
        let decided = was_pending.then(|| rule(&old, outcome, now)).flatten();
        let Some(Decision { mut after, effects }) = decided else {
            tx.commit().await.map_err(db)?;
            return Ok(TurnRecorded {
                conversation: old,
                replies_queued: false,
            });
        };
        after.updated_at = now;
        for entry in &effects.outbox {
            put_outbox(&tx, entry).await?;
        }
        put_conversation(&tx, &after).await?;
        if let Some(change) = StatusChange::between(&old, &after, now) {
            put_status_change(&tx, &change).await?;
        }
        tx.commit().await.map_err(db)?;
        Ok(TurnRecorded {
            conversation: after,
            replies_queued: true,
        })
    }

    async fn waiting_queue(&self, limit: usize) -> Result<Vec<ConversationId>, StoreError> {
        let client = self.client().await?;
        Ok(client
            .query(
                "SELECT id FROM conversations WHERE queue_key IS NOT NULL
                 ORDER BY queue_key LIMIT $1",
                &[&(limit as i64)],
            )
            .await
            .map_err(db)?
            .iter()
            .map(|row| ConversationId(row.get(0)))
            .collect())
    }

    async fn queue_position(&self, conversation: &Conversation) -> Result<u64, StoreError> {
        let key = keys::queue_of(conversation).unwrap_or_else(|| {
            keys::queue(
                conversation.priority,
                Utc::now().timestamp_millis(),
                conversation.id,
            )
        });
        let client = self.client().await?;
        let ahead: i64 = client
            .query_one(
                "SELECT count(*) FROM conversations
                 WHERE queue_key IS NOT NULL AND queue_key < $1
                   AND (data->>'team') IS NOT DISTINCT FROM $2",
                &[&key.to_vec(), &conversation.team],
            )
            .await
            .map_err(db)?
            .get(0);
        Ok(ahead as u64 + 1)
    }

    async fn count_with_status(&self, status: ConversationStatus) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let n: i64 = client
            .query_one(
                "SELECT count(*) FROM conversations WHERE status = $1",
                &[&status_name(status)],
            )
            .await
            .map_err(db)?
            .get(0);
        Ok(n as u64)
    }

    async fn conversations_with_status(
        &self,
        status: ConversationStatus,
        limit: usize,
    ) -> Result<Vec<Conversation>, StoreError> {
        let client = self.client().await?;
        let sql = if status == ConversationStatus::Waiting {
            "SELECT data FROM conversations WHERE status = $1 ORDER BY queue_key LIMIT $2"
        } else {
            "SELECT data FROM conversations WHERE status = $1 ORDER BY id DESC LIMIT $2"
        };
        client
            .query(sql, &[&status_name(status), &(limit as i64)])
            .await
            .map_err(db)?
            .iter()
            .map(|row| column(row, 0, "conversation"))
            .collect()
    }

    async fn update_conversation(
        &self,
        id: ConversationId,
        change: Change<'_>,
    ) -> Result<Updated, UpdateError> {
        let now = Utc::now();
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let before = conversation_for_update(&tx, id)
            .await?
            .ok_or(StoreError::ConversationNotFound(id))?;
        let Decision { mut after, effects } = change(&before)?;
        for entry in &effects.outbox {
            put_outbox(&tx, entry).await?;
        }
        let note = match &effects.note {
            Some((agent, text)) => {
                after.last_seq += 1;
                let note = Message::note(MessageId::new(), id, after.last_seq, agent, text, now);
                put_message(&tx, &note).await?;
                Some(note)
            }
            None => None,
        };
        after.updated_at = now;
        put_conversation(&tx, &after).await?;
        if let Some(change) = StatusChange::between(&before, &after, now) {
            put_status_change(&tx, &change).await?;
        }
        if let Some(pickup) = &effects.pickup {
            tx.execute(
                "INSERT INTO pickups (at, data) VALUES ($1, $2)",
                &[&pickup.at, &encode(pickup)?],
            )
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(Updated {
            before,
            after,
            note,
        })
    }

    async fn mark_bounced(
        &self,
        conversation: ConversationId,
        message: MessageId,
        error: &str,
    ) -> Result<Option<(Conversation, Message)>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let Some(mut c) = conversation_for_update(&tx, conversation).await? else {
            return Ok(None);
        };
        let found = tx
            .query_opt(
                "SELECT data FROM messages WHERE conversation_id = $1
                 AND data->>'id' = $2 AND data ? 'reason'
                 ORDER BY seq DESC LIMIT 1",
                &[&conversation.0, &message.0.to_string()],
            )
            .await
            .map_err(db)?;
        let Some(row) = found else {
            return Ok(None);
        };
        let mut bounced: Message = column(&row, 0, "message")?;
        bounced.delivery = Some(Delivery::Failed {
            error: error.to_string(),
        });
        put_message(&tx, &bounced).await?;
        c.undelivered = true;
        put_conversation(&tx, &c).await?;
        tx.commit().await.map_err(db)?;
        Ok(Some((c, bounced)))
    }
}

/// The status as stored in the `status` column (its serde name).
pub(super) fn status_name(status: ConversationStatus) -> String {
    serde_json::to_value(status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}
