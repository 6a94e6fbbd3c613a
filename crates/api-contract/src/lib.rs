//! The API described once. The OpenAPI 3.1 document is built here from the route
//! table (`domain::auth::ROUTES`) and the domain's own limits, so a route or a limit cannot
//! change without the document changing too. From it come:
//! - the committed `openapi.json` (a test keeps it current) that `delivery-local` serves;
//! - [`gateway_document`], the same operations in the form API Gateway imports, from which
//!   Terraform builds the REST API with a request validator on every method;
//! - [`RequestValidator`], the validation the local gateway applies, compiled from that same
//!   gateway form, so that the two gateways refuse the same requests;
//! - [`Conformance`], which the tests hold every answer of `delivery-local` to.

mod conformance;
mod gateway;
mod operations;
mod schemas;
mod validate;

use serde_json::{Value, json};

pub use conformance::Conformance;
pub use gateway::gateway_document;
pub use validate::RequestValidator;

/// Where the document is committed, from the repository root.
pub const DOCUMENT_FILE: &str = "openapi.json";
/// Where its API Gateway form is committed, inside the Terraform module that reads it.
pub const GATEWAY_FILE: &str = "terraform/modules/rest-api/openapi/contract.json";

/// The OpenAPI 3.1 document of the HTTP API.
pub fn document() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Delivery API",
            "version": "1",
            "summary": "Products, catalog imports, bills and orders of the delivery backend.",
            "description": "Every error is application/problem+json (RFC 9457); a 400 or 422 names each offending field in `errors`. Money is exact: a decimal string amount with the currency's minor digits.",
        },
        "servers": [{"url": "http://127.0.0.1:3000", "description": "delivery-local"}],
        "tags": [
            {"name": "products", "description": "The catalog: customers read it, companies keep their products in it."},
            {"name": "imports", "description": "Bulk catalog imports: a company uploads a CSV or JSON-lines file and reads the report."},
            {"name": "orders", "description": "Bills and orders."},
            {"name": "operations", "description": "Rehearsing a sales spike."},
        ],
        "paths": operations::paths(),
        "components": {
            "schemas": schemas::all(),
            "responses": operations::refusals(),
            "headers": operations::headers(),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": format!("A JWT whose `scope` claim holds the operation's scope; product writes also need `company_id`. Scopes: {}.", scope_list()),
                },
            },
        },
    })
}

fn scope_list() -> String {
    schemas::scopes()
        .into_iter()
        .map(|(scope, meaning)| format!("`{scope}` ({})", meaning.as_str().unwrap_or_default()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The document as committed: pretty JSON with a final newline.
pub fn render(document: &Value) -> String {
    let mut text = serde_json::to_string_pretty(document).unwrap_or_default();
    text.push('\n');
    text
}
