//! `import-catalog` fed real `SqsEvent`s carrying S3 `ObjectCreated` events, over the real
//! DynamoDB adapter (dynoxide) and the embedded imports bucket.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use chrono::{DateTime, Utc};
use composition::lambda::EventFunction;
use composition::{Adapters, App};
use domain::import::{
    FileError, FileVersion, Import, ImportFormat, ImportId, ImportStatus, ObjectKey,
};
use domain::ports::{BatchOutcome, FileBody, ImportBatch, ImportFiles, Imports, UploadUrl};
use domain::{CompanyId, PortError, ProductId};
use files_embedded::{EmbeddedFiles, Stored, object_created};
use import_catalog::{ImportCatalog, SINGLE_SHARD_ROWS_PER_BATCH as BATCH};

const HEADER: &str = "id,name,description,price_amount,price_currency,stock,available";

struct World {
    adapters: Adapters,
    files: Arc<EmbeddedFiles>,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let files = Arc::new(EmbeddedFiles::new(dir.path(), "http://127.0.0.1:9"));
    let (adapters, _bus) = test_support::adapters().await;
    World {
        adapters: adapters.with_files(files.clone()),
        files,
        _dir: dir,
    }
}

impl World {
    async fn app(&self) -> ImportCatalog {
        ImportCatalog::new(&self.adapters).await.unwrap()
    }

    async fn imports(&self) -> Arc<dyn Imports> {
        self.adapters.imports_keeping_history().await.unwrap()
    }

    /// A pending import of `company`, its file stored: the queue message S3 would send.
    async fn upload(
        &self,
        company: &str,
        format: ImportFormat,
        content: &[u8],
    ) -> (ImportId, SqsEvent) {
        let import = Import::pending(CompanyId::parse(company).unwrap(), format, Utc::now());
        self.imports().await.create(&import).await.unwrap();
        (import.id, self.upload_again(&import.key(), content).await)
    }

    /// Another upload to the same key (the URL used again): the message S3 would send.
    async fn upload_again(&self, key: &ObjectKey, content: &[u8]) -> SqsEvent {
        let (staged, _) = self.files.staging_file(key).await.unwrap();
        tokio::fs::write(&staged, content).await.unwrap();
        let stored = self.files.commit(&staged, key).await.unwrap();
        sqs(&object_created(&stored, Utc::now()))
    }

    /// The handler, its invocation dying after `commits` commits (a crash mid-file).
    async fn dying_after(&self, commits: usize) -> ImportCatalog {
        let mut dying = self.app().await;
        let mut steered = Steered::new(self.imports().await);
        steered.commits = AtomicUsize::new(commits);
        dying.imports = Arc::new(steered);
        dying
    }

    /// The handler, each of its commits taking `delay` (a table under load).
    async fn slow_commits(&self, delay: std::time::Duration) -> ImportCatalog {
        let mut slow = self.app().await;
        let mut steered = Steered::new(self.imports().await);
        steered.delay = delay;
        slow.imports = Arc::new(steered);
        slow
    }

    async fn report(&self, id: ImportId) -> Import {
        self.imports().await.get(id).await.unwrap().unwrap()
    }

    async fn product(&self, id: &str) -> Option<domain::product::Product> {
        let catalog = self.adapters.catalog().await.unwrap();
        catalog.get(&ProductId::parse(id).unwrap()).await.unwrap()
    }
}

fn sqs(body: &str) -> SqsEvent {
    let mut message = SqsMessage::default();
    message.message_id = Some("m-1".to_owned());
    message.body = Some(body.to_owned());
    message.event_source = Some("aws:sqs".to_owned());
    let mut event = SqsEvent::default();
    event.records = vec![message];
    event
}

