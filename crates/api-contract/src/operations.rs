//! One operation per route of the route table: parameters, body and every answer it can give.

use domain::auth::{ROUTES, Route};
use domain::ports::{DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT};
use serde_json::{Map, Value, json};

use crate::schemas::{CURSOR, IF_MATCH, QUOTED_VERSION, SLUG, UUID, VISIBLE_ASCII_128, reference};

/// What an operation is, beyond its route: its id, words, inputs and answers.
struct Operation {
    id: &'static str,
    tag: &'static str,
    summary: &'static str,
    parameters: Vec<Value>,
    body: Option<&'static str>,
    /// `(status, schema, headers)` of each success; every operation adds the refusals it can give.
    success: Vec<(u16, &'static str, Vec<&'static str>)>,
    refusals: &'static [u16],
    links: Value,
}

const READ: &[u16] = &[400, 401, 403, 404, 429, 503];
const WRITE: &[u16] = &[400, 401, 403, 404, 412, 413, 415, 429, 503];
const BASKET: &[u16] = &[400, 401, 403, 413, 415, 422, 429, 503];

fn query(name: &str, schema: Value, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "schema": schema, "description": description})
}

fn paging() -> Vec<Value> {
    vec![
        query(
            "limit",
            json!({"type": "integer", "minimum": 1, "maximum": MAX_PAGE_LIMIT, "default": DEFAULT_PAGE_LIMIT}),
            "Items per page.",
        ),
        query(
            "cursor",
            json!({"type": "string", "pattern": CURSOR}),
            "The `next_cursor` of the previous page, as it was given; any other value is a 400.",
        ),
    ]
}

fn path_id(pattern: &str, description: &str) -> Value {
    json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string", "pattern": pattern}, "description": description})
}

fn if_match() -> Value {
    json!({"name": "If-Match", "in": "header", "required": false, "schema": {"type": "string", "pattern": IF_MATCH},
        "description": "The version last seen (its `ETag`); a stale one is a 412 and changes nothing."})
}

fn product_links() -> Value {
    json!({
        "GetProduct": {"operationId": "getProduct", "parameters": {"id": "$response.body#/id"}},
        "PatchProduct": {"operationId": "patchProduct", "parameters": {"id": "$response.body#/id", "header.If-Match": "$response.header.ETag"}},
    })
}

fn product_id() -> Value {
    path_id(SLUG, "The product's id: 1–64 of A-Z, a-z, 0-9, '_', '-'.")
}

fn products(route: &Route) -> Option<Operation> {
    let written = |status| (status, "Product", vec!["ETag"]);
    Some(match (route.method, route.resource) {
        ("GET", "/products") => Operation {
            id: "listProducts",
            tag: "products",
            summary: "List products, all companies' or one's, a page at a time",
            parameters: [
                paging(),
                vec![query(
                    "company_id",
                    json!({"type": "string", "pattern": SLUG}),
                    "Only this company's products.",
                )],
            ]
            .concat(),
            body: None,
            success: vec![(200, "ProductPage", vec![])],
            refusals: READ,
            links: json!({"GetProduct": {"operationId": "getProduct", "parameters": {"id": "$response.body#/items/0/id"}}}),
        },
        ("GET", "/products/{id}") => Operation {
            id: "getProduct",
            tag: "products",
            summary: "Read one product",
            parameters: vec![product_id()],
            body: None,
            success: vec![written(200)],
            refusals: READ,
            links: Value::Null,
        },
        ("PUT", "/products/{id}") => Operation {
            id: "putProduct",
            tag: "products",
            summary: "Create (201) or replace (200) one of your company's products",
            parameters: vec![product_id(), if_match()],
            body: Some("ProductInput"),
            success: vec![written(200), (201, "Product", vec!["ETag", "Location"])],
            refusals: WRITE,
            links: product_links(),
        },
        ("PATCH", "/products/{id}") => Operation {
            id: "patchProduct",
            tag: "products",
            summary: "Change some fields of one of your company's products",
            parameters: vec![product_id(), if_match()],
            body: Some("ProductPatch"),
            success: vec![written(200)],
            refusals: WRITE,
            links: product_links(),
        },
        _ => return None,
    })
}

