//! The document's schemas (`components.schemas`), written from the domain's own limits so that
//! a limit changed in the domain changes the document with it.

use domain::auth::Scope;
use domain::bill::{MAX_LINES, MAX_QUANTITY};
use domain::ids::PHONE_PATTERN;
use domain::import::{ImportFormat, MAX_REPORTED_ERRORS};
use domain::money::Currency;
use domain::order::ADDRESS_LEN;
use domain::ports::MAX_PAGE_LIMIT;
use domain::product::{DESCRIPTION_LEN, EDITABLE_FIELDS, MAX_STOCK, MAX_STOCK_SHARDS, NAME_LEN};
use serde_json::{Map, Value, json};

/// `[A-Za-z0-9_-]`, 1–64: product, company and carrier ids.
pub const SLUG: &str = "^[A-Za-z0-9_-]{1,64}$";
/// A cursor as listings issue it: URL-safe base64, at most 2,048 characters.
pub const CURSOR: &str = "^[A-Za-z0-9_-]{1,2048}$";
/// 1–128 visible ASCII characters: the `Idempotency-Key` header. (A request header's value may
/// have whitespace around it, which HTTP strips before the API sees it.)
pub const VISIBLE_ASCII_128: &str = "^[ \t]*[!-~]{1,128}[ \t]*$";
/// A quoted version, as `ETag` gives it.
pub const QUOTED_VERSION: &str = "^\"[0-9]{1,19}\"$";
/// The `If-Match` header: the quoted version of an `ETag`, whitespace around it stripped.
pub const IF_MATCH: &str = "^[ \t]*\"[0-9]{1,19}\"[ \t]*$";
/// One line of text: no control characters (the domain's `text` rule).
const ONE_LINE: &str = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$";
/// Text that may hold newlines and tabs, but no other control character.
const MULTI_LINE: &str = "^[^\\u0000-\\u0008\\u000B-\\u001F\\u007F-\\u009F]*$";
/// An order id: a UUID in its hyphenated lower-case form.
pub const UUID: &str = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";

/// The amount of a price in a currency with cents: positive, two decimals, fits 64 bits.
const CENTS: &str = "^(0\\.(0[1-9]|[1-9][0-9])|[1-9][0-9]{0,15}\\.[0-9]{2})$";
/// The amount of a price in a currency without minor units (JPY).
const WHOLE: &str = "^[1-9][0-9]{0,17}$";

/// What a value that misses one of the document's patterns is told, in the domain's words.
pub fn pattern_message(pattern: &str) -> Option<&'static str> {
    Some(match pattern {
        SLUG => "must be 1 to 64 characters of A-Z, a-z, 0-9, '_' or '-'",
        CURSOR => "is not a cursor returned by this listing",
        VISIBLE_ASCII_128 => "must be 1 to 128 visible ASCII characters",
        IF_MATCH | QUOTED_VERSION => "must be a quoted version such as \"3\"",
        ONE_LINE | MULTI_LINE => "must not contain control characters",
        UUID => "must be an order id",
        CENTS => {
            "must be a decimal string with exactly 2 decimal digits, greater than zero, like \"12.50\""
        }
        WHOLE => "must be a whole number string greater than zero, like \"1200\"",
        PHONE_PATTERN => "must be an E.164 phone number: '+' and 8 to 15 digits",
        _ => return None,
    })
}

pub fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn object(required: &[&str], properties: Value) -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": required,
        "properties": properties,
    })
}

fn text((min, max): (usize, usize), pattern: &str) -> Value {
    json!({"type": "string", "minLength": min, "maxLength": max, "pattern": pattern})
}

fn currencies(exponent: u32) -> Vec<&'static str> {
    Currency::ALL
        .into_iter()
        .filter(|c| c.exponent() == exponent)
        .map(Currency::code)
        .collect()
}

/// A price as a write accepts it: strictly positive, exactly the currency's minor digits, and
/// small enough that its minor units fit the domain's 64-bit integer (16 + 2 digits; 18).
fn price() -> Value {
    let cents = object(
        &["amount", "currency"],
        json!({
            "amount": {"type": "string", "pattern": CENTS},
            "currency": {"type": "string", "enum": currencies(2)},
        }),
    );
    let whole = object(
        &["amount", "currency"],
        json!({
            "amount": {"type": "string", "pattern": WHOLE},
            "currency": {"type": "string", "enum": currencies(0)},
        }),
    );
    json!({
        "description": "Exact money: the amount is a decimal string with exactly the currency's minor digits (2 for USD, EUR, GBP, BRL; 0 for JPY), greater than zero.",
        "oneOf": [cents, whole],
    })
}

