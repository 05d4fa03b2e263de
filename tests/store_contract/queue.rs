//! The waiting queue: priority, then the tighter promise, then the wait;
//! places in line through every kind of change and a reopened store.

use super::*;

#[tokio::test]
async fn within_a_priority_the_tighter_first_response_promise_goes_first() {
    for (name, backend) in BACKENDS {
        let (store, _dir) = backend().await;
        let hour = store
            .accept(&inbound(1, "a", "x"), &new(0), &take_in)
            .await
            .expect("accept");
        hand_off_with_promise(store.as_ref(), turn_of(&hour), 60).await;
        let ten_minutes = store
            .accept(&inbound(2, "b", "x"), &new(0), &take_in)
            .await
            .expect("accept");
        hand_off_with_promise(store.as_ref(), turn_of(&ten_minutes), 10).await;
        let urgent_but_low = store
            .accept(&inbound(3, "c", "x"), &new(5), &take_in)
            .await
            .expect("accept");
        hand_off_with_promise(store.as_ref(), turn_of(&urgent_but_low), 240).await;
        assert_eq!(
            store.waiting_queue(10).await.expect("queue"),
            vec![
                urgent_but_low.conversation.id,
                ten_minutes.conversation.id,
                hour.conversation.id
            ],
            "{name}: priority first, then the earlier deadline"
        );
    }
}

#[tokio::test]
async fn queue_orders_by_priority_then_wait() {
    for (name, backend) in BACKENDS {
        let (store, _dir) = backend().await;
        let normal_early = store
            .accept(&inbound(1, "a", "x"), &new(0), &take_in)
            .await
            .expect("accept");
        reply(store.as_ref(), turn_of(&normal_early), true, 0).await;
        std::thread::sleep(std::time::Duration::from_millis(5));
        let normal_late = store
            .accept(&inbound(2, "b", "x"), &new(0), &take_in)
            .await
            .expect("accept");
        reply(store.as_ref(), turn_of(&normal_late), true, 0).await;
        let premium_late = store
            .accept(&inbound(3, "c", "x"), &new(9), &take_in)
            .await
            .expect("accept");
        reply(store.as_ref(), turn_of(&premium_late), true, 0).await;
        let answered = store
            .accept(&inbound(4, "d", "x"), &new(9), &take_in)
            .await
            .expect("accept");
        reply(store.as_ref(), turn_of(&answered), false, 0).await;

        let queue = store.waiting_queue(10).await.expect("queue");
        assert_eq!(
            queue,
            vec![
                premium_late.conversation.id,
                normal_early.conversation.id,
                normal_late.conversation.id
            ],
            "{name}"
        );
        let late = store
            .conversation(normal_late.conversation.id)
            .await
            .expect("read")
            .expect("exists");
        assert_eq!(late.status, ConversationStatus::Waiting, "{name}");
        assert_eq!(
            store.queue_position(&late).await.expect("position"),
            3,
            "{name}"
        );
        // A second hand-off turn keeps the original place in line.
        let again = store
            .accept(&inbound(2, "b2", "still there?"), &new(0), &take_in)
            .await
            .expect("accept");
        reply(store.as_ref(), turn_of(&again), true, 0).await;
        assert_eq!(
            store.waiting_queue(10).await.expect("queue").len(),
            3,
            "{name}"
        );
        assert!(
            store.pending_turns().await.expect("pending").is_empty(),
            "{name}"
        );
        // What /metrics reports, counted from the indexes alone.
        for status in [
            ConversationStatus::Waiting,
            ConversationStatus::Bot,
            ConversationStatus::Assigned,
        ] {
            assert_eq!(
                store.count_with_status(status).await.expect("count"),
                store
                    .conversations_with_status(status, 100)
                    .await
                    .expect("list")
                    .len() as u64,
                "{name}: {status:?}"
            );
        }
        assert_eq!(
            store
                .count_with_status(ConversationStatus::Waiting)
                .await
                .expect("count"),
            3,
            "{name}"
        );
    }
}

