//! The [`Imports`] port over the imports table (and the products table, which an import's
//! batches write in the same transaction as its checkpoint).
//!
//! | attribute | |
//! |---|---|
//! | `id` S | the import id |
//! | `company_id` S, `format` S, `status` S | (`status` is a reserved word: `#status` in expressions) |
//! | `rows_total`, `rows_written`, `rows_rejected` N | row counts |
//! | `row_errors` L of S | the kept row errors, each a JSON object |
//! | `failure_reason` S? | why the file was refused |
//! | `next_row` N | the checkpoint: rows before it are settled |
//! | `file_etag` S?, `file_version_id` S? | the upload it reads, once started |
//! | `created_at`, `updated_at` S | RFC 3339 |
//! | `started_by` S? | the `sub` of who started it, whom its rows' history entries name |
//! | `expires_at` N | TTL (epoch s): 7 days, as the bucket keeps the files |

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, TransactWriteItem, Update};
use chrono::{DateTime, Utc};
use domain::history::{Author, Entry, Via};
use domain::import::{
    FileVersion, Import, ImportFormat, ImportId, ImportStatus, RowCounts, RowError,
};
use domain::ports::{BatchOutcome, ImportBatch, Imports};
use domain::{CompanyId, PortError, ProductId};
use std::collections::HashMap;

use crate::item::{Item, Reader, classify, is_conditional_failure, n, s};
use crate::shards::{self, Stored};
use crate::{history, schema};

/// `TransactWriteItems` takes at most 100 actions.
const MAX_TRANSACTION_ACTIONS: usize = 100;

/// How long an import's record is kept.
const KEPT_SECONDS: i64 = 7 * 24 * 3600;
/// The open imports of a company read at most (the cap is far below).
const MAX_OPEN_LISTED: i32 = 100;
/// The one key of [`schema::RUNNING_IMPORTS`]: written when an import starts, removed when
/// it ends.
const RUNNING: &str = "running";

/// The imports table (`IMPORTS_TABLE`), the products table its batches write, and the
/// history table that takes each written row's entry.
#[derive(Clone, Debug)]
pub struct ImportTable {
    client: Client,
    imports: String,
    products: String,
    history: Option<String>,
}

fn build_err(e: impl std::fmt::Display) -> PortError {
    PortError::Permanent(e.to_string())
}

fn time(t: DateTime<Utc>) -> AttributeValue {
    s(t.to_rfc3339())
}

fn status(status: ImportStatus) -> AttributeValue {
    s(status.as_str())
}

fn import_to_item(import: &Import) -> Result<Item, PortError> {
    let errors = import
        .errors
        .iter()
        .map(|e| serde_json::to_string(e).map(AttributeValue::S))
        .collect::<Result<Vec<_>, _>>()
        .map_err(build_err)?;
    let mut item = Item::from([
        ("id".to_owned(), s(import.id.to_string())),
        ("company_id".to_owned(), s(import.company_id.as_str())),
        ("format".to_owned(), s(import.format.as_str())),
        ("status".to_owned(), status(import.status)),
        ("rows_total".to_owned(), n(import.rows.total)),
        ("rows_written".to_owned(), n(import.rows.written)),
        ("rows_rejected".to_owned(), n(import.rows.rejected)),
        ("row_errors".to_owned(), AttributeValue::L(errors)),
        ("next_row".to_owned(), n(import.next_row)),
        ("created_at".to_owned(), time(import.created_at)),
        ("updated_at".to_owned(), time(import.updated_at)),
        (
            "expires_at".to_owned(),
            n(import.created_at.timestamp() + KEPT_SECONDS),
        ),
    ]);
    if let Some(reason) = &import.reason {
        item.insert("failure_reason".to_owned(), s(reason));
    }
    if let Some(sub) = &import.started_by {
        item.insert("started_by".to_owned(), s(sub));
    }
    if !import.status.is_final() {
        item.insert("open_company".to_owned(), s(import.company_id.as_str()));
    }
    if import.status == ImportStatus::Running {
        item.insert("running".to_owned(), s(RUNNING));
    }
    if let Some(file) = &import.file {
        item.insert("file_etag".to_owned(), s(&file.e_tag));
        if let Some(version) = &file.version_id {
            item.insert("file_version_id".to_owned(), s(version));
        }
    }
    Ok(item)
}

