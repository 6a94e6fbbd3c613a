//! A product's history: who changed it, when, through what, and each field from what to what.
//! Every change a company makes (`PUT`, `PATCH`, an import's row) is written with its entry in
//! one transaction, so no change is ever without one. Stock reservations are the pipeline's,
//! not a company's change: they bump the version and write no entry.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids::{CompanyId, ProductId};
use crate::import::ImportId;
use crate::product::{EDITABLE_FIELDS, Product};

/// How long an entry is kept.
pub const KEPT_DAYS: i64 = 400;

/// Who made a change: the token's subject and company.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub sub: String,
    pub company_id: CompanyId,
}

/// Through what a change came: an API request (API Gateway's request id), or an import.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    RequestId(String),
    ImportId(ImportId),
}

/// Who changed a product, and through what: what a write carries to its entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Author {
    pub by: Actor,
    pub via: Via,
}

/// One field's change, as the product's JSON shows the field (`null` before it existed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    pub from: Value,
    pub to: Value,
}

/// One change of one product, as `GET /products/{id}/history` serves it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Entry {
    #[serde(skip)]
    pub product_id: ProductId,
    /// The version the change made (the product's `ETag` after it).
    pub version: u64,
    pub at: DateTime<Utc>,
    pub by: Actor,
    /// `{"request_id": …}` or `{"import_id": …}`.
    pub via: Via,
    pub changes: BTreeMap<String, FieldChange>,
}

impl Entry {
    /// The entry of writing `after` over `before` (`None`: the product is new): every field
    /// whose value differs, at the time and version of `after`.
    pub fn of(before: Option<&Product>, after: &Product, author: &Author) -> Entry {
        let json = |p: Option<&Product>| p.and_then(|p| serde_json::to_value(p).ok());
        let (old, new) = (json(before), json(Some(after)));
        let field = |doc: &Option<Value>, name: &str| {
            doc.as_ref()
                .and_then(|d| d.get(name).cloned())
                .unwrap_or(Value::Null)
        };
        let changes = EDITABLE_FIELDS
            .iter()
            .map(|name| (name, field(&old, name), field(&new, name)))
            .filter(|(_, from, to)| from != to)
            .map(|(name, from, to)| ((*name).to_owned(), FieldChange { from, to }))
            .collect();
        Entry {
            product_id: after.id.clone(),
            version: after.version,
            at: after.updated_at,
            by: author.by.clone(),
            via: author.via.clone(),
            changes,
        }
    }

    /// When the store may forget the entry (epoch seconds, DynamoDB's TTL).
    pub fn expires_at(&self) -> i64 {
        (self.at + chrono::Duration::days(KEPT_DAYS)).timestamp()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Currency, Money};
    use serde_json::json;

    fn product(stock: u32, version: u64) -> Product {
        Product {
            id: ProductId::parse("pizza").unwrap(),
            company_id: CompanyId::parse("acme").unwrap(),
            name: "Pizza".to_owned(),
            description: String::new(),
            price: Money::from_minor(1250, Currency::Eur),
            stock,
            available: true,
            stock_shards: 1,
            version,
            updated_at: DateTime::UNIX_EPOCH + chrono::Duration::seconds(version as i64),
        }
    }

    fn author() -> Author {
        Author {
            by: Actor {
                sub: "acme-admin".to_owned(),
                company_id: CompanyId::parse("acme").unwrap(),
            },
            via: Via::RequestId("req-1".to_owned()),
        }
    }

    #[test]
    fn an_entry_names_only_the_fields_that_changed_from_what_to_what() {
        let before = product(10, 3);
        let after = Product {
            price: Money::from_minor(1300, Currency::Eur),
            stock_shards: 4,
            ..product(7, 4)
        };
        let entry = Entry::of(Some(&before), &after, &author());
        assert_eq!(
            serde_json::to_value(&entry).unwrap(),
            json!({
                "version": 4,
                "at": "1970-01-01T00:00:04Z",
                "by": {"sub": "acme-admin", "company_id": "acme"},
                "via": {"request_id": "req-1"},
                "changes": {
                    "price": {"from": {"amount": "12.50", "currency": "EUR"},
                              "to": {"amount": "13.00", "currency": "EUR"}},
                    "stock": {"from": 10, "to": 7},
                    "stock_shards": {"from": 1, "to": 4},
                },
            })
        );
        assert_eq!(entry.expires_at(), 4 + KEPT_DAYS * 86_400);
    }

    #[test]
    fn a_new_product_changes_every_field_from_null() {
        let entry = Entry::of(None, &product(5, 1), &author());
        assert_eq!(entry.changes.len(), EDITABLE_FIELDS.len());
        assert_eq!(entry.changes["stock"].from, Value::Null);
        assert_eq!(entry.changes["name"].to, json!("Pizza"));
        let import = Author {
            via: Via::ImportId(ImportId::random()),
            ..author()
        };
        let via = serde_json::to_value(Entry::of(None, &product(5, 1), &import).via).unwrap();
        assert!(via["import_id"].is_string(), "{via}");
    }
}
