//! The imports bucket of `delivery-local`, standing in for S3 the way the embedded bus stands
//! in for SQS:
//! - an upload URL is `{base}/_uploads/{key}` with its expiry, content type and an HMAC-SHA256
//!   signature over the three (the key is this process's own: a URL outlives neither its 15
//!   minutes nor the server), as a presigned S3 `PUT` binds them;
//! - an upload is written to a staging file and renamed into place as a new version of its key
//!   (the imports bucket keeps versions), so a reader never sees half a file, and an import
//!   reads its own upload even after another replaced it; then [`object_created`] is the event
//!   S3 would send to the imports queue;
//! - [`ImportFiles::open`] streams a version back a chunk at a time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use aws_lc_rs::hmac;
use chrono::{DateTime, Utc};
use domain::PortError;
use domain::import::{FileVersion, KEY_PREFIX, ObjectKey};
use domain::ports::{FileBody, ImportFiles, UploadUrl};
use tokio::io::AsyncReadExt;

/// The bucket's name in the events it raises.
pub const BUCKET: &str = "delivery-local-imports";
/// The path under which uploads are taken.
pub const UPLOAD_PATH: &str = "/_uploads/";
/// The largest upload taken: the largest file an import reads (50 MiB). S3 takes up to 5 GiB
/// in one `PUT` and the import refuses the file; this machine's disk is spared the rest.
pub const MAX_UPLOAD_BYTES: u64 = domain::import::MAX_FILE_BYTES;
const CHUNK_BYTES: usize = 64 * 1024;

/// Why an upload is refused, as S3 would refuse it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// 403: no valid signature for this key, content type and expiry, or expired.
    Forbidden(&'static str),
    /// 404: not an import file's key.
    NoSuchKey,
}

/// The bucket: files under `dir`, URLs under `base`.
pub struct EmbeddedFiles {
    dir: PathBuf,
    base: String,
    key: hmac::Key,
}

/// A stored file: its key, size and version (also its `ETag`, as S3 would name it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    pub key: ObjectKey,
    pub size: u64,
    pub version: String,
}

/// A file on disk, read a chunk at a time.
struct DiskBody(tokio::fs::File);

#[async_trait]
impl FileBody for DiskBody {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, PortError> {
        let mut chunk = vec![0; CHUNK_BYTES];
        let n = self
            .0
            .read(&mut chunk)
            .await
            .map_err(|e| PortError::Transient(format!("reading the file: {e}")))?;
        chunk.truncate(n);
        Ok((n > 0).then_some(chunk))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

impl EmbeddedFiles {
    /// The bucket in `dir`, its upload URLs under `base` (the server's own URL).
    pub fn new(dir: &Path, base: &str) -> EmbeddedFiles {
        let secret = [
            uuid::Uuid::new_v4().into_bytes(),
            uuid::Uuid::new_v4().into_bytes(),
        ]
        .concat();
        EmbeddedFiles {
            dir: dir.to_owned(),
            base: base.trim_end_matches('/').to_owned(),
            key: hmac::Key::new(hmac::HMAC_SHA256, &secret),
        }
    }

    fn signed(key: &str, content_type: &str, expires: i64) -> String {
        format!("PUT\n{key}\n{content_type}\n{expires}")
    }

    fn path_of(&self, key: &ObjectKey) -> PathBuf {
        self.dir.join(key.to_string())
    }

    /// Where a key's versions are, one file each, named by version.
    fn versions_of(&self, key: &ObjectKey) -> PathBuf {
        self.dir.join(format!("{key}.versions"))
    }

    /// Checks an upload's URL (its path's key and its query) and `Content-Type`: the key to
    /// store it under.
    pub fn authorize(
        &self,
        key: &str,
        query: &str,
        content_type: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<ObjectKey, Refusal> {
        let object = ObjectKey::parse(key).ok_or(Refusal::NoSuchKey)?;
        let param = |name: &str| {
            query
                .split('&')
                .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
        };
        let expires: i64 = param("expires")
            .and_then(|e| e.parse().ok())
            .ok_or(Refusal::Forbidden("the URL has no expiry"))?;
        let signature = param("signature")
            .and_then(unhex)
            .ok_or(Refusal::Forbidden("the URL has no signature"))?;
        let content_type = content_type.unwrap_or_default();
        let signed = Self::signed(key, content_type, expires);
        hmac::verify(&self.key, signed.as_bytes(), &signature).map_err(|_| {
            Refusal::Forbidden("the signature does not match this key and Content-Type")
        })?;
        if now.timestamp() > expires {
            return Err(Refusal::Forbidden("the upload URL has expired"));
        }
        Ok(object)
    }

    /// Where an upload is written before it is complete.
    pub async fn staging_file(
        &self,
        key: &ObjectKey,
    ) -> Result<(PathBuf, tokio::fs::File), PortError> {
        let path = self
            .path_of(key)
            .with_extension(format!("upload-{}", uuid::Uuid::new_v4()));
        let io = |e: std::io::Error| PortError::Transient(format!("storing the upload: {e}"));
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(io)?;
        }
        let file = tokio::fs::File::create(&path).await.map_err(io)?;
        Ok((path, file))
    }