/// Money as the API answers it (totals may be any amount the domain can hold).
fn money() -> Value {
    let mut money = object(
        &["amount", "currency"],
        json!({
            "amount": {"type": "string", "pattern": "^-?(0|[1-9][0-9]*)(\\.[0-9]+)?$", "examples": ["12.50"]},
            "currency": {"type": "string", "enum": currencies(2).into_iter().chain(currencies(0)).collect::<Vec<_>>()},
        }),
    );
    money["description"] = json!("Exact money: a decimal string amount and an ISO 4217 currency.");
    money
}

fn product() -> Value {
    object(
        &[
            "id",
            "company_id",
            "name",
            "description",
            "price",
            "stock",
            "available",
            "stock_shards",
            "version",
            "updated_at",
        ],
        json!({
            "id": {"type": "string", "pattern": SLUG},
            "company_id": {"type": "string", "pattern": SLUG},
            "name": {"type": "string"},
            "description": {"type": "string"},
            "price": reference("Money"),
            "stock": {"type": "integer", "minimum": 0, "description": "The total, summed over the stock shards."},
            "available": {"type": "boolean"},
            "stock_shards": stock_shards(),
            "version": {"type": "integer", "minimum": 1, "description": "Bumped by every write, stock reservations included; the ETag."},
            "updated_at": {"type": "string", "format": "date-time"},
        }),
    )
}

fn product_fields() -> Value {
    json!({
        "name": text(NAME_LEN, ONE_LINE),
        "description": text(DESCRIPTION_LEN, MULTI_LINE),
        "price": reference("Price"),
        "stock": {"type": "integer", "minimum": 0, "maximum": MAX_STOCK},
        "available": {"type": "boolean", "default": true},
        "stock_shards": stock_shards(),
    })
}

fn stock_shards() -> Value {
    json!({
        "type": "integer",
        "minimum": 1,
        "maximum": MAX_STOCK_SHARDS,
        "description": "How many items hold the stock. Each takes about 500 orders a second in DynamoDB, so a product on sale needs more; each reservation takes its quantity from one shard with enough. Absent from a PUT or a PATCH: kept (1 for a new product).",
    })
}

fn product_patch() -> Value {
    let mut patch = object(&[], product_fields());
    patch["minProperties"] = json!(1);
    patch["description"] = json!("The fields to change; at least one.");
    patch
}

fn basket_line() -> Value {
    object(
        &["product_id", "quantity"],
        json!({
            "product_id": {"type": "string", "pattern": SLUG},
            "quantity": {"type": "integer", "minimum": 1, "maximum": MAX_QUANTITY},
        }),
    )
}

fn items() -> Value {
    json!({
        "type": "array",
        "minItems": 1,
        "maxItems": MAX_LINES,
        "items": reference("BasketLine"),
        "description": "Lines of the same product are merged; a merged line over the quantity limit, or an order of more than 99 different products, is a 422.",
    })
}

fn delivery() -> Value {
    object(
        &["address", "phone"],
        json!({
            "address": text(ADDRESS_LEN, ONE_LINE),
            "phone": {"type": "string", "pattern": PHONE_PATTERN, "description": "E.164"},
        }),
    )
}

fn bill_line() -> Value {
    object(
        &["product_id", "name", "quantity", "unit_price", "line_total"],
        json!({
            "product_id": {"type": "string"},
            "name": {"type": "string"},
            "quantity": {"type": "integer"},
            "unit_price": reference("Money"),
            "line_total": reference("Money"),
        }),
    )
}

fn nullable(schema: Value) -> Value {
    json!({"oneOf": [schema, {"type": "null"}]})
}

fn order_line() -> Value {
    object(
        &["product_id", "name", "quantity", "unit_price", "line_total"],
        json!({
            "product_id": {"type": "string"},
            "name": {"type": ["string", "null"]},
            "quantity": {"type": "integer"},
            "unit_price": nullable(reference("Money")),
            "line_total": nullable(reference("Money")),
        }),
    )
}

fn order() -> Value {
    object(
        &[
            "id",
            "customer_id",
            "lines",
            "total",
            "delivery",
            "status",
            "reason",
            "carrier",
            "created_at",
            "dispatched_at",
            "timeline",
        ],
        json!({
            "id": {"type": "string", "pattern": UUID},
            "customer_id": {"type": "string"},
            "lines": {"type": "array", "items": reference("OrderLine")},
            "total": nullable(reference("Money")),
            "delivery": reference("Delivery"),
            "status": {"type": "string", "enum": ["accepted", "rejected", "dispatched"]},
            "reason": {"type": ["string", "null"], "enum": ["out_of_stock", "unavailable", "unknown_product", null]},
            "carrier": nullable(object(&["id", "name"], json!({"id": {"type": "string"}, "name": {"type": "string"}}))),
            "created_at": {"type": "string", "format": "date-time"},
            "dispatched_at": {"type": ["string", "null"], "format": "date-time"},
            "timeline": timeline(),
        }),
    )
}

