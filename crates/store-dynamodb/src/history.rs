//! Products' history (`HISTORY_TABLE`): one item per change a company made, put in the same
//! transaction as the change.
//!
//! | attribute | |
//! |---|---|
//! | `id` S (hash) | the product's id |
//! | `version` S (range) | the version the change made, 20 digits zero-padded, so that the key sorts as the number and a product's newest change comes first in a descending Query |
//! | `at` S | RFC 3339 |
//! | `by_sub` S, `by_company` S | who |
//! | `via_request` S or `via_import` S | through what |
//! | `changes` S | JSON: `{"<field>": {"from", "to"}}` |
//! | `expires_at` N | TTL (epoch s): 400 days |

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use domain::history::{Actor, Entry, Via};
use domain::ports::{Page, PageRequest};
use domain::{CompanyId, PortError, ProductId};

use crate::item::{Item, Reader, classify, n, s};
use crate::{DynamoStore, cursor};

fn build_err(e: impl std::fmt::Display) -> PortError {
    PortError::Permanent(e.to_string())
}

/// A version as the range key holds it.
fn version_key(version: u64) -> String {
    format!("{version:020}")
}

fn entry_to_item(entry: &Entry) -> Result<Item, PortError> {
    let changes = serde_json::to_string(&entry.changes).map_err(build_err)?;
    let mut item = Item::from([
        ("id".to_owned(), s(entry.product_id.as_str())),
        ("version".to_owned(), s(version_key(entry.version))),
        ("at".to_owned(), s(entry.at.to_rfc3339())),
        ("by_sub".to_owned(), s(&entry.by.sub)),
        ("by_company".to_owned(), s(entry.by.company_id.as_str())),
        ("changes".to_owned(), s(changes)),
        ("expires_at".to_owned(), n(entry.expires_at())),
    ]);
    match &entry.via {
        Via::RequestId(id) => item.insert("via_request".to_owned(), s(id)),
        Via::ImportId(id) => item.insert("via_import".to_owned(), s(id.to_string())),
    };
    Ok(item)
}

fn entry_from_item(item: &Item) -> Result<Entry, PortError> {
    let r = Reader {
        item,
        what: "history entry",
    };
    let via = match (r.opt_s("via_request"), r.opt_s("via_import")) {
        (Some(request), None) => Via::RequestId(request.to_owned()),
        (None, Some(_)) => Via::ImportId(r.parse("via_import", domain::import::ImportId::parse)?),
        _ => return Err(r.corrupt("via_request")),
    };
    Ok(Entry {
        product_id: r.parse("id", ProductId::parse)?,
        version: r.parse("version", |v| v.parse::<u64>())?,
        at: r.time("at")?,
        by: Actor {
            sub: r.s("by_sub")?.to_owned(),
            company_id: r.parse("by_company", CompanyId::parse)?,
        },
        via,
        changes: serde_json::from_str(r.s("changes")?).map_err(|_| r.corrupt("changes"))?,
    })
}

/// The put of `entry` into `table`: a transaction's item, beside the change it records. An
/// entry is never overwritten (one change makes one version).
pub(crate) fn put(table: &str, entry: &Entry) -> Result<TransactWriteItem, PortError> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(entry_to_item(entry)?))
        .condition_expression("attribute_not_exists(id)")
        .build()
        .map_err(build_err)?;
    Ok(TransactWriteItem::builder().put(put).build())
}

impl DynamoStore {
    /// The history table, which only the functions that write or read history are given.
    pub(crate) fn history_table(&self) -> Result<&str, PortError> {
        self.history.as_deref().ok_or_else(|| {
            PortError::Permanent("no history table is configured (HISTORY_TABLE)".to_owned())
        })
    }

    /// A page of `id`'s history, newest first (a consistent Query: a change is in it as soon
    /// as its write has answered).
    pub(crate) async fn history_page(
        &self,
        id: &ProductId,
        request: &PageRequest,
    ) -> Result<Page<Entry>, PortError> {
        let table = self.history_table()?;
        let listing = format!("history@{id}");
        let start = request
            .cursor
            .as_ref()
            .map(|c| cursor::decode(c, &listing, &[("id", Some(id.as_str())), ("version", None)]))
            .transpose()?;
        let out = self
            .client
            .query()
            .table_name(table)
            .key_condition_expression("id = :id")
            .expression_attribute_values(":id", s(id.as_str()))
            .scan_index_forward(false)
            .consistent_read(true)
            .limit(i32::try_from(request.limit).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| classify("Query", e))?;
        cursor::page(
            out.items(),
            out.last_evaluated_key(),
            &listing,
            entry_from_item,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::history::FieldChange;
    use serde_json::json;

    fn entry(via: Via) -> Entry {
        Entry {
            product_id: ProductId::parse("pizza").unwrap(),
            version: 42,
            at: chrono::DateTime::UNIX_EPOCH,
            by: Actor {
                sub: "acme-admin".to_owned(),
                company_id: CompanyId::parse("acme").unwrap(),
            },
            via,
            changes: [(
                "stock".to_owned(),
                FieldChange {
                    from: json!(1),
                    to: json!(2),
                },
            )]
            .into(),
        }
    }

    #[test]
    fn an_entry_goes_in_and_out_of_its_item_unchanged() {
        for via in [
            Via::RequestId("req-1".to_owned()),
            Via::ImportId(domain::import::ImportId::random()),
        ] {
            let e = entry(via);
            let item = entry_to_item(&e).unwrap();
            assert_eq!(item["version"], s("00000000000000000042"));
            assert_eq!(entry_from_item(&item).unwrap(), e);
        }
    }

    #[test]
    fn versions_sort_as_numbers_in_the_range_key() {
        assert!(version_key(9) < version_key(10));
        assert!(version_key(99_999) < version_key(100_000));
        assert_eq!(version_key(u64::MAX).len(), 20);
    }
}
