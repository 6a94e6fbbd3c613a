//! The document in the form API Gateway imports: OpenAPI 3.0 (API Gateway does not read 3.1),
//! each operation's parameters and request body, and only the schemas those bodies use, as
//! JSON Schema draft 4 (the dialect of API Gateway models). Terraform adds the integrations, the
//! authorizer and a request validator on every method (`terraform/modules/rest-api/openapi`).

use serde_json::{Map, Value, json};

use crate::document;

/// Keywords of the 3.1 document that draft 4 does not know (`const` becomes an `enum`).
const UNKNOWN_TO_DRAFT_4: &[&str] = &["examples"];

/// Rewrites a schema into draft 4.
fn draft4(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, value) in map {
                match key.as_str() {
                    k if UNKNOWN_TO_DRAFT_4.contains(&k) => {}
                    "const" => {
                        out.insert("enum".to_owned(), json!([value]));
                    }
                    _ => {
                        out.insert(key.clone(), draft4(value));
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(draft4).collect()),
        other => other.clone(),
    }
}

/// The names of the schemas `schema` refers to, directly or through others.
fn referenced(schema: &Value, schemas: &Map<String, Value>, found: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(name) = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
                && !found.iter().any(|f| f == name)
            {
                found.push(name.to_owned());
                if let Some(target) = schemas.get(name) {
                    referenced(target, schemas, found);
                }
            }
            map.values().for_each(|v| referenced(v, schemas, found));
        }
        Value::Array(items) => items.iter().for_each(|v| referenced(v, schemas, found)),
        _ => {}
    }
}

/// The inputs of an operation: parameters (API Gateway checks the required ones are present)
/// and the request body (validated against its model).
fn inputs(operation: &Value) -> Value {
    let mut inputs = Map::new();
    for key in ["operationId", "summary", "parameters", "requestBody"] {
        if let Some(value) = operation.get(key) {
            inputs.insert(key.to_owned(), draft4(value));
        }
    }
    Value::Object(inputs)
}

/// The API Gateway form of [`document`].
pub fn gateway_document() -> Value {
    let document = document();
    let mut paths = Map::new();
    for (path, item) in document["paths"].as_object().into_iter().flatten() {
        let methods: Map<String, Value> = item
            .as_object()
            .into_iter()
            .flatten()
            .map(|(method, operation)| (method.clone(), inputs(operation)))
            .collect();
        paths.insert(path.clone(), Value::Object(methods));
    }
    let all = document["components"]["schemas"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut used = Vec::new();
    referenced(&Value::Object(paths.clone()), &all, &mut used);
    used.sort();
    let schemas: Map<String, Value> = used
        .into_iter()
        .filter_map(|name| all.get(&name).map(|s| (name, draft4(s))))
        .collect();
    json!({
        "openapi": "3.0.1",
        "info": document["info"].clone(),
        "paths": paths,
        "components": {"schemas": schemas},
    })
}