/// Where an order spent its time: each step's moment, null until reached.
fn timeline() -> Value {
    let moment = |what: &str| json!({"type": ["string", "null"], "format": "date-time", "description": what});
    let mut timeline = object(
        &[
            "placed_at",
            "recorded_at",
            "announced_at",
            "texted_at",
            "dispatched_at",
        ],
        json!({
            "placed_at": {"type": "string", "format": "date-time", "description": "POST /orders answered 202."},
            "recorded_at": moment("The processor recorded it, accepted or rejected."),
            "announced_at": moment("Its order.accepted event was published (as the carrier's notifier received it)."),
            "texted_at": moment("The carrier's SMS went out."),
            "dispatched_at": moment("The dispatch was recorded."),
        }),
    );
    timeline["description"] = json!("Where the order spent its time between the 202 and the SMS.");
    timeline
}

fn page(item: &str) -> Value {
    object(
        &["items", "next_cursor"],
        json!({
            "items": {"type": "array", "maxItems": MAX_PAGE_LIMIT, "items": reference(item)},
            "next_cursor": {"type": ["string", "null"], "pattern": CURSOR, "description": "Pass as `cursor` for the next page; null on the last."},
        }),
    )
}

fn problem() -> Value {
    let mut problem = object(
        &["type", "title", "status", "detail"],
        json!({
            "type": {"type": "string", "examples": ["/problems/validation-error"]},
            "title": {"type": "string"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"type": "string"},
            "errors": {"type": "array", "items": reference("FieldError"), "description": "For 400 and 422: every offending field."},
            "request_id": {"type": "string", "description": "Set on the gateway's own answers."},
        }),
    );
    problem["description"] = json!("An RFC 9457 problem document.");
    problem
}

fn simulation() -> Value {
    object(
        &["orders"],
        json!({
            "orders": {"type": "integer", "minimum": 1, "maximum": 10_000},
            "invalid_ratio": {"type": "number", "minimum": 0, "maximum": 1, "default": 0},
            "seed": {"type": ["integer", "null"], "minimum": 0},
            "product": {
                "type": ["string", "null"], "pattern": SLUG,
                "description": "A flash sale: every order is for this one product, quantity 1 (it must exist and be available).",
            },
        }),
    )
}

fn bill() -> Value {
    let lines = json!({"type": "array", "items": reference("BillLine")});
    object(
        &["lines", "total"],
        json!({"lines": lines, "total": reference("Money")}),
    )
}

fn field_error() -> Value {
    object(
        &["field", "message"],
        json!({
            "field": {"type": "string", "examples": ["items[0].quantity"]},
            "message": {"type": "string"},
        }),
    )
}

fn order_queued() -> Value {
    object(
        &["order_id", "status", "total"],
        json!({
            "order_id": {"type": "string", "pattern": UUID},
            "status": {"const": "queued"},
            "total": reference("Money"),
        }),
    )
}

fn simulation_outcome() -> Value {
    object(
        &["enqueued", "invalid", "order_ids"],
        json!({
            "enqueued": {"type": "integer"},
            "invalid": {"type": "integer"},
            "order_ids": {"type": "array", "items": {"type": "string", "pattern": UUID}},
        }),
    )
}

fn order_request() -> Value {
    object(
        &["items", "delivery"],
        json!({"items": items(), "delivery": reference("Delivery")}),
    )
}

fn import_request() -> Value {
    let formats: Vec<&str> = ImportFormat::ALL.iter().map(|f| f.as_str()).collect();
    object(
        &["format"],
        json!({"format": {"type": "string", "enum": formats, "description": "csv: a header line (id,name,description,price_amount,price_currency,stock,available,stock_shards; description, available and stock_shards optional), then one product per record. jsonl: one PUT /products/{id} body with its `id` per line."}}),
    )
}

fn import_started() -> Value {
    let formats: Vec<&str> = ImportFormat::ALL.iter().map(|f| f.as_str()).collect();
    let upload = object(
        &["url", "method", "headers", "expires_at"],
        json!({
            "url": {"type": "string", "description": "Send the file here, once, before `expires_at`."},
            "method": {"const": "PUT"},
            "headers": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Send these headers as they are: they are signed."},
            "expires_at": {"type": "string", "format": "date-time"},
        }),
    );
    object(
        &["import_id", "status", "format", "upload"],
        json!({
            "import_id": {"type": "string", "pattern": UUID},
            "status": {"const": "pending"},
            "format": {"type": "string", "enum": formats},
            "upload": upload,
        }),
    )
}

