//! The imports bucket's upload endpoint, `PUT /_uploads/{key}?expires=…&signature=…`: what a
//! presigned S3 `PUT` does. The URL's signature binds the key, the `Content-Type` and the
//! expiry; the body is streamed to disk (never held in memory) and put in place whole; then
//! the bucket's `ObjectCreated` event goes to the imports queue, as S3 sends it to SQS. An
//! upload is at most 50 MiB (the largest file an import reads), and deleted once its import is
//! over ([`sweep`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bus_embedded::{Bus, IMPORTS};
use chrono::Utc;
use domain::Error;
use domain::import::ObjectKey;
use domain::ports::Imports;
use files_embedded::{EmbeddedFiles, MAX_UPLOAD_BYTES, Refusal, Stored, object_created};
use futures::StreamExt;
use http::{HeaderValue, Method, StatusCode, header};
use tokio::io::AsyncWriteExt;

use crate::gateway::gateway_error;

pub struct Uploads {
    pub files: Arc<EmbeddedFiles>,
    pub bus: Bus,
}

impl Uploads {
    /// Takes one upload to `key` (the path after `/_uploads/`).
    pub async fn put(
        &self,
        parts: &http::request::Parts,
        key: &str,
        body: axum::body::Body,
    ) -> axum::response::Response {
        if parts.method != Method::PUT {
            return gateway_error(&Error::MethodNotAllowed {
                allowed: vec!["PUT"],
            });
        }
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let query = parts.uri.query().unwrap_or_default();
        let object = match self.files.authorize(key, query, content_type, Utc::now()) {
            Ok(object) => object,
            Err(Refusal::Forbidden(why)) => return gateway_error(&Error::Forbidden(why.into())),
            Err(Refusal::NoSuchKey) => {
                return gateway_error(&Error::NotFound("Not an import file's key".into()));
            }
        };
        // A length declared past the cap is refused before a byte is read.
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|length| length > MAX_UPLOAD_BYTES) {
            return gateway_error(&Error::PayloadTooLarge {
                limit: MAX_UPLOAD_BYTES as usize,
            });
        }
        let stored = match self.store(&object, body).await {
            Ok(stored) => stored,
            Err(e) => return gateway_error(&e),
        };
        let event = object_created(&stored, Utc::now());
        if let Err(e) = self.bus.send(IMPORTS.name, &[(event, HashMap::new())]) {
            return gateway_error(&Error::from(e));
        }
        tracing::info!(key = %stored.key, bytes = stored.size, "file uploaded");
        let mut response = axum::response::Response::new(axum::body::Body::empty());
        *response.status_mut() = StatusCode::OK;
        let etag = format!("\"{}-{}\"", stored.key.import, stored.size);
        if let Ok(etag) = HeaderValue::from_str(&etag) {
            response.headers_mut().insert(header::ETAG, etag);
        }
        response
    }

    /// The body, streamed to a staging file, then put in place whole.
    async fn store(&self, key: &ObjectKey, body: axum::body::Body) -> Result<Stored, Error> {
        let (staged, mut file) = self.files.staging_file(key).await?;
        let mut chunks = body.into_data_stream();
        let mut size = 0u64;
        let written = async {
            while let Some(chunk) = chunks.next().await {
                let chunk = chunk.map_err(|e| Error::validation("body", e.to_string()))?;
                size += chunk.len() as u64;
                if size > MAX_UPLOAD_BYTES {
                    return Err(Error::PayloadTooLarge {
                        limit: MAX_UPLOAD_BYTES as usize,
                    });
                }
                file.write_all(&chunk).await.map_err(write_error)?;
            }
            file.flush().await.map_err(write_error)
        }
        .await;
        drop(file);
        if let Err(e) = written {
            let _ = tokio::fs::remove_file(&staged).await;
            return Err(e);
        }
        Ok(self.files.commit(&staged, key).await?)
    }
}

fn write_error(e: std::io::Error) -> Error {
    Error::Transient(format!("storing the upload: {e}"))
}

/// How often finished imports' uploads are deleted.
const SWEEP_EVERY: Duration = Duration::from_secs(5);

/// Deletes the uploads of imports that are over (done or failed) or unknown, every
/// [`SWEEP_EVERY`], as long as the server runs: the local bucket keeps no file an import no
/// longer reads. (In AWS the bucket's lifecycle rule expires them after 7 days.)
pub async fn sweep(files: Arc<EmbeddedFiles>, imports: Arc<dyn Imports>) {
    loop {
        tokio::time::sleep(SWEEP_EVERY).await;
        for key in files.keys().await {
            match imports.get(key.import).await {
                Ok(Some(import)) if !import.status.is_final() => continue,
                Ok(_) => {}
                Err(_) => continue, // Read again next time.
            }
            match files.remove(&key).await {
                Ok(()) => tracing::debug!(%key, "the upload of a finished import deleted"),
                Err(e) => tracing::warn!(%key, error = %e, "deleting a finished import's upload"),
            }
        }
    }
}
