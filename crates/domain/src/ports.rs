//! Ports: what the handlers need from the outside world. The AWS adapters (DynamoDB, SQS, SNS)
//! and the embedded ones of `delivery-local` implement them.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::carrier::Carrier;
use crate::error::PortError;
use crate::history::{Actor, Author, Entry};
use crate::ids::{CompanyId, CustomerId, OrderId, Phone, ProductId};
use crate::import::{FileVersion, Import, ImportId, ObjectKey, RowError};
use crate::order::{CarrierRef, Order, OrderEvent};
use crate::product::Product;
use crate::rate::OrderWindow;
use crate::validation::FieldError;

pub const DEFAULT_PAGE_LIMIT: u32 = 20;
pub const MAX_PAGE_LIMIT: u32 = 100;
const MAX_CURSOR_LEN: usize = 2048;

/// An opaque pagination cursor, issued by a store and handed back by the client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Cursor(pub String);

/// Which page of a listing: at most `limit` items after `cursor`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u32,
    pub cursor: Option<Cursor>,
}

impl PageRequest {
    /// From the `limit` and `cursor` query parameters. The cursor's content is checked by the
    /// store that issued it; here only its shape (URL-safe base64, bounded length).
    pub fn from_query(
        limit: Option<&str>,
        cursor: Option<&str>,
    ) -> Result<PageRequest, Vec<FieldError>> {
        let mut errors = Vec::new();
        let limit = match limit {
            None => Some(DEFAULT_PAGE_LIMIT),
            Some(s) => s
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_PAGE_LIMIT).contains(n) && !s.starts_with('+'))
                .or_else(|| {
                    errors.push(FieldError::new(
                        "limit",
                        format!("must be an integer from 1 to {MAX_PAGE_LIMIT}"),
                    ));
                    None
                }),
        };
        let cursor = match cursor {
            None => None,
            Some(c)
                if !c.is_empty()
                    && c.len() <= MAX_CURSOR_LEN
                    && c.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
            {
                Some(Cursor(c.to_owned()))
            }
            Some(_) => {
                errors.push(FieldError::new(
                    "cursor",
                    "is not a cursor returned by this listing",
                ));
                None
            }
        };
        match (limit, errors.is_empty()) {
            (Some(limit), true) => Ok(PageRequest { limit, cursor }),
            _ => Err(errors),
        }
    }
}

/// One page of a listing: `{"items": [...], "next_cursor": "..." | null}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<Cursor>,
}

/// The product catalog.
#[async_trait]
pub trait Catalog: Send + Sync {
    async fn get(&self, id: &ProductId) -> Result<Option<Product>, PortError>;
    /// The products that exist among `ids` (any order; unknown ids are simply absent).
    async fn get_many(&self, ids: &[ProductId]) -> Result<Vec<Product>, PortError>;
    /// A page of products, all of them or one company's.
    async fn list(
        &self,
        company: Option<&CompanyId>,
        page: &PageRequest,
    ) -> Result<Page<Product>, PortError>;
    /// Writes `product` if the stored version is `expected_version` (`None`: only if absent);
    /// otherwise [`PortError::Conflict`] and nothing changes. A write no company made (seeding,
    /// tests): it keeps no history entry.
    async fn save(&self, product: &Product, expected_version: Option<u64>)
    -> Result<(), PortError>;
    /// A company's change: as [`Catalog::save`], with the product's history [`Entry`] (the
    /// fields changed from the product as stored) written in the same transaction.
    async fn save_as(
        &self,
        product: &Product,
        expected_version: Option<u64>,
        author: &Author,
    ) -> Result<(), PortError>;
    /// A page of a product's history, newest first.
    async fn history(&self, id: &ProductId, page: &PageRequest) -> Result<Page<Entry>, PortError>;
}

/// The answer to a claim on notifying an order's carrier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// The claimant holds the claim: it sends the SMS.
    Taken,
    /// Another claimant holds it, or the order is no longer `accepted`: no SMS.
    Held,
}

/// What recording an order did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordOutcome {
    /// Stock reserved for every line and the order recorded as accepted, atomically.
    Accepted(Order),
    /// Recorded as rejected with its reason; no stock touched.
    Rejected(Order),
    /// The order was already recorded (a redelivery): nothing changed; here it is as stored.
    AlreadyRecorded(Order),
}

impl RecordOutcome {
    pub fn order(&self) -> &Order {
        match self {
            RecordOutcome::Accepted(o)
            | RecordOutcome::Rejected(o)
            | RecordOutcome::AlreadyRecorded(o) => o,
        }
    }
}