/// Every waiting conversation's place is its place in the queue, through
/// hand-offs at several priorities and promises, claims, a priority
/// change, a resolution and a reopening, and after opening the store again.
#[tokio::test]
async fn a_place_in_line_is_the_place_in_the_queue() {
    async fn assert_places(store: &dyn Store, what: &str) {
        let queue = store.waiting_queue(1000).await.expect("queue");
        for (i, id) in queue.iter().enumerate() {
            let c = store
                .conversation(*id)
                .await
                .expect("read")
                .expect("exists");
            assert_eq!(
                store.queue_position(&c).await.expect("position"),
                i as u64 + 1,
                "{what}: place of conversation {i} of {}",
                queue.len()
            );
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut ids = Vec::new();
    {
        let store = SledStore::open(dir.path()).expect("open");
        for chat in 0..40 {
            let a = store
                .accept(
                    &inbound(chat, &format!("m{chat}"), "x"),
                    &new((chat % 3) as u8),
                    &take_in,
                )
                .await
                .expect("accept");
            if chat % 4 == 0 {
                reply(&store, turn_of(&a), true, 0).await;
            } else {
                hand_off_with_promise(&store, turn_of(&a), 5 + (chat * 7) % 50).await;
            }
            ids.push(a.conversation.id);
        }
        assert_places(&store, "after the hand-offs").await;
        for id in ids.iter().step_by(5) {
            set(&store, *id, &|c| {
                c.status = ConversationStatus::Assigned;
                c.assigned_agent = Some("ann".into());
            })
            .await;
        }
        set(&store, ids[7], &|c| c.priority = 9).await;
        set(&store, ids[0], &|c| c.status = ConversationStatus::Resolved).await;
        assert_places(&store, "after claims, a priority change and a resolution").await;
        let back = store
            .accept(&inbound(0, "again", "hello?"), &new(0), &take_in)
            .await
            .expect("reopen");
        hand_off_with_promise(&store, turn_of(&back), 1).await;
        assert_places(&store, "after a reopening").await;
    }
    let store = SledStore::open(dir.path()).expect("open again");
    assert_places(&store, "after opening the store again").await;
}

/// Changes conversation `id` in place, with nothing else written.
async fn set(
    store: &dyn Store,
    id: frontdesk::model::ConversationId,
    change: &(dyn Fn(&mut frontdesk::model::Conversation) + Sync),
) {
    store
        .update_conversation(id, &|c| {
            let mut c = c.clone();
            change(&mut c);
            Ok(unchanged_effects(c))
        })
        .await
        .expect("update");
}

/// Two agents claiming one conversation at once (on two instances, say):
/// the store applies one change after the other, so the second sees the
/// first's claim and the rules refuse it.
#[tokio::test]
async fn two_claims_at_once_one_wins_and_one_is_refused() {
    use frontdesk::conversation::{Actor, transitions};
    for (name, backend) in BACKENDS {
        let (store, _dir) = backend().await;
        let a = store
            .accept(&inbound(1, "a", "help"), &new(0), &take_in)
            .await
            .expect("accept");
        reply(store.as_ref(), turn_of(&a), true, 0).await;
        let id = a.conversation.id;
        let claim = |agent: &'static str| {
            let store = store.clone();
            async move {
                store
                    .update_conversation(id, &|c| {
                        let actor = Actor {
                            username: agent,
                            admin: false,
                        };
                        transitions::claim(c, actor).map(unchanged_effects)
                    })
                    .await
            }
        };
        let (ann, bob) = tokio::join!(claim("ann"), claim("bob"));
        let wins = [ann.is_ok(), bob.is_ok()];
        assert_eq!(wins.iter().filter(|w| **w).count(), 1, "{name}: {wins:?}");
        let owner = store
            .conversation(id)
            .await
            .expect("read")
            .expect("exists")
            .assigned_agent;
        let winner = if wins[0] { "ann" } else { "bob" };
        assert_eq!(owner.as_deref(), Some(winner), "{name}");
    }
}

/// Hands a turn to a person in `team`'s queue.
async fn hand_off_to(store: &dyn Store, turn: PendingTurn, team: Option<&str>) {
    store
        .record_turn(
            &TurnOutcome {
                turn,
                locale: "en".into(),
                handoff: true,
                replies: Vec::new(),
                sla: None,
                route: team.map(|t| frontdesk::model::Route {
                    team: t.into(),
                    reason: "rule 1: test".into(),
                }),
            },
            &after_turn,
        )
        .await
        .expect("record turn");
}

/// With teams, a customer's place is among those waiting for the same
/// team; the shared queue counts only conversations of no team; a
/// transfer moves a conversation to the end of the other team's line by
/// its own wait; the sled mirror of places is rebuilt right at open.
#[tokio::test]
async fn places_in_line_are_counted_per_team() {
    async fn places(store: &dyn Store) -> Vec<(Option<String>, u64)> {
        let mut out = Vec::new();
        for id in store.waiting_queue(100).await.expect("queue") {
            let c = store.conversation(id).await.expect("read").expect("exists");
            out.push((
                c.team.clone(),
                store.queue_position(&c).await.expect("place"),
            ));
        }
        out
    }
    for (name, backend) in BACKENDS {
        let (store, dir) = backend().await;
        let teams = [
            Some("billing"),
            None,
            Some("premium"),
            Some("billing"),
            None,
            Some("billing"),
        ];
        for (chat, team) in teams.iter().enumerate() {
            let a = store
                .accept(
                    &inbound(chat as i64, &format!("t{chat}"), "x"),
                    &new(0),
                    &take_in,
                )
                .await
                .expect("accept");
            hand_off_to(store.as_ref(), turn_of(&a), *team).await;
            std::thread::sleep(std::time::Duration::from_millis(3));
        }
        let expected = |list: &[(Option<&str>, u64)]| -> Vec<(Option<String>, u64)> {
            list.iter()
                .map(|(t, p)| (t.map(str::to_string), *p))
                .collect()
        };
        assert_eq!(
            places(store.as_ref()).await,
            expected(&[
                (Some("billing"), 1),
                (None, 1),
                (Some("premium"), 1),
                (Some("billing"), 2),
                (None, 2),
                (Some("billing"), 3),
            ]),
            "{name}"
        );
        // The second billing customer moves to premium: behind premium's
        // first (who waited longer), and billing's third moves up.
        let second_billing = store.waiting_queue(100).await.expect("queue")[3];
        let transfer = |c: &frontdesk::model::Conversation| {
            Ok(Decision {
                after: frontdesk::model::Conversation {
                    team: Some("premium".into()),
                    ..c.clone()
                },
                effects: Effects::default(),
            })
        };
        store
            .update_conversation(second_billing, &transfer)
            .await
            .expect("transfer");
        let moved = store
            .conversation(second_billing)
            .await
            .expect("read")
            .expect("exists");
        assert_eq!(
            store.queue_position(&moved).await.expect("place"),
            2,
            "{name}"
        );
        assert_eq!(
            places(store.as_ref()).await,
            expected(&[
                (Some("billing"), 1),
                (None, 1),
                (Some("premium"), 1),
                (Some("premium"), 2),
                (None, 2),
                (Some("billing"), 2),
            ]),
            "{name}: after the transfer"
        );
        if let Some(dir) = dir.downcast_ref::<tempfile::TempDir>() {
            store.sync().await.expect("sync");
            drop(store);
            let reopened = SledStore::open(dir.path()).expect("reopen");
            assert_eq!(
                places(&reopened).await,
                expected(&[
                    (Some("billing"), 1),
                    (None, 1),
                    (Some("premium"), 1),
                    (Some("premium"), 2),
                    (None, 2),
                    (Some("billing"), 2),
                ]),
                "{name}: after reopening"
            );
        }
    }
}
