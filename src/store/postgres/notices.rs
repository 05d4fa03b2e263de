//! Notices on PostgreSQL: a table every instance appends to, and
//! `LISTEN/NOTIFY` as the wake-up. The notification is sent by its own
//! small statement after the change it tells of has committed, never
//! inside a write transaction (a `NOTIFY` there serializes every commit).
//! A listener reads the table past what it has seen, on each wake-up and
//! every [`POLL`] in case one is missed, and after a reconnect it catches
//! up from where it was. Notices are kept [`KEEP`].

use super::{PgStore, db};
use crate::store::{NoticeStore, StoreError};
use futures_util::StreamExt;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_postgres::types::Json;
use tokio_postgres::{AsyncMessage, Client};

/// The `LISTEN/NOTIFY` channel.
const CHANNEL: &str = "frontdesk_notices";
/// A listener reads the table this often even without a wake-up.
const POLL: Duration = Duration::from_secs(2);
/// How long a gap in the ids is waited for: a notice whose statement is
/// still committing fills it; one that rolled back never will.
const GAP_PATIENCE: Duration = Duration::from_secs(2);
/// How long notices are kept, for listeners catching up.
const KEEP: &str = "5 minutes";
/// How often old notices are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// Notices read at a time.
const PAGE: i64 = 1000;

/// Which notices a listener has had. Ids come from a sequence, so they are
/// unique and increasing, but commit in any order: the cursor keeps a
/// floor (every id at or below it was had) and the ids had above it, and
/// waits [`GAP_PATIENCE`] for a gap below them before giving it up.
#[derive(Debug)]
struct Cursor {
    floor: i64,
    above: BTreeSet<i64>,
    /// Since when a gap has been waited for, and the highest id had then.
    waiting: Option<(Instant, i64)>,
}

impl Cursor {
    fn at(floor: i64) -> Self {
        Self {
            floor,
            above: BTreeSet::new(),
            waiting: None,
        }
    }

    /// Whether `id` is new to this listener; it is had from now on.
    fn take(&mut self, id: i64) -> bool {
        id > self.floor && self.above.insert(id)
    }

    /// After a read at `now`: the floor moves over what was had without a
    /// gap, and over gaps waited for long enough.
    fn settle(&mut self, now: Instant) {
        self.close_up();
        if self.waiting.is_some_and(|(_, fence)| fence <= self.floor) {
            // The gap waited for is filled; a later one is waited for anew.
            self.waiting = None;
        }
        if let Some((since, fence)) = self.waiting
            && now.duration_since(since) >= GAP_PATIENCE
        {
            self.floor = self.floor.max(fence);
            self.above.retain(|id| *id > fence);
            self.waiting = None;
            self.close_up();
        }
        match self.above.last() {
            None => self.waiting = None,
            Some(&last) if self.waiting.is_none() => self.waiting = Some((now, last)),
            Some(_) => {}
        }
    }

    fn close_up(&mut self) {
        while self.above.first() == Some(&(self.floor + 1)) {
            self.floor += 1;
            self.above.pop_first();
        }
    }
}

#[async_trait::async_trait]
impl NoticeStore for PgStore {
    fn shared(&self) -> bool {
        true
    }

    async fn share_notices(&self, notices: &[serde_json::Value]) -> Result<(), StoreError> {
        if notices.is_empty() {
            return Ok(());
        }
        let values: Vec<Json<&serde_json::Value>> = notices.iter().map(Json).collect();
        let client = self.client().await?;
        client
            .execute(
                "WITH added AS (
                     INSERT INTO notices (origin, data) SELECT $1, unnest($2::jsonb[])
                 )
                 SELECT pg_notify($3, '')",
                &[&self.instance, &values, &CHANNEL],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    fn notices_from_others(&self) -> mpsc::Receiver<serde_json::Value> {
        let (sender, receiver) = mpsc::channel(4096);
        let listener = Listener {
            connect: self.connect.clone(),
            tls: self.tls.clone(),
            instance: self.instance,
            sender,
        };
        tokio::spawn(listener.run());
        receiver
    }
}

/// Reads other instances' notices on a connection of its own.
struct Listener {
    connect: tokio_postgres::Config,
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    instance: uuid::Uuid,
    sender: mpsc::Sender<serde_json::Value>,
}

impl Listener {
    async fn run(self) {
        let mut cursor = None;
        let mut pruned = Instant::now();
        loop {
            match self.listen(&mut cursor, &mut pruned).await {
                Ok(()) => return,
                Err(error) => tracing::warn!(
                    %error,
                    "Lost the database connection that hears other instances; reconnecting."
                ),
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = self.sender.closed() => return,
            }
        }
    }