fn jsonl(rows: std::ops::Range<u32>) -> String {
    rows.map(|i| {
        format!(r#"{{"id":"p-{i}","name":"Product {i}","price":{{"amount":"{i}.50","currency":"EUR"}},"stock":{i}}}"#)
            + "\n"
    })
    .collect()
}

async fn failures(app: &ImportCatalog, event: SqsEvent) -> usize {
    app.handle(event).await.unwrap().batch_item_failures.len()
}

#[tokio::test]
async fn bad_rows_are_reported_with_row_and_field_and_the_rest_written() {
    let world = world().await;
    let catalog = world.adapters.catalog().await.unwrap();
    catalog
        .save(&test_support::product("theirs", "globex", 100, 1), None)
        .await
        .unwrap();
    // A BOM and CRLF line ends, as a spreadsheet saves it.
    let file = format!(
        "\u{feff}{HEADER}\r\nok-1,Tea,Green,4.50,EUR,10,true\r\nbad id,,x,4.5,EUR,-1,maybe\r\n\
         theirs,Mine now,,1.00,EUR,1,true\r\nok-2,\"Coffee, dark\",,12.00,EUR,0,false\r\n"
    );
    let (id, event) = world
        .upload("acme", ImportFormat::Csv, file.as_bytes())
        .await;
    assert_eq!(failures(&world.app().await, event).await, 0);
    let report = world.report(id).await;
    assert_eq!(report.status, ImportStatus::Done);
    assert_eq!(
        (report.rows.total, report.rows.written, report.rows.rejected),
        (4, 2, 2)
    );
    let errors: Vec<(u64, &str)> = report
        .errors
        .iter()
        .map(|e| (e.row, e.field.as_str()))
        .collect();
    assert_eq!(
        errors,
        [
            (2, "id"),
            (2, "name"),
            (2, "price_amount"),
            (2, "stock"),
            (2, "available"),
            (3, "id")
        ]
    );
    assert_eq!(report.errors[5].message, "is a product of another company");
    let theirs = world.product("theirs").await.unwrap();
    assert_eq!((theirs.company_id.as_str(), theirs.version), ("globex", 1));
    let coffee = world.product("ok-2").await.unwrap();
    assert_eq!(
        (
            coffee.name.as_str(),
            coffee.available,
            coffee.company_id.as_str()
        ),
        ("Coffee, dark", false, "acme")
    );
}

/// An invocation near its end commits the rows in hand and hands the file back, rather than
/// being stopped by Lambda mid-batch: the next delivery resumes from that checkpoint.
#[tokio::test]
async fn writing_stops_before_the_invocations_deadline_and_resumes_from_its_checkpoint() {
    let world = world().await;
    let (id, event) = world
        .upload("acme", ImportFormat::Jsonl, jsonl(0..3000).as_bytes())
        .await;
    let slow = world
        .slow_commits(std::time::Duration::from_millis(400))
        .await;
    let deadline =
        tokio::time::Instant::now() + import_catalog::HAND_BACK + std::time::Duration::from_secs(2);
    let handed_back = retry_policy::within(deadline, failures(&slow, event.clone())).await;
    assert_eq!(handed_back, 1, "the message comes back");
    assert!(
        tokio::time::Instant::now() < deadline,
        "stopped before the deadline"
    );
    let halfway = world.report(id).await;
    assert_eq!(halfway.status, ImportStatus::Running);
    assert!(
        (1..3000).contains(&halfway.rows.written) && halfway.rows.written % BATCH == 0,
        "whole batches committed: {:?}",
        halfway.rows
    );
    assert_eq!(failures(&world.app().await, event).await, 0);
    let report = world.report(id).await;
    assert_eq!(
        (report.status, report.rows.total, report.rows.written),
        (ImportStatus::Done, 3000, 3000)
    );
}

#[tokio::test]
async fn a_redelivery_resumes_mid_file_and_writes_no_row_twice() {
    let world = world().await;
    let (id, event) = world
        .upload("acme", ImportFormat::Jsonl, jsonl(0..500).as_bytes())
        .await;
    let dying = world.dying_after(2).await;
    assert_eq!(
        failures(&dying, event.clone()).await,
        1,
        "the message comes back"
    );
    let halfway = world.report(id).await;
    assert_eq!(
        (halfway.status, halfway.rows.written),
        (ImportStatus::Running, 2 * BATCH)
    );
    assert_eq!(failures(&world.app().await, event.clone()).await, 0);
    let report = world.report(id).await;
    assert_eq!(
        (report.status, report.rows.total, report.rows.written),
        (ImportStatus::Done, 500, 500)
    );
    for i in [0, 2 * BATCH - 1, 2 * BATCH, 499] {
        assert_eq!(
            world.product(&format!("p-{i}")).await.unwrap().version,
            1,
            "p-{i}"
        );
    }
    // Delivered once more after it finished: nothing changes.
    assert_eq!(failures(&world.app().await, event).await, 0);
    assert_eq!(world.product("p-0").await.unwrap().version, 1);
}

#[tokio::test]
async fn two_deliveries_at_once_write_each_row_once() {
    let world = world().await;
    let (id, event) = world
        .upload("acme", ImportFormat::Jsonl, jsonl(0..600).as_bytes())
        .await;
    let (a, b) = (world.app().await, world.app().await);
    let (fa, fb) = tokio::join!(failures(&a, event.clone()), failures(&b, event.clone()));
    // The loser of a race hands its message back; the redelivery finds the import done.
    assert!(fa + fb <= 1, "{fa} {fb}");
    if fa + fb == 1 {
        assert_eq!(failures(&a, event).await, 0);
    }
    let report = world.report(id).await;
    assert_eq!(
        (report.status, report.rows.written, report.rows.rejected),
        (ImportStatus::Done, 600, 0)
    );
    for i in [0, 300, 599] {
        assert_eq!(world.product(&format!("p-{i}")).await.unwrap().version, 1);
    }
}

#[tokio::test]
async fn whole_files_are_refused_before_any_row_is_written() {
    let world = world().await;
    let cases: [(&[u8], &str); 4] = [
        (b"id,name,price_amount,stock\np1,Tea,1.00,1\n", "the header has no `price_currency` column"),
        (b"id,name,price_amount,price_currency,stock\np1,Tea,1.00,EUR,1\np2,Caf\xe9,1.00,EUR,1\n", "the file is not UTF-8 (at row 2)"),
        (b"", "the file is empty"),
        (b"id,name,colour,price_amount,price_currency,stock\n", "the header has an unknown column `colour`"),
    ];
    for (content, reason) in cases {
        let (id, event) = world.upload("acme", ImportFormat::Csv, content).await;
        assert_eq!(failures(&world.app().await, event).await, 0);
        let report = world.report(id).await;
        assert_eq!(report.status, ImportStatus::Failed);
        assert!(
            report.reason.as_deref().unwrap().starts_with(reason),
            "{:?}",
            report.reason
        );
        assert_eq!(report.rows.written, 0);
    }
    assert!(world.product("p1").await.is_none());
}

#[tokio::test]
async fn a_file_over_the_size_limit_is_refused_by_its_event() {
    let world = world().await;
    let (id, _) = world
        .upload("acme", ImportFormat::Csv, HEADER.as_bytes())
        .await;
    let import = world.report(id).await;
    let stored = Stored {
        key: import.key(),
        size: 60 * 1024 * 1024,
        version: "v-large".to_owned(),
    };
    assert_eq!(
        failures(
            &world.app().await,
            sqs(&object_created(&stored, Utc::now()))
        )
        .await,
        0
    );
    let report = world.report(id).await;
    assert_eq!(report.status, ImportStatus::Failed);
    assert!(
        report
            .reason
            .unwrap()
            .contains("the limit is 52428800 bytes")
    );
}

#[tokio::test]
async fn a_file_no_longer_in_the_bucket_fails_its_import_at_once() {
    let world = world().await;
    let (id, event) = world
        .upload("acme", ImportFormat::Csv, HEADER.as_bytes())
        .await;
    let import = world.report(id).await;
    let versions = world._dir.path().join(format!("{}.versions", import.key()));
    tokio::fs::remove_dir_all(versions).await.unwrap();
    assert_eq!(
        failures(&world.app().await, event).await,
        0,
        "not retried: nothing would change"
    );
    let report = world.report(id).await;
    assert_eq!(report.status, ImportStatus::Failed);
    assert!(
        report
            .reason
            .unwrap()
            .starts_with("the file is not in the bucket any more")
    );
}

/// Files the importer may not read, as S3 answers a reader without its permissions (403, a
/// permanent `PortError` from `files-s3`), or that fail for a while (a transient one).
struct Refusing(PortError);

#[async_trait]
impl ImportFiles for Refusing {
    async fn open(&self, _: &ObjectKey, _: &FileVersion) -> Result<Box<dyn FileBody>, PortError> {
        Err(self.0.clone())
    }
    async fn upload_url(
        &self,
        _: &ObjectKey,
        _: &str,
        _: DateTime<Utc>,
    ) -> Result<UploadUrl, PortError> {
        Err(self.0.clone())
    }
}

#[tokio::test]
async fn a_file_the_importer_may_not_read_fails_its_import_instead_of_its_message() {
    let world = world().await;
    let (id, event) = world
        .upload("acme", ImportFormat::Csv, HEADER.as_bytes())
        .await;
    let mut app = world.app().await;
    app.files = Arc::new(Refusing(PortError::Transient("SlowDown".to_owned())));
    assert_eq!(
        failures(&app, event.clone()).await,
        1,
        "a transient failure is retried"
    );
    assert_eq!(world.report(id).await.status, ImportStatus::Pending);

    app.files = Arc::new(Refusing(PortError::Permanent(
        "GetObject: access denied (403)".to_owned(),
    )));
    assert_eq!(
        failures(&app, event).await,
        0,
        "not retried: every receive would be refused the same way"
    );
    let report = world.report(id).await;
    assert_eq!(report.status, ImportStatus::Failed);
    assert_eq!(
        report.reason.as_deref(),
        Some(FileError::Unreadable.to_string().as_str())
    );
}

#[tokio::test]
async fn other_messages_are_acknowledged_and_change_nothing() {
    let world = world().await;
    let app = world.app().await;
    let test_event = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-26T00:00:00.000Z","Bucket":"b","RequestId":"r","HostId":"h"}"#;
    assert_eq!(failures(&app, sqs(test_event)).await, 0);
    assert_eq!(failures(&app, sqs("not json")).await, 0);
    // A file for an import nobody created.
    let stranger = Stored {
        key: ObjectKey {
            company: CompanyId::parse("acme").unwrap(),
            import: ImportId::random(),
            format: ImportFormat::Jsonl,
        },
        size: 10,
        version: "v-stranger".to_owned(),
    };
    assert_eq!(
        failures(&app, sqs(&object_created(&stranger, Utc::now()))).await,
        0
    );
    // A key naming another company than the import's: its file is not taken.
    let (id, _) = world
        .upload("acme", ImportFormat::Jsonl, jsonl(0..1).as_bytes())
        .await;
    let forged = Stored {
        key: ObjectKey {
            company: CompanyId::parse("globex").unwrap(),
            import: id,
            format: ImportFormat::Jsonl,
        },
        size: 10,
        version: "v-forged".to_owned(),
    };
    assert_eq!(
        failures(&app, sqs(&object_created(&forged, Utc::now()))).await,
        0
    );
    assert_eq!(world.report(id).await.status, ImportStatus::Pending);
}

#[tokio::test]
async fn the_report_keeps_the_first_thousand_errors_and_counts_them_all() {
    let world = world().await;
    let mut file = format!("{HEADER}\n");
    for i in 0..1_500 {
        file.push_str(&format!("p-{i},,,1.00,EUR,1,true\n"));
    }
    file.push_str("last,Last,,1.00,EUR,1,true\n");
    let (id, event) = world
        .upload("acme", ImportFormat::Csv, file.as_bytes())
        .await;
    assert_eq!(failures(&world.app().await, event).await, 0);
    let report = world.report(id).await;
    assert_eq!(
        (report.rows.total, report.rows.written, report.rows.rejected),
        (1_501, 1, 1_500)
    );
    assert_eq!(report.errors.len(), 1_000);
    assert_eq!((report.errors[0].row, report.errors[999].row), (1, 1_000));
    assert!(world.product("last").await.is_some());
}

#[tokio::test]
async fn a_second_upload_during_an_import_is_not_mixed_into_it() {
    let world = world().await;
    let (id, first) = world
        .upload("acme", ImportFormat::Jsonl, jsonl(0..500).as_bytes())
        .await;
    let dying = world.dying_after(2).await;
    assert_eq!(failures(&dying, first.clone()).await, 1);
    assert_eq!(world.report(id).await.rows.written, 2 * BATCH);
    // The URL is used again while the import runs: another file under the same key.
    let key = world.report(id).await.key();
    let second = world
        .upload_again(&key, jsonl(1_000..1_300).as_bytes())
        .await;
    assert_eq!(failures(&world.app().await, second.clone()).await, 0);
    let report = world.report(id).await;
    assert_eq!(
        (report.status, report.rows.total, report.rows.written),
        (ImportStatus::Running, 500, 2 * BATCH),
        "the second upload is ignored"
    );
    // The first upload's redelivery finishes it, from the first upload (kept as a version).
    assert_eq!(failures(&world.app().await, first).await, 0);
    let report = world.report(id).await;
    assert_eq!(
        (report.status, report.rows.written),
        (ImportStatus::Done, 500)
    );
    assert!(world.product("p-1000").await.is_none());
    assert_eq!(failures(&world.app().await, second).await, 0);
    assert!(world.product("p-1000").await.is_none());
}

/// The files of a bucket that keeps no versions: only the newest upload under a key can be
/// read; reading an older one is refused (S3's `If-Match` failing: 412).
struct Unversioned {
    files: Arc<EmbeddedFiles>,
    newest: FileVersion,
}

#[async_trait]
impl ImportFiles for Unversioned {
    async fn open(
        &self,
        key: &ObjectKey,
        version: &FileVersion,
    ) -> Result<Box<dyn FileBody>, PortError> {
        if !version.same_upload(&self.newest) {
            return Err(PortError::Conflict);
        }
        self.files.open(key, version).await
    }
    async fn upload_url(
        &self,
        key: &ObjectKey,
        content_type: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<UploadUrl, PortError> {
        self.files.upload_url(key, content_type, expires_at).await
    }
}

fn version_of(event: &SqsEvent) -> FileVersion {
    let uploads =
        import_catalog::uploaded_files(event.records[0].body.as_deref().unwrap()).unwrap();
    uploads[0].version.clone()
}

#[tokio::test]
async fn without_versions_a_replaced_upload_waits_for_the_newer_or_fails_its_import() {
    let world = world().await;
    let (id, first) = world
        .upload("acme", ImportFormat::Jsonl, jsonl(0..3).as_bytes())
        .await;
    let key = world.report(id).await.key();
    let second = world.upload_again(&key, jsonl(10..12).as_bytes()).await;
    let mut app = world.app().await;
    app.files = Arc::new(Unversioned {
        files: world.files.clone(),
        newest: version_of(&second),
    });
    // The first upload's event comes late: the key holds the second, whose event follows.
    assert_eq!(failures(&app, first).await, 0);
    assert_eq!(world.report(id).await.status, ImportStatus::Pending);
    assert_eq!(failures(&app, second).await, 0);
    let report = world.report(id).await;
    assert_eq!(
        (report.status, report.rows.written),
        (ImportStatus::Done, 2)
    );
    assert!(world.product("p-10").await.is_some());
    assert!(world.product("p-0").await.is_none());

    // Replaced mid-import: the import cannot finish its upload, and says so.
    let (id, first) = world
        .upload("acme", ImportFormat::Jsonl, jsonl(100..400).as_bytes())
        .await;
    let dying = world.dying_after(1).await;
    assert_eq!(failures(&dying, first.clone()).await, 1);
    let key = world.report(id).await.key();
    let second = world.upload_again(&key, jsonl(500..501).as_bytes()).await;
    app.files = Arc::new(Unversioned {
        files: world.files.clone(),
        newest: version_of(&second),
    });
    assert_eq!(failures(&app, first).await, 0);
    let report = world.report(id).await;
    assert_eq!(
        (report.status, report.rows.written),
        (ImportStatus::Failed, BATCH)
    );
    assert!(
        report
            .reason
            .unwrap()
            .starts_with("the file was uploaded again while it was being imported")
    );
    assert_eq!(
        failures(&app, second).await,
        0,
        "a finished import stays as it is"
    );
    assert!(world.product("p-500").await.is_none());
}

/// The imports table pins an import to the first upload that starts it, whichever delivery
/// gets there first: a start for another upload changes nothing.
#[tokio::test]
async fn the_first_upload_to_start_an_import_pins_it() {
    let world = world().await;
    let imports = world.imports().await;
    let import = Import::pending(
        CompanyId::parse("acme").unwrap(),
        ImportFormat::Csv,
        Utc::now(),
    );
    imports.create(&import).await.unwrap();
    let upload = |tag: &str| FileVersion {
        e_tag: tag.to_owned(),
        version_id: Some(format!("v-{tag}")),
    };
    let started = imports
        .start(import.id, 10, &upload("a"), Utc::now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (started.status, started.file.clone()),
        (ImportStatus::Running, Some(upload("a")))
    );
    let other = imports
        .start(import.id, 99, &upload("b"), Utc::now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (other.file, other.rows.total),
        (Some(upload("a")), 10),
        "unchanged"
    );
    let again = imports
        .start(import.id, 10, &upload("a"), Utc::now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (again.status, again.file),
        (ImportStatus::Running, Some(upload("a")))
    );
}

/// The bucket, counting the readings of its files.
struct Counting {
    files: Arc<EmbeddedFiles>,
    opens: AtomicUsize,
}

#[async_trait]
impl ImportFiles for Counting {
    async fn open(
        &self,
        key: &ObjectKey,
        version: &FileVersion,
    ) -> Result<Box<dyn FileBody>, PortError> {
        self.opens.fetch_add(1, Ordering::SeqCst);
        self.files.open(key, version).await
    }
    async fn upload_url(
        &self,
        key: &ObjectKey,
        content_type: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<UploadUrl, PortError> {
        self.files.upload_url(key, content_type, expires_at).await
    }
}

#[tokio::test]
async fn a_redelivery_resumes_with_one_reading_and_fails_if_the_upload_is_gone() {
    let world = world().await;
    let (id, event) = world
        .upload("acme", ImportFormat::Jsonl, jsonl(0..300).as_bytes())
        .await;
    assert_eq!(
        failures(&world.dying_after(1).await, event.clone()).await,
        1
    );
    let counting = Arc::new(Counting {
        files: world.files.clone(),
        opens: AtomicUsize::new(0),
    });
    let mut app = world.app().await;
    app.files = counting.clone();
    assert_eq!(failures(&app, event).await, 0);
    assert_eq!(world.report(id).await.status, ImportStatus::Done);
    assert_eq!(
        counting.opens.load(Ordering::SeqCst),
        1,
        "checked whole when it started: resumed, it is read once"
    );

    let (id, event) = world
        .upload("acme", ImportFormat::Jsonl, jsonl(300..600).as_bytes())
        .await;
    assert_eq!(
        failures(&world.dying_after(1).await, event.clone()).await,
        1
    );
    let key = world.report(id).await.key();
    let versions = world._dir.path().join(format!("{key}.versions"));
    tokio::fs::remove_dir_all(versions).await.unwrap();
    assert_eq!(failures(&world.app().await, event).await, 0, "not retried");
    let report = world.report(id).await;
    assert_eq!(
        (report.status, report.rows.written),
        (ImportStatus::Failed, BATCH)
    );
    assert!(
        report
            .reason
            .unwrap()
            .starts_with("the file is not in the bucket any more")
    );
}

/// A header with a 60 KB unknown column: the report quotes its name short, so the import
/// fails with its reason rather than staying `pending` behind a report too large to record. A
/// header past 64 KiB is not even held.
#[tokio::test]
async fn a_huge_unknown_column_fails_its_import_with_a_short_reason() {
    let world = world().await;
    let huge = format!("id,{},name", "h".repeat(500_000));
    let (id, event) = world
        .upload("acme", ImportFormat::Csv, huge.as_bytes())
        .await;
    assert_eq!(failures(&world.app().await, event).await, 0);
    let report = world.report(id).await;
    assert_eq!(report.status, ImportStatus::Failed);
    assert_eq!(
        report.reason.unwrap(),
        "the header is longer than 65536 bytes"
    );

    let header = format!(
        "id,{},name,price_amount,price_currency,stock",
        "q".repeat(60_000)
    );
    let (id, event) = world
        .upload("acme", ImportFormat::Csv, header.as_bytes())
        .await;
    assert_eq!(failures(&world.app().await, event).await, 0);
    let report = world.report(id).await;
    assert_eq!(report.status, ImportStatus::Failed);
    let reason = report.reason.unwrap();
    assert!(
        reason.starts_with("the header has an unknown column `qqq"),
        "{reason}"
    );
    assert!(reason.len() < 1024, "{} bytes", reason.len());
}

/// The imports port, watched and steered: each commit's rows recorded; optionally the
/// invocation dying at a commit, each commit taking `delay`, every commit answered
/// `Superseded` with the checkpoint found at `superseded_at` (another delivery got there
/// first), or the import read once as it was (a read that raced another start).
struct Steered {
    port: Arc<dyn Imports>,
    commits: AtomicUsize,
    delay: std::time::Duration,
    batches: std::sync::Mutex<Vec<(u64, u64)>>,
    superseded_at: Option<u64>,
    stale: std::sync::Mutex<Option<Import>>,
}

impl Steered {
    fn new(port: Arc<dyn Imports>) -> Steered {
        Steered {
            port,
            commits: AtomicUsize::new(usize::MAX),
            delay: std::time::Duration::ZERO,
            batches: std::sync::Mutex::default(),
            superseded_at: None,
            stale: std::sync::Mutex::default(),
        }
    }

    fn committed(&self) -> bool {
        !self.batches.lock().unwrap().is_empty()
    }
}

#[async_trait]
impl Imports for Steered {
    async fn create(&self, import: &Import) -> Result<(), PortError> {
        self.port.create(import).await
    }
    async fn get(&self, id: ImportId) -> Result<Option<Import>, PortError> {
        if let Some(stale) = self.stale.lock().unwrap().take() {
            return Ok(Some(stale));
        }
        let mut import = self.port.get(id).await?;
        // After a commit, the checkpoint as the other delivery left it.
        if let (Some(import), Some(at), true) =
            (import.as_mut(), self.superseded_at, self.committed())
        {
            import.next_row = at;
        }
        Ok(import)
    }
    async fn open(&self, company: &CompanyId) -> Result<Vec<Import>, PortError> {
        self.port.open(company).await
    }
    async fn expire(&self, id: ImportId, reason: &str, at: DateTime<Utc>) -> Result<(), PortError> {
        self.port.expire(id, reason, at).await
    }
    async fn stalled(&self, before: DateTime<Utc>, limit: usize) -> Result<Vec<Import>, PortError> {
        self.port.stalled(before, limit).await
    }
    async fn fail_stalled(
        &self,
        id: ImportId,
        seen: DateTime<Utc>,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        self.port.fail_stalled(id, seen, reason, at).await
    }
    async fn start(
        &self,
        id: ImportId,
        total: u64,
        file: &FileVersion,
        at: DateTime<Utc>,
    ) -> Result<Option<Import>, PortError> {
        self.port.start(id, total, file, at).await
    }
    async fn commit(&self, batch: &ImportBatch) -> Result<BatchOutcome, PortError> {
        if self.commits.fetch_sub(1, Ordering::SeqCst) == 0 {
            return Err(PortError::Permanent("the invocation died".to_owned()));
        }
        tokio::time::sleep(self.delay).await;
        self.batches
            .lock()
            .unwrap()
            .push((batch.from_row, batch.to_row));
        if self.superseded_at.is_some() {
            return Ok(BatchOutcome::Superseded);
        }
        self.port.commit(batch).await
    }
    async fn finish(
        &self,
        id: ImportId,
        failure: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<(), PortError> {
        self.port.finish(id, failure, at).await
    }
}

impl World {
    async fn watched(&self, watched: Steered) -> (ImportCatalog, Arc<Steered>) {
        let watched = Arc::new(watched);
        let mut app = self.app().await;
        app.imports = watched.clone();
        (app, watched)
    }
}

/// A run of refused rows still moves the checkpoint, a thousand rows a batch at most; a file
/// of one row writes it.
#[tokio::test]
async fn a_batch_settles_at_most_a_thousand_rows_and_a_single_row_is_written() {
    let world = world().await;
    let refused: String = (0..2_500)
        .map(|i| format!("r-{i},,,1.00,EUR,1,true\n"))
        .collect();
    let (id, event) = world
        .upload(
            "acme",
            ImportFormat::Csv,
            format!("{HEADER}\n{refused}").as_bytes(),
        )
        .await;
    let (app, watched) = world.watched(Steered::new(world.imports().await)).await;
    assert_eq!(failures(&app, event).await, 0);
    assert_eq!(
        *watched.batches.lock().unwrap(),
        vec![(1, 1001), (1001, 2001), (2001, 2501)]
    );
    let report = world.report(id).await;
    assert_eq!((report.rows.written, report.rows.rejected), (0, 2_500));

    let (id, event) = world
        .upload("acme", ImportFormat::Jsonl, jsonl(7..8).as_bytes())
        .await;
    assert_eq!(failures(&world.app().await, event).await, 0);
    assert_eq!(world.report(id).await.rows.written, 1);
    assert!(world.product("p-7").await.is_some());
}

/// A product writes one item per stock shard and its history entry, so a batch holds as many
/// rows as their items fit in one transaction (99 besides the checkpoint); an empty
/// `stock_shards` cell keeps the product's count.
#[tokio::test]
async fn batches_are_sized_by_the_items_their_products_write() {
    let world = world().await;
    let catalog = world.adapters.catalog().await.unwrap();
    let mut keep = test_support::product("keep", "acme", 100, 16);
    keep.stock_shards = 8;
    catalog.save(&keep, None).await.unwrap();
    // 24 shards and an entry: 25 items a row, so three rows fit in 99 and a fourth does not
    // (without the entry, four would).
    let row = |i: u32| format!("s-{i},Item {i},,1.00,EUR,64,true,24\n");
    let file = format!(
        "{HEADER},stock_shards\n{}bad id,,,1.00,EUR,1,true,1\n{}keep,Kept,,2.00,EUR,5,true,\n",
        (1..5).map(row).collect::<String>(),
        (6..12).map(row).collect::<String>(),
    );
    let (id, event) = world
        .upload("acme", ImportFormat::Csv, file.as_bytes())
        .await;
    let (app, watched) = world.watched(Steered::new(world.imports().await)).await;
    assert_eq!(failures(&app, event).await, 0);
    assert_eq!(
        *watched.batches.lock().unwrap(),
        vec![(1, 4), (4, 8), (8, 11), (11, 13)]
    );
    let report = world.report(id).await;
    assert_eq!((report.rows.written, report.rows.rejected), (11, 1));
    assert_eq!(report.errors[0].row, 5);
    let s1 = world.product("s-1").await.unwrap();
    assert_eq!((s1.stock, s1.stock_shards), (64, 24));
    let kept = world.product("keep").await.unwrap();
    assert_eq!((kept.stock, kept.stock_shards), (5, 8));
}

/// Another delivery committed this batch's rows first. If its checkpoint is past them, they are
/// settled and this delivery goes on; if it is short of them, that delivery is still at work
/// and this one comes back later, writing nothing meanwhile.
#[tokio::test]
async fn a_batch_overtaken_by_another_delivery_is_skipped_or_handed_back() {
    let world = world().await;
    let (id, event) = world
        .upload("acme", ImportFormat::Jsonl, jsonl(20..23).as_bytes())
        .await;
    let mut behind = Steered::new(world.imports().await);
    behind.superseded_at = Some(1);
    let (app, _) = world.watched(behind).await;
    assert_eq!(failures(&app, event.clone()).await, 1, "handed back");
    assert_eq!(world.report(id).await.status, ImportStatus::Running);

    let mut past = Steered::new(world.imports().await);
    past.superseded_at = Some(4);
    let (app, watched) = world.watched(past).await;
    assert_eq!(failures(&app, event).await, 0);
    assert_eq!(*watched.batches.lock().unwrap(), vec![(1, 4)]);
    assert_eq!(world.report(id).await.status, ImportStatus::Done);
    assert!(
        world.product("p-20").await.is_none(),
        "this delivery wrote nothing: the rows were the other's"
    );
}

/// Two uploads for one import, their deliveries interleaved: this one read the import still
/// pending, and the other upload started it meanwhile (and is still at work). Its start finds
/// the import pinned to the other upload, and it writes nothing.
#[tokio::test]
async fn a_start_lost_to_another_upload_writes_nothing() {
    let world = world().await;
    let (id, first) = world
        .upload("acme", ImportFormat::Jsonl, jsonl(30..32).as_bytes())
        .await;
    let pending = world.report(id).await;
    let second = world
        .upload_again(&pending.key(), jsonl(40..42).as_bytes())
        .await;
    // The first upload's delivery starts the import and dies before its first commit.
    let dying = world.dying_after(0).await;
    assert_eq!(failures(&dying, first.clone()).await, 1);
    let started = world.report(id).await;
    assert_eq!(started.status, ImportStatus::Running);
    let watched = Steered::new(world.imports().await);
    *watched.stale.lock().unwrap() = Some(pending);
    let (app, _) = world.watched(watched).await;
    assert_eq!(failures(&app, second).await, 0);
    assert!(
        world.product("p-40").await.is_none(),
        "the second upload is not mixed in"
    );
    assert_eq!(
        world.report(id).await.file,
        started.file,
        "still the first's"
    );
    // The first upload's redelivery finishes it.
    assert_eq!(failures(&world.app().await, first).await, 0);
    assert!(world.product("p-30").await.is_some());
}

/// The limit is on the upload's size as S3 reports it: a file of exactly the limit is read.
#[tokio::test]
async fn a_file_of_exactly_the_size_limit_is_read() {
    let world = world().await;
    let (id, event) = world
        .upload("acme", ImportFormat::Jsonl, jsonl(50..52).as_bytes())
        .await;
    let mut body: serde_json::Value =
        serde_json::from_str(event.records[0].body.as_deref().unwrap()).unwrap();
    body["Records"][0]["s3"]["object"]["size"] = domain::import::MAX_FILE_BYTES.into();
    assert_eq!(
        failures(&world.app().await, sqs(&body.to_string())).await,
        0
    );
    let report = world.report(id).await;
    assert_eq!(
        (report.status, report.rows.written),
        (ImportStatus::Done, 2)
    );
}

/// What a delivery wrote and refused is reported as the metrics ImportRowsWritten and
/// ImportRowsRejected (the data points of this process, as delivery-local's console reads
/// them; the counts are unlike any other test's).
#[tokio::test]
async fn a_delivery_counts_the_rows_it_wrote_and_refused() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::<(String, f64)>::new()));
    let sink = seen.clone();
    assert!(telemetry::set_sink(move |metric, value, _| {
        sink.lock().unwrap().push((metric.to_owned(), value));
    }));
    let world = world().await;
    let valid: String = (0..37)
        .map(|i| format!("m-{i},Item {i},,1.00,EUR,1,true\n"))
        .collect();
    let refused: String = (0..5)
        .map(|i| format!("n-{i},,,1.00,EUR,1,true\n"))
        .collect();
    let (_, event) = world
        .upload(
            "acme",
            ImportFormat::Csv,
            format!("{HEADER}\n{valid}{refused}").as_bytes(),
        )
        .await;
    assert_eq!(failures(&world.app().await, event).await, 0);
    let seen = seen.lock().unwrap();
    assert!(
        seen.contains(&("ImportRowsWritten".to_owned(), 37.0)),
        "{seen:?}"
    );
    assert!(
        seen.contains(&("ImportRowsRejected".to_owned(), 5.0)),
        "{seen:?}"
    );
}

/// S3's event may say less than the object holds (or the object may be replaced under an
/// event that said little): the reading itself stops past the limit, and a file of exactly the
/// limit is read to its end.
#[tokio::test]
async fn the_reading_stops_past_the_size_limit_whatever_the_event_said() {
    let world = world().await;
    let limit = domain::import::MAX_FILE_BYTES as usize;
    for (bytes, refused) in [(limit + 1, true), (limit, false)] {
        // One line, too long to be a row: read past, and refused as such.
        let (id, event) = world
            .upload("acme", ImportFormat::Jsonl, "x".repeat(bytes).as_bytes())
            .await;
        let mut body: serde_json::Value =
            serde_json::from_str(event.records[0].body.as_deref().unwrap()).unwrap();
        body["Records"][0]["s3"]["object"]["size"] = 10.into();
        assert_eq!(
            failures(&world.app().await, sqs(&body.to_string())).await,
            0
        );
        let report = world.report(id).await;
        if refused {
            assert_eq!(report.status, ImportStatus::Failed);
            let reason = report.reason.unwrap();
            assert!(reason.contains("the limit is 52428800 bytes"), "{reason}");
        } else {
            assert_eq!(report.status, ImportStatus::Done, "{:?}", report.reason);
            assert_eq!((report.rows.total, report.rows.rejected), (1, 1));
        }
    }
}