fn import_report() -> Value {
    let count = || json!({"type": "integer", "minimum": 0});
    let rows = object(
        &["total", "written", "rejected"],
        json!({"total": count(), "written": count(), "rejected": count()}),
    );
    let row_error = object(
        &["row", "field", "message"],
        json!({
            "row": {"type": "integer", "minimum": 1, "description": "1 is the first product row (a CSV header is not a row)."},
            "field": {"type": "string", "examples": ["price_amount", "price.amount", "id"]},
            "message": {"type": "string"},
        }),
    );
    let formats: Vec<&str> = ImportFormat::ALL.iter().map(|f| f.as_str()).collect();
    object(
        &[
            "import_id",
            "company_id",
            "format",
            "status",
            "rows",
            "errors",
            "reason",
            "created_at",
            "updated_at",
        ],
        json!({
            "import_id": {"type": "string", "pattern": UUID},
            "company_id": {"type": "string", "pattern": SLUG},
            "format": {"type": "string", "enum": formats},
            "status": {"type": "string", "enum": ["pending", "running", "done", "failed"]},
            "rows": rows,
            "errors": {"type": "array", "maxItems": MAX_REPORTED_ERRORS, "items": row_error, "description": "The first refused rows, in row order."},
            "reason": {"type": ["string", "null"], "description": "Why the file was refused as a whole (status `failed`)."},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
        }),
    )
}

/// One entry of a product's history.
fn history_entry() -> Value {
    let by = object(
        &["sub", "company_id"],
        json!({
            "sub": {"type": "string", "description": "The token's subject."},
            "company_id": {"type": "string", "pattern": SLUG},
        }),
    );
    let via = json!({"oneOf": [
        object(&["request_id"], json!({"request_id": {"type": "string", "description": "API Gateway's request id."}})),
        object(&["import_id"], json!({"import_id": {"type": "string", "pattern": UUID}})),
    ]});
    let change = object(
        &["from", "to"],
        json!({
            "from": {"description": "The field as the product's JSON showed it before; null for a new product."},
            "to": {"description": "The field as the product's JSON shows it after."},
        }),
    );
    object(
        &["version", "at", "by", "via", "changes"],
        json!({
            "version": {"type": "integer", "minimum": 1, "description": "The product's version (its ETag) after the change."},
            "at": {"type": "string", "format": "date-time"},
            "by": by,
            "via": via,
            "changes": {
                "type": "object",
                "propertyNames": {"enum": EDITABLE_FIELDS},
                "additionalProperties": change,
                "description": "Each field that changed.",
            },
        }),
    )
}

/// Every schema of the document, by name.
pub fn all() -> Map<String, Value> {
    let schemas = [
        ("Money", money()),
        ("Price", price()),
        ("Product", product()),
        ("ProductPage", page("Product")),
        (
            "ProductInput",
            object(&["name", "price", "stock"], product_fields()),
        ),
        ("ProductPatch", product_patch()),
        ("HistoryEntry", history_entry()),
        ("HistoryPage", page("HistoryEntry")),
        ("BasketLine", basket_line()),
        ("Basket", object(&["items"], json!({"items": items()}))),
        ("BillLine", bill_line()),
        ("Bill", bill()),
        ("Delivery", delivery()),
        ("OrderRequest", order_request()),
        ("OrderQueued", order_queued()),
        ("OrderLine", order_line()),
        ("Order", order()),
        ("OrderPage", page("Order")),
        ("Simulation", simulation()),
        ("SimulationOutcome", simulation_outcome()),
        ("ImportRequest", import_request()),
        ("ImportStarted", import_started()),
        ("ImportReport", import_report()),
        ("FieldError", field_error()),
        ("Problem", problem()),
    ];
    schemas
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
}

/// The API's scopes, as the security scheme describes them.
pub fn scopes() -> Map<String, Value> {
    Scope::ALL
        .into_iter()
        .map(|s| (s.as_str().to_owned(), Value::from(scope_meaning(s))))
        .collect()
}

fn scope_meaning(scope: Scope) -> &'static str {
    match scope {
        Scope::ProductsRead => "List and read products",
        Scope::ProductsWrite => "Create and change the token's company's products",
        Scope::OrdersRead => "Read the caller's orders",
        Scope::OrdersWrite => "Get bills and place orders",
        Scope::SimulationsRun => "Flood the queue with simulated orders",
    }
}
