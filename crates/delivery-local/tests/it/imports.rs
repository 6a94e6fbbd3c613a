//! Bulk imports through `delivery-local`, as a company makes them: `POST /imports`,
//! the file `PUT` to the upload URL the answer gives, the report from `GET /imports/{id}`; and
//! the `import` command doing the same round trip. The same `import-catalog` handler runs as in
//! Lambda, fed by the imports queue the upload's S3 event lands in.

use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{BIN, Server};
use serde_json::Value;

const HEADER: &str = "id,name,description,price_amount,price_currency,stock,available";

/// `PUT`s `body` to an upload as its answer describes it; the status.
fn upload(upload: &Value, body: &[u8], content_type: Option<&str>) -> u16 {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let signed = upload["headers"]["content-type"].as_str().unwrap();
    let request = agent
        .put(upload["url"].as_str().unwrap())
        .header("content-type", content_type.unwrap_or(signed));
    request.send(body).unwrap().status().as_u16()
}

/// The report once the import has ended.
fn finished(server: &Server, token: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let reply = server.call("GET", &format!("/imports/{id}"), Some(token), None, &[]);
        assert_eq!(reply.status, 200, "{}", reply.json);
        if matches!(reply.json["status"].as_str(), Some("done" | "failed")) {
            return reply.json;
        }
        assert!(
            Instant::now() < deadline,
            "the import did not end: {}",
            reply.json
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn start(server: &Server, token: &str, format: &str) -> Value {
    let body = format!(r#"{{"format":"{format}"}}"#);
    let reply = server.call("POST", "/imports", Some(token), Some(&body), &[]);
    assert_eq!(reply.status, 201, "{}", reply.json);
    reply.json
}

#[test]
fn bad_rows_and_another_companys_products_are_refused_row_by_row() {
    let server = Server::start();
    let acme = server.company("acme");
    let started = start(&server, &acme, "csv");
    let id = started["import_id"].as_str().unwrap();
    // A BOM and CRLF line ends, as a spreadsheet saves it; `brownie` is globex's.
    let file = format!(
        "\u{feff}{HEADER}\r\nnew-1,Scone,,3.50,USD,12,true\r\nbrownie,Mine,,1.00,USD,1,true\r\n\
         new-2,,,3.5,USD,-2,yes\r\n"
    );
    assert_eq!(
        upload(&started["upload"], file.as_bytes(), Some("text/plain")),
        403,
        "the content type is signed"
    );
    assert_eq!(upload(&started["upload"], file.as_bytes(), None), 200);
    let report = finished(&server, &acme, id);
    assert_eq!(report["status"], "done");
    assert_eq!(
        report["rows"],
        serde_json::json!({"total": 3, "written": 1, "rejected": 2})
    );
    let errors: Vec<(u64, &str)> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["row"].as_u64().unwrap(), e["field"].as_str().unwrap()))
        .collect();
    assert_eq!(
        errors,
        [
            (2, "id"),
            (3, "name"),
            (3, "price_amount"),
            (3, "stock"),
            (3, "available")
        ]
    );
    let reader = server.customer();
    let brownie = server.call("GET", "/products/brownie", Some(&reader), None, &[]);
    assert_eq!(
        (
            brownie.json["company_id"].as_str(),
            brownie.json["name"].as_str()
        ),
        (Some("globex"), Some("Brownie"))
    );
    let scone = server.call("GET", "/products/new-1", Some(&reader), None, &[]);
    assert_eq!(
        (scone.status, scone.json["company_id"].as_str()),
        (200, Some("acme"))
    );
    // Another company sees no such import.
    let globex = server.company("globex");
    let other = server.call("GET", &format!("/imports/{id}"), Some(&globex), None, &[]);
    assert_eq!(other.status, 404);
}

#[test]
fn a_file_that_is_not_utf8_fails_with_its_reason_and_writes_nothing() {
    let server = Server::start();
    let acme = server.company("acme");
    let started = start(&server, &acme, "jsonl");
    let id = started["import_id"].as_str().unwrap();
    let file = b"{\"id\":\"x1\",\"name\":\"X\",\"price\":{\"amount\":\"1.00\",\"currency\":\"USD\"},\"stock\":1}\n\xff\n";
    assert_eq!(upload(&started["upload"], file, None), 200);
    let report = finished(&server, &acme, id);
    assert_eq!(report["status"], "failed");
    assert!(
        report["reason"]
            .as_str()
            .unwrap()
            .contains("not UTF-8 (at row 2)"),
        "{report}"
    );
    let missing = server.call("GET", "/products/x1", Some(&server.customer()), None, &[]);
    assert_eq!(missing.status, 404, "nothing of a refused file is written");
    // The refused file is deleted from the local bucket (every version of its key).
    let kept = server.dir.path().join("files/imports/acme");
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_dir(&kept).unwrap().next().is_some() {
        assert!(Instant::now() < deadline, "the upload was never deleted");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// An upload declared over 50 MiB is refused (413) before its body is read, and leaves
/// nothing behind.
#[test]
fn an_upload_over_50_mib_is_refused_before_it_is_read() {
    use std::io::Read;
    let server = Server::start();
    let acme = server.company("acme");
    let started = start(&server, &acme, "csv");
    let url = started["upload"]["url"].as_str().unwrap();
    let (host, path) = url
        .strip_prefix("http://")
        .unwrap()
        .split_once('/')
        .unwrap();
    let mut conn = std::net::TcpStream::connect(host).unwrap();
    let length = 50 * 1024 * 1024 + 1;
    write!(
        conn,
        "PUT /{path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: text/csv\r\ncontent-length: {length}\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    let _ = conn.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        !server.dir.path().join("files/imports/acme").exists()
            || std::fs::read_dir(server.dir.path().join("files/imports/acme"))
                .unwrap()
                .next()
                .is_none(),
        "nothing stored"
    );
}

fn write_rows(path: &std::path::Path, rows: u32) {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    write!(file, "\u{feff}{HEADER}\r\n").unwrap();
    for i in 0..rows {
        write!(
            file,
            "bulk-{i},Product {i},\"Made, with care\",{}.{:02},EUR,{},true\r\n",
            1 + i % 500,
            i % 100,
            i % 1000
        )
        .unwrap();
    }
}

fn import(server: &Server, file: &std::path::Path) -> String {
    let port = server.base.rsplit(':').next().unwrap().to_owned();
    let out = Command::new(BIN)
        .arg("import")
        .arg(file)
        .args(["--company", "acme", "--port", &port, "--data-dir"])
        .arg(server.dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn a_hundred_thousand_rows_through_the_import_command() {
    let server = Server::start();
    let file = server.dir.path().join("catalog.csv");
    write_rows(&file, 100_000);
    let stdout = import(&server, &file);
    assert!(stdout.contains("done in"), "{stdout}");
    assert!(
        stdout.contains("100000 rows, 100000 written, 0 refused"),
        "{stdout}"
    );
    let last = server.call(
        "GET",
        "/products/bulk-99999",
        Some(&server.customer()),
        None,
        &[],
    );
    assert_eq!(
        (
            last.json["version"].as_u64(),
            last.json["description"].as_str()
        ),
        (Some(1), Some("Made, with care"))
    );
}

#[test]
fn crashes_and_duplicate_deliveries_mid_file_write_no_row_twice() {
    let flags = [
        "--faults",
        // Every delivery has a twin running at once: they race batch by batch.
        "lambda.crash=0.3,lambda.timeout=0.2,sqs.duplicate=1,dynamodb.conflict=0.05,dynamodb.error=0.02",
        "--faults-seed",
        "7",
        "--visibility-timeout",
        "1",
    ];
    let server = Server::start_in(tempfile::tempdir().unwrap(), &flags);
    let file = server.dir.path().join("catalog.csv");
    write_rows(&file, 5_000);
    let stdout = import(&server, &file);
    assert!(
        stdout.contains("5000 rows, 5000 written, 0 refused"),
        "{stdout}"
    );
    let reader = server.customer();
    for i in [0, 98, 99, 2_500, 4_999] {
        let read = || {
            server.call(
                "GET",
                &format!("/products/bulk-{i}"),
                Some(&reader),
                None,
                &[],
            )
        };
        // Reads meet the injected faults too: a 503 is retried, as a client does.
        let product = (0..20).map(|_| read()).find(|r| r.status != 503).unwrap();
        assert_eq!(
            product.json["version"].as_u64(),
            Some(1),
            "bulk-{i} was written once"
        );
    }
    let faults = server.call("GET", "/_local/faults", None, None, &[]);
    assert!(
        faults.json["injected"]["sqs.duplicate"].as_u64().unwrap() > 0,
        "{}",
        faults.json
    );
}
