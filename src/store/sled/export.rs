//! The store as a whole on sled: durability (the group commit), the
//! failure flag, and export / import as records.

use super::*;
use crate::store::Leadership;

#[async_trait::async_trait]
impl Store for SledStore {
    fn backend(&self) -> &'static str {
        "sled"
    }

    async fn lead(&self, _name: &str) -> Result<Option<Leadership>, StoreError> {
        // One process holds the sled folder: it leads every job.
        Ok(Some(Leadership::sole()))
    }

    async fn sync(&self) -> Result<(), StoreError> {
        self.commit.sync().await
    }

    fn compaction_due(&self) -> bool {
        super::compact::due(&self.dir)
    }

    fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    async fn export(
        &self,
        sink: &mut (dyn FnMut(ExportRecord) -> Result<(), StoreError> + Send),
    ) -> Result<(), StoreError> {
        // A snapshot: no step applies while the records are read, so each
        // conversation comes with all its messages, turns and deliveries.
        // Writes wait meanwhile (BENCHMARKS.md measures how long).
        let _writer = self.lock_writer();
        sink(ExportRecord::Schema {
            version: SCHEMA_VERSION,
            next_ticket: self.next_ticket()?,
        })?;
        for v in self.token_websession.iter().values() {
            sink(ExportRecord::WebSession(decode(
                "web session",
                &v.map_err(io)?,
            )?))?;
        }
        // Accounts move with the desk: without them nobody could sign in
        // to an imported one.
        for v in self.username_agent.iter().values() {
            sink(ExportRecord::Agent(decode("agent", &v.map_err(io)?)?))?;
        }
        for v in self.name_canned.iter().values() {
            sink(ExportRecord::Canned(decode(
                "canned response",
                &v.map_err(io)?,
            )?))?;
        }
        for v in self.conversations.iter().values() {
            sink(ExportRecord::Conversation(decode(
                "conversation",
                &v.map_err(io)?,
            )?))?;
        }
        for v in self.messages.iter().values() {
            sink(ExportRecord::Message(decode("message", &v.map_err(io)?)?))?;
        }
        for item in self.externalid_message.iter() {
            let (k, v) = item.map_err(io)?;
            let seen: Seen = decode("seen external id", &v)?;
            let (channel, external_id) = split_external_key(&k)?;
            sink(ExportRecord::SeenExternalId {
                channel,
                external_id,
                conversation_id: seen.conversation_id,
                seq: seen.seq,
            })?;
        }
        for turn in self.pending_turn_list()? {
            sink(ExportRecord::PendingTurn(turn))?;
        }
        for v in self.outbox.iter().values() {
            sink(ExportRecord::Outbox(decode(
                "outbox entry",
                &v.map_err(io)?,
            )?))?;
        }
        for v in self.time_pickup.iter().values() {
            sink(ExportRecord::Pickup(decode("pickup", &v.map_err(io)?)?))?;
        }
        for v in self.time_status_change.iter().values() {
            sink(ExportRecord::StatusChange(decode(
                "status change",
                &v.map_err(io)?,
            )?))?;
        }
        for v in self.time_audit.iter().values() {
            sink(ExportRecord::Audit(decode("audit entry", &v.map_err(io)?)?))?;
        }
        for item in self.hash_blob.iter() {
            let (k, v) = item.map_err(io)?;
            sink(ExportRecord::Blob {
                hash: String::from_utf8_lossy(&k).into_owned(),
                base64: data_encoding::BASE64.encode(&v),
            })?;
        }
        Ok(())
    }

    async fn import(&self, record: ExportRecord) -> Result<(), StoreError> {
        // These writes are not steps: the last step must never be applied
        // over them.
        let _writer = self.lock_writer();
        step::forget(&self.last_step)?;
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
                let current = self.next_ticket()?;
                self.meta
                    .insert(META_NEXT_TICKET, &next_ticket.max(current).to_be_bytes())
                    .map_err(io)?;
            }
            ExportRecord::Conversation(c) => self.put_conversation_plain(&c)?,
            ExportRecord::Message(m) => {
                self.messages
                    .insert(keys::message(m.conversation_id, m.seq), encode(&m)?)
                    .map_err(io)?;
            }
            ExportRecord::SeenExternalId {
                channel,
                external_id,
                conversation_id,
                seq,
            } => {
                let seen = Seen {
                    conversation_id,
                    seq,
                };
                self.externalid_message
                    .insert(keys::external_id(channel, &external_id), encode(&seen)?)
                    .map_err(io)?;
            }
            ExportRecord::PendingTurn(t) => {
                self.pending_turns
                    .insert(keys::message(t.conversation_id, t.seq), &[][..])
                    .map_err(io)?;
            }
            ExportRecord::Outbox(e) => {
                self.outbox
                    .insert(keys::outbox(&e), encode(&e)?)
                    .map_err(io)?;
            }
            ExportRecord::WebSession(s) => {
                put_encoded(&self.token_websession, s.token.as_bytes(), &s)?
            }
            ExportRecord::Agent(a) => put_encoded(&self.username_agent, a.username.as_bytes(), &a)?,
            ExportRecord::Canned(c) => put_encoded(&self.name_canned, c.name.as_bytes(), &c)?,
            ExportRecord::Pickup(p) => {
                // The conversation part of the key only keeps keys apart.
                self.put_pickup(ConversationId::new(), &p)?;
            }
            ExportRecord::StatusChange(change) => self.put_status_change(&change)?,
            ExportRecord::Audit(entry) => {
                put_encoded(&self.time_audit, &customers::audit_key(&entry), &entry)?
            }
            ExportRecord::Blob { hash, base64 } => {
                let bytes = data_encoding::BASE64
                    .decode(base64.as_bytes())
                    .map_err(|e| StoreError::Corrupt {
                        what: format!("blob {hash}"),
                        detail: e.to_string(),
                    })?;
                self.hash_blob.insert(hash.as_bytes(), bytes).map_err(io)?;
            }
        }
        Ok(())
    }
}

fn split_external_key(key: &[u8]) -> Result<(ChannelKind, String), StoreError> {
    let corrupt = || StoreError::Corrupt {
        what: "seen external id".into(),
        detail: "malformed key".into(),
    };
    let zero = key.iter().position(|b| *b == 0).ok_or_else(corrupt)?;
    let channel = match &key[..zero] {
        b"web" => ChannelKind::Web,
        b"telegram" => ChannelKind::Telegram,
        b"email" => ChannelKind::Email,
        _ => return Err(corrupt()),
    };
    let id = String::from_utf8(key[zero + 1..].to_vec()).map_err(|_| corrupt())?;
    Ok((channel, id))
}
