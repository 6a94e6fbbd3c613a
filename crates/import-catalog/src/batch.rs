//! The rows of a file, written in batches. A batch is one transaction: its products (each
//! conditional on the version read, as `PUT` writes) and the import's checkpoint, which moves
//! only from where this delivery found it. So a row is written once however the file is
//! delivered: again after a crash (rows before the checkpoint are skipped) or twice at once
//! (one copy's commit wins; the other finds the checkpoint moved and skips ahead).

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use domain::history::Actor;
use domain::import::{Import, MAX_REPORTED_ERRORS, ObjectKey, ProductRow, RowError, plan_row};
use domain::ports::{BatchOutcome, Catalog, ImportBatch, Imports};
use domain::{PortError, ProductId};
use retry_policy::PIPELINE;

/// Items written per transaction: DynamoDB takes 100 actions, one of them the checkpoint. A
/// product writes one item per stock shard (of the more shards, before or after) and its
/// history entry.
const MAX_WRITES: usize = 99;
/// The fewest items a product writes: one shard and its entry. So a batch holds at most
/// `MAX_WRITES / 2` products, 49.
const LEAST_ITEMS_PER_PRODUCT: usize = 2;
/// The rows of single-shard products a full batch writes: 49.
pub const SINGLE_SHARD_ROWS_PER_BATCH: u64 = (MAX_WRITES / LEAST_ITEMS_PER_PRODUCT) as u64;
/// Rows a batch settles at most (a run of refused rows still moves the checkpoint).
const MAX_ROWS_PER_BATCH: u64 = 1_000;
/// Rounds of reading the products again when some changed between the read and the commit.
const CHANGED_ROUNDS: usize = 5;

/// The rows read since the last commit.
#[derive(Default)]
struct Pending {
    rows: Vec<ProductRow>,
    ids: HashSet<ProductId>,
    errors: Vec<RowError>,
    last_row: u64,
}

impl Pending {
    /// Drops the rows before `to_row`, which a commit settled.
    fn settle(&mut self, to_row: u64) {
        self.rows.retain(|r| r.row >= to_row);
        self.errors.retain(|e| e.row >= to_row);
        self.ids = self.rows.iter().map(|r| r.id.clone()).collect();
        if self.rows.is_empty() && self.errors.is_empty() {
            *self = Pending::default();
        }
    }
}

/// Where an import's writing stands, and the rows waiting to be committed.
pub struct Batcher<'a> {
    pub catalog: &'a dyn Catalog,
    pub imports: &'a dyn Imports,
    pub key: &'a ObjectKey,
    /// The checkpoint: rows before it are settled.
    next_row: u64,
    /// Row errors the report holds already.
    kept: usize,
    pending: Pending,
    /// Rows this delivery wrote and refused.
    pub written: u64,
    pub rejected: u64,
    /// The import ended elsewhere (another delivery finished it): nothing more to do.
    pub finished_elsewhere: bool,
    /// Whom the rows' history entries name.
    by: Actor,
}

impl<'a> Batcher<'a> {
    pub fn new(
        catalog: &'a dyn Catalog,
        imports: &'a dyn Imports,
        key: &'a ObjectKey,
        import: &Import,
    ) -> Self {
        Batcher {
            catalog,
            imports,
            key,
            next_row: import.next_row,
            kept: import.errors.len(),
            pending: Pending::default(),
            written: 0,
            rejected: 0,
            finished_elsewhere: false,
            by: import.author(),
        }
    }

    /// The first row this delivery must read (the ones before are settled).
    pub fn next_row(&self) -> u64 {
        self.next_row
    }

    /// Takes the next row of the file; commits a batch when one is full.
    pub async fn push(
        &mut self,
        row: u64,
        parsed: Result<ProductRow, Vec<RowError>>,
    ) -> Result<(), PortError> {
        if row < self.next_row || self.finished_elsewhere {
            return Ok(());
        }
        match parsed {
            Ok(product) => {
                // One transaction cannot write an item twice: a repeated id starts a new batch.
                if self.pending.ids.contains(&product.id) {
                    self.flush().await?;
                }
                self.pending.ids.insert(product.id.clone());
                self.pending.rows.push(product);
            }
            Err(errors) => self.pending.errors.extend(errors),
        }
        self.pending.last_row = row;
        let settled = row + 1 - self.next_row;
        if self.pending.rows.len() >= MAX_WRITES / LEAST_ITEMS_PER_PRODUCT
            || settled >= MAX_ROWS_PER_BATCH
        {
            self.flush().await?;
        }
        Ok(())
    }

