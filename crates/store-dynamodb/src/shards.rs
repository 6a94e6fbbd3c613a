//! A product's stock held in several items ("shards"), so that the reservations of a sale on
//! one product are spread over several items, each with its own share of DynamoDB's per-item
//! write limit (about 1,000 write units a second, 500 transactional orders).
//!
//! # Layout
//!
//! - Shard 0 is the product's own item. It holds every attribute of the product. Its `stock`
//!   and `version` are its own share and count, and `stock_shards` is S (1 when absent).
//! - Shard k, for 1 ≤ k < S, is the item `{id}#{k}`, with `stock`, `available`, `version` and
//!   `stock_shards`. No product id has a `#`, so the keys never collide. A shard has no
//!   `company_id`: the company index never holds it, and the customers' Scan filters it out.
//! - A product's stock is the sum of its shards' stock, and its version the sum of their
//!   versions. A reservation takes from one shard and bumps that shard's version, so it still
//!   moves the product's version and fails a stale `If-Match`.
//! - A company's write rewrites every shard in one transaction, each conditional on the
//!   version it was read at. The shards' versions go back to 0 and the product item takes the
//!   new version whole. Shards past a lowered S are deleted.
//!
//! Only a company's write adds or removes shards, and it always rewrites the product item. So
//! a write conditional on the product item's version read first also finds the shards as they
//! were read after it.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, KeysAndAttributes, Put, TransactWriteItem};
use domain::PortError;
use domain::product::{MAX_STOCK_SHARDS, Product, split_stock};

use crate::catalog::{product_from_item, product_to_item};
use crate::item::{Item, Reader, classify, n, s};

/// `BatchGetItem` takes at most 100 keys.
const BATCH_GET_LIMIT: usize = 100;
/// Rounds of retrying `UnprocessedKeys` before reporting the read as transient.
const UNPROCESSED_ROUNDS: u32 = 5;

/// The key of shard `k` of product `id`; shard 0 is the product's own item.
pub(crate) fn shard_key(id: &str, k: u8) -> String {
    if k == 0 {
        id.to_owned()
    } else {
        format!("{id}#{k}")
    }
}

/// S as an item holds it: absent is 1; out of range is a corrupt item.
pub(crate) fn stock_shards(r: &Reader<'_>) -> Result<u8, PortError> {
    match r.opt_n::<u8>("stock_shards")? {
        None => Ok(1),
        Some(shards) if (1..=MAX_STOCK_SHARDS).contains(&shards) => Ok(shards),
        Some(_) => Err(r.corrupt("stock_shards")),
    }
}

/// A product as stored: the sums, and each item's own version, which a write is conditional on.
#[derive(Clone, Debug)]
pub(crate) struct Stored {
    pub product: Product,
    /// The product item's own version.
    base_version: u64,
    /// Shard k's version at index k - 1; `None` where the item was not found.
    shard_versions: Vec<Option<u64>>,
    /// Shard k's stock at index k (0 where the item was not found).
    pub shard_stock: Vec<u32>,
}

impl Stored {
    /// A product as stored with these shards' stock (for tests of what reads it).
    #[cfg(test)]
    pub fn with_stock(product: Product, shard_stock: Vec<u32>) -> Stored {
        Stored {
            shard_versions: vec![Some(0); shard_stock.len().saturating_sub(1)],
            base_version: product.version,
            product,
            shard_stock,
        }
    }

    /// The product from its own item and the shard items read after it (by key).
    fn fold(item: &Item, shards: &HashMap<String, Item>) -> Result<Stored, PortError> {
        let mut product = product_from_item(item)?;
        let base_version = product.version;
        let mut shard_stock = vec![product.stock];
        let mut shard_versions = Vec::with_capacity(usize::from(product.stock_shards) - 1);
        for k in 1..product.stock_shards {
            let Some(shard) = shards.get(&shard_key(product.id.as_str(), k)) else {
                // Only while a company's write is changing S: read as empty.
                shard_versions.push(None);
                shard_stock.push(0);
                continue;
            };
            let r = Reader {
                item: shard,
                what: "stock shard",
            };
            let version: u64 = r.n("version")?;
            let stock: u32 = r.n("stock")?;
            product.stock = product.stock.saturating_add(stock);
            shard_stock.push(stock);
            product.version = product.version.saturating_add(version);
            shard_versions.push(Some(version));
        }
        Ok(Stored {
            product,
            base_version,
            shard_versions,
            shard_stock,
        })
    }
}

