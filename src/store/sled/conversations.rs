//! Conversations and transcripts on sled: intake, turns and changes as
//! steps, the queue indexes, the transcript ranges.

use super::*;

#[async_trait::async_trait]
impl ConversationStore for SledStore {
    async fn accept(
        &self,
        inbound: &InboundMessage,
        new: &NewConversation,
        rule: IntakeRule<'_>,
    ) -> Result<Accepted, StoreError> {
        let channel = inbound.customer.channel();
        let external_key = keys::external_id(channel, &inbound.external_id);
        let customer_key = inbound.customer.key();
        // Ids and times are chosen outside: the closure may run more than once.
        let fresh_id = ConversationId::new();
        let message_id = MessageId::new();
        let now = inbound.received_at;
        // The writer lock is let go before anything is awaited.
        let step = {
            let writer = self.lock_writer();
            self.step(&writer, |step| {
                let (meta, conversations, customers, tickets, messages, seen_ids, pending) = (
                    step.tree(META),
                    step.tree(CONVERSATIONS),
                    step.tree(CUSTOMERS),
                    step.tree(TICKETS),
                    step.tree(MESSAGES),
                    step.tree(SEEN_IDS),
                    step.tree(PENDING),
                );
                if let Some(bytes) = seen_ids.get(&external_key)? {
                    let seen: Seen = decode("seen external id", &bytes)?;
                    return Ok(AcceptStep::Duplicate(seen));
                }
                let existing = match inbound.thread {
                    Thread::New => None,
                    Thread::Conversation(id) => step_conversation(&conversations, id)?,
                    Thread::Current => match customers.get(customer_key.as_bytes())? {
                        Some(id) => {
                            let id = conversation_id_of("customer index", &id)?;
                            step_conversation(&conversations, id)?
                        }
                        None => None,
                    },
                };
                let last_message = match &existing {
                    Some(c) => match messages.get(&keys::message(c.id, c.last_seq)[..])? {
                        Some(bytes) => Some(decode::<Message>("message", &bytes)?),
                        None => None,
                    },
                    None => None,
                };
                let opened = match &existing {
                    Some(_) => None,
                    None => {
                        let ticket = match meta.get(META_NEXT_TICKET)? {
                            Some(b) => u64_of("ticket counter", &b)?,
                            None => FIRST_TICKET,
                        };
                        meta.insert(META_NEXT_TICKET, &(ticket + 1).to_be_bytes());
                        tickets.insert(ticket.to_be_bytes(), &keys::conversation(fresh_id));
                        customers.insert(customer_key.as_bytes(), &keys::conversation(fresh_id));
                        Some((fresh_id, ticket))
                    }
                };
                let facts = IntakeFacts {
                    existing: existing.as_ref(),
                    last_message: last_message.as_ref(),
                    opened,
                };
                let (conversation, message) = rule(inbound, new, facts, message_id);
                let seq = message.seq;
                let message_key = keys::message(conversation.id, seq);
                messages.insert(&message_key[..], encode(&message)?);
                let seen = Seen {
                    conversation_id: conversation.id,
                    seq,
                };
                seen_ids.insert(external_key.as_slice(), encode(&seen)?);
                pending.insert(&message_key[..], &[][..]);
                step_put_conversation(step, existing.as_ref(), &conversation)?;
                let change = existing
                    .as_ref()
                    .and_then(|before| StatusChange::between(before, &conversation, now));
                Ok(AcceptStep::New(Box::new((conversation, message, change))))
            })?
        };
        match step {
            AcceptStep::New(step) => {
                let (conversation, message, change) = *step;
                self.queue_ranks.update(&conversation);
                if let Some(change) = change {
                    self.put_status_change(&change)?;
                }
                Ok(Accepted {
                    conversation,
                    message,
                    duplicate: false,
                })
            }
            AcceptStep::Duplicate(seen) => {
                let conversation = self
                    .conversation(seen.conversation_id)
                    .await?
                    .ok_or(StoreError::ConversationNotFound(seen.conversation_id))?;
                let message = self
                    .message(seen.conversation_id, seen.seq)
                    .await?
                    .ok_or_else(|| StoreError::Corrupt {
                        what: "transcript".into(),
                        detail: format!(
                            "message {} of conversation {} is missing",
                            seen.seq, seen.conversation_id
                        ),
                    })?;
                Ok(Accepted {
                    conversation,
                    message,
                    duplicate: true,
                })
            }
        }
    }

