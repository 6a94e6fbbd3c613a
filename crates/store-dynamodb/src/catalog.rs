//! The catalog port over the products table.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use domain::ports::{Catalog, Page, PageRequest};
use domain::product::Product;
use domain::{CompanyId, Money, PortError, ProductId};

use crate::item::{Item, Reader, classify, is_conditional_failure, n, s};
use crate::schema::PRODUCTS_BY_COMPANY;
use crate::{DynamoStore, cursor};

/// `BatchGetItem` takes at most 100 keys.
const BATCH_GET_LIMIT: usize = 100;
/// Rounds of retrying `UnprocessedKeys` before reporting the read as transient.
const UNPROCESSED_ROUNDS: u32 = 5;

pub(crate) fn product_to_item(p: &Product) -> Item {
    Item::from([
        ("id".to_owned(), s(p.id.as_str())),
        ("company_id".to_owned(), s(p.company_id.as_str())),
        ("name".to_owned(), s(&p.name)),
        ("description".to_owned(), s(&p.description)),
        ("price_minor".to_owned(), n(p.price.minor())),
        ("currency".to_owned(), s(p.price.currency().code())),
        ("stock".to_owned(), n(p.stock)),
        ("available".to_owned(), AttributeValue::Bool(p.available)),
        ("version".to_owned(), n(p.version)),
        ("updated_at".to_owned(), s(p.updated_at.to_rfc3339())),
    ])
}

pub(crate) fn product_from_item(item: &Item) -> Result<Product, PortError> {
    let r = Reader {
        item,
        what: "product",
    };
    let currency = r.parse("currency", domain::Currency::parse)?;
    Ok(Product {
        id: r.parse("id", ProductId::parse)?,
        company_id: r.parse("company_id", CompanyId::parse)?,
        name: r.s("name")?.to_owned(),
        description: r.s("description")?.to_owned(),
        price: Money::from_minor(r.n("price_minor")?, currency),
        stock: r.n("stock")?,
        available: r.bool("available")?,
        version: r.n("version")?,
        updated_at: r.time("updated_at")?,
    })
}

fn key(id: &ProductId) -> Item {
    Item::from([("id".to_owned(), s(id.as_str()))])
}

fn page(
    items: &[Item],
    last_key: Option<&Item>,
    listing: &str,
) -> Result<Page<Product>, PortError> {
    Ok(Page {
        items: items
            .iter()
            .map(product_from_item)
            .collect::<Result<_, _>>()?,
        next_cursor: last_key.map(|k| cursor::encode(listing, k)).transpose()?,
    })
}

impl DynamoStore {
    async fn get_chunk(&self, ids: &[ProductId]) -> Result<Vec<Product>, PortError> {
        let table = &self.tables.products;
        let keys = KeysAndAttributes::builder()
            .set_keys(Some(ids.iter().map(key).collect()))
            .consistent_read(true)
            .build()
            .map_err(|e| PortError::Permanent(e.to_string()))?;
        let mut pending = HashMap::from([(table.clone(), keys)]);
        let mut found = Vec::with_capacity(ids.len());
        for round in 0..UNPROCESSED_ROUNDS {
            let out = self
                .client
                .batch_get_item()
                .set_request_items(Some(pending))
                .send()
                .await
                .map_err(|e| classify("BatchGetItem", e))?;
            for item in out
                .responses()
                .and_then(|r| r.get(table))
                .into_iter()
                .flatten()
            {
                found.push(product_from_item(item)?);
            }
            pending = out.unprocessed_keys.unwrap_or_default();
            pending.retain(|_, k| !k.keys().is_empty());
            if pending.is_empty() {
                return Ok(found);
            }
            // DynamoDB is shedding load: back off before asking for the rest.
            tokio::time::sleep(Duration::from_millis(20 << round)).await;
        }
        Err(PortError::Transient(
            "BatchGetItem: keys still unprocessed after retries".to_owned(),
        ))
    }
}

#[async_trait]
impl Catalog for DynamoStore {
    async fn get(&self, id: &ProductId) -> Result<Option<Product>, PortError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.products)
            .set_key(Some(key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        out.item.as_ref().map(product_from_item).transpose()
    }

    async fn get_many(&self, ids: &[ProductId]) -> Result<Vec<Product>, PortError> {
        let mut unique = ids.to_vec();
        unique.sort();
        unique.dedup();
        let mut products = Vec::with_capacity(unique.len());
        for chunk in unique.chunks(BATCH_GET_LIMIT) {
            products.extend(self.get_chunk(chunk).await?);
        }
        Ok(products)
    }

    async fn list(
        &self,
        company: Option<&CompanyId>,
        request: &PageRequest,
    ) -> Result<Page<Product>, PortError> {
        let limit = i32::try_from(request.limit).unwrap_or(i32::MAX);
        match company {
            None => {
                let start = request
                    .cursor
                    .as_ref()
                    .map(|c| cursor::decode(c, "products", &[("id", None)]))
                    .transpose()?;
                let out = self
                    .client
                    .scan()
                    .table_name(&self.tables.products)
                    .limit(limit)
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .map_err(|e| classify("Scan", e))?;
                page(out.items(), out.last_evaluated_key(), "products")
            }
            Some(company) => {
                let listing = format!("products@{company}");
                let start = request
                    .cursor
                    .as_ref()
                    .map(|c| {
                        cursor::decode(
                            c,
                            &listing,
                            &[("id", None), ("company_id", Some(company.as_str()))],
                        )
                    })
                    .transpose()?;
                let out = self
                    .client
                    .query()
                    .table_name(&self.tables.products)
                    .index_name(PRODUCTS_BY_COMPANY.name)
                    .key_condition_expression("company_id = :c")
                    .expression_attribute_values(":c", s(company.as_str()))
                    .limit(limit)
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .map_err(|e| classify("Query", e))?;
                page(out.items(), out.last_evaluated_key(), &listing)
            }
        }
    }

    async fn save(
        &self,
        product: &Product,
        expected_version: Option<u64>,
    ) -> Result<(), PortError> {
        let request = self
            .client
            .put_item()
            .table_name(&self.tables.products)
            .set_item(Some(product_to_item(product)));
        let request = match expected_version {
            None => request.condition_expression("attribute_not_exists(id)"),
            Some(v) => request
                .condition_expression("version = :expected")
                .expression_attribute_values(":expected", n(v)),
        };
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e) if is_conditional_failure(&e) => Err(PortError::Conflict),
            Err(e) => Err(classify("PutItem", e)),
        }
    }
}
