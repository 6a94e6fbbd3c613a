//! `import`: a company's whole import round trip against the running server, as a client
//! would make it: `POST /imports`, the file `PUT` to the upload URL it answers
//! (streamed from disk), then `GET /imports/{id}` until the import ends, with a progress bar;
//! the report is printed, and a failed import or refused rows make the exit status non-zero.

use std::time::{Duration, Instant};

use bus_embedded::IMPORTS;
use domain::import::ImportFormat;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use crate::simulate::Client;
use crate::{ImportArgs, tokens};

/// Giving up when the report does not move for this long: longer than the imports queue's
/// visibility timeout, since an import whose invocation died (a crash, a `kill -9`) moves
/// again only once its message comes back, after that timeout.
const STALL: Duration = Duration::from_secs(IMPORTS.visibility_timeout.as_secs() + 30);
/// Row errors printed (the report keeps up to 1,000).
const PRINTED_ERRORS: usize = 20;

fn format_of(args: &ImportArgs) -> Result<ImportFormat, String> {
    if let Some(format) = &args.format {
        return ImportFormat::parse(format)
            .ok_or_else(|| format!("--format {format}: csv or jsonl"));
    }
    let extension = args
        .file
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default();
    match extension.to_ascii_lowercase().as_str() {
        "csv" => Ok(ImportFormat::Csv),
        "jsonl" | "ndjson" => Ok(ImportFormat::Jsonl),
        _ => Err(format!(
            "{}: say --format csv or --format jsonl (the name ends in neither .csv nor .jsonl)",
            args.file.display()
        )),
    }
}

/// `PUT`s the file to the upload URL with the headers it was signed with.
fn upload(client: &Client, handle: std::fs::File, upload: &Value) -> Result<(), String> {
    let url = upload["url"]
        .as_str()
        .ok_or("the answer has no upload URL")?;
    let mut request = client.agent.put(url);
    for (name, value) in upload["headers"].as_object().into_iter().flatten() {
        request = request.header(name.as_str(), value.as_str().unwrap_or_default());
    }
    let mut response = request.send(handle).map_err(|e| client.unreachable(e))?;
    match response.status().as_u16() {
        200 => Ok(()),
        status => Err(format!(
            "the upload was refused ({status}): {}",
            response.body_mut().read_to_string().unwrap_or_default()
        )),
    }
}

fn progress_bar() -> Result<ProgressBar, String> {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} rows ({per_sec}) {msg}",
        )
        .map_err(|e| e.to_string())?,
    );
    Ok(bar)
}

/// Follows the report until the import is done or failed.
fn follow(client: &Client, id: &str) -> Result<Value, String> {
    let bar = progress_bar()?;
    let (mut last, mut moved) = (Value::Null, Instant::now());
    loop {
        let report = client.get(&format!("/imports/{id}"))?;
        let rows = &report["rows"];
        let settled =
            rows["written"].as_u64().unwrap_or(0) + rows["rejected"].as_u64().unwrap_or(0);
        bar.set_length(rows["total"].as_u64().unwrap_or(0));
        bar.set_position(settled);
        bar.set_message(report["status"].as_str().unwrap_or_default().to_owned());
        if matches!(report["status"].as_str(), Some("done" | "failed")) {
            bar.finish();
            return Ok(report);
        }
        if report != last {
            (last, moved) = (report, Instant::now());
        } else if moved.elapsed() > STALL {
            bar.abandon();
            return Err(format!(
                "the import has not moved for {} s; is the server still running?",
                STALL.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The report, in words.
fn print_report(report: &Value, elapsed: f64) {
    let rows = &report["rows"];
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    println!(
        "Import {}: {} in {elapsed:.1} s: {} rows, {} written, {} refused",
        report["import_id"].as_str().unwrap_or_default(),
        report["status"].as_str().unwrap_or_default(),
        n(&rows["total"]),
        n(&rows["written"]),
        n(&rows["rejected"]),
    );
    if let Some(reason) = report["reason"].as_str() {
        println!("The file was refused: {reason}");
    }
    let errors = report["errors"].as_array().cloned().unwrap_or_default();
    for error in errors.iter().take(PRINTED_ERRORS) {
        println!(
            "  row {}: {}: {}",
            n(&error["row"]),
            error["field"].as_str().unwrap_or_default(),
            error["message"].as_str().unwrap_or_default()
        );
    }
    if n(&rows["rejected"]) > PRINTED_ERRORS as u64 {
        println!("  … (GET /imports/{{id}} lists the first 1,000)");
    }
}

pub fn run(args: &ImportArgs) -> Result<(), String> {
    let format = format_of(args)?;
    // Opened first: a file that cannot be read starts no import.
    let file = &args.file;
    let handle = std::fs::File::open(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let key = tokens::key(&args.data_dir)?;
    let token = tokens::mint(
        &key,
        "importer",
        "products:write",
        Some(&args.company),
        3600,
    )?;
    let client = Client::with_token(&format!("http://127.0.0.1:{}", args.port), &token);
    let started = Instant::now();
    let answer = client.post("/imports", &json!({"format": format.as_str()}), 201)?;
    let id = answer["import_id"]
        .as_str()
        .ok_or("the answer has no import_id")?;
    upload(&client, handle, &answer["upload"])?;
    let report = follow(&client, id)?;
    print_report(&report, started.elapsed().as_secs_f64());
    match (
        report["status"].as_str(),
        report["rows"]["rejected"].as_u64(),
    ) {
        (Some("failed"), _) => Err("the import failed".to_owned()),
        (_, Some(rejected)) if rejected > 0 => Err(format!("{rejected} rows were refused")),
        _ => Ok(()),
    }
}