/// Every item of `keys` in `table`, with `BatchGetItem`'s unprocessed keys asked again.
pub(crate) async fn batch_get(
    client: &Client,
    table: &str,
    keys: &[String],
    consistent: bool,
) -> Result<Vec<Item>, PortError> {
    let mut found = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(BATCH_GET_LIMIT) {
        let keys = KeysAndAttributes::builder()
            .set_keys(Some(
                chunk
                    .iter()
                    .map(|k| Item::from([("id".to_owned(), s(k))]))
                    .collect(),
            ))
            .consistent_read(consistent)
            .build()
            .map_err(|e| PortError::Permanent(e.to_string()))?;
        let mut pending = HashMap::from([(table.to_owned(), keys)]);
        for round in 0.. {
            let out = client
                .batch_get_item()
                .set_request_items(Some(pending))
                .send()
                .await
                .map_err(|e| classify("BatchGetItem", e))?;
            found.extend(
                out.responses
                    .and_then(|mut r| r.remove(table))
                    .unwrap_or_default(),
            );
            pending = out.unprocessed_keys.unwrap_or_default();
            pending.retain(|_, k| !k.keys().is_empty());
            if pending.is_empty() {
                break;
            }
            if round + 1 == UNPROCESSED_ROUNDS {
                return Err(PortError::Transient(
                    "BatchGetItem: keys still unprocessed after retries".to_owned(),
                ));
            }
            // DynamoDB is shedding load: back off before asking for the rest.
            tokio::time::sleep(Duration::from_millis(20 << round)).await;
        }
    }
    Ok(found)
}

/// The products of these product items, their shards read after them.
pub(crate) async fn complete(
    client: &Client,
    table: &str,
    items: &[Item],
    consistent: bool,
) -> Result<Vec<Stored>, PortError> {
    let mut shard_keys = Vec::new();
    for item in items {
        let r = Reader {
            item,
            what: "product",
        };
        let shards = stock_shards(&r)?;
        if shards > 1 {
            let id = r.s("id")?;
            shard_keys.extend((1..shards).map(|k| shard_key(id, k)));
        }
    }
    let shards: HashMap<String, Item> = batch_get(client, table, &shard_keys, consistent)
        .await?
        .into_iter()
        .filter_map(|item| Some((item.get("id")?.as_s().ok()?.clone(), item)))
        .collect();
    items
        .iter()
        .map(|item| Stored::fold(item, &shards))
        .collect()
}

fn build_err(e: impl std::fmt::Display) -> PortError {
    PortError::Permanent(e.to_string())
}

/// A put of `item`, conditional on the version it was read at (`None`: on not existing).
fn put(table: &str, item: Item, read_at: Option<u64>) -> Result<TransactWriteItem, PortError> {
    let put = Put::builder().table_name(table).set_item(Some(item));
    let put = match read_at {
        None => put.condition_expression("attribute_not_exists(id)"),
        Some(v) => put
            .condition_expression("version = :expected")
            .expression_attribute_values(":expected", n(v)),
    };
    Ok(TransactWriteItem::builder()
        .put(put.build().map_err(build_err)?)
        .build())
}

fn shard_item(product: &Product, k: u8, stock: u32) -> Item {
    Item::from([
        ("id".to_owned(), s(shard_key(product.id.as_str(), k))),
        ("stock".to_owned(), n(stock)),
        (
            "available".to_owned(),
            AttributeValue::Bool(product.available),
        ),
        ("version".to_owned(), n(0)),
        ("stock_shards".to_owned(), n(product.stock_shards)),
    ])
}

/// The writes that make `product` what is stored, each conditional on `stored` as read (or on
/// not existing, for a new product): the product item, every shard of the new S, and a delete
/// for every shard past it.
pub(crate) fn writes(
    table: &str,
    product: &Product,
    stored: Option<&Stored>,
) -> Result<Vec<TransactWriteItem>, PortError> {
    let split = split_stock(product.stock, product.stock_shards);
    let own = Product {
        stock: split[0],
        ..product.clone()
    };
    let mut writes = vec![put(
        table,
        product_to_item(&own),
        stored.map(|s| s.base_version),
    )?];
    let old_shards = stored.map_or(1, |s| s.product.stock_shards);
    for k in 1..product.stock_shards.max(old_shards) {
        let read_at =
            stored.and_then(|s| s.shard_versions.get(usize::from(k) - 1).copied().flatten());
        if k < product.stock_shards {
            let item = shard_item(product, k, split[usize::from(k)]);
            writes.push(put(table, item, read_at)?);
        } else if let Some(v) = read_at {
            let delete = Delete::builder()
                .table_name(table)
                .key("id", s(shard_key(product.id.as_str(), k)))
                .condition_expression("version = :expected")
                .expression_attribute_values(":expected", n(v))
                .build()
                .map_err(build_err)?;
            writes.push(TransactWriteItem::builder().delete(delete).build());
        }
    }
    Ok(writes)
}