/// Recorded orders.
#[async_trait]
pub trait OrderStore: Send + Sync {
    /// Records an order once. An `accepted` proposal reserves the stock of every line in the
    /// same atomic write, or is recorded `rejected` (with the reason) touching no stock if any
    /// line cannot be served. A `rejected` proposal is recorded as it is.
    async fn record(&self, order: &Order) -> Result<RecordOutcome, PortError>;
    async fn get(&self, id: OrderId) -> Result<Option<Order>, PortError>;
    /// A customer's orders, newest first.
    async fn list_for_customer(
        &self,
        customer: &CustomerId,
        page: &PageRequest,
    ) -> Result<Page<Order>, PortError>;
    /// Claims the right to notify the carrier of an accepted order until `at + lease`: taken
    /// by the claimant (again for the same claimant, which moves the expiry, or once an earlier
    /// claim expired), held while another's claim runs or once the order is no longer
    /// `accepted`. Two deliveries of one event thus send one SMS, while a claimant that fails
    /// is retried and re-claims.
    /// The claim also keeps, once, when the order's event was announced (`announced_at`, the
    /// publish time the delivery carries) for the order's timeline.
    async fn claim_dispatch(
        &self,
        id: OrderId,
        claimant: &str,
        at: DateTime<Utc>,
        lease: chrono::Duration,
        announced_at: DateTime<Utc>,
    ) -> Result<Claim, PortError>;
    /// Records on the claimant's claim that its SMS went out through `carrier`, and holds the
    /// claim until `at + lease`: a later delivery then records the order dispatched through
    /// that carrier instead of texting again. `Held` when the claimant no longer holds it.
    async fn hold_texted(
        &self,
        id: OrderId,
        claimant: &str,
        carrier: &CarrierRef,
        at: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> Result<Claim, PortError>;
    /// The carrier an accepted order was texted through by a delivery that could not record
    /// it ([`OrderStore::hold_texted`]); `None` when no SMS is known to have gone out.
    async fn texted(&self, id: OrderId) -> Result<Option<CarrierRef>, PortError>;
    /// Gives up a claim the claimant holds (it failed before texting), so that a retry may
    /// claim the order at once. A claim it does not hold is left as it is.
    async fn release_dispatch_claim(&self, id: OrderId, claimant: &str) -> Result<(), PortError>;
    /// Marks an accepted order dispatched, its SMS sent at `texted_at` (kept unless an earlier
    /// record of the SMS, [`OrderStore::hold_texted`], has it). Idempotent: an order already
    /// dispatched is returned as it is (first carrier and times kept).
    async fn mark_dispatched(
        &self,
        id: OrderId,
        carrier: &CarrierRef,
        texted_at: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<Order, PortError>;
    /// Accepted orders not yet dispatched that were recorded before `before`, oldest first
    /// within each of the index's partitions, at most `limit`: the orders whose event may
    /// never have reached `notify-carrier`. Read from an index, so a moment behind the latest
    /// writes (an order dispatched just now may still be among them).
    async fn awaiting_dispatch(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Order>, PortError>;
}

/// The carriers' directory.
#[async_trait]
pub trait Carriers: Send + Sync {
    async fn list(&self) -> Result<Vec<Carrier>, PortError>;
    async fn put(&self, carrier: &Carrier) -> Result<(), PortError>;
}

/// A message for the orders queue: `id` is unique within one batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutgoingMessage {
    pub id: String,
    pub body: String,
}

/// A batch entry the queue did not take.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendFailure {
    pub id: String,
    pub reason: String,
    pub transient: bool,
}

/// The orders queue and its dead-letter queue.
#[async_trait]
pub trait OrderQueue: Send + Sync {
    /// Sends up to 10 messages; returns the entries that failed (empty when all were taken).
    async fn send_batch(&self, messages: &[OutgoingMessage])
    -> Result<Vec<SendFailure>, PortError>;
    /// Puts a message that can never be processed on the dead-letter queue, with the reason.
    async fn dead_letter(&self, body: &str, reason: &str) -> Result<(), PortError>;
}

/// The `order-events` topic.
#[async_trait]
pub trait EventPublisher: Send + Sync {
    /// Publishes with the message attribute `type` = the event type.
    async fn publish(&self, event: &OrderEvent) -> Result<(), PortError>;
}

/// Transactional SMS to a phone.
#[async_trait]
pub trait SmsSender: Send + Sync {
    /// Sends `message` to `to`; `order` names the order it is about (for logs and the outbox).
    async fn send(&self, to: &Phone, message: &str, order: OrderId) -> Result<(), PortError>;
}

/// A layer around the ports (locally, `delivery-local`'s fault layer): each port a function
/// gets at the composition root passes through it. The handlers and adapters never know it is
/// there.
pub trait PortLayer: Send + Sync {
    fn catalog(&self, port: Arc<dyn Catalog>) -> Arc<dyn Catalog>;
    fn order_store(&self, port: Arc<dyn OrderStore>) -> Arc<dyn OrderStore>;
    fn carriers(&self, port: Arc<dyn Carriers>) -> Arc<dyn Carriers>;
    fn order_queue(&self, port: Arc<dyn OrderQueue>) -> Arc<dyn OrderQueue>;
    fn events(&self, port: Arc<dyn EventPublisher>) -> Arc<dyn EventPublisher>;
    fn sms(&self, port: Arc<dyn SmsSender>) -> Arc<dyn SmsSender>;
    fn key_uses(&self, port: Arc<dyn KeyUses>) -> Arc<dyn KeyUses>;
    fn imports(&self, port: Arc<dyn Imports>) -> Arc<dyn Imports>;
    fn import_files(&self, port: Arc<dyn ImportFiles>) -> Arc<dyn ImportFiles>;
}

/// No layer: the ports as the adapters are.
pub struct Bare;

impl PortLayer for Bare {
    fn catalog(&self, port: Arc<dyn Catalog>) -> Arc<dyn Catalog> {
        port
    }
    fn order_store(&self, port: Arc<dyn OrderStore>) -> Arc<dyn OrderStore> {
        port
    }
    fn carriers(&self, port: Arc<dyn Carriers>) -> Arc<dyn Carriers> {
        port
    }
    fn order_queue(&self, port: Arc<dyn OrderQueue>) -> Arc<dyn OrderQueue> {
        port
    }
    fn events(&self, port: Arc<dyn EventPublisher>) -> Arc<dyn EventPublisher> {
        port
    }
    fn sms(&self, port: Arc<dyn SmsSender>) -> Arc<dyn SmsSender> {
        port
    }
    fn key_uses(&self, port: Arc<dyn KeyUses>) -> Arc<dyn KeyUses> {
        port
    }
    fn imports(&self, port: Arc<dyn Imports>) -> Arc<dyn Imports> {
        port
    }
    fn import_files(&self, port: Arc<dyn ImportFiles>) -> Arc<dyn ImportFiles> {
        port
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_request_from_query() {
        assert_eq!(PageRequest::from_query(None, None).unwrap().limit, 20);
        assert_eq!(
            PageRequest::from_query(Some("100"), Some("abc_-9"))
                .unwrap()
                .cursor,
            Some(Cursor("abc_-9".into()))
        );
        for bad in ["0", "101", "-1", "+5", "1.5", "", "ten"] {
            assert_eq!(
                PageRequest::from_query(Some(bad), None).unwrap_err()[0].field,
                "limit",
                "{bad}"
            );
        }
        for bad in ["", "a b", "a/b=", &"a".repeat(3000)] {
            assert_eq!(
                PageRequest::from_query(None, Some(bad)).unwrap_err()[0].field,
                "cursor"
            );
        }
        assert_eq!(
            PageRequest::from_query(Some("x"), Some("!"))
                .unwrap_err()
                .len(),
            2
        );
    }
}

/// What a placed order's `Idempotency-Key` was first used for: the request's fingerprint and
/// the answer it got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyUse {
    /// The order the key names (derived from the customer and the key).
    pub order_id: OrderId,
    /// A digest of the request, as validated (so a retry that differs only in spacing or in
    /// the order of its lines is the same request).
    pub fingerprint: String,
    /// The answer's body, as first sent.
    pub answer: serde_json::Value,
    /// The queue message it sent (none in a use remembered before messages were kept): a
    /// retry sends the very same message again, quote included.
    pub message: Option<String>,
}

/// The outcome of remembering a key's use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Remembered {
    /// The key's first use: remembered now.
    First,
    /// The key was used before, for this.
    Before(KeyUse),
}

