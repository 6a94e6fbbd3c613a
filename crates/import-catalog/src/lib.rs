//! `import-catalog`: consumes the `imports` queue (ARCHITECTURE.md, "Bulk imports"), where the imports bucket sends
//! its `ObjectCreated` events. For each uploaded file:
//! - the company and the import come from the object key, never from the file;
//! - an import reads one upload: the first to start it (its S3 version, or its `ETag` in a
//!   bucket without versions). Its upload URL used again while it runs changes nothing; in a
//!   bucket without versions, an upload replaced before it was read waits for the newer one's
//!   event, and one replaced mid-import fails it, saying so;
//! - the file is read twice, streamed both times: first to refuse it whole (over 50 MiB, over
//!   100,000 rows, not UTF-8, a header without a required column) before any row is written,
//!   then to write it; a redelivery of a started import reads it once, from its checkpoint;
//! - each row is checked with the rules of `PUT /products/{id}`; a refused row is reported
//!   with its number and field, the valid ones are written in batches (`batch`), each batch in
//!   one transaction with the import's checkpoint, so a redelivery resumes where the last
//!   commit left off and never writes a row twice;
//! - a transient failure is retried inside the invocation; what still fails is a batch item
//!   failure, and the queue delivers the file again (after `maxReceiveCount`, to its DLQ).

mod batch;
mod read;

use std::convert::Infallible;
use std::sync::Arc;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::Utc;
use composition::lambda::EventFunction;
use composition::{Adapters, App};
use domain::PortError;
use domain::import::{FileError, FileVersion, Import, MAX_FILE_BYTES, ObjectKey};
use domain::ports::{Catalog, ImportFiles, Imports};
use retry_policy::PIPELINE;
use serde::Deserialize;
use settings::ConfigError;
use telemetry::{Unit, count, record};
use tokio::sync::mpsc;
use tracing::Instrument;

pub use batch::SINGLE_SHARD_ROWS_PER_BATCH;
pub use read::{ReadError, read_rows};

/// Rows in flight between the parser and the batches.
const ROWS_IN_FLIGHT: usize = 256;

/// The time an import keeps back at the end of its invocation: past it, the rows in hand are
/// committed and the file handed back to the queue, so Lambda never stops the function in the
/// middle of a batch (which would count as its error, and lose the batch's work). A batch's
/// commit takes milliseconds; this leaves room for a slow one and its retries.
pub const HAND_BACK: std::time::Duration = std::time::Duration::from_secs(15);

pub struct ImportCatalog {
    pub catalog: Arc<dyn Catalog>,
    pub imports: Arc<dyn Imports>,
    pub files: Arc<dyn ImportFiles>,
}

impl App for ImportCatalog {
    const NAME: &'static str = "import-catalog";

    async fn new(adapters: &Adapters) -> Result<ImportCatalog, ConfigError> {
        Ok(ImportCatalog {
            catalog: adapters.catalog().await?,
            imports: adapters.imports_keeping_history().await?,
            files: adapters.import_files().await?,
        })
    }
}

/// The handler, as Lambda and `delivery-local` call it: the messages to retry, by id.
impl EventFunction for ImportCatalog {
    type Event = SqsEvent;
    type Output = SqsBatchResponse;
    type Error = Infallible;

    async fn handle(&self, event: SqsEvent) -> Result<SqsBatchResponse, Infallible> {
        let mut response = SqsBatchResponse::default();
        // The event source's batch size is 1; a larger batch is taken one file at a time.
        for message in &event.records {
            let message_id = message.message_id.clone().unwrap_or_default();
            let span = tracing::info_span!("message", %message_id);
            if let Err(e) = self.process(message).instrument(span).await {
                tracing::warn!(%message_id, error = %e, "the file will be delivered again");
                response.add_failure(message_id);
            }
        }
        Ok(response)
    }
}

