//! `start-import` fed API Gateway REST (v1) events over the real DynamoDB adapter (dynoxide)
//! and the embedded imports bucket.

use std::sync::Arc;

use composition::App;
use files_embedded::EmbeddedFiles;
use http_kit::{Cors, Endpoint};
use serde_json::{Value, json};
use start_import::StartImport;
use test_support::{error_fields, parts, principal, request};

/// The function over dynoxide, with the embedded imports bucket (its files in a directory
/// kept for the test process).
async fn app() -> Arc<Endpoint<StartImport>> {
    app_and_imports().await.0
}

/// A company user's call to an imports route.
async fn imports(
    app: &Endpoint<StartImport>,
    method: &str,
    path: &str,
    company: &str,
    body: Option<&str>,
) -> (u16, Value, Option<String>) {
    let user = principal("user", "products:write", Some(company));
    let resource = if path == "/imports" {
        "/imports"
    } else {
        "/imports/{id}"
    };
    let response = app
        .call(request(method, path, resource, user, body, &[]))
        .await;
    let (status, headers, json) = parts(&response);
    let location = headers
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, json, location)
}

#[tokio::test]
async fn an_import_starts_pending_with_a_signed_upload_and_only_its_company_reads_it() {
    let app = app().await;
    let (status, started, location) = imports(
        &app,
        "POST",
        "/imports",
        "acme",
        Some(r#"{"format":"csv"}"#),
    )
    .await;
    assert_eq!(status, 201, "{started}");
    let id = started["import_id"].as_str().unwrap();
    assert!(location.unwrap().ends_with(&format!("/imports/{id}")));
    assert_eq!(
        (
            started["status"].as_str(),
            started["upload"]["method"].as_str()
        ),
        (Some("pending"), Some("PUT"))
    );
    let url = started["upload"]["url"].as_str().unwrap();
    assert!(
        url.contains(&format!("imports/acme/{id}.csv?expires=")),
        "{url}"
    );
    assert_eq!(started["upload"]["headers"]["content-type"], "text/csv");
    let (status, report, _) = imports(&app, "GET", &format!("/imports/{id}"), "acme", None).await;
    assert_eq!((status, report["status"].as_str()), (200, Some("pending")));
    assert_eq!(
        report["rows"],
        json!({"total": 0, "written": 0, "rejected": 0})
    );
    let (status, _, _) = imports(&app, "GET", &format!("/imports/{id}"), "globex", None).await;
    assert_eq!(status, 404, "another company's import is not there to see");
}

#[tokio::test]
async fn bad_import_requests_name_the_field() {
    let app = app().await;
    let (status, problem, _) = imports(
        &app,
        "POST",
        "/imports",
        "acme",
        Some(r#"{"format":"xlsx"}"#),
    )
    .await;
    assert_eq!(
        (status, error_fields(&problem)),
        (400, vec!["format".to_owned()])
    );
    let (status, problem, _) = imports(&app, "GET", "/imports/not-an-id", "acme", None).await;
    assert_eq!(
        (status, error_fields(&problem)),
        (400, vec!["id".to_owned()])
    );
    let (status, _, _) = imports(
        &app,
        "GET",
        "/imports/3f2b7c1e-8d4a-4c57-9a3c-6f0e8d21b7c4",
        "acme",
        None,
    )
    .await;
    assert_eq!(status, 404);
}

/// The function and its imports table, to set imports up as time would have left them.
async fn app_and_imports() -> (Arc<Endpoint<StartImport>>, Arc<dyn domain::ports::Imports>) {
    let dir = tempfile::tempdir().unwrap().keep();
    let files = Arc::new(EmbeddedFiles::new(&dir, "http://127.0.0.1:3000"));
    let (adapters, _) = test_support::adapters().await;
    let adapters = adapters.with_files(files);
    let function = StartImport::new(&adapters).await.unwrap();
    let imports = adapters.imports().await.unwrap();
    (
        Arc::new(Endpoint::new(function, Cors::new(vec!["*".into()]))),
        imports,
    )
}

async fn start_import(app: &Endpoint<StartImport>, company: &str) -> (u16, Value) {
    let user = principal("user", "products:write", Some(company));
    let body = r#"{"format":"jsonl"}"#;
    let req = request("POST", "/imports", "/imports", user, Some(body), &[]);
    let response = app.call(req).await;
    let (status, headers, json) = parts(&response);
    if status == 429 {
        assert_eq!(headers["retry-after"], "30", "{json}");
    }
    (status, json)
}

#[tokio::test]
async fn a_company_has_at_most_five_imports_open_then_429_with_retry_after() {
    let (app, imports) = app_and_imports().await;
    for n in 0..5 {
        assert_eq!(start_import(&app, "acme").await.0, 201, "import {n}");
    }
    let (status, problem) = start_import(&app, "acme").await;
    assert_eq!(status, 429, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("5 imports of acme are open"),
        "{problem}"
    );
    assert_eq!(start_import(&app, "globex").await.0, 201, "per company");
    // One finishes: room for one more.
    let acme = domain::CompanyId::parse("acme").unwrap();
    let open = imports.open(&acme).await.unwrap();
    assert_eq!(open.len(), 5);
    imports
        .finish(open[0].id, None, chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(start_import(&app, "acme").await.0, 201);
    assert_eq!(start_import(&app, "acme").await.0, 429);
}

#[tokio::test]
async fn a_pending_import_whose_upload_url_expired_unused_fails_and_counts_for_nothing() {
    use domain::import::{Import, ImportFormat, ImportStatus};
    let (app, imports) = app_and_imports().await;
    let initech = domain::CompanyId::parse("initech").unwrap();
    let long_ago = chrono::Utc::now() - chrono::Duration::minutes(31);
    let unused = Import::pending(initech.clone(), ImportFormat::Csv, long_ago);
    imports.create(&unused).await.unwrap();
    // Running since long ago: its upload came, and it stays open.
    let mut running = Import::pending(initech.clone(), ImportFormat::Csv, long_ago);
    running.status = ImportStatus::Running;
    imports.create(&running).await.unwrap();
    // Pending, but its URL (15 minutes) and grace (15 more) not yet over.
    let recent = chrono::Utc::now() - chrono::Duration::minutes(29);
    let waiting = Import::pending(initech.clone(), ImportFormat::Csv, recent);
    imports.create(&waiting).await.unwrap();
    for n in 0..3 {
        assert_eq!(start_import(&app, "initech").await.0, 201, "import {n}");
    }
    assert_eq!(start_import(&app, "initech").await.0, 429, "five open");
    let path = format!("/imports/{}", unused.id);
    let (status, report, _) = imports_call(&app, &path, "initech").await;
    assert_eq!(status, 200);
    assert_eq!(report["status"], "failed", "{report}");
    assert_eq!(report["reason"], "upload_expired", "{report}");
    let path = format!("/imports/{}", waiting.id);
    let (_, report, _) = imports_call(&app, &path, "initech").await;
    assert_eq!(report["status"], "pending", "{report}");
}

async fn imports_call(
    app: &Endpoint<StartImport>,
    path: &str,
    company: &str,
) -> (u16, Value, Option<String>) {
    imports(app, "GET", path, company, None).await
}