    async fn conversation(&self, id: ConversationId) -> Result<Option<Conversation>, StoreError> {
        self.conversation_by_key(&keys::conversation(id))
    }

    async fn conversation_count(&self) -> Result<u64, StoreError> {
        Ok(self.conversations.len() as u64)
    }

    async fn conversation_of(
        &self,
        customer: &CustomerAddress,
    ) -> Result<Option<Conversation>, StoreError> {
        match self
            .customer_conversation
            .get(customer.key().as_bytes())
            .map_err(io)?
        {
            Some(id) => self.conversation_by_key(&id),
            None => Ok(None),
        }
    }

    async fn conversation_by_ticket(
        &self,
        ticket: u64,
    ) -> Result<Option<Conversation>, StoreError> {
        match self
            .ticket_conversation
            .get(ticket.to_be_bytes())
            .map_err(io)?
        {
            Some(id) => self.conversation_by_key(&id),
            None => Ok(None),
        }
    }

    async fn messages_after(
        &self,
        id: ConversationId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Message>, StoreError> {
        let start = keys::message(id, after.saturating_add(1));
        let end = keys::message(id, u64::MAX);
        self.messages
            .range(start..=end)
            .take(limit)
            .map(|item| {
                let (_, v) = item.map_err(io)?;
                decode("message", &v)
            })
            .collect()
    }

    async fn message(&self, id: ConversationId, seq: u64) -> Result<Option<Message>, StoreError> {
        get_decoded(&self.messages, &keys::message(id, seq), "message")
    }

    async fn pending_turns(&self) -> Result<Vec<PendingTurn>, StoreError> {
        self.pending_turn_list()
    }

    async fn record_turn(
        &self,
        outcome: &TurnOutcome,
        rule: TurnRule<'_>,
    ) -> Result<TurnRecorded, StoreError> {
        let id = outcome.turn.conversation_id;
        let turn_key = keys::message(id, outcome.turn.seq);
        let now = Utc::now();
        let writer = self.lock_writer();
        self.step(&writer, |step| {
            let (conversations, outbox) = (step.tree(CONVERSATIONS), step.tree(OUTBOX));
            let old = step_conversation(&conversations, id)?
                .ok_or(StoreError::ConversationNotFound(id))?;
            // A turn is recorded once: one redone elsewhere (a replay, a
            // sweep of stale turns) finds its mark gone and changes nothing.
            let was_pending = step.tree(PENDING).remove(&turn_key[..])?.is_some();
            let decided = was_pending.then(|| rule(&old, outcome, now)).flatten();
            let Some(Decision { mut after, effects }) = decided else {
                return Ok((
                    TurnRecorded {
                        conversation: old,
                        replies_queued: false,
                    },
                    None,
                ));
            };
            after.updated_at = now;
            for entry in &effects.outbox {
                outbox.insert(&keys::outbox(entry)[..], encode(entry)?);
            }
            step_put_conversation(step, Some(&old), &after)?;
            let change = StatusChange::between(&old, &after, now);
            Ok((
                TurnRecorded {
                    conversation: after,
                    replies_queued: true,
                },
                change,
            ))
        })
        .and_then(|(recorded, change)| {
            self.queue_ranks.update(&recorded.conversation);
            if let Some(change) = change {
                self.put_status_change(&change)?;
            }
            Ok(recorded)
        })
    }

    async fn waiting_queue(&self, limit: usize) -> Result<Vec<ConversationId>, StoreError> {
        self.queue
            .iter()
            .keys()
            .take(limit)
            .map(|k| {
                let k = k.map_err(io)?;
                conversation_id_of("queue", k.get(9..).unwrap_or(&[]))
            })
            .collect()
    }

    async fn queue_position(&self, conversation: &Conversation) -> Result<u64, StoreError> {
        let key = keys::queue_of(conversation).unwrap_or_else(|| {
            keys::queue(
                conversation.priority,
                Utc::now().timestamp_millis(),
                conversation.id,
            )
        });
        Ok(self
            .queue_ranks
            .ahead_of(conversation.team.as_deref(), &key)
            + 1)
    }

    async fn count_with_status(&self, status: ConversationStatus) -> Result<u64, StoreError> {
        let index = if status == ConversationStatus::Waiting {
            self.queue.iter()
        } else {
            let prefix = &keys::status(status, ConversationId(uuid::Uuid::nil()))[..1];
            self.status_index.scan_prefix(prefix)
        };
        let mut count = 0;
        for item in index.keys() {
            item.map_err(io)?;
            count += 1;
        }
        Ok(count)
    }

    async fn conversations_with_status(
        &self,
        status: ConversationStatus,
        limit: usize,
    ) -> Result<Vec<Conversation>, StoreError> {
        let ids: Vec<ConversationId> = if status == ConversationStatus::Waiting {
            self.waiting_queue(limit).await?
        } else {
            let prefix = &keys::status(status, ConversationId(uuid::Uuid::nil()))[..1];
            self.status_index
                .scan_prefix(prefix)
                .keys()
                .rev()
                .take(limit)
                .map(|k| conversation_id_of("status index", k.map_err(io)?.get(1..).unwrap_or(&[])))
                .collect::<Result<_, _>>()?
        };
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(c) = self.conversation(id).await? {
                found.push(c);
            }
        }
        Ok(found)
    }

