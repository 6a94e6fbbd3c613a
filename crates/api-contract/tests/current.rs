//! The committed documents are the ones the code builds: a route, a limit or a field changed
//! without them fails here. `UPDATE_CONTRACT=1 cargo test -p api-contract` rewrites them, and
//! fails so that a run with the variable set can never pass by comparing a file with itself;
//! the run after it, without the variable, is the check.

use std::path::PathBuf;

use api_contract::{DOCUMENT_FILE, GATEWAY_FILE, document, gateway_document, render};
use domain::auth::ROUTES;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn check(file: &str, built: &str) {
    let path = root().join(file);
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == built,
        "{file} is not the document the code builds: run `UPDATE_CONTRACT=1 cargo test -p api-contract` and commit it"
    );
}

#[test]
fn the_committed_documents_are_current() {
    let documents = [
        (DOCUMENT_FILE, render(&document())),
        (GATEWAY_FILE, render(&gateway_document())),
    ];
    if std::env::var_os("UPDATE_CONTRACT").is_some() {
        for (file, built) in &documents {
            std::fs::write(root().join(file), built).unwrap();
        }
        panic!(
            "the documents were rewritten: run the tests again without UPDATE_CONTRACT to check them"
        );
    }
    for (file, built) in &documents {
        check(file, built);
    }
}

/// The public API as its users hold it: method, path, the scope it needs and the query it
/// reads. Stated here by hand, not derived from the route table, so that a route added,
/// dropped or re-scoped in the code is a deliberate change of this list too.
const PROMISED: &[(&str, &str, &str, &[&str])] = &[
    (
        "GET",
        "/products",
        "products:read",
        &["limit", "cursor", "company_id"],
    ),
    ("GET", "/products/{id}", "products:read", &[]),
    ("PUT", "/products/{id}", "products:write", &[]),
    ("PATCH", "/products/{id}", "products:write", &[]),
    (
        "GET",
        "/products/{id}/history",
        "products:write",
        &["limit", "cursor"],
    ),
    ("POST", "/imports", "products:write", &[]),
    ("GET", "/imports/{id}", "products:write", &[]),
    ("POST", "/orders/total", "orders:write", &[]),
    ("POST", "/orders", "orders:write", &[]),
    ("GET", "/orders", "orders:read", &["limit", "cursor"]),
    ("GET", "/orders/{id}", "orders:read", &[]),
    ("POST", "/simulations", "simulations:run", &[]),
];

/// The committed document, as a client downloads it (not the one the code builds).
fn committed_document() -> serde_json::Value {
    let text = std::fs::read_to_string(root().join(DOCUMENT_FILE)).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn the_route_table_is_the_promised_api() {
    let mut routes: Vec<_> = ROUTES
        .iter()
        .map(|r| (r.method, r.resource, r.scope.as_str(), r.query))
        .collect();
    let mut promised = PROMISED.to_vec();
    routes.sort();
    promised.sort();
    assert_eq!(routes, promised);
}

#[test]
fn every_route_is_documented_and_nothing_else() {
    let document = committed_document();
    let paths = document["paths"].as_object().unwrap();
    let mut documented: Vec<(String, String)> = paths
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(|m| (m.to_ascii_uppercase(), path.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    let mut routes: Vec<(String, String)> = PROMISED
        .iter()
        .map(|(method, resource, ..)| ((*method).to_owned(), (*resource).to_owned()))
        .collect();
    documented.sort();
    routes.sort();
    assert_eq!(documented, routes);
    for route in ROUTES {
        let operation = &paths[route.resource][route.method.to_ascii_lowercase()];
        assert_eq!(
            operation["security"][0]["bearer"][0],
            route.scope.as_str(),
            "{} {} names its scope",
            route.method,
            route.resource
        );
        let path_params = route.resource.matches('{').count();
        let declared = operation["parameters"]
            .as_array()
            .map_or(0, |p| p.iter().filter(|p| p["in"] == "path").count());
        assert_eq!(declared, path_params, "{} {}", route.method, route.resource);
        let query: Vec<&str> = operation["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "query")
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert_eq!(
            query, route.query,
            "{} {} documents the query it reads",
            route.method, route.resource
        );
    }
}

#[test]
fn every_reference_resolves() {
    for document in [document(), gateway_document()] {
        let text = document.to_string();
        for reference in text.split("\"$ref\":\"").skip(1) {
            let target = reference.split('"').next().unwrap();
            let pointer = target.strip_prefix('#').unwrap();
            assert!(document.pointer(pointer).is_some(), "{target} is dangling");
        }
    }
}
