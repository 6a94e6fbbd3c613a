//! The DynamoDB adapter: the [`Catalog`](domain::ports::Catalog),
//! [`OrderStore`](domain::ports::OrderStore) and [`Carriers`](domain::ports::Carriers) ports over
//! `aws-sdk-dynamodb`. Production reaches DynamoDB with it; `delivery-local` and the tests reach
//! an embedded dynoxide through the very same code.
//!
//! # Table design
//!
//! All tables are on-demand, keyed by a string `id` (the history table with a range key too);
//! table names come from configuration (`PRODUCTS_TABLE`, `ORDERS_TABLE`, `CARRIERS_TABLE`,
//! and `HISTORY_TABLE` for the functions that keep history). [`schema`] holds the definitions that
//! [`schema::create_tables`] creates and Terraform mirrors.
//!
//! | table | key | attributes | indexes |
//! |---|---|---|---|
//! | products | `id` (S): a product, or `{id}#{k}` for its stock shard k | `company_id` S, `name` S, `description` S, `price_minor` N, `currency` S, `stock` N, `available` BOOL, `version` N, `stock_shards` N?, `updated_at` S; a shard holds only `stock`, `available`, `version`, `stock_shards` | `by_company`: `company_id` (S) + `id` (S), all attributes (shards, without `company_id`, are not in it) |
//! | orders | `id` (S) | `customer_id` S, `created_at` S (RFC 3339, µs, `Z`: sorts as time), `status` S, `reason` S?, `lines` S (JSON), `total_minor` N?, `currency` S?, `address` S, `phone` S, `carrier_id` S?, `carrier_name` S?, the timeline's `recorded_at` S?, `announced_at` S?, `texted_at` S?, `dispatched_at` S?, `awaiting` S? (while accepted and not dispatched: one of 16 labels by id) | `by_customer`: `customer_id` (S) + `created_at` (S), all attributes; queried newest first. `awaiting_dispatch`: `awaiting` (S) + `recorded_at` (S), sparse, all attributes; the reconciler's |
//! | carriers | `id` (S) | `name` S, `phone` S, `active` BOOL | — |
//! | idempotency | `id` (S): the order an `Idempotency-Key` names | `fingerprint` S, `answer` S (JSON), `expires_at` N (TTL, epoch s) | — |
//! | imports | `id` (S): the import id | see [`ImportTable`]; `expires_at` N (TTL, epoch s) | `open_by_company`: `open_company` (S) + `created_at` (S), sparse; `running_by_update`: `running` (S) + `updated_at` (S), sparse, the reconciler's |
//! | history | `id` (S): the product id, + `version` (S, range: 20 digits) | `at` S, `by_sub` S, `by_company` S, `via_request` S or `via_import` S, `changes` S (JSON), `expires_at` N (TTL, epoch s) | — |
//!
//! # Consistency
//!
//! - Product writes are conditional on `version` (optimistic concurrency); every write, stock
//!   reservations included, bumps it.
//! - Recording an accepted order is one `TransactWriteItems`: per line, `stock = stock - q` on
//!   condition `available AND stock >= q` on one of the product's stock shards, and the order
//!   `Put` on `attribute_not_exists(id)`. So stock is reserved exactly once per order whatever
//!   the concurrency or redelivery. A product's stock and version are the sums over its shards
//!   (`src/shards.rs` has the layout); the customers' Scan filters on `attribute_exists(company_id)`
//!   so that it lists products, never their shards.
//! - A company's change of a product (`save_as`) writes the product's items and its history
//!   entry in one `TransactWriteItems`: no change without its entry, no entry without its change.
//! - An import's batch is one `TransactWriteItems` too: its checkpoint moves (on condition that
//!   it has not moved since) with the batch's product writes and their history entries, so a
//!   row is written once however often its file is delivered.
//! - Cursors are base64url JSON of DynamoDB's `LastEvaluatedKey`, bound to their listing and
//!   validated on the way back in: a forged cursor is a 400, never a 5xx.
//! - Throttling, timeouts and 5xx are [`PortError::Transient`](domain::PortError); the rest is
//!   permanent.

mod carriers;
mod catalog;
mod cursor;
mod history;
mod imports;
mod item;
mod key_uses;
mod orders;
pub mod schema;
mod shards;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::Client;
use domain::{PortError, ProductId};

pub use imports::ImportTable;
pub use key_uses::KeyUseTable;

/// The names of the three tables, from configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tables {
    pub products: String,
    pub orders: String,
    pub carriers: String,
}

/// The adapter: one client, three tables. Cheap to clone. The client comes from the
/// composition root (`crates/composition`), which builds every SDK client of a process from one
/// configuration.
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    tables: Tables,
    /// Each product's number of stock shards as last read, shared by the clones: the processor
    /// reads an order's products just before reserving, so a reservation knows where to look
    /// without reading again.
    shard_counts: Arc<Mutex<HashMap<ProductId, u8>>>,
    /// The products' history table (`HISTORY_TABLE`), for the functions that write or read
    /// products' history ([`DynamoStore::with_history`]).
    history: Option<String>,
}

/// Products whose shard counts are remembered at most; past it the memory starts again.
const REMEMBERED_PRODUCTS: usize = 10_000;

impl DynamoStore {
    pub fn new(client: Client, tables: Tables) -> DynamoStore {
        DynamoStore {
            client,
            tables,
            shard_counts: Arc::default(),
            history: None,
        }
    }

    /// The store, with products' history kept in (and read from) `table`.
    pub fn with_history(self, table: String) -> DynamoStore {
        DynamoStore {
            history: Some(table),
            ..self
        }
    }

    pub(crate) fn remember_shards(&self, id: &ProductId, shards: u8) {
        let mut counts = self.shard_counts.lock().unwrap_or_else(|e| e.into_inner());
        if counts.len() >= REMEMBERED_PRODUCTS && !counts.contains_key(id) {
            counts.clear();
        }
        counts.insert(id.clone(), shards);
    }

    pub(crate) fn remembered_shards(&self, id: &ProductId) -> Option<u8> {
        let counts = self.shard_counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.get(id).copied()
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn tables(&self) -> &Tables {
        &self.tables
    }

    /// Every item of `table`, page by page (a consistent Scan): for the small carriers table
    /// and an operator's audit, never on a request's path over a large table.
    pub(crate) async fn scan_all(&self, table: &str) -> Result<Vec<item::Item>, PortError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(table)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| item::classify("Scan", e))?;
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }
}

impl Tables {
    /// From `PRODUCTS_TABLE`, `ORDERS_TABLE` and `CARRIERS_TABLE`.
    pub fn from_settings(source: &dyn settings::Source) -> Result<Tables, settings::ConfigError> {
        Ok(Tables {
            products: settings::required(source, "PRODUCTS_TABLE")?,
            orders: settings::required(source, "ORDERS_TABLE")?,
            carriers: settings::required(source, "CARRIERS_TABLE")?,
        })
    }
}
