//! The embedded message bus of `delivery-local`: the orders queue with SQS semantics, the
//! `order-events` topic with its filtered subscription, and the SMS outbox standing in for the
//! carriers' phones. State is in SQLite (`delivery_local_*` tables), in the same database file
//! as the embedded DynamoDB, so a restart or a `kill -9` loses nothing that was acknowledged.
//!
//! SQS semantics: messages are received in batches of at most 10; a received message is
//! invisible for the queue's visibility timeout and counts a receive; it is deleted by its
//! receipt handle once processed; one received more than `maxReceiveCount` times moves to the
//! queue's dead-letter queue instead of being delivered again.

mod ports;

pub use ports::{EmbeddedMessaging, EmbeddedQueue, EmbeddedSms, EmbeddedTopic, Subscription};

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use domain::PortError;
use rusqlite::{Connection, TransactionBehavior, params};
use serde::Serialize;

/// A queue's behaviour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueSpec {
    pub name: &'static str,
    pub visibility_timeout: Duration,
    pub max_receive_count: u32,
}

/// The orders queue: 30 s visibility (6× a 5 s processor), redrive at 5 receives.
pub const ORDERS: QueueSpec = QueueSpec {
    name: "orders",
    visibility_timeout: Duration::from_secs(30),
    max_receive_count: 5,
};

/// The `notify-carrier` subscription: Lambda's async invoke makes 3 attempts, then the
/// on-failure destination (the notifications DLQ). The visibility timeout stands for the
/// function's timeout: an invocation still running is never delivered again.
pub const NOTIFICATIONS: QueueSpec = QueueSpec {
    name: "notify-carrier",
    visibility_timeout: Duration::from_secs(10),
    max_receive_count: 3,
};

/// The imports queue, where the imports bucket sends its `ObjectCreated` events: batches of 1,
/// 5 minutes' visibility (the import function's timeout), redrive at 5 receives.
pub const IMPORTS: QueueSpec = QueueSpec {
    name: "imports",
    visibility_timeout: Duration::from_secs(300),
    max_receive_count: 5,
};

/// The largest batch a receive returns (SQS's limit).
pub const MAX_BATCH: usize = 10;

/// A received message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    pub id: String,
    pub receipt: String,
    pub body: String,
    pub attributes: HashMap<String, String>,
    pub receive_count: u32,
    pub sent_at_ms: i64,
}

/// A message in a dead-letter queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeadLetter {
    pub id: String,
    pub queue: String,
    pub body: String,
    pub reason: String,
    pub receive_count: u32,
    pub dead_lettered_at: String,
}

/// One SMS in the outbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Sms {
    pub to: String,
    pub message: String,
    pub order_id: String,
    pub sent_at: String,
}

/// A queue's depth.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct QueueCounts {
    pub visible: u64,
    pub in_flight: u64,
    pub dead: u64,
}

/// How many events the topic published since the bus was opened, by type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Published {
    pub accepted: u64,
    pub rejected: u64,
}

#[derive(Default)]
struct PublishedCounters {
    accepted: AtomicU64,
    rejected: AtomicU64,
}

/// What deleting by a receipt did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deletion {
    Deleted,
    /// The message was received again since (or dead-lettered): this receipt deletes nothing.
    StaleReceipt,
}

/// Deletes a processed message by its receipt (a stale receipt deletes nothing).
const DELETE_BY_RECEIPT: &str =
    "DELETE FROM delivery_local_messages WHERE receipt = ?1 AND dead_reason IS NULL";

/// How one received message of a batch ended, for [`Bus::settle`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settled<'a> {
    /// Processed: deleted by its receipt.
    Processed(&'a str),
    /// Failed, and why: it reappears after its visibility timeout, and its dead-letter reason
    /// will say so.
    Failed(&'a str, &'a str),
}