/// What an S3 event notification says, of what this function reads: only the fields it
/// needs, so that a field S3 (or an emulator) leaves out cannot make the event unreadable.
#[derive(Deserialize)]
struct S3Notification {
    #[serde(rename = "Records", default)]
    records: Vec<S3Record>,
    /// `s3:TestEvent` when a bucket's notifications are set up.
    #[serde(rename = "Event")]
    event: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct S3Record {
    event_name: String,
    s3: S3Entity,
}

#[derive(Deserialize)]
struct S3Entity {
    object: S3Object,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct S3Object {
    key: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    e_tag: String,
    version_id: Option<String>,
}

/// An uploaded import file, as its S3 event names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upload {
    pub key: ObjectKey,
    pub size: u64,
    pub version: FileVersion,
}

/// The uploaded files an S3 event names. Other keys, other events and S3's test event name
/// none.
pub fn uploaded_files(body: &str) -> Result<Vec<Upload>, String> {
    let event: S3Notification =
        serde_json::from_str(body).map_err(|e| format!("not an S3 event: {e}"))?;
    if event.records.is_empty() && event.event.is_none() {
        return Err("an S3 event without records".to_owned());
    }
    let mut files = Vec::new();
    for record in event.records {
        let created = record.event_name.as_str();
        let object = &record.s3.object;
        let key = object.key.as_str();
        // Keys in S3 events are URL-encoded, with `+` for a space.
        let key = key.replace('+', " ");
        let key = percent_encoding::percent_decode_str(&key).decode_utf8_lossy();
        match ObjectKey::parse(&key) {
            Some(key) if created.starts_with("ObjectCreated:") => {
                // S3 names every upload by its ETag (and its version, in a versioned bucket).
                let version = FileVersion {
                    e_tag: object.e_tag.trim_matches('"').to_owned(),
                    version_id: object.version_id.clone().filter(|v| v != "null"),
                };
                files.push(Upload {
                    key,
                    size: object.size,
                    version,
                });
            }
            _ => tracing::warn!(%key, event = created, "not an uploaded import file; ignored"),
        }
    }
    Ok(files)
}

impl ImportCatalog {
    async fn process(&self, message: &SqsMessage) -> Result<(), PortError> {
        let body = message.body.as_deref().unwrap_or_default();
        let files = match uploaded_files(body) {
            Ok(files) => files,
            // Only the bucket sends here: a body that is no S3 event cannot become one.
            Err(reason) => {
                tracing::error!(%reason, "a message that is not an S3 event; dropped");
                return Ok(());
            }
        };
        for upload in files {
            let key = &upload.key;
            let span =
                tracing::info_span!("import", import_id = %key.import, company_id = %key.company);
            self.import(&upload).instrument(span).await?;
        }
        Ok(())
    }

    /// Imports one upload, or resumes it; a finished import is left as it is, and so is one
    /// that reads another upload.
    async fn import(&self, upload: &Upload) -> Result<(), PortError> {
        let Upload { key, size, version } = upload;
        let import = PIPELINE
            .run("read the import", PortError::is_transient, || {
                self.imports.get(key.import)
            })
            .await?;
        let Some(import) = import.filter(|i| i.company_id == key.company && i.format == key.format)
        else {
            tracing::warn!(key = %key, "a file for no known import; ignored");
            return Ok(());
        };
        if import.status.is_final() || !self.reads(&import, version) {
            return Ok(());
        }
        // A redelivery of the upload it runs on (an import has its upload once started, the
        // same write as `running`): that upload was checked whole when the import started,
        // so it resumes from its checkpoint without reading it twice again.
        if import.file.is_some() {
            return self.write(key, version, &import).await;
        }
        if *size > MAX_FILE_BYTES {
            return self.refuse(key, FileError::TooLarge(*size)).await;
        }
        let total = match self.count_rows(key, version).await {
            Ok(total) => total,
            Err(ReadError::File(e)) => return self.refuse(key, e).await,
            // Expired, or an event redelivered after the file went: retrying cannot help.
            Err(ReadError::Port(PortError::NotFound)) => {
                return self.refuse(key, FileError::Gone).await;
            }
            // Replaced under its key before it was read (a bucket without versions): the import
            // is pending, and the newer upload's own event follows. (An import that was reading
            // this upload meets the replacement in its second reading, in `write`.)
            Err(ReadError::Port(PortError::Conflict)) => {
                tracing::info!("replaced by a newer upload before it was read; its event follows");
                return Ok(());
            }
            Err(ReadError::Port(e)) => return self.unreadable(key, e).await,
        };
        let started = PIPELINE
            .run("start the import", PortError::is_transient, || {
                self.imports.start(key.import, total, version, Utc::now())
            })
            .await?;
        match started {
            Some(import) if !import.status.is_final() && self.reads(&import, version) => {
                self.write(key, version, &import).await
            }
            _ => Ok(()),
        }
    }

