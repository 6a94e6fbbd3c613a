//! Products, and the pure rules of the company product API (`PUT`/`PATCH /products/{id}`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Error;
use crate::ids::{CompanyId, ProductId};
use crate::money::Money;
use crate::validation::{FieldError, FieldErrors, JsonObject, Presence};

pub const NAME_LEN: (usize, usize) = (1, 200);
pub const DESCRIPTION_LEN: (usize, usize) = (0, 2000);
pub const MAX_STOCK: u32 = 1_000_000;
/// The most items a product's stock may be spread over (see [`Product::stock_shards`]).
pub const MAX_STOCK_SHARDS: u8 = 32;

fn one_shard() -> u8 {
    1
}

/// A product as stored and as served.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub id: ProductId,
    pub company_id: CompanyId,
    pub name: String,
    pub description: String,
    pub price: Money,
    /// The total, whatever the number of shards holding it.
    pub stock: u32,
    pub available: bool,
    /// How many items the stock is spread over, so that a sale's reservations are not all
    /// writes to one item (DynamoDB serves about 1,000 write units a second per item). Each
    /// reservation takes its quantity from one shard; reads show the sum.
    #[serde(default = "one_shard")]
    pub stock_shards: u8,
    /// Bumped by every write, stock reservations included; served as the `ETag`.
    pub version: u64,
    pub updated_at: DateTime<Utc>,
}

/// The validated body of `PUT /products/{id}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProductDraft {
    pub name: String,
    pub description: String,
    pub price: Money,
    pub stock: u32,
    pub available: bool,
    /// `None` keeps the product's current number of shards (1 for a new product).
    pub stock_shards: Option<u8>,
}

/// The validated body of `PATCH /products/{id}`: only the fields given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProductPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub price: Option<Money>,
    pub stock: Option<u32>,
    pub available: Option<bool>,
    pub stock_shards: Option<u8>,
}

/// The fields a company writes (`PUT`, `PATCH`, an import's row); the rest (id, company,
/// version, time) are the write's own. A product's history names changes among these.
pub const EDITABLE_FIELDS: [&str; 6] = [
    "name",
    "description",
    "price",
    "stock",
    "available",
    "stock_shards",
];

fn stock(obj: &JsonObject<'_>, need: Presence, errors: &mut FieldErrors) -> Option<u32> {
    obj.integer("stock", need, (0, i64::from(MAX_STOCK)), errors)
        .map(|n| n as u32)
}

fn stock_shards(obj: &JsonObject<'_>, errors: &mut FieldErrors) -> Option<u8> {
    obj.integer(
        "stock_shards",
        Presence::Optional,
        (1, i64::from(MAX_STOCK_SHARDS)),
        errors,
    )
    .map(|n| n as u8)
}

/// `total` spread over `shards` as evenly as it goes: the first `total % shards` shards hold
/// one more. Shard 0 is the product's own item.
pub fn split_stock(total: u32, shards: u8) -> Vec<u32> {
    let shards = u32::from(shards.max(1));
    (0..shards)
        .map(|k| total / shards + u32::from(k < total % shards))
        .collect()
}

impl ProductDraft {
    pub fn from_json(body: &Value) -> Result<ProductDraft, Vec<FieldError>> {
        let mut errors = FieldErrors::default();
        let Some(obj) = JsonObject::root(body, &mut errors) else {
            return Err(errors.into_vec());
        };
        obj.deny_unknown(&EDITABLE_FIELDS, &mut errors);
        let name = obj.text("name", Presence::Required, NAME_LEN, false, &mut errors);
        let description = obj.text(
            "description",
            Presence::Optional,
            DESCRIPTION_LEN,
            true,
            &mut errors,
        );
        let price = obj.price("price", Presence::Required, &mut errors);
        let stock = stock(&obj, Presence::Required, &mut errors);
        let available = obj.boolean("available", Presence::Optional, &mut errors);
        let stock_shards = stock_shards(&obj, &mut errors);
        errors.finish(|| {
            Some(ProductDraft {
                name: name?,
                description: description.unwrap_or_default(),
                price: price?,
                stock: stock?,
                available: available.unwrap_or(true),
                stock_shards,
            })
        })
    }
}