/// The bus: one SQLite connection, shared. Cheap to clone.
#[derive(Clone)]
pub struct Bus {
    conn: Arc<Mutex<Connection>>,
    published: Arc<PublishedCounters>,
    /// Commits that changed rows (`scripts/bench` counts them per order).
    writes: Arc<AtomicU64>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS delivery_local_messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    queue TEXT NOT NULL,
    body TEXT NOT NULL,
    attributes TEXT NOT NULL,
    sent_at INTEGER NOT NULL,
    visible_at INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt TEXT,
    dead_reason TEXT,
    dead_at INTEGER,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS delivery_local_messages_ready
    ON delivery_local_messages (queue, dead_reason, visible_at);
CREATE INDEX IF NOT EXISTS delivery_local_messages_receipt ON delivery_local_messages (receipt);
CREATE TABLE IF NOT EXISTS delivery_local_sms (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    to_phone TEXT NOT NULL,
    message TEXT NOT NULL,
    order_id TEXT NOT NULL,
    sent_at TEXT NOT NULL
);
";

fn db(e: rusqlite::Error) -> PortError {
    match e {
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(
                f.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) =>
        {
            PortError::Transient(format!("bus database busy: {e}"))
        }
        _ => PortError::Permanent(format!("bus database: {e}")),
    }
}

/// A visible message, as read before it is received.
struct Candidate {
    seq: i64,
    id: String,
    body: String,
    attributes: String,
    sent_at: i64,
    receive_count: u32,
    last_error: Option<String>,
}

impl Candidate {
    fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Candidate> {
        Ok(Candidate {
            seq: r.get(0)?,
            id: r.get(1)?,
            body: r.get(2)?,
            attributes: r.get(3)?,
            sent_at: r.get(4)?,
            receive_count: r.get(5)?,
            last_error: r.get(6)?,
        })
    }

    /// Receives it (hidden for the visibility timeout, one more receive counted), or moves it
    /// to the DLQ if it has been received `max_receive_count` times already.
    fn take(
        self,
        tx: &rusqlite::Transaction<'_>,
        spec: QueueSpec,
        now: i64,
    ) -> rusqlite::Result<Option<Received>> {
        let count = self.receive_count;
        if count >= spec.max_receive_count {
            let reason = exhausted(count, spec.max_receive_count, self.last_error.as_deref());
            tx.execute(
                "UPDATE delivery_local_messages SET dead_reason = ?2, dead_at = ?3, receipt = NULL WHERE seq = ?1",
                params![self.seq, reason, now],
            )?;
            return Ok(None);
        }
        let receipt = uuid::Uuid::new_v4().to_string();
        let visible_at = now + spec.visibility_timeout.as_millis() as i64;
        tx.execute(
            "UPDATE delivery_local_messages SET receive_count = receive_count + 1, visible_at = ?2, receipt = ?3 WHERE seq = ?1",
            params![self.seq, visible_at, receipt],
        )?;
        Ok(Some(Received {
            id: self.id,
            receipt,
            body: self.body,
            attributes: serde_json::from_str(&self.attributes).unwrap_or_default(),
            receive_count: count + 1,
            sent_at_ms: self.sent_at,
        }))
    }
}

fn exhausted(count: u32, max: u32, last_error: Option<&str>) -> String {
    let base = format!("received {count} times without success (maxReceiveCount {max})");
    match last_error {
        Some(e) => format!("{base}: {e}"),
        None => base,
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339())
        .unwrap_or_default()
}

impl Bus {
    /// Opens (creating its tables) the bus in the database file at `path`.
    pub fn open(path: &Path) -> Result<Bus, PortError> {
        let conn = Connection::open(path).map_err(db)?;
        Bus::init(conn)
    }

    /// A bus in memory, for tests.
    pub fn memory() -> Result<Bus, PortError> {
        Bus::init(Connection::open_in_memory().map_err(db)?)
    }

    fn init(conn: Connection) -> Result<Bus, PortError> {
        conn.busy_timeout(Duration::from_secs(10)).map_err(db)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db)?;
        conn.execute_batch(SCHEMA).map_err(db)?;
        Ok(Bus {
            conn: Arc::new(Mutex::new(conn)),
            published: Arc::default(),
            writes: Arc::default(),
        })
    }