/// The uses of `Idempotency-Key`s, kept for a day.
#[async_trait]
pub trait KeyUses: Send + Sync {
    /// Remembers `use_` unless the key's order was used before; then the earlier use.
    async fn remember(&self, key_use: &KeyUse) -> Result<Remembered, PortError>;

    /// The remembered use of the key that names `order`, if it is still kept.
    async fn recall(&self, order: OrderId) -> Result<Option<KeyUse>, PortError>;

    /// Counts `order` among the orders `principal` placed in `window`, unless that would pass
    /// its limit: `false` then, and nothing counted. An order counted before (a retried
    /// request) is within the limit and is not counted again.
    async fn count_order(
        &self,
        principal: &CustomerId,
        order: OrderId,
        window: &OrderWindow,
    ) -> Result<bool, PortError>;
}

/// One batch of an import: the products its rows write (each conditional on the version read,
/// as `PUT` writes), the rows it refused, and the checkpoint it moves from `from_row` to
/// `to_row` (every row in between settled by this batch).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportBatch {
    pub import: ImportId,
    pub from_row: u64,
    pub to_row: u64,
    /// Each product, with the version it replaces (`None`: it must not exist yet).
    pub writes: Vec<(Product, Option<u64>)>,
    /// The refused rows, counted in full; only those the report still has room for are kept.
    pub errors: Vec<RowError>,
    pub at: DateTime<Utc>,
    /// Who started the import: each written row's history entry names them.
    pub by: Actor,
}