    /// Commits what is left.
    pub async fn finish(&mut self) -> Result<(), PortError> {
        self.flush().await
    }

    /// The batch of the pending rows, planned against the products as they are now: as many
    /// rows as their items fit in one transaction, the rest left pending.
    async fn plan(&self) -> Result<ImportBatch, PortError> {
        let ids: Vec<ProductId> = self.pending.ids.iter().cloned().collect();
        let current = PIPELINE
            .run("read the products", PortError::is_transient, || {
                self.catalog.get_many(&ids)
            })
            .await?;
        let current: HashMap<_, _> = current.into_iter().map(|p| (p.id.clone(), p)).collect();
        let now = Utc::now();
        let mut writes = Vec::with_capacity(self.pending.rows.len());
        let mut items = 0;
        let mut to_row = self.pending.last_row + 1;
        let mut errors = Vec::new();
        for row in &self.pending.rows {
            let stored = current.get(&row.id);
            match plan_row(stored, row, &self.key.company, now) {
                Ok(product) => {
                    let shards = stored
                        .map_or(1, |p| p.stock_shards)
                        .max(product.stock_shards);
                    items += usize::from(shards) + 1;
                    if items > MAX_WRITES {
                        to_row = row.row;
                        break;
                    }
                    writes.push((product, stored.map(|p| p.version)));
                }
                Err(error) => errors.push(error),
            }
        }
        errors.extend(
            self.pending
                .errors
                .iter()
                .filter(|e| e.row < to_row)
                .cloned(),
        );
        errors.sort_by_key(|e| e.row);
        errors.truncate(MAX_REPORTED_ERRORS.saturating_sub(self.kept));
        Ok(ImportBatch {
            import: self.key.import,
            from_row: self.next_row,
            to_row,
            writes,
            errors,
            at: now,
            by: self.by.clone(),
        })
    }

    /// Commits every pending row, in as many batches as their items need.
    async fn flush(&mut self) -> Result<(), PortError> {
        while !self.finished_elsewhere && self.pending.last_row >= self.next_row {
            self.commit_one().await?;
        }
        Ok(())
    }

    /// Commits one batch of the pending rows (all of them, or as many as fit).
    async fn commit_one(&mut self) -> Result<(), PortError> {
        for _ in 0..CHANGED_ROUNDS {
            let batch = self.plan().await?;
            let outcome = PIPELINE
                .run("commit a batch", PortError::is_transient, || {
                    self.imports.commit(&batch)
                })
                .await?;
            match outcome {
                BatchOutcome::Committed => {
                    let written = batch.writes.len() as u64;
                    self.written += written;
                    self.rejected += batch.to_row - batch.from_row - written;
                    self.kept += batch.errors.len();
                    self.next_row = batch.to_row;
                    self.pending.settle(batch.to_row);
                    return Ok(());
                }
                BatchOutcome::Changed(ids) => {
                    tracing::info!(
                        changed = ids.len(),
                        "products changed during the batch; reading them again"
                    );
                }
                BatchOutcome::Superseded => return self.resync(batch.to_row).await,
            }
        }
        Err(PortError::Transient(
            "the batch's products keep changing; the import resumes on redelivery".to_owned(),
        ))
    }

    /// The checkpoint moved under this batch: either this very commit landed (its answer was
    /// lost and the retry found its own write) or another delivery committed the same rows.
    /// Either way the rows up to the checkpoint are settled; skip them.
    async fn resync(&mut self, to_row: u64) -> Result<(), PortError> {
        let stored = PIPELINE
            .run("read the import", PortError::is_transient, || {
                self.imports.get(self.key.import)
            })
            .await?
            .ok_or_else(|| PortError::Permanent("the import's record is gone".to_owned()))?;
        if stored.status.is_final() {
            self.finished_elsewhere = true;
        } else if stored.next_row < to_row {
            return Err(PortError::Transient(
                "another delivery is importing this file; this one resumes later".to_owned(),
            ));
        }
        self.next_row = stored.next_row;
        self.kept = stored.errors.len();
        self.pending = Pending::default();
        Ok(())
    }
}
