//! `bench import`: the `import-catalog` release binary run as Lambda runs it (the Runtime API
//! emulator), on one CSV file of N rows in the S3 emulator, for an import created through
//! `delivery-local`'s `POST /imports` (its DynamoDB holds the products and the import). One
//! cold invocation per size: its time (start to answer, the whole file read twice and written)
//! and the process's peak RSS, which must not grow with the file.

use std::path::Path;
use std::time::Instant;

use serde_json::{Value, json};

use crate::functions::{Subject, start_cold};

/// One import measured.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ImportMeasurement {
    pub rows: u64,
    pub bytes: usize,
    pub seconds: f64,
    pub rows_per_second: f64,
    pub peak_rss_mb: f64,
    pub written: u64,
}

/// A catalog of `rows` products for acme, as a spreadsheet saves it (BOM, CRLF, quoted fields).
pub fn catalog(rows: u64) -> Vec<u8> {
    let mut file =
        String::from("\u{feff}id,name,description,price_amount,price_currency,stock,available\r\n");
    for i in 0..rows {
        file.push_str(&format!(
            "bench-{i},Product {i},\"Made, with care\",{}.{:02},EUR,{},true\r\n",
            1 + i % 500,
            i % 100,
            i % 1000
        ));
    }
    file.into_bytes()
}

/// `PUT` on the S3 emulator (path style), which tells services apart by the credential scope:
/// the stored object's `ETag`, as S3's event names the upload.
fn s3_put(endpoint: &str, path: &str, body: &[u8]) -> Result<String, String> {
    let scope = "AWS4-HMAC-SHA256 Credential=bench/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0";
    let answer = ureq::put(format!("{endpoint}/{path}"))
        .header("authorization", scope)
        .send(body)
        .map_err(|e| format!("PUT {path}: {e}"))?;
    let e_tag = answer
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    Ok(e_tag.trim_matches('"').to_owned())
}

/// A new import of acme's through delivery-local's API: its id.
fn start_import(delivery_local: &str, company_token: &str) -> Result<String, String> {
    let answer: Value = ureq::post(format!("{delivery_local}/imports"))
        .header("authorization", &format!("Bearer {company_token}"))
        .send_json(json!({"format": "csv"}))
        .map_err(|e| format!("POST /imports: {e}"))?
        .body_mut()
        .read_json()
        .map_err(|e| e.to_string())?;
    answer["import_id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("POST /imports answered {answer}"))
}

fn report(delivery_local: &str, company_token: &str, id: &str) -> Result<Value, String> {
    ureq::get(format!("{delivery_local}/imports/{id}"))
        .header("authorization", &format!("Bearer {company_token}"))
        .call()
        .map_err(|e| format!("GET /imports/{id}: {e}"))?
        .body_mut()
        .read_json()
        .map_err(|e| e.to_string())
}

/// The SQS event whose message is the bucket's `ObjectCreated` event for `key`.
fn event(bucket: &str, key: &str, size: usize, e_tag: &str) -> Value {
    let object = json!({"key": key, "size": size, "eTag": e_tag});
    let s3 = json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
        "eventTime": "2026-01-01T00:00:00.000Z", "s3": {"bucket": {"name": bucket}, "object": object}}]});
    json!({"Records": [{"messageId": "bench-import", "receiptHandle": "r", "body": s3.to_string(),
        "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}, "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:imports", "awsRegion": "us-east-1"}]})
}

/// Imports a file of `rows` rows with the binary, cold: time, peak RSS, rows written.
pub async fn measure(
    binary: &Path,
    env: &[(String, String)],
    (delivery_local, aws, company_token): (&str, &str, &str),
    rows: u64,
) -> Result<ImportMeasurement, String> {
    let bucket = env
        .iter()
        .find(|(k, _)| k == "IMPORTS_BUCKET")
        .map(|(_, v)| v.clone())
        .ok_or("delivery-local gives no IMPORTS_BUCKET")?;
    let id = start_import(delivery_local, company_token)?;
    let key = format!("imports/acme/{id}.csv");
    let file = catalog(rows);
    s3_put(aws, &bucket, &[])?;
    let e_tag = s3_put(aws, &format!("{bucket}/{key}"), &file)?;
    let subject = Subject {
        name: "import-catalog",
        env: env.to_vec(),
        event: Box::new({
            let event = event(&bucket, &key, file.len(), &e_tag);
            move |_| event.clone()
        }),
    };
    let started = Instant::now();
    let mut cold = start_cold(binary, &subject, None).await?;
    let seconds = started.elapsed().as_secs_f64();
    let peak_rss_mb = crate::functions::peak_rss_mb(cold.child.id().unwrap_or_default());
    let _ = cold.child.kill().await;
    if !cold.first.ok {
        return Err(format!(
            "import-catalog failed: {}",
            String::from_utf8_lossy(&cold.first.body)
        ));
    }
    let report = report(delivery_local, company_token, &id)?;
    Ok(ImportMeasurement {
        rows,
        bytes: file.len(),
        seconds: (seconds * 100.0).round() / 100.0,
        rows_per_second: (rows as f64 / seconds).round(),
        peak_rss_mb,
        written: report["rows"]["written"].as_u64().unwrap_or(0),
    })
}

/// The table, as docs/performance.md shows it.
pub fn table(measured: &[ImportMeasurement]) -> String {
    let mut out = String::from(
        "| rows | file | cold start → report written | rows/s | peak RSS | written |\n|---|---|---|---|---|---|\n",
    );
    for m in measured {
        out.push_str(&format!(
            "| {} | {:.1} MB | {:.2} s | {:.0} | {:.1} MB | {} |\n",
            m.rows,
            m.bytes as f64 / 1e6,
            m.seconds,
            m.rows_per_second,
            m.peak_rss_mb,
            m.written
        ));
    }
    out
}