    async fn update_conversation(
        &self,
        id: ConversationId,
        change: Change<'_>,
    ) -> Result<Updated, UpdateError> {
        let now = Utc::now();
        let note_id = MessageId::new();
        let writer = self.lock_writer();
        let result = self.step(&writer, |step| {
            let (outbox, messages) = (step.tree(OUTBOX), step.tree(MESSAGES));
            let before = step_conversation(&step.tree(CONVERSATIONS), id)?
                .ok_or(StoreError::ConversationNotFound(id))?;
            let Decision { mut after, effects } = match change(&before) {
                Ok(decision) => decision,
                Err(refusal) => return Ok(Err(refusal)),
            };
            for entry in &effects.outbox {
                outbox.insert(&keys::outbox(entry)[..], encode(entry)?);
            }
            let note = match &effects.note {
                Some((agent, text)) => {
                    after.last_seq += 1;
                    let note = Message::note(note_id, id, after.last_seq, agent, text, now);
                    messages.insert(&keys::message(id, note.seq)[..], encode(&note)?);
                    Some(note)
                }
                None => None,
            };
            after.updated_at = now;
            step_put_conversation(step, Some(&before), &after)?;
            Ok(Ok((
                Updated {
                    before,
                    after,
                    note,
                },
                effects.pickup,
            )))
        })?;
        let (updated, pickup) = result?;
        self.queue_ranks.update(&updated.after);
        if let Some(change) = StatusChange::between(&updated.before, &updated.after, now) {
            self.put_status_change(&change)?;
        }
        if let Some(pickup) = pickup {
            self.put_pickup(id, &pickup)?;
        }
        Ok(updated)
    }

    async fn mark_bounced(
        &self,
        conversation: ConversationId,
        message: MessageId,
        error: &str,
    ) -> Result<Option<(Conversation, Message)>, StoreError> {
        let writer = self.lock_writer();
        // Found before the step: a step reads single keys.
        let mut found = None;
        for item in self
            .messages
            .scan_prefix(keys::conversation(conversation))
            .rev()
        {
            let (k, v) = item.map_err(io)?;
            let m: Message = decode("message", &v)?;
            if m.id == message && m.reason.is_some() {
                found = Some((k, m));
                break;
            }
        }
        let Some((key, mut bounced)) = found else {
            return Ok(None);
        };
        bounced.delivery = Some(Delivery::Failed {
            error: error.to_string(),
        });
        let encoded = encode(&bounced)?;
        let updated = self.step(&writer, |step| {
            let Some(old) = step_conversation(&step.tree(CONVERSATIONS), conversation)? else {
                return Ok(None);
            };
            let mut new = old.clone();
            new.undelivered = true;
            step.tree(MESSAGES).insert(&key[..], encoded.as_slice());
            step_put_conversation(step, Some(&old), &new)?;
            Ok(Some(new))
        })?;
        if let Some(c) = &updated {
            self.queue_ranks.update(c);
        }
        Ok(updated.map(|c| (c, bounced)))
    }
}