/// What committing an import's batch did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchOutcome {
    /// The products and the checkpoint were written together.
    Committed,
    /// Nothing was written: these products changed since they were read (read them again).
    Changed(Vec<ProductId>),
    /// Nothing was written: the checkpoint is no longer `from_row` (another delivery of the
    /// same file is committing it) or the import is no longer running.
    Superseded,
}

/// A file being read, a chunk at a time (an S3 `GetObject` body, streamed).
#[async_trait]
pub trait FileBody: Send {
    /// The next bytes, or `None` at the end.
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, PortError>;
}

/// Where companies' import files are stored (the imports bucket).
#[async_trait]
pub trait ImportFiles: Send + Sync {
    /// The upload `version` of the file under `key`, streamed. [`PortError::NotFound`] when it
    /// is gone; [`PortError::Conflict`] when another upload replaced it and the bucket keeps
    /// no versions (the key then holds another file).
    async fn open(
        &self,
        key: &ObjectKey,
        version: &FileVersion,
    ) -> Result<Box<dyn FileBody>, PortError>;
    /// A URL that lets its holder `PUT` one file under `key`, with this content type, until
    /// `expires_at`.
    async fn upload_url(
        &self,
        key: &ObjectKey,
        content_type: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<UploadUrl, PortError>;
}

/// A presigned upload: the request a client makes to send its file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UploadUrl {
    pub url: String,
    pub method: &'static str,
    /// Headers the request must carry as they are (they are part of the signature).
    pub headers: std::collections::BTreeMap<String, String>,
    pub expires_at: DateTime<Utc>,
}

/// The imports and their progress (the imports table).
#[async_trait]
pub trait Imports: Send + Sync {
    /// Records a new import; [`PortError::Conflict`] if its id exists.
    async fn create(&self, import: &Import) -> Result<(), PortError>;
    async fn get(&self, id: ImportId) -> Result<Option<Import>, PortError>;
    /// The company's open imports (pending or running), oldest first; read from an index, so
    /// possibly a moment behind the latest writes.
    async fn open(&self, company: &CompanyId) -> Result<Vec<Import>, PortError>;
    /// Fails a pending import with `reason` (its upload never came); one that started or
    /// ended meanwhile is left as it is.
    async fn expire(&self, id: ImportId, reason: &str, at: DateTime<Utc>) -> Result<(), PortError>;
    /// Marks a pending import running on the upload `file`, with its row count, and returns
    /// it as stored (its checkpoint says where to resume). One running on `file` already is
    /// returned as it is, and so is a finished one, or one running on another upload (its
    /// `file` says which): an import reads one upload.
    async fn start(
        &self,
        id: ImportId,
        total_rows: u64,
        file: &FileVersion,
        at: DateTime<Utc>,
    ) -> Result<Option<Import>, PortError>;
    /// Writes a batch's products and moves the checkpoint, in one transaction: a row is
    /// written once however often the file is delivered.
    async fn commit(&self, batch: &ImportBatch) -> Result<BatchOutcome, PortError>;
    /// Ends a running import: `done`, or `failed` with the reason.
    async fn finish(
        &self,
        id: ImportId,
        failure: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<(), PortError>;
    /// Running imports whose last progress (`updated_at`) came before `before`, at most
    /// `limit`; read from an index, so a moment behind the latest writes.
    async fn stalled(&self, before: DateTime<Utc>, limit: usize) -> Result<Vec<Import>, PortError>;
    /// Fails a running import with `reason` if it has made no progress since `seen` (its
    /// `updated_at` as read): true when it did; false when it moved on or ended meanwhile,
    /// which leaves it as it is.
    async fn fail_stalled(
        &self,
        id: ImportId,
        seen: DateTime<Utc>,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, PortError>;
}
