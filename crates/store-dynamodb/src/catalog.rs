//! The catalog port over the products table. A product's stock may be held in several items
//! (see [`crate::shards`]); every read here sums them, and every write rewrites them.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use domain::history::{Author, Entry};
use domain::ports::{Catalog, Page, PageRequest};
use domain::product::Product;
use domain::{CompanyId, Money, PortError, ProductId};

use crate::item::{Item, Reader, classify, is_conditional_failure, n, s};
use crate::schema::PRODUCTS_BY_COMPANY;
use crate::shards::{self, Stored};
use crate::{DynamoStore, cursor, history};

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
        ("stock_shards".to_owned(), n(p.stock_shards)),
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
        stock_shards: shards::stock_shards(&r)?,
        version: r.n("version")?,
        updated_at: r.time("updated_at")?,
    })
}

fn key(id: &ProductId) -> Item {
    Item::from([("id".to_owned(), s(id.as_str()))])
}

impl DynamoStore {
    /// The products of these product items, with their shards' stock and versions summed in.
    async fn complete(&self, items: &[Item], consistent: bool) -> Result<Vec<Stored>, PortError> {
        let stored =
            shards::complete(&self.client, &self.tables.products, items, consistent).await?;
        for s in &stored {
            self.remember_shards(&s.product.id, s.product.stock_shards);
        }
        Ok(stored)
    }

    async fn page(
        &self,
        items: &[Item],
        last_key: Option<&Item>,
        listing: &str,
    ) -> Result<Page<Product>, PortError> {
        Ok(Page {
            items: self
                .complete(items, false)
                .await?
                .into_iter()
                .map(|s| s.product)
                .collect(),
            next_cursor: last_key.map(|k| cursor::encode(listing, k)).transpose()?,
        })
    }

    /// The products of `ids` as stored, read consistently.
    pub(crate) async fn stored(&self, ids: &[ProductId]) -> Result<Vec<Stored>, PortError> {
        let keys: Vec<String> = ids.iter().map(|id| id.as_str().to_owned()).collect();
        let items = shards::batch_get(&self.client, &self.tables.products, &keys, true).await?;
        self.complete(&items, true).await
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
        let items: Vec<Item> = out.item.into_iter().collect();
        Ok(self.complete(&items, true).await?.pop().map(|s| s.product))
    }

    async fn get_many(&self, ids: &[ProductId]) -> Result<Vec<Product>, PortError> {
        let mut unique = ids.to_vec();
        unique.sort();
        unique.dedup();
        let stored = self.stored(&unique).await?;
        Ok(stored.into_iter().map(|s| s.product).collect())
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
                    // Stock shards have no company: a page may hold fewer products than its
                    // limit, as any filtered Scan's does.
                    .filter_expression("attribute_exists(company_id)")
                    .limit(limit)
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .map_err(|e| classify("Scan", e))?;
                self.page(out.items(), out.last_evaluated_key(), "products")
                    .await
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
                self.page(out.items(), out.last_evaluated_key(), &listing)
                    .await
            }
        }
    }

    async fn save(
        &self,
        product: &Product,
        expected_version: Option<u64>,
    ) -> Result<(), PortError> {
        let stored = self.expected(product, expected_version).await?;
        let writes = shards::writes(&self.tables.products, product, stored.as_ref())?;
        match writes.as_slice() {
            [only] => self.put_one(only).await,
            _ => self.write_together(writes).await,
        }
    }

    async fn save_as(
        &self,
        product: &Product,
        expected_version: Option<u64>,
        author: &Author,
    ) -> Result<(), PortError> {
        let table = self.history_table()?.to_owned();
        let stored = self.expected(product, expected_version).await?;
        let entry = Entry::of(stored.as_ref().map(|s| &s.product), product, author);
        let mut writes = shards::writes(&self.tables.products, product, stored.as_ref())?;
        writes.push(history::put(&table, &entry)?);
        self.write_together(writes).await
    }

    async fn history(&self, id: &ProductId, page: &PageRequest) -> Result<Page<Entry>, PortError> {
        self.history_page(id, page).await
    }
}

impl DynamoStore {
    /// The product as stored when its version is `expected` (`None` when it must not exist
    /// yet); otherwise [`PortError::Conflict`].
    async fn expected(
        &self,
        product: &Product,
        expected: Option<u64>,
    ) -> Result<Option<Stored>, PortError> {
        let Some(v) = expected else {
            return Ok(None);
        };
        match self.stored(std::slice::from_ref(&product.id)).await?.pop() {
            Some(stored) if stored.product.version == v => Ok(Some(stored)),
            _ => Err(PortError::Conflict),
        }
    }

    /// A product of one shard is one item: a plain put, at half a transaction's cost.
    async fn put_one(&self, write: &TransactWriteItem) -> Result<(), PortError> {
        let put = write
            .put()
            .ok_or_else(|| PortError::Permanent("a product's one write is a put".to_owned()))?;
        let result = self
            .client
            .put_item()
            .table_name(put.table_name())
            .set_item(Some(put.item().clone()))
            .set_condition_expression(put.condition_expression().map(str::to_owned))
            .set_expression_attribute_values(put.expression_attribute_values().cloned())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_conditional_failure(&e) => Err(PortError::Conflict),
            Err(e) => Err(classify("PutItem", e)),
        }
    }

    /// A sharded product's items, in one transaction.
    async fn write_together(&self, writes: Vec<TransactWriteItem>) -> Result<(), PortError> {
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(writes))
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(()),
            Err(e) => e,
        };
        let Some(TransactWriteItemsError::TransactionCanceledException(c)) = err.as_service_error()
        else {
            return Err(classify("TransactWriteItems", err));
        };
        let codes: Vec<&str> = c
            .cancellation_reasons()
            .iter()
            .filter_map(|r| r.code())
            .collect();
        if codes.contains(&"ConditionalCheckFailed") {
            return Err(PortError::Conflict);
        }
        // A throttled item or a conflicting transaction: nothing was written, and a retry
        // may pass.
        Err(PortError::Transient(format!(
            "transaction cancelled: {}",
            codes.join(", ")
        )))
    }
}
