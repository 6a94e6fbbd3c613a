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