    /// Listens until the receiver is dropped (Ok) or the connection fails.
    async fn listen(
        &self,
        cursor: &mut Option<Cursor>,
        pruned: &mut Instant,
    ) -> Result<(), StoreError> {
        let (client, mut wakes) = self.connect().await?;
        client
            .batch_execute(&format!("LISTEN {CHANNEL}"))
            .await
            .map_err(db)?;
        if cursor.is_none() {
            // From now on: what was shared before this instance started is
            // not news to it.
            let last: i64 = client
                .query_one("SELECT coalesce(max(id), 0) FROM notices", &[])
                .await
                .map_err(db)?
                .get(0);
            *cursor = Some(Cursor::at(last));
        }
        let Some(cursor) = cursor.as_mut() else {
            return Ok(());
        };
        loop {
            if !self.read_new(&client, cursor).await? {
                return Ok(());
            }
            if pruned.elapsed() >= PRUNE_EVERY {
                client
                    .execute(
                        &format!("DELETE FROM notices WHERE at < now() - interval '{KEEP}'"),
                        &[],
                    )
                    .await
                    .map_err(db)?;
                *pruned = Instant::now();
            }
            tokio::select! {
                woke = wakes.recv() => if woke.is_none() {
                    return Err(StoreError::Io("the listening connection closed".into()));
                },
                _ = tokio::time::sleep(POLL) => {}
                _ = self.sender.closed() => return Ok(()),
            }
        }
    }

    /// Passes on the notices of other instances not had yet. False once
    /// nobody receives them.
    async fn read_new(&self, client: &Client, cursor: &mut Cursor) -> Result<bool, StoreError> {
        loop {
            let rows = client
                .query(
                    "SELECT id, origin, data FROM notices WHERE id > $1 ORDER BY id LIMIT $2",
                    &[&cursor.floor, &PAGE],
                )
                .await
                .map_err(db)?;
            let full = rows.len() as i64 == PAGE;
            for row in &rows {
                let (id, origin): (i64, uuid::Uuid) = (row.get(0), row.get(1));
                if !cursor.take(id) || origin == self.instance {
                    continue;
                }
                let Json(notice): Json<serde_json::Value> = row.get(2);
                if self.sender.send(notice).await.is_err() {
                    return Ok(false);
                }
            }
            cursor.settle(Instant::now());
            if !full {
                return Ok(true);
            }
        }
    }

    /// A connection of its own, and a receiver that wakes on each
    /// notification and closes when the connection does.
    async fn connect(&self) -> Result<(Client, mpsc::Receiver<()>), StoreError> {
        let (wake, wakes) = mpsc::channel(1);
        let client = match &self.tls {
            Some(tls) => {
                let (client, connection) = self.connect.connect(tls.clone()).await.map_err(db)?;
                tokio::spawn(forward_wakes(connection, wake));
                client
            }
            None => {
                let (client, connection) = self
                    .connect
                    .connect(tokio_postgres::NoTls)
                    .await
                    .map_err(db)?;
                tokio::spawn(forward_wakes(connection, wake));
                client
            }
        };
        Ok((client, wakes))
    }
}

/// Drives `connection`, turning each notification into a wake-up (several
/// pending ones into one); ends, dropping `wake`, when the connection does.
async fn forward_wakes<S, T>(
    mut connection: tokio_postgres::Connection<S, T>,
    wake: mpsc::Sender<()>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
    while let Some(Ok(message)) = messages.next().await {
        if let AsyncMessage::Notification(_) = message {
            let _ = wake.try_send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_moves_over_ids_had_without_a_gap() {
        let mut cursor = Cursor::at(10);
        let now = Instant::now();
        assert!(cursor.take(11) && cursor.take(12));
        assert!(!cursor.take(12), "had already");
        assert!(!cursor.take(9), "below the floor");
        cursor.settle(now);
        assert_eq!((cursor.floor, cursor.above.len()), (12, 0));
    }

    #[test]
    fn a_gap_is_waited_for_then_given_up() {
        let mut cursor = Cursor::at(0);
        let start = Instant::now();
        assert!(cursor.take(1) && cursor.take(3));
        cursor.settle(start);
        assert_eq!(cursor.floor, 1, "2 may still commit");
        assert!(cursor.take(2), "a late commit is still news");
        assert!(cursor.take(5));
        cursor.settle(start + Duration::from_millis(100));
        assert_eq!(cursor.floor, 3);
        // 4 never comes: given up after the patience, not before.
        cursor.settle(start + Duration::from_millis(1900));
        assert_eq!(cursor.floor, 3);
        assert!(cursor.take(6));
        cursor.settle(start + Duration::from_millis(2050));
        assert_eq!(cursor.floor, 3, "4 has been waited for since 100 ms only");
        cursor.settle(start + GAP_PATIENCE + Duration::from_millis(100));
        assert_eq!(cursor.floor, 6);
        assert!(cursor.above.is_empty());
    }
}