    /// Puts a complete upload in place as the key's newest version (the earlier ones stay
    /// readable by their version, as in a versioned S3 bucket).
    pub async fn commit(&self, staged: &Path, key: &ObjectKey) -> Result<Stored, PortError> {
        let io = |e: std::io::Error| PortError::Transient(format!("storing the upload: {e}"));
        let versions = self.versions_of(key);
        tokio::fs::create_dir_all(&versions).await.map_err(io)?;
        // Ordered by time, then unique.
        let version = format!(
            "{:020}-{}",
            Utc::now().timestamp_micros(),
            uuid::Uuid::new_v4().simple()
        );
        let path = versions.join(&version);
        tokio::fs::rename(staged, &path).await.map_err(io)?;
        let size = tokio::fs::metadata(&path).await.map_err(io)?.len();
        Ok(Stored {
            key: key.clone(),
            size,
            version,
        })
    }
}

impl EmbeddedFiles {
    /// The keys that hold uploads.
    pub async fn keys(&self) -> Vec<ObjectKey> {
        let mut keys = Vec::new();
        let Ok(mut companies) = tokio::fs::read_dir(self.dir.join(KEY_PREFIX)).await else {
            return keys;
        };
        while let Ok(Some(company)) = companies.next_entry().await {
            let Ok(mut entries) = tokio::fs::read_dir(company.path()).await else {
                continue;
            };
            while let Ok(Some(entry)) = entries.next_entry().await {
                let name = entry.file_name().to_string_lossy().into_owned();
                let company = company.file_name().to_string_lossy().into_owned();
                if let Some(file) = name.strip_suffix(".versions")
                    && let Some(key) = ObjectKey::parse(&format!("{KEY_PREFIX}{company}/{file}"))
                {
                    keys.push(key);
                }
            }
        }
        keys
    }

    /// Deletes every upload of `key`: its import is over and reads it no more.
    pub async fn remove(&self, key: &ObjectKey) -> std::io::Result<()> {
        match tokio::fs::remove_dir_all(self.versions_of(key)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// The `ObjectCreated:Put` event S3 sends to a queue, for a stored file.
pub fn object_created(stored: &Stored, at: DateTime<Utc>) -> String {
    serde_json::json!({
        "Records": [{
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": "us-east-1",
            "eventTime": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "delivery-local"},
            "requestParameters": {"sourceIPAddress": "127.0.0.1"},
            "responseElements": {},
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "imports",
                "bucket": {
                    "name": BUCKET,
                    "ownerIdentity": {"principalId": "delivery-local"},
                    "arn": format!("arn:aws:s3:::{BUCKET}"),
                },
                "object": {
                    "key": stored.key.to_string(),
                    "size": stored.size,
                    "eTag": stored.version,
                    "versionId": stored.version,
                    "sequencer": format!("{:016X}", at.timestamp_micros()),
                },
            },
        }],
    })
    .to_string()
}

#[async_trait]
impl ImportFiles for EmbeddedFiles {
    async fn open(
        &self,
        key: &ObjectKey,
        version: &FileVersion,
    ) -> Result<Box<dyn FileBody>, PortError> {
        let name = version.version_id.as_deref().unwrap_or(&version.e_tag);
        // A version is a file name of this bucket's own making, never a path.
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(PortError::NotFound);
        }
        match tokio::fs::File::open(self.versions_of(key).join(name)).await {
            Ok(file) => Ok(Box::new(DiskBody(file))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(PortError::NotFound),
            Err(e) => Err(PortError::Transient(format!("opening the file: {e}"))),
        }
    }