    /// Counts an event the topic published.
    pub(crate) fn count_published(&self, kind: domain::order::EventType) {
        let counter = match kind {
            domain::order::EventType::OrderAccepted => &self.published.accepted,
            domain::order::EventType::OrderRejected => &self.published.rejected,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The events the topic published since the bus was opened.
    pub fn published(&self) -> Published {
        Published {
            accepted: self.published.accepted.load(Ordering::Relaxed),
            rejected: self.published.rejected.load(Ordering::Relaxed),
        }
    }

    /// The commits so far that changed rows: sends, receives, settlements, dead letters, SMS.
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }

    /// Counts one write, if it `changed` anything.
    fn wrote(&self, changed: bool) {
        if changed {
            self.writes.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, PortError> {
        let mut conn = self
            .conn
            .lock()
            .map_err(|_| PortError::Permanent("bus lock poisoned".to_owned()))?;
        f(&mut conn).map_err(db)
    }

    /// Enqueues messages atomically; returns their ids.
    pub fn send(
        &self,
        queue: &str,
        messages: &[(String, HashMap<String, String>)],
    ) -> Result<Vec<String>, PortError> {
        self.with(|conn| {
            // IMMEDIATE: take the write lock up front, so the busy timeout applies (a deferred
            // transaction upgrading to write fails at once if the other connection wrote meanwhile).
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let now = now_ms();
            let mut ids = Vec::with_capacity(messages.len());
            for (body, attributes) in messages {
                let id = uuid::Uuid::new_v4().to_string();
                let attributes = serde_json::to_string(attributes).unwrap_or_else(|_| "{}".to_owned());
                tx.execute(
                    "INSERT INTO delivery_local_messages (id, queue, body, attributes, sent_at, visible_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                    params![id, queue, body, attributes, now],
                )?;
                ids.push(id);
            }
            tx.commit()?;
            Ok(ids)
        })
        .inspect(|ids| self.wrote(!ids.is_empty()))
    }

    /// Puts a message straight on `queue`'s dead-letter queue with the reason.
    pub fn dead_letter(&self, queue: &str, body: &str, reason: &str) -> Result<(), PortError> {
        self.with(|conn| {
            let now = now_ms();
            conn.execute(
                "INSERT INTO delivery_local_messages (id, queue, body, attributes, sent_at, visible_at, dead_reason, dead_at)
                 VALUES (?1, ?2, ?3, '{}', ?4, ?4, ?5, ?4)",
                params![uuid::Uuid::new_v4().to_string(), queue, body, now, reason],
            )?;
            Ok(())
        })
        .inspect(|()| self.wrote(true))
    }

    /// Receives up to `max` (≤ 10) visible messages, hiding them for the visibility timeout;
    /// a message already received `max_receive_count` times moves to the DLQ instead.
    pub fn receive(&self, spec: QueueSpec, max: usize) -> Result<Vec<Received>, PortError> {
        let max = max.clamp(1, MAX_BATCH);
        self.with(|conn| {
            // IMMEDIATE: take the write lock up front, so the busy timeout applies (a deferred
            // transaction upgrading to write fails at once if the other connection wrote meanwhile).
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let now = now_ms();
            let mut received = Vec::new();
            // Pages by sequence number, so one call never takes a message twice.
            let mut after_seq = 0i64;
            loop {
                let candidates: Vec<Candidate> = {
                    let mut stmt = tx.prepare_cached(
                        "SELECT seq, id, body, attributes, sent_at, receive_count, last_error FROM delivery_local_messages
                         WHERE queue = ?1 AND dead_reason IS NULL AND visible_at <= ?2 AND seq > ?4 ORDER BY seq LIMIT ?3",
                    )?;
                    let limit = (max - received.len()) as i64;
                    stmt.query_map(params![spec.name, now, limit, after_seq], Candidate::from_row)?
                        .collect::<rusqlite::Result<_>>()?
                };
                if candidates.is_empty() {
                    break;
                }
                for candidate in candidates {
                    after_seq = candidate.seq;
                    received.extend(candidate.take(&tx, spec, now)?);
                }
                if received.len() >= max {
                    break;
                }
            }
            // Every candidate taken was received or dead-lettered: a change.
            let changed = after_seq > 0;
            tx.commit()?;
            Ok((received, changed))
        })
        .map(|(received, changed)| {
            self.wrote(changed);
            received
        })
    }

    /// Records why processing a received message failed; its dead-letter reason will say so.
    pub fn fail(&self, receipt: &str, error: &str) -> Result<(), PortError> {
        self.settle(&[Settled::Failed(receipt, error)])
    }

    /// Makes every in-flight message of `queue` visible again. For a restart of the single
    /// process that consumes the bus: whoever had received them is gone, so waiting for their
    /// visibility timeout would only delay the redelivery.
    pub fn release_in_flight(&self, queue: &str) -> Result<usize, PortError> {
        self.with(|conn| {
            conn.execute(
                "UPDATE delivery_local_messages SET visible_at = ?2, receipt = NULL WHERE queue = ?1 AND dead_reason IS NULL AND visible_at > ?2",
                params![queue, now_ms()],
            )
        })
    }

    /// Settles a received batch in one write, as the Lambda service does with
    /// `DeleteMessageBatch`: the processed messages deleted, each failure's reason recorded
    /// (a stale receipt changes nothing). One commit per batch instead of one per message.
    pub fn settle(&self, batch: &[Settled<'_>]) -> Result<(), PortError> {
        if batch.is_empty() {
            return Ok(());
        }
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for outcome in batch {
                match outcome {
                    Settled::Processed(receipt) => tx.execute(DELETE_BY_RECEIPT, [receipt])?,
                    Settled::Failed(receipt, error) => tx.execute(
                        "UPDATE delivery_local_messages SET last_error = ?2 WHERE receipt = ?1",
                        params![receipt, error],
                    )?,
                };
            }
            tx.commit()
        })
        .inspect(|()| self.wrote(true))
    }

    /// Deletes a processed message by its receipt handle (a stale receipt deletes nothing).
    pub fn delete(&self, receipt: &str) -> Result<Deletion, PortError> {
        self.with(|conn| {
            let deleted = conn.execute(DELETE_BY_RECEIPT, [receipt])?;
            Ok(if deleted > 0 {
                Deletion::Deleted
            } else {
                Deletion::StaleReceipt
            })
        })
    }

    pub fn dead_letters(&self) -> Result<Vec<DeadLetter>, PortError> {
        self.with(|conn| {
            let mut stmt = conn.prepare(
                "SELECT id, queue, body, dead_reason, receive_count, dead_at FROM delivery_local_messages
                 WHERE dead_reason IS NOT NULL ORDER BY dead_at, seq",
            )?;
            stmt.query_map([], |r| {
                Ok(DeadLetter {
                    id: r.get(0)?,
                    queue: r.get(1)?,
                    body: r.get(2)?,
                    reason: r.get(3)?,
                    receive_count: r.get(4)?,
                    dead_lettered_at: rfc3339(r.get(5)?),
                })
            })?
            .collect()
        })
    }

    /// Moves every dead letter back to its queue, as new; returns how many.
    pub fn redrive(&self) -> Result<usize, PortError> {
        self.with(|conn| {
            conn.execute(
                "UPDATE delivery_local_messages SET dead_reason = NULL, dead_at = NULL, receive_count = 0, receipt = NULL, visible_at = ?1
                 WHERE dead_reason IS NOT NULL",
                [now_ms()],
            )
        })
    }

    pub fn counts(&self, queue: &str) -> Result<QueueCounts, PortError> {
        self.with(|conn| {
            conn.query_row(
                "SELECT COALESCE(SUM(dead_reason IS NULL AND visible_at <= ?2), 0),
                        COALESCE(SUM(dead_reason IS NULL AND visible_at > ?2), 0),
                        COALESCE(SUM(dead_reason IS NOT NULL), 0)
                 FROM delivery_local_messages WHERE queue = ?1",
                params![queue, now_ms()],
                |r| {
                    Ok(QueueCounts {
                        visible: r.get(0)?,
                        in_flight: r.get(1)?,
                        dead: r.get(2)?,
                    })
                },
            )
        })
    }

    /// How many SMS the outbox holds.
    pub fn sms_count(&self) -> Result<u64, PortError> {
        self.with(|conn| {
            conn.query_row("SELECT count(*) FROM delivery_local_sms", [], |r| r.get(0))
        })
    }

    pub fn record_sms(&self, to: &str, message: &str, order_id: &str) -> Result<(), PortError> {
        self.with(|conn| {
            conn.execute(
                "INSERT INTO delivery_local_sms (to_phone, message, order_id, sent_at) VALUES (?1, ?2, ?3, ?4)",
                params![to, message, order_id, rfc3339(now_ms())],
            )?;
            Ok(())
        })
        .inspect(|()| self.wrote(true))
    }

    pub fn sms(&self) -> Result<Vec<Sms>, PortError> {
        self.with(|conn| {
            let mut stmt = conn.prepare(
                "SELECT to_phone, message, order_id, sent_at FROM delivery_local_sms ORDER BY seq",
            )?;
            stmt.query_map([], |r| {
                Ok(Sms {
                    to: r.get(0)?,
                    message: r.get(1)?,
                    order_id: r.get(2)?,
                    sent_at: r.get(3)?,
                })
            })?
            .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: QueueSpec = QueueSpec {
        name: "q",
        visibility_timeout: Duration::from_millis(0),
        max_receive_count: 2,
    };
    const SLOW: QueueSpec = QueueSpec {
        name: "q",
        visibility_timeout: Duration::from_secs(60),
        max_receive_count: 5,
    };

    fn send(bus: &Bus, n: usize) {
        let messages: Vec<_> = (0..n).map(|i| (format!("m{i}"), HashMap::new())).collect();
        bus.send("q", &messages).unwrap();
    }

    #[test]
    fn batches_of_at_most_ten_and_invisible_while_in_flight() {
        let bus = Bus::memory().unwrap();
        send(&bus, 25);
        let first = bus.receive(SLOW, 50).unwrap();
        assert_eq!(first.len(), 10);
        assert_eq!(first[0].body, "m0");
        let second = bus.receive(SLOW, 10).unwrap();
        assert_eq!(
            second[0].body, "m10",
            "in-flight messages are not received again"
        );
        assert_eq!(
            bus.counts("q").unwrap(),
            QueueCounts {
                visible: 5,
                in_flight: 20,
                dead: 0
            }
        );
        for m in &first {
            assert_eq!(bus.delete(&m.receipt).unwrap(), Deletion::Deleted);
        }
        assert_eq!(
            bus.delete(&first[0].receipt).unwrap(),
            Deletion::StaleReceipt
        );
        assert_eq!(bus.counts("q").unwrap().in_flight, 10);
    }

    #[test]
    fn a_batch_is_settled_in_one_write() {
        let bus = Bus::memory().unwrap();
        send(&bus, 3);
        let batch = bus.receive(SLOW, 10).unwrap();
        bus.settle(&[
            Settled::Processed(&batch[0].receipt),
            Settled::Failed(&batch[1].receipt, "the store was busy"),
            Settled::Processed(&batch[2].receipt),
            Settled::Processed("a stale receipt"),
        ])
        .unwrap();
        assert_eq!(
            bus.counts("q").unwrap(),
            QueueCounts {
                visible: 0,
                in_flight: 1,
                dead: 0
            }
        );
        assert_eq!(
            bus.delete(&batch[0].receipt).unwrap(),
            Deletion::StaleReceipt
        );
        assert_eq!(bus.delete(&batch[1].receipt).unwrap(), Deletion::Deleted);
        bus.settle(&[]).unwrap();
    }

    #[test]
    fn redrives_to_the_dlq_after_max_receives_and_back() {
        let bus = Bus::memory().unwrap();
        send(&bus, 1);
        assert_eq!(bus.receive(FAST, 10).unwrap()[0].receive_count, 1);
        assert_eq!(bus.receive(FAST, 10).unwrap()[0].receive_count, 2);
        assert!(
            bus.receive(FAST, 10).unwrap().is_empty(),
            "third receive moves it to the DLQ"
        );
        let dead = bus.dead_letters().unwrap();
        assert_eq!(dead.len(), 1);
        assert!(dead[0].reason.contains("maxReceiveCount 2"));
        assert_eq!(bus.redrive().unwrap(), 1);
        assert_eq!(bus.receive(FAST, 10).unwrap()[0].receive_count, 1);
    }

    #[test]
    fn dead_letters_carry_their_reason_and_sms_are_kept() {
        let bus = Bus::memory().unwrap();
        bus.dead_letter("q", "{bad", "body is not JSON").unwrap();
        assert_eq!(bus.dead_letters().unwrap()[0].reason, "body is not JSON");
        assert!(bus.receive(SLOW, 10).unwrap().is_empty());
        bus.record_sms("+15550000001", "hello", "o-1").unwrap();
        assert_eq!(bus.sms().unwrap()[0].order_id, "o-1");
        assert_eq!(bus.sms_count().unwrap(), 1);
        assert_eq!(
            bus.counts("q").unwrap(),
            QueueCounts {
                visible: 0,
                in_flight: 0,
                dead: 1
            }
        );
    }

    /// The clock the bus reads is the wall clock: what it stamps lies between two readings taken
    /// around the call.
    fn between(before: i64, at: i64) {
        let after = chrono::Utc::now().timestamp_millis();
        assert!(
            (before..=after).contains(&at),
            "{at} not within {before}..={after}"
        );
    }

    fn parsed(at: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(at)
            .unwrap_or_else(|e| panic!("{at:?} is not RFC 3339: {e}"))
            .timestamp_millis()
    }

    #[test]
    fn stamps_sends_dead_letters_and_sms_with_the_time() {
        let bus = Bus::memory().unwrap();
        let before = chrono::Utc::now().timestamp_millis();
        send(&bus, 1);
        between(before, bus.receive(SLOW, 1).unwrap()[0].sent_at_ms);
        bus.dead_letter("q", "{bad", "body is not JSON").unwrap();
        between(
            before,
            parsed(&bus.dead_letters().unwrap()[0].dead_lettered_at),
        );
        bus.record_sms("+15550000001", "hello", "o-1").unwrap();
        between(before, parsed(&bus.sms().unwrap()[0].sent_at));
    }

    #[test]
    fn a_received_message_comes_back_once_its_visibility_timeout_has_passed() {
        let bus = Bus::memory().unwrap();
        let short = QueueSpec {
            name: "q",
            visibility_timeout: Duration::from_millis(50),
            max_receive_count: 5,
        };
        send(&bus, 1);
        let first = bus.receive(short, 10).unwrap();
        assert_eq!(bus.counts("q").unwrap().in_flight, 1);
        assert!(
            bus.receive(short, 10).unwrap().is_empty(),
            "hidden at first"
        );
        // A condition with a deadline, not a sleep: it must come back well within 5 s.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let again = loop {
            let got = bus.receive(short, 10).unwrap();
            if !got.is_empty() || std::time::Instant::now() > deadline {
                break got;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        assert_eq!(again.len(), 1, "visible again after 50 ms");
        assert_eq!(again[0].id, first[0].id);
        assert_eq!(again[0].receive_count, 2);
    }

    #[test]
    fn a_batch_passing_dead_letters_still_fills_to_max_and_never_past_it() {
        let bus = Bus::memory().unwrap();
        let once = QueueSpec {
            name: "q",
            visibility_timeout: Duration::ZERO,
            max_receive_count: 1,
        };
        send(&bus, 1);
        assert_eq!(bus.receive(once, 1).unwrap().len(), 1);
        let more: Vec<_> = (1..5).map(|i| (format!("m{i}"), HashMap::new())).collect();
        bus.send("q", &more).unwrap();
        // m0 was received once already: this receive moves it to the DLQ and goes on.
        let batch = bus.receive(once, 2).unwrap();
        let bodies: Vec<_> = batch.iter().map(|m| m.body.as_str()).collect();
        assert_eq!(bodies, ["m1", "m2"]);
        assert_eq!(bus.dead_letters().unwrap()[0].body, "m0");
    }

    #[test]
    fn a_failure_recorded_is_the_dead_letters_reason() {
        let bus = Bus::memory().unwrap();
        send(&bus, 1);
        let first = bus.receive(FAST, 10).unwrap();
        bus.fail(&first[0].receipt, "the carrier refused").unwrap();
        bus.receive(FAST, 10).unwrap();
        assert!(bus.receive(FAST, 10).unwrap().is_empty());
        let reason = &bus.dead_letters().unwrap()[0].reason;
        assert!(
            reason.ends_with("(maxReceiveCount 2): the carrier refused"),
            "{reason}"
        );
        assert!(reason.starts_with("received 2 times"), "{reason}");
    }

    #[test]
    fn releasing_in_flight_messages_makes_them_visible_at_once() {
        let bus = Bus::memory().unwrap();
        send(&bus, 2);
        let taken = bus.receive(SLOW, 10).unwrap();
        assert_eq!(bus.release_in_flight("other").unwrap(), 0);
        assert_eq!(bus.release_in_flight("q").unwrap(), 2);
        let again = bus.receive(SLOW, 10).unwrap();
        assert_eq!(again.len(), 2);
        assert_eq!(
            bus.delete(&taken[0].receipt).unwrap(),
            Deletion::StaleReceipt
        );
    }

    #[test]
    fn counts_a_write_per_commit_that_changed_rows() {
        let bus = Bus::memory().unwrap();
        assert_eq!(bus.writes(), 0);
        bus.send("q", &[]).unwrap();
        assert_eq!(bus.writes(), 0, "an empty send changes nothing");
        send(&bus, 3);
        assert_eq!(bus.writes(), 1, "one commit for the batch");
        assert_eq!(bus.receive(SLOW, 10).unwrap().len(), 3);
        assert_eq!(bus.writes(), 2);
        assert!(bus.receive(SLOW, 10).unwrap().is_empty());
        assert_eq!(bus.writes(), 2, "an empty receive changes nothing");
        bus.dead_letter("q", "x", "why").unwrap();
        bus.record_sms("+15550000001", "hi", "o-1").unwrap();
        bus.record_sms("+15550000002", "hi", "o-2").unwrap();
        assert_eq!(bus.writes(), 5);
        assert_eq!(bus.sms_count().unwrap(), 2);
    }

    #[test]
    fn a_busy_or_locked_database_is_transient_and_anything_else_permanent() {
        let failure = |code| {
            db(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(code),
                None,
            ))
        };
        for code in [rusqlite::ffi::SQLITE_BUSY, rusqlite::ffi::SQLITE_LOCKED] {
            assert!(matches!(failure(code), PortError::Transient(_)), "{code}");
        }
        assert!(matches!(
            failure(rusqlite::ffi::SQLITE_CONSTRAINT),
            PortError::Permanent(_)
        ));
        assert!(matches!(
            db(rusqlite::Error::QueryReturnedNoRows),
            PortError::Permanent(_)
        ));
    }

    #[test]
    fn survives_reopening_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bus.sqlite");
        {
            let bus = Bus::open(&path).unwrap();
            send(&bus, 3);
        }
        let bus = Bus::open(&path).unwrap();
        assert_eq!(bus.receive(SLOW, 10).unwrap().len(), 3);
    }
}