fn import_from_item(item: &Item) -> Result<Import, PortError> {
    let r = Reader {
        item,
        what: "import",
    };
    let errors = match item.get("row_errors") {
        Some(AttributeValue::L(list)) => list
            .iter()
            .map(|v| {
                v.as_s()
                    .ok()
                    .and_then(|s| serde_json::from_str::<RowError>(s).ok())
                    .ok_or_else(|| build_err("stored import has an invalid row error"))
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => Vec::new(),
    };
    Ok(Import {
        id: r.parse("id", ImportId::parse)?,
        company_id: r.parse("company_id", CompanyId::parse)?,
        format: r.parse("format", |f| ImportFormat::parse(f).ok_or(()))?,
        status: r.parse("status", |f| ImportStatus::parse(f).ok_or(()))?,
        rows: RowCounts {
            total: r.n("rows_total")?,
            written: r.n("rows_written")?,
            rejected: r.n("rows_rejected")?,
        },
        errors,
        reason: r.opt_s("failure_reason").map(str::to_owned),
        created_at: r.time("created_at")?,
        updated_at: r.time("updated_at")?,
        file: r.opt_s("file_etag").map(|e_tag| FileVersion {
            e_tag: e_tag.to_owned(),
            version_id: r.opt_s("file_version_id").map(str::to_owned),
        }),
        next_row: r.n("next_row")?,
        started_by: r.opt_s("started_by").map(str::to_owned),
    })
}

impl ImportTable {
    pub fn new(client: Client, imports: String, products: String) -> ImportTable {
        ImportTable {
            client,
            imports,
            products,
            history: None,
        }
    }

    /// The table, with its batches' history entries written to `table` (the importer's; the
    /// functions that only create and read imports write no product).
    pub fn with_history(self, table: String) -> ImportTable {
        ImportTable {
            history: Some(table),
            ..self
        }
    }

    /// The batch's writes, each product's items followed by its history entry; `owners[i]`
    /// is the index in `batch.writes` of the write that item `i` belongs to.
    fn batch_items(
        &self,
        batch: &ImportBatch,
        stored: &HashMap<ProductId, Stored>,
    ) -> Result<(Vec<TransactWriteItem>, Vec<usize>), PortError> {
        let history = self.history.as_deref().ok_or_else(|| {
            PortError::Permanent("no history table is configured (HISTORY_TABLE)".to_owned())
        })?;
        let author = Author {
            by: batch.by.clone(),
            via: Via::ImportId(batch.import),
        };
        let mut items = Vec::new();
        let mut owners = Vec::new();
        for (owner, (product, _)) in batch.writes.iter().enumerate() {
            let before = stored.get(&product.id);
            let mut writes = shards::writes(&self.products, product, before)?;
            writes.push(history::put(
                history,
                &Entry::of(before.map(|s| &s.product), product, &author),
            )?);
            owners.extend(std::iter::repeat_n(owner, writes.len()));
            items.extend(writes);
        }
        Ok((items, owners))
    }

    /// The checkpoint's move, conditional on where it stands and on the import running.
    fn checkpoint(&self, batch: &ImportBatch) -> Result<TransactWriteItem, PortError> {
        let written = batch.writes.len();
        let mut set = "next_row = :to, rows_written = rows_written + :w, rows_rejected = rows_rejected + :r, \
                       updated_at = :at"
            .to_owned();
        let mut update = Update::builder()
            .table_name(&self.imports)
            .key("id", s(batch.import.to_string()))
            .condition_expression("next_row = :from AND #status = :running")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":from", n(batch.from_row))
            .expression_attribute_values(":to", n(batch.to_row))
            .expression_attribute_values(":w", n(written))
            .expression_attribute_values(":r", n(rejected_rows(batch)))
            .expression_attribute_values(":at", time(batch.at))
            .expression_attribute_values(":running", status(ImportStatus::Running));
        let kept: Vec<AttributeValue> = batch
            .errors
            .iter()
            .map(|e| serde_json::to_string(e).map(AttributeValue::S))
            .collect::<Result<_, _>>()
            .map_err(build_err)?;
        if !kept.is_empty() {
            set.push_str(", row_errors = list_append(row_errors, :errors)");
            update = update.expression_attribute_values(":errors", AttributeValue::L(kept));
        }
        let update = update
            .update_expression(format!("SET {set}"))
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// The batch's products as stored, read consistently; `Err` names those whose version is
    /// no longer the one the batch was planned on.
    async fn stored(
        &self,
        batch: &ImportBatch,
    ) -> Result<Result<HashMap<ProductId, Stored>, Vec<ProductId>>, PortError> {
        let keys: Vec<String> = batch
            .writes
            .iter()
            .map(|(p, _)| p.id.as_str().to_owned())
            .collect();
        let items = shards::batch_get(&self.client, &self.products, &keys, true).await?;
        let stored: HashMap<ProductId, Stored> =
            shards::complete(&self.client, &self.products, &items, true)
                .await?
                .into_iter()
                .map(|s| (s.product.id.clone(), s))
                .collect();
        let changed: Vec<ProductId> = batch
            .writes
            .iter()
            .filter(|(p, expected)| stored.get(&p.id).map(|s| s.product.version) != *expected)
            .map(|(p, _)| p.id.clone())
            .collect();
        Ok(if changed.is_empty() {
            Ok(stored)
        } else {
            Err(changed)
        })
    }
}

/// Rows refused by a batch: every row it settles that it does not write. (The errors it
/// carries are only those the report keeps; a row may also have several.)
fn rejected_rows(batch: &ImportBatch) -> u64 {
    (batch.to_row - batch.from_row).saturating_sub(batch.writes.len() as u64)
}

/// Reads a cancelled commit: index 0 is the checkpoint, and `owners[i]` the write whose
/// product index `i + 1` writes.
fn read_cancellation(
    batch: &ImportBatch,
    owners: &[usize],
    reasons: &[aws_sdk_dynamodb::types::CancellationReason],
) -> Result<BatchOutcome, PortError> {
    let failed = |r: &aws_sdk_dynamodb::types::CancellationReason| {
        r.code() == Some("ConditionalCheckFailed")
    };
    if reasons.first().is_some_and(failed) {
        return Ok(BatchOutcome::Superseded);
    }
    let mut changed: Vec<_> = reasons
        .iter()
        .skip(1)
        .zip(owners)
        .filter(|(r, _)| failed(r))
        .map(|(_, &owner)| batch.writes[owner].0.id.clone())
        .collect();
    changed.dedup();
    if changed.is_empty() {
        let codes: Vec<_> = reasons.iter().filter_map(|r| r.code()).collect();
        return Err(PortError::Transient(format!(
            "transaction cancelled: {}",
            codes.join(", ")
        )));
    }
    Ok(BatchOutcome::Changed(changed))
}

#[async_trait]
impl Imports for ImportTable {
    async fn create(&self, import: &Import) -> Result<(), PortError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.imports)
            .set_item(Some(import_to_item(import)?))
            .condition_expression("attribute_not_exists(id)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_conditional_failure(&e) => Err(PortError::Conflict),
            Err(e) => Err(classify("PutItem", e)),
        }
    }

    async fn get(&self, id: ImportId) -> Result<Option<Import>, PortError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.imports)
            .key("id", s(id.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        out.item.as_ref().map(import_from_item).transpose()
    }

    async fn start(
        &self,
        id: ImportId,
        total_rows: u64,
        file: &FileVersion,
        at: DateTime<Utc>,
    ) -> Result<Option<Import>, PortError> {
        // The first upload to start pins the import; the version id is kept as first read (the
        // same content uploaded again reads the same).
        let mut set = "SET #status = :running, rows_total = :total, updated_at = :at, \
                       file_etag = :etag, running = :marker"
            .to_owned();
        if file.version_id.is_some() {
            set.push_str(", file_version_id = if_not_exists(file_version_id, :version)");
        }
        let mut request = self
            .client
            .update_item()
            .table_name(&self.imports)
            .key("id", s(id.to_string()))
            .update_expression(set)
            .condition_expression(
                "#status = :pending OR (#status = :running AND \
                 (attribute_not_exists(file_etag) OR file_etag = :etag))",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":running", status(ImportStatus::Running))
            .expression_attribute_values(":pending", status(ImportStatus::Pending))
            .expression_attribute_values(":total", n(total_rows))
            .expression_attribute_values(":etag", s(&file.e_tag))
            .expression_attribute_values(":at", time(at))
            .expression_attribute_values(":marker", s(RUNNING))
            .return_values(ReturnValue::AllNew);
        if let Some(version) = &file.version_id {
            request = request.expression_attribute_values(":version", s(version));
        }
        let result = request.send().await;
        match result {
            Ok(out) => out.attributes.as_ref().map(import_from_item).transpose(),
            // Absent, finished already, or running on another upload: as it is.
            Err(e) if is_conditional_failure(&e) => self.get(id).await,
            Err(e) => Err(classify("UpdateItem", e)),
        }
    }

    async fn commit(&self, batch: &ImportBatch) -> Result<BatchOutcome, PortError> {
        let stored = match self.stored(batch).await? {
            Ok(stored) => stored,
            Err(changed) => return Ok(BatchOutcome::Changed(changed)),
        };
        let mut items = vec![self.checkpoint(batch)?];
        let (writes, owners) = self.batch_items(batch, &stored)?;
        items.extend(writes);
        if items.len() > MAX_TRANSACTION_ACTIONS {
            return Err(PortError::Permanent(format!(
                "a batch of {} actions is past the transaction's {MAX_TRANSACTION_ACTIONS}",
                items.len()
            )));
        }
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(BatchOutcome::Committed),
            Err(e) => e,
        };
        match err.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
                read_cancellation(batch, &owners, c.cancellation_reasons())
            }
            _ => Err(classify("TransactWriteItems", err)),
        }
    }

    async fn open(&self, company: &CompanyId) -> Result<Vec<Import>, PortError> {
        let index = schema::OPEN_IMPORTS_BY_COMPANY;
        let out = self
            .client
            .query()
            .table_name(&self.imports)
            .index_name(index.name)
            .key_condition_expression("#company = :company")
            .expression_attribute_names("#company", index.hash_key)
            .expression_attribute_values(":company", s(company.as_str()))
            .limit(MAX_OPEN_LISTED)
            .send()
            .await
            .map_err(|e| classify("Query", e))?;
        out.items().iter().map(import_from_item).collect()
    }

    async fn expire(&self, id: ImportId, reason: &str, at: DateTime<Utc>) -> Result<(), PortError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.imports)
            .key("id", s(id.to_string()))
            .update_expression(
                "SET #status = :failed, updated_at = :at, failure_reason = :reason REMOVE open_company",
            )
            .condition_expression("#status = :pending")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":failed", status(ImportStatus::Failed))
            .expression_attribute_values(":pending", status(ImportStatus::Pending))
            .expression_attribute_values(":at", time(at))
            .expression_attribute_values(":reason", s(reason))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_conditional_failure(&e) => Ok(()),
            Err(e) => Err(classify("UpdateItem", e)),
        }
    }

    async fn finish(
        &self,
        id: ImportId,
        failure: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<(), PortError> {
        let (end, set) = match failure {
            None => (
                ImportStatus::Done,
                "SET #status = :end, updated_at = :at REMOVE open_company, running",
            ),
            Some(_) => (
                ImportStatus::Failed,
                "SET #status = :end, updated_at = :at, failure_reason = :reason \
                 REMOVE open_company, running",
            ),
        };
        let mut request = self
            .client
            .update_item()
            .table_name(&self.imports)
            .key("id", s(id.to_string()))
            .update_expression(set)
            .condition_expression("#status IN (:pending, :running)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":end", status(end))
            .expression_attribute_values(":pending", status(ImportStatus::Pending))
            .expression_attribute_values(":running", status(ImportStatus::Running))
            .expression_attribute_values(":at", time(at));
        if let Some(reason) = failure {
            request = request.expression_attribute_values(":reason", s(reason));
        }
        match request.send().await {
            // A finished import stays as it ended (another delivery finished it).
            Ok(_) => Ok(()),
            Err(e) if is_conditional_failure(&e) => Ok(()),
            Err(e) => Err(classify("UpdateItem", e)),
        }
    }

    async fn stalled(&self, before: DateTime<Utc>, limit: usize) -> Result<Vec<Import>, PortError> {
        let index = schema::RUNNING_IMPORTS;
        let out = self
            .client
            .query()
            .table_name(&self.imports)
            .index_name(index.name)
            .key_condition_expression("#running = :running AND #updated < :before")
            .expression_attribute_names("#running", index.hash_key)
            .expression_attribute_names("#updated", index.range_key)
            .expression_attribute_values(":running", s(RUNNING))
            .expression_attribute_values(":before", time(before))
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| classify("Query", e))?;
        out.items().iter().map(import_from_item).collect()
    }

    async fn fail_stalled(
        &self,
        id: ImportId,
        seen: DateTime<Utc>,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.imports)
            .key("id", s(id.to_string()))
            .update_expression(
                "SET #status = :failed, updated_at = :at, failure_reason = :reason \
                 REMOVE open_company, running",
            )
            .condition_expression("#status = :running AND updated_at = :seen")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":failed", status(ImportStatus::Failed))
            .expression_attribute_values(":running", status(ImportStatus::Running))
            .expression_attribute_values(":seen", time(seen))
            .expression_attribute_values(":at", time(at))
            .expression_attribute_values(":reason", s(reason))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            // It moved on (a batch, a redelivery's start) or ended: not stalled after all.
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(classify("UpdateItem", e)),
        }
    }
}