    async fn upload_url(
        &self,
        key: &ObjectKey,
        content_type: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<UploadUrl, PortError> {
        let key_text = key.to_string();
        let expires = expires_at.timestamp();
        let signed = Self::signed(&key_text, content_type, expires);
        let signature = hex(hmac::sign(&self.key, signed.as_bytes()).as_ref());
        Ok(UploadUrl {
            url: format!(
                "{}{UPLOAD_PATH}{key_text}?expires={expires}&signature={signature}",
                self.base
            ),
            method: "PUT",
            headers: BTreeMap::from([("content-type".to_owned(), content_type.to_owned())]),
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::CompanyId;
    use domain::import::{ImportFormat, ImportId};

    #[tokio::test]
    async fn upload_urls_bind_key_content_type_and_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let files = EmbeddedFiles::new(dir.path(), "http://127.0.0.1:3000/");
        let key = ObjectKey {
            company: CompanyId::parse("acme").unwrap(),
            import: ImportId::random(),
            format: ImportFormat::Csv,
        };
        let now = Utc::now();
        let url = files
            .upload_url(&key, "text/csv", now + chrono::Duration::minutes(15))
            .await
            .unwrap();
        let rest = url
            .url
            .strip_prefix("http://127.0.0.1:3000/_uploads/")
            .unwrap();
        let (path, query) = rest.split_once('?').unwrap();
        assert_eq!(
            files.authorize(path, query, Some("text/csv"), now),
            Ok(key.clone())
        );
        let later = now + chrono::Duration::minutes(16);
        assert!(matches!(
            files.authorize(path, query, Some("text/csv"), later),
            Err(Refusal::Forbidden(_))
        ));
        assert!(matches!(
            files.authorize(path, query, Some("text/plain"), now),
            Err(Refusal::Forbidden(_))
        ));
        let other = ObjectKey {
            company: CompanyId::parse("globex").unwrap(),
            ..key.clone()
        };
        assert!(matches!(
            files.authorize(&other.to_string(), query, Some("text/csv"), now),
            Err(Refusal::Forbidden(_))
        ));
        let forged = query.replace("expires=", "expires=9");
        assert!(matches!(
            files.authorize(path, &forged, Some("text/csv"), now),
            Err(Refusal::Forbidden(_))
        ));
        assert_eq!(
            files.authorize("imports/x", query, None, now),
            Err(Refusal::NoSuchKey)
        );

        let (staged, _file) = files.staging_file(&key).await.unwrap();
        tokio::fs::write(&staged, b"id,name\n").await.unwrap();
        let stored = files.commit(&staged, &key).await.unwrap();
        assert_eq!(stored.size, 8);
        let event: serde_json::Value = serde_json::from_str(&object_created(&stored, now)).unwrap();
        let object = &event["Records"][0]["s3"]["object"];
        assert_eq!(object["size"], 8);
        assert_eq!(object["versionId"], stored.version.as_str());
        assert_eq!(object["eTag"], stored.version.as_str());
    }

    #[tokio::test]
    async fn each_upload_stays_readable_by_its_version() {
        let dir = tempfile::tempdir().unwrap();
        let files = EmbeddedFiles::new(dir.path(), "http://127.0.0.1:3000/");
        let key = ObjectKey {
            company: CompanyId::parse("acme").unwrap(),
            import: ImportId::random(),
            format: ImportFormat::Csv,
        };
        let mut uploads = Vec::new();
        for content in [&b"first"[..], b"second"] {
            let (staged, _file) = files.staging_file(&key).await.unwrap();
            tokio::fs::write(&staged, content).await.unwrap();
            uploads.push(files.commit(&staged, &key).await.unwrap());
        }
        assert_ne!(uploads[0].version, uploads[1].version);
        for (stored, content) in uploads.iter().zip([&b"first"[..], b"second"]) {
            let version = FileVersion {
                e_tag: stored.version.clone(),
                version_id: Some(stored.version.clone()),
            };
            let mut body = files.open(&key, &version).await.unwrap();
            assert_eq!(body.next_chunk().await.unwrap().unwrap(), content);
            assert_eq!(body.next_chunk().await.unwrap(), None);
        }
        for name in ["no-such-version", "../../etc/passwd", ""] {
            let version = FileVersion {
                e_tag: name.to_owned(),
                version_id: None,
            };
            assert!(matches!(
                files.open(&key, &version).await,
                Err(PortError::NotFound)
            ));
        }
    }
}