impl ProductPatch {
    pub fn from_json(body: &Value) -> Result<ProductPatch, Vec<FieldError>> {
        let mut errors = FieldErrors::default();
        let Some(obj) = JsonObject::root(body, &mut errors) else {
            return Err(errors.into_vec());
        };
        obj.deny_unknown(&EDITABLE_FIELDS, &mut errors);
        if errors.is_empty() && !EDITABLE_FIELDS.iter().any(|f| obj.has(f)) {
            errors.add(
                "body",
                "must change at least one of name, description, price, stock, available, stock_shards",
            );
        }
        let patch = ProductPatch {
            name: obj.text("name", Presence::Optional, NAME_LEN, false, &mut errors),
            description: obj.text(
                "description",
                Presence::Optional,
                DESCRIPTION_LEN,
                true,
                &mut errors,
            ),
            price: obj.price("price", Presence::Optional, &mut errors),
            stock: stock(&obj, Presence::Optional, &mut errors),
            available: obj.boolean("available", Presence::Optional, &mut errors),
            stock_shards: stock_shards(&obj, &mut errors),
        };
        errors.finish(|| Some(patch))
    }
}

/// Checks ownership and `If-Match` against the current product, if any.
fn check_write(
    current: Option<&Product>,
    company: &CompanyId,
    if_match: Option<u64>,
) -> Result<(), Error> {
    if let Some(cur) = current
        && &cur.company_id != company
    {
        return Err(Error::Forbidden(format!(
            "Product {} belongs to another company",
            cur.id
        )));
    }
    match (current, if_match) {
        (Some(cur), Some(v)) if cur.version != v => Err(Error::PreconditionFailed(format!(
            "Version {v} is not current (current version is {})",
            cur.version
        ))),
        (None, Some(v)) => Err(Error::PreconditionFailed(format!(
            "If-Match names version {v} but the product does not exist"
        ))),
        _ => Ok(()),
    }
}

/// What a write did to a product: created it (201) or changed one that existed (200).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Write {
    Created,
    Replaced,
}

/// The product a `PUT` writes, and whether that creates or replaces it.
pub fn plan_put(
    current: Option<&Product>,
    id: &ProductId,
    company: &CompanyId,
    draft: ProductDraft,
    if_match: Option<u64>,
    now: DateTime<Utc>,
) -> Result<(Product, Write), Error> {
    check_write(current, company, if_match)?;
    let version = current.map_or(1, |c| c.version + 1);
    let product = Product {
        id: id.clone(),
        company_id: company.clone(),
        name: draft.name,
        description: draft.description,
        price: draft.price,
        stock: draft.stock,
        available: draft.available,
        stock_shards: draft
            .stock_shards
            .or(current.map(|c| c.stock_shards))
            .unwrap_or(1),
        version,
        updated_at: now,
    };
    let write = if current.is_none() {
        Write::Created
    } else {
        Write::Replaced
    };
    Ok((product, write))
}

/// The product a `PATCH` writes; 404 when there is none.
pub fn plan_patch(
    current: Option<&Product>,
    company: &CompanyId,
    patch: ProductPatch,
    if_match: Option<u64>,
    now: DateTime<Utc>,
) -> Result<Product, Error> {
    let Some(cur) = current else {
        return Err(Error::NotFound("No such product".to_owned()));
    };
    check_write(current, company, if_match)?;
    let mut next = cur.clone();
    if let Some(name) = patch.name {
        next.name = name;
    }
    if let Some(description) = patch.description {
        next.description = description;
    }
    if let Some(price) = patch.price {
        next.price = price;
    }
    if let Some(stock) = patch.stock {
        next.stock = stock;
    }
    if let Some(available) = patch.available {
        next.available = available;
    }
    if let Some(shards) = patch.stock_shards {
        next.stock_shards = shards;
    }
    next.version = cur.version + 1;
    next.updated_at = now;
    Ok(next)
}