fn orders(route: &Route) -> Option<Operation> {
    Some(match (route.method, route.resource) {
        ("POST", "/orders/total") => Operation {
            id: "billBasket",
            tag: "orders",
            summary: "The bill for a basket, in exact money",
            parameters: vec![],
            body: Some("Basket"),
            success: vec![(200, "Bill", vec![])],
            refusals: BASKET,
            links: Value::Null,
        },
        ("POST", "/orders") => Operation {
            id: "placeOrder",
            tag: "orders",
            summary: "Place an order: validated and priced like a bill, then queued",
            parameters: vec![
                json!({"name": "Idempotency-Key", "in": "header", "required": false,
                "schema": {"type": "string", "pattern": VISIBLE_ASCII_128},
                "description": "Repeating a request with the same key and body returns the first answer and never places a second order; with another body it is a 422."}),
            ],
            body: Some("OrderRequest"),
            success: vec![(202, "OrderQueued", vec!["Location"])],
            refusals: BASKET,
            links: json!({"GetOrder": {"operationId": "getOrder", "parameters": {"id": "$response.body#/order_id"}}}),
        },
        ("GET", "/orders") => Operation {
            id: "listOrders",
            tag: "orders",
            summary: "Your orders, newest first, a page at a time",
            parameters: paging(),
            body: None,
            success: vec![(200, "OrderPage", vec![])],
            refusals: READ,
            links: Value::Null,
        },
        ("GET", "/orders/{id}") => Operation {
            id: "getOrder",
            tag: "orders",
            summary: "One of your orders, once the pipeline has recorded it (404 before)",
            parameters: vec![path_id(UUID, "The order's id, from placeOrder's answer.")],
            body: None,
            success: vec![(200, "Order", vec![])],
            refusals: READ,
            links: Value::Null,
        },
        ("POST", "/simulations") => Operation {
            id: "runSimulation",
            tag: "operations",
            summary: "Flood the order queue with simulated orders (valid ones and malformed ones)",
            parameters: vec![],
            body: Some("Simulation"),
            success: vec![(202, "SimulationOutcome", vec![])],
            refusals: &[400, 401, 403, 413, 415, 429, 503],
            links: Value::Null,
        },
        _ => return None,
    })
}

fn imports(route: &Route) -> Option<Operation> {
    Some(match (route.method, route.resource) {
        ("POST", "/imports") => Operation {
            id: "startImport",
            tag: "imports",
            summary: "Import many products from a file: the answer says where to upload it (a presigned PUT, 15 minutes)",
            parameters: vec![],
            body: Some("ImportRequest"),
            success: vec![(201, "ImportStarted", vec!["Location"])],
            refusals: &[400, 401, 403, 413, 415, 429, 503],
            links: json!({"GetImport": {"operationId": "getImport", "parameters": {"id": "$response.body#/import_id"}}}),
        },
        ("GET", "/imports/{id}") => Operation {
            id: "getImport",
            tag: "imports",
            summary: "An import's progress and report: rows written and refused, each refusal with its row and field",
            parameters: vec![path_id(UUID, "The import's id, from startImport's answer.")],
            body: None,
            success: vec![(200, "ImportReport", vec![])],
            refusals: READ,
            links: Value::Null,
        },
        _ => return None,
    })
}

fn product_history(route: &Route) -> Option<Operation> {
    ((route.method, route.resource) == ("GET", "/products/{id}/history")).then(|| Operation {
        id: "getProductHistory",
        tag: "products",
        summary: "Who changed one of your company's products, when, through what, and each field from what to what; newest first",
        parameters: [
            vec![product_id()],
            paging(),
        ]
        .concat(),
        body: None,
        success: vec![(200, "HistoryPage", vec![])],
        refusals: READ,
        links: Value::Null,
    })
}

