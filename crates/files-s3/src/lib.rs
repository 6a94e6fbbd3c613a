//! The [`ImportFiles`] port on S3: a presigned `PUT` for a company's upload (content type
//! signed), and the file streamed back with `GetObject` a chunk at a time, never whole in
//! memory: the very upload the import started on (its version, or its `ETag`).
//!
//! S3 cannot bind a maximum size into a presigned `PUT` (only a POST policy can, which a
//! `PUT` client cannot use): the import checks the size the `ObjectCreated` event reports
//! before reading, and counts the bytes as it reads.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_errors::classify;
use aws_sdk_s3::Client;
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use chrono::{DateTime, Utc};
use domain::PortError;
use domain::import::{FileVersion, ObjectKey};
use domain::ports::{FileBody, ImportFiles, UploadUrl};

/// The imports bucket (`IMPORTS_BUCKET`).
#[derive(Clone, Debug)]
pub struct S3Files {
    pub client: Client,
    pub bucket: String,
}

/// A `GetObject` body, read as it arrives.
struct S3Body(ByteStream);

#[async_trait]
impl FileBody for S3Body {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, PortError> {
        match self.0.next().await {
            None => Ok(None),
            Some(Ok(bytes)) => Ok(Some(bytes.to_vec())),
            // The connection broke mid-file: the import resumes from its checkpoint.
            Some(Err(e)) => Err(PortError::Transient(format!("reading the file: {e}"))),
        }
    }
}

#[async_trait]
impl ImportFiles for S3Files {
    async fn open(
        &self,
        key: &ObjectKey,
        version: &FileVersion,
    ) -> Result<Box<dyn FileBody>, PortError> {
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.to_string());
        // A versioned bucket keeps the upload readable after another replaces it; without
        // versions, `If-Match` refuses to read another upload as this one.
        let request = match &version.version_id {
            Some(id) => request.version_id(id),
            // An entity tag is quoted in HTTP; S3's events give it bare.
            None => request.if_match(format!("\"{}\"", version.e_tag.trim_matches('"'))),
        };
        match request.send().await {
            Ok(out) => Ok(Box::new(S3Body(out.body))),
            Err(e) if matches!(e.as_service_error(), Some(GetObjectError::NoSuchKey(_))) => {
                Err(PortError::NotFound)
            }
            Err(e) => match e.raw_response().map(|r| r.status().as_u16()) {
                // The version is gone (NoSuchVersion), or the key holds another upload.
                Some(404) => Err(PortError::NotFound),
                Some(412) => Err(PortError::Conflict),
                // S3 answers 403 AccessDenied, not 404, for a missing object or version when
                // the reader lacks s3:ListBucket (S3's GetObject documentation), and for a
                // key it may not decrypt: retrying cannot help, so the import fails saying so
                // instead of going round the queue into its DLQ.
                Some(403) => Err(PortError::Permanent(format!(
                    "GetObject: access denied (403) to {key}: the importer needs s3:GetObject, \
                     s3:GetObjectVersion and s3:ListBucket on the imports bucket, and the key"
                ))),
                _ => Err(classify("GetObject", e)),
            },
        }
    }

    async fn upload_url(
        &self,
        key: &ObjectKey,
        content_type: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<UploadUrl, PortError> {
        let expires_in = (expires_at - Utc::now())
            .to_std()
            .map_err(|_| PortError::Permanent("an upload URL must expire later".to_owned()))?;
        let config = PresigningConfig::expires_in(expires_in)
            .map_err(|e| PortError::Permanent(e.to_string()))?;
        let presigned = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key.to_string())
            .content_type(content_type)
            .presigned(config)
            .await
            .map_err(|e| classify("PutObject (presign)", e))?;
        // Only what the client must send: `host` is its URL's own.
        let headers: BTreeMap<String, String> = presigned
            .headers()
            .filter(|(name, _)| !name.eq_ignore_ascii_case("host"))
            .map(|(name, value)| (name.to_ascii_lowercase(), value.to_owned()))
            .collect();
        Ok(UploadUrl {
            url: presigned.uri().to_owned(),
            method: "PUT",
            headers,
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
    use domain::import::ImportFormat;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A bucket that answers every request as S3 does a reader without `s3:ListBucket` asking
    /// for a key that is not there: 403 with an `AccessDenied` error document (S3's GetObject
    /// documentation: "If you don't have the s3:ListBucket permission, Amazon S3 returns an
    /// HTTP status code 403 Access Denied error"). moto answers 404, so only this can show it.
    async fn bucket_without_list_permission() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut request = [0u8; 8192];
                let _read = socket.read(&mut request).await;
                let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code>\
                    <Message>Access Denied</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>";
                let answer = format!(
                    "HTTP/1.1 403 Forbidden\r\ncontent-type: application/xml\r\n\
                     x-amz-request-id: 4442587FB7D0A2F9\r\ncontent-length: {}\r\n\
                     connection: close\r\n\r\n{body}",
                    body.len()
                );
                let _written = socket.write_all(answer.as_bytes()).await;
            }
        });
        format!("http://{address}")
    }

    fn files(endpoint: &str) -> S3Files {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .force_path_style(true)
            .credentials_provider(Credentials::new("a", "b", None, None, "test"))
            .build();
        S3Files {
            client: Client::from_conf(config),
            bucket: "imports".to_owned(),
        }
    }

    #[tokio::test]
    async fn a_refused_read_is_permanent_and_names_the_permissions() {
        let files = files(&bucket_without_list_permission().await);
        let key = ObjectKey {
            company: domain::CompanyId::parse("acme").unwrap(),
            import: domain::import::ImportId::random(),
            format: ImportFormat::Csv,
        };
        let version = FileVersion {
            version_id: Some("3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY".to_owned()),
            e_tag: "d41d8cd98f00b204e9800998ecf8427e".to_owned(),
        };
        let refused = match files.open(&key, &version).await {
            Err(e) => e,
            Ok(_) => panic!("a 403 must not open"),
        };
        match refused {
            PortError::Permanent(detail) => {
                assert!(detail.contains("403"), "{detail}");
                assert!(detail.contains("s3:ListBucket"), "{detail}");
            }
            other => panic!("a 403 is permanent, not {other:?}"),
        }
    }
}