/// Parses an `If-Match` header value: `"<version>"` (a strong ETag). `*` is not supported
/// because every write already says whether it creates or replaces.
pub fn parse_if_match(header: &str) -> Result<u64, Error> {
    let invalid = || Error::validation("If-Match", "must be a quoted version such as \"3\"");
    let inner = header
        .trim()
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .ok_or_else(invalid)?;
    if inner.is_empty() || inner.len() > 19 || !inner.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    inner.parse().map_err(|_| invalid())
}

/// The `ETag` of a product version.
pub fn etag(version: u64) -> String {
    format!("\"{version}\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A product written before shards existed (an event, a stored JSON) has its stock in one.
    #[test]
    fn a_product_without_a_shard_count_has_one() {
        let old = json!({"id": "p1", "company_id": "acme", "name": "P", "description": "",
                         "price": {"amount": "1.00", "currency": "USD"}, "stock": 3,
                         "available": true, "version": 1, "updated_at": "2026-11-22T10:00:00Z"});
        let product: Product = serde_json::from_value(old).unwrap();
        assert_eq!(product.stock_shards, 1);
    }

    #[test]
    fn if_match_is_a_quoted_version_of_at_most_19_digits() {
        assert_eq!(parse_if_match(" \"3\" ").unwrap(), 3);
        assert_eq!(
            parse_if_match("\"9999999999999999999\"").unwrap(),
            9_999_999_999_999_999_999
        );
        for bad in [
            "3",
            "\"\"",
            "\"12345678901234567890\"",
            "\"1a\"",
            "\"-1\"",
            "W/\"3\"",
            "*",
        ] {
            assert!(parse_if_match(bad).is_err(), "{bad}");
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z")
            .unwrap()
            .to_utc()
    }

    fn acme() -> CompanyId {
        CompanyId::parse("acme").unwrap()
    }

    fn draft() -> ProductDraft {
        ProductDraft::from_json(
            &json!({"name": "Margherita", "price": {"amount": "12.50", "currency": "USD"}, "stock": 5}),
        )
        .unwrap()
    }

    #[test]
    fn draft_defaults_and_limits() {
        let d = draft();
        assert!(d.available);
        assert_eq!(d.description, "");
        let errors = ProductDraft::from_json(&json!({
            "name": "", "price": {"amount": "1.0", "currency": "USD"}, "stock": 1_000_001,
            "available": "yes", "colour": "red"
        }))
        .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["colour", "name", "price.amount", "stock", "available"]
        );
    }

    #[test]
    fn empty_patch_is_refused() {
        let errors = ProductPatch::from_json(&json!({})).unwrap_err();
        assert_eq!(errors[0].field, "body");
        let p = ProductPatch::from_json(&json!({"stock": 0})).unwrap();
        assert_eq!(p.stock, Some(0));
    }

    #[test]
    fn put_creates_then_replaces_with_version_bump() {
        let id = ProductId::parse("p1").unwrap();
        let (p, write) = plan_put(None, &id, &acme(), draft(), None, now()).unwrap();
        assert_eq!(write, Write::Created);
        assert_eq!(p.version, 1);
        let (p2, write) = plan_put(Some(&p), &id, &acme(), draft(), Some(1), now()).unwrap();
        assert_eq!(write, Write::Replaced);
        assert_eq!(p2.version, 2);
    }

    #[test]
    fn other_company_and_stale_version_are_refused() {
        let id = ProductId::parse("p1").unwrap();
        let (p, _) = plan_put(None, &id, &acme(), draft(), None, now()).unwrap();
        let globex = CompanyId::parse("globex").unwrap();
        let e = plan_put(Some(&p), &id, &globex, draft(), None, now()).unwrap_err();
        assert!(matches!(e, Error::Forbidden(_)));
        let e = plan_put(Some(&p), &id, &acme(), draft(), Some(7), now()).unwrap_err();
        assert!(matches!(e, Error::PreconditionFailed(_)));
        let e = plan_put(None, &id, &acme(), draft(), Some(1), now()).unwrap_err();
        assert!(matches!(e, Error::PreconditionFailed(_)));
        let patch = ProductPatch {
            stock: Some(1),
            ..Default::default()
        };
        assert!(matches!(
            plan_patch(None, &acme(), patch.clone(), None, now()),
            Err(Error::NotFound(_))
        ));
        let patched = plan_patch(Some(&p), &acme(), patch, Some(1), now()).unwrap();
        assert_eq!(
            (patched.stock, patched.version, patched.name.as_str()),
            (1, 2, "Margherita")
        );
    }

    #[test]
    fn if_match_is_a_quoted_version() {
        assert_eq!(parse_if_match("\"3\"").unwrap(), 3);
        for bad in [
            "3",
            "W/\"3\"",
            "\"\"",
            "\"-1\"",
            "*",
            "\"99999999999999999999\"",
        ] {
            assert!(
                matches!(parse_if_match(bad), Err(Error::Validation(_))),
                "{bad}"
            );
        }
        assert_eq!(etag(3), "\"3\"");
    }

    #[test]
    fn stock_is_split_evenly_and_in_full() {
        assert_eq!(split_stock(10, 1), [10]);
        assert_eq!(split_stock(10, 4), [3, 3, 2, 2]);
        assert_eq!(split_stock(3, 8), [1, 1, 1, 0, 0, 0, 0, 0]);
        assert_eq!(split_stock(0, 2), [0, 0]);
        assert_eq!(
            split_stock(7, 0),
            [7],
            "no product has fewer than one shard"
        );
        for shards in 1..=MAX_STOCK_SHARDS {
            for total in [0, 1, 31, 32, 33, 999, MAX_STOCK] {
                let split = split_stock(total, shards);
                assert_eq!(split.len(), usize::from(shards));
                assert_eq!(split.iter().sum::<u32>(), total);
                let (min, max) = (split.iter().min(), split.iter().max());
                assert!(max.unwrap() - min.unwrap() <= 1, "{total} over {shards}");
            }
        }
    }

    #[test]
    fn stock_shards_are_1_to_32_and_kept_unless_given() {
        for bad in [json!(0), json!(33), json!("2"), json!(2.5)] {
            let body = json!({"name": "Tea", "price": {"amount": "1.00", "currency": "USD"},
                              "stock": 1, "stock_shards": bad});
            let errors = ProductDraft::from_json(&body).unwrap_err();
            assert_eq!(errors[0].field, "stock_shards", "{bad}");
            let errors = ProductPatch::from_json(&json!({"stock_shards": bad})).unwrap_err();
            assert_eq!(errors[0].field, "stock_shards", "{bad}");
        }
        let id = ProductId::parse("p1").unwrap();
        let (new, _) = plan_put(None, &id, &acme(), draft(), None, now()).unwrap();
        assert_eq!((draft().stock_shards, new.stock_shards), (None, 1));
        let mut eight = draft();
        eight.stock_shards = Some(MAX_STOCK_SHARDS);
        let (sharded, _) = plan_put(Some(&new), &id, &acme(), eight, None, now()).unwrap();
        assert_eq!(sharded.stock_shards, 32);
        let (kept, _) = plan_put(Some(&sharded), &id, &acme(), draft(), None, now()).unwrap();
        assert_eq!(kept.stock_shards, 32, "a PUT without the field keeps it");
        let patch = ProductPatch::from_json(&json!({"stock_shards": 1})).unwrap();
        let patched = plan_patch(Some(&kept), &acme(), patch, None, now()).unwrap();
        assert_eq!((patched.stock_shards, patched.stock), (1, 5));
        let patch = ProductPatch::from_json(&json!({"stock": 9})).unwrap();
        let patched = plan_patch(Some(&kept), &acme(), patch, None, now()).unwrap();
        assert_eq!(
            patched.stock_shards, 32,
            "a PATCH without the field keeps it"
        );
    }
}