fn describe(route: &Route) -> Option<Operation> {
    products(route)
        .or_else(|| product_history(route))
        .or_else(|| orders(route))
        .or_else(|| imports(route))
}

fn header(name: &str) -> Value {
    json!({"$ref": format!("#/components/headers/{name}")})
}

fn responses(op: &Operation) -> Map<String, Value> {
    let mut responses = Map::new();
    for (status, schema, headers) in &op.success {
        let mut response = json!({
            "description": "Success",
            "content": {"application/json": {"schema": reference(schema)}},
        });
        if !headers.is_empty() {
            response["headers"] = headers.iter().map(|h| (h.to_string(), header(h))).collect();
        }
        if op.links.is_object() {
            response["links"] = op.links.clone();
        }
        responses.insert(status.to_string(), response);
    }
    for status in op.refusals {
        responses.insert(
            status.to_string(),
            json!({"$ref": format!("#/components/responses/{status}")}),
        );
    }
    responses
}

fn operation(route: &Route, op: &Operation) -> Value {
    let mut operation = json!({
        "operationId": op.id,
        "tags": [op.tag],
        "summary": op.summary,
        "description": format!("Requires the `{}` scope.", route.scope.as_str()),
        "security": [{"bearer": [route.scope.as_str()]}],
        "responses": responses(op),
    });
    if !op.parameters.is_empty() {
        operation["parameters"] = Value::from(op.parameters.clone());
    }
    if let Some(body) = op.body {
        operation["requestBody"] = json!({
            "required": true,
            "content": {"application/json": {"schema": reference(body)}},
        });
    }
    operation
}

/// The `paths` of the document: every route of [`ROUTES`], and nothing else.
pub fn paths() -> Map<String, Value> {
    let mut paths = Map::new();
    for route in ROUTES {
        let Some(op) = describe(route) else { continue };
        let item = paths
            .entry(route.resource)
            .or_insert_with(|| Value::Object(Map::new()));
        item[route.method.to_ascii_lowercase()] = operation(route, &op);
    }
    paths
}

/// The refusals' shared descriptions (`components.responses`).
pub fn refusals() -> Map<String, Value> {
    let problem = |description: &str| json!({"description": description, "content": {"application/problem+json": {"schema": reference("Problem")}}});
    let mut refusals: Map<String, Value> = [
        (400, "The request is malformed: `errors` names every offending field"),
        (403, "The token lacks the scope, or the product is another company's"),
        (404, "No such resource, or not yours to see"),
        (412, "`If-Match` names a version that is no longer current; nothing changed"),
        (413, "The body is over 64 KiB"),
        (415, "The body is not application/json"),
        (422, "Well-formed, but the basket cannot be served (unknown or unavailable product, stock, currencies, a reused Idempotency-Key): `errors` names every line"),
        (429, "Too many requests: the API's throttle (slow down and retry), a customer's hourly limit of orders, or a company's five open imports (`Retry-After` says when to come back)"),
        (503, "A dependency is briefly unavailable: retry"),
    ]
    .into_iter()
    .map(|(status, description)| (status.to_string(), problem(description)))
    .collect();
    refusals["429"]["headers"] = json!({"Retry-After": header("Retry-After")});
    let mut unauthorized = problem("No valid bearer token");
    unauthorized["headers"] = json!({"WWW-Authenticate": header("WWW-Authenticate")});
    refusals.insert("401".to_owned(), unauthorized);
    refusals
}

/// The response headers (`components.headers`).
pub fn headers() -> Value {
    json!({
        "ETag": {"required": true, "description": "The product's version, quoted: send it back as If-Match.", "schema": {"type": "string", "pattern": QUOTED_VERSION}},
        "Location": {"required": true, "description": "The URL of what was created or queued.", "schema": {"type": "string"}},
        "WWW-Authenticate": {"required": true, "schema": {"type": "string", "const": "Bearer"}},
        "Retry-After": {"required": false, "description": "Seconds until the request may succeed.", "schema": {"type": "string", "pattern": "^[0-9]+$"}},
    })
}
