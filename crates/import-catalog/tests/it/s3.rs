//! The AWS path of an import against moto (S3 and SQS) and dynoxide: a presigned `PUT` from
//! `files-s3`, the bucket's `ObjectCreated` notification delivered to the imports queue, and
//! the handler streaming the object back with `GetObject` and writing its rows.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use aws_sdk_s3::types::{
    BucketVersioningStatus, Event, NotificationConfiguration, QueueConfiguration,
    VersioningConfiguration,
};
use chrono::Utc;
use composition::lambda::EventFunction;
use composition::{App, local_sdk_config};
use domain::import::{FileVersion, Import, ImportFormat, ImportStatus, ObjectKey, UPLOAD_TTL};
use domain::ports::ImportFiles;
use domain::{CompanyId, PortError};
use files_s3::S3Files;
use import_catalog::{ImportCatalog, uploaded_files};

const BUCKET: &str = "delivery-imports";

/// SQS and S3 clients of moto (S3 path style, as moto serves buckets).
fn clients(endpoint: &str) -> (aws_sdk_sqs::Client, aws_sdk_s3::Client) {
    let sdk = local_sdk_config(endpoint);
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    (aws_sdk_sqs::Client::new(&sdk), s3)
}

/// The imports queue, with the bucket's notifications sent to it.
async fn notifying_bucket(sqs: &aws_sdk_sqs::Client, s3: &aws_sdk_s3::Client) -> String {
    s3.create_bucket().bucket(BUCKET).send().await.unwrap();
    let url = sqs
        .create_queue()
        .queue_name("imports")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let arn = "arn:aws:sqs:us-east-1:123456789012:imports";
    let queue = QueueConfiguration::builder()
        .queue_arn(arn)
        .events(Event::from("s3:ObjectCreated:*"))
        .build()
        .unwrap();
    s3.put_bucket_notification_configuration()
        .bucket(BUCKET)
        .notification_configuration(
            NotificationConfiguration::builder()
                .queue_configurations(queue)
                .build(),
        )
        .send()
        .await
        .unwrap();
    url
}

/// The first message on the queue that names an uploaded import file.
async fn object_created(sqs: &aws_sdk_sqs::Client, url: &str) -> SqsMessage {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let out = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        for m in out.messages.unwrap_or_default() {
            let body = m.body.clone().unwrap_or_default();
            if !uploaded_files(&body).unwrap_or_default().is_empty() {
                let mut message = SqsMessage::default();
                message.message_id = m.message_id;
                message.body = Some(body);
                return message;
            }
        }
    }
    panic!("no ObjectCreated event reached the queue");
}

#[tokio::test]
async fn a_presigned_upload_notifies_the_queue_and_is_imported_streamed() {
    let moto = moto_server::moto();
    let (sqs, s3) = clients(&moto.endpoint);
    let url = notifying_bucket(&sqs, &s3).await;
    let files = Arc::new(S3Files {
        client: s3,
        bucket: BUCKET.to_owned(),
    });
    let (adapters, _bus) = test_support::adapters().await;
    let adapters = adapters.with_files(files.clone());
    let import = Import::pending(
        CompanyId::parse("acme").unwrap(),
        ImportFormat::Jsonl,
        Utc::now(),
    );
    adapters
        .imports()
        .await
        .unwrap()
        .create(&import)
        .await
        .unwrap();

    let upload = files
        .upload_url(
            &import.key(),
            "application/x-ndjson",
            Utc::now() + UPLOAD_TTL,
        )
        .await
        .unwrap();
    assert!(upload.url.contains("X-Amz-Signature="), "{}", upload.url);
    assert_eq!(
        upload.headers.get("content-type").map(String::as_str),
        Some("application/x-ndjson")
    );
    // Big enough to come back from GetObject in several chunks.
    let file: String = (0..3_000)
        .map(|i| format!(r#"{{"id":"s3-{i}","name":"Product {i}","description":"{}","price":{{"amount":"1.50","currency":"EUR"}},"stock":{i}}}"#, "x".repeat(40)) + "\n")
        .collect();
    let status = tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut put = agent.put(&upload.url);
        for (name, value) in &upload.headers {
            put = put.header(name.as_str(), value.as_str());
        }
        put.send(file.as_bytes()).unwrap().status().as_u16()
    })
    .await
    .unwrap();
    assert_eq!(status, 200);

    let message = object_created(&sqs, &url).await;
    let mut event = SqsEvent::default();
    event.records = vec![message];
    let app = ImportCatalog::new(&adapters).await.unwrap();
    assert!(
        app.handle(event)
            .await
            .unwrap()
            .batch_item_failures
            .is_empty()
    );
    let report = adapters
        .imports()
        .await
        .unwrap()
        .get(import.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (report.status, report.rows.total, report.rows.written),
        (ImportStatus::Done, 3_000, 3_000)
    );
}

async fn read_all(
    files: &S3Files,
    key: &ObjectKey,
    version: &FileVersion,
) -> Result<Vec<u8>, PortError> {
    let mut body = files.open(key, version).await?;
    let mut all = Vec::new();
    while let Some(chunk) = body.next_chunk().await? {
        all.extend(chunk);
    }
    Ok(all)
}

/// `files-s3` reads the very upload an import started on: by its version in a versioned
/// bucket (even after another upload replaced it), else only while its `ETag` is the key's.
#[tokio::test]
async fn an_upload_is_read_by_its_version_or_its_etag() {
    let moto = moto_server::moto();
    let (_, s3) = clients(&moto.endpoint);
    for versioned in [true, false] {
        let bucket = format!("pinned-{versioned}");
        s3.create_bucket().bucket(&bucket).send().await.unwrap();
        if versioned {
            s3.put_bucket_versioning()
                .bucket(&bucket)
                .versioning_configuration(
                    VersioningConfiguration::builder()
                        .status(BucketVersioningStatus::Enabled)
                        .build(),
                )
                .send()
                .await
                .unwrap();
        }
        let files = S3Files {
            client: s3.clone(),
            bucket: bucket.clone(),
        };
        let key = Import::pending(
            CompanyId::parse("acme").unwrap(),
            ImportFormat::Csv,
            Utc::now(),
        )
        .key();
        let mut uploads = Vec::new();
        for content in ["first", "second"] {
            let out = s3
                .put_object()
                .bucket(&bucket)
                .key(key.to_string())
                .body(content.as_bytes().to_vec().into())
                .send()
                .await
                .unwrap();
            uploads.push(FileVersion {
                e_tag: out.e_tag.unwrap().trim_matches('"').to_owned(),
                version_id: out.version_id.filter(|_| versioned),
            });
        }
        assert_eq!(
            read_all(&files, &key, &uploads[1]).await.unwrap(),
            b"second"
        );
        let first = read_all(&files, &key, &uploads[0]).await;
        if versioned {
            assert_eq!(first.unwrap(), b"first", "kept as a version");
        } else {
            assert_eq!(
                first,
                Err(PortError::Conflict),
                "the key holds another upload"
            );
        }
        let gone = FileVersion {
            e_tag: uploads[1].e_tag.clone(),
            version_id: versioned.then(|| "no-such-version".to_owned()),
        };
        if versioned {
            assert!(matches!(
                read_all(&files, &key, &gone).await,
                Err(PortError::NotFound)
            ));
        }
        s3.delete_object()
            .bucket(&bucket)
            .key(key.to_string())
            .send()
            .await
            .unwrap();
        if !versioned {
            assert_eq!(
                read_all(&files, &key, &uploads[1]).await,
                Err(PortError::NotFound)
            );
        }
    }
}