    /// Whether `import` reads this upload: the one it started on, or any while pending.
    fn reads(&self, import: &Import, version: &FileVersion) -> bool {
        let reads = import.file.as_ref().is_none_or(|f| f.same_upload(version));
        if !reads {
            tracing::warn!(
                e_tag = %version.e_tag,
                "another upload for an import already under way; ignored (an import reads one upload)"
            );
        }
        reads
    }

    /// The first reading: the whole file checked, nothing written.
    async fn count_rows(&self, key: &ObjectKey, version: &FileVersion) -> Result<u64, ReadError> {
        let (rows, _kept_open) = mpsc::channel(1);
        read_rows(self.files.as_ref(), key, version, u64::MAX, rows).await
    }

    /// The second reading: rows from the checkpoint on, written in batches.
    async fn write(
        &self,
        key: &ObjectKey,
        version: &FileVersion,
        import: &Import,
    ) -> Result<(), PortError> {
        let mut batcher =
            batch::Batcher::new(self.catalog.as_ref(), self.imports.as_ref(), key, import);
        let (rows, parsed) = mpsc::channel(ROWS_IN_FLIGHT);
        let reading = read_rows(self.files.as_ref(), key, version, batcher.next_row(), rows);
        let writing = async {
            // Owned here, so that the reader stops when the writing does.
            let mut parsed = parsed;
            while let Some((row, result)) = parsed.recv().await {
                if retry_policy::remaining().is_some_and(|left| left < HAND_BACK) {
                    batcher.finish().await?;
                    return Err(PortError::Transient(format!(
                        "the invocation's time runs out at row {row}: the rows before are committed, and the next delivery resumes there"
                    )));
                }
                batcher.push(row, result).await?;
                if batcher.finished_elsewhere {
                    return Ok(());
                }
            }
            batcher.finish().await
        };
        let (read, written) = tokio::join!(reading, writing);
        record("ImportRowsWritten", batcher.written as f64, Unit::Count);
        record("ImportRowsRejected", batcher.rejected as f64, Unit::Count);
        written?;
        if batcher.finished_elsewhere {
            return Ok(());
        }
        match read {
            Ok(_) => self.finish(key, None).await,
            Err(ReadError::File(e)) => self.refuse(key, e).await,
            // Replaced under its key since the first reading (a bucket without versions).
            Err(ReadError::Port(PortError::Conflict)) => {
                self.refuse(key, FileError::Replaced).await
            }
            // Gone (expired) before a redelivery resumed it: retrying cannot help.
            Err(ReadError::Port(PortError::NotFound)) => self.refuse(key, FileError::Gone).await,
            Err(ReadError::Port(e)) => self.unreadable(key, e).await,
        }
    }

    /// A transient failure goes back to the queue, to be tried again; a permanent one (S3's
    /// 403) would fail the same way on every receive, so it fails the import, saying so.
    async fn unreadable(&self, key: &ObjectKey, error: PortError) -> Result<(), PortError> {
        if error.is_transient() {
            return Err(error);
        }
        tracing::error!(%error, "the file cannot be read: the import fails");
        self.refuse(key, FileError::Unreadable).await
    }

    async fn refuse(&self, key: &ObjectKey, reason: FileError) -> Result<(), PortError> {
        tracing::info!(%reason, "the file is refused");
        count(telemetry::metric::IMPORTS_FAILED);
        self.finish(key, Some(reason.to_string())).await
    }

    async fn finish(&self, key: &ObjectKey, failure: Option<String>) -> Result<(), PortError> {
        PIPELINE
            .run("finish the import", PortError::is_transient, || {
                self.imports
                    .finish(key.import, failure.as_deref(), Utc::now())
            })
            .await?;
        if failure.is_none() {
            count(telemetry::metric::IMPORTS_DONE);
        }
        Ok(())
    }
}
