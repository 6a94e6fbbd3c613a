//! The committed documents are the ones the code builds: a route, a limit or a field changed
//! without them fails here. `UPDATE_CONTRACT=1 cargo test -p api-contract` rewrites them.

use std::path::PathBuf;

use api_contract::{DOCUMENT_FILE, GATEWAY_FILE, document, gateway_document, render};
use domain::auth::ROUTES;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn check(file: &str, built: &str) {
    let path = root().join(file);
    if std::env::var_os("UPDATE_CONTRACT").is_some() {
        std::fs::write(&path, built).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == built,
        "{file} is not the document the code builds: run `UPDATE_CONTRACT=1 cargo test -p api-contract` and commit it"
    );
}

#[test]
fn the_committed_documents_are_current() {
    check(DOCUMENT_FILE, &render(&document()));
    check(GATEWAY_FILE, &render(&gateway_document()));
}

#[test]
fn every_route_is_documented_and_nothing_else() {
    let document = document();
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
    let mut routes: Vec<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_owned(), r.resource.to_owned()))
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
