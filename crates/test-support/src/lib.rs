//! Helpers for handler tests: the composition root's adapters over an in-process dynoxide (the
//! real DynamoDB adapter) and an in-memory embedded bus, API Gateway REST (v1) events built the
//! way the local gateway builds them, and small fixtures.

use std::collections::HashMap;
use std::sync::Arc;

use bus_embedded::{Bus, EmbeddedMessaging};
use chrono::{DateTime, Utc};
use composition::{Adapters, MessagingPorts};
use domain::order::{Delivery, Order, OrderLine, OrderStatus};
use domain::product::Product;
use domain::{CompanyId, Currency, CustomerId, Money, OrderId, Phone, ProductId};
use http::Method;
use http_kit::events::ProxyEvent;
use lambda_http::{Body, Request, Response};
use serde_json::Value;
use store_dynamodb::DynamoStore;

/// The settings of the tests' tables.
pub const SETTINGS: [(&str, &str); 8] = [
    ("PRODUCTS_TABLE", "products"),
    ("ORDERS_TABLE", "orders"),
    ("CARRIERS_TABLE", "carriers"),
    ("IDEMPOTENCY_TABLE", "idempotency"),
    ("IMPORTS_TABLE", "imports"),
    ("IMPORTS_BUCKET", "imports"),
    ("HISTORY_TABLE", "history"),
    ("CORS_ALLOWED_ORIGINS", "*"),
];

/// The composition root's adapters, as `delivery-local` builds them, over a fresh in-memory
/// dynoxide served on a loopback port (its tables created) and an in-memory bus.
pub async fn adapters() -> (Adapters, Bus) {
    let db = dynoxide::Database::memory().expect("in-memory dynoxide");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("loopback port");
    let addr = listener.local_addr().expect("bound address");
    tokio::spawn(dynoxide::server::serve_with_shutdown(
        listener,
        db,
        std::future::pending(),
    ));
    let sdk = composition::local_sdk_config(&format!("http://{addr}"));
    let bus = Bus::memory().expect("in-memory bus");
    let local = EmbeddedMessaging { bus: bus.clone() };
    let messaging = MessagingPorts {
        order_queue: local.order_queue(),
        events: local.events(),
        sms: local.sms(),
    };
    let adapters = Adapters::new(sdk, Arc::new(SETTINGS), Arc::new(messaging));
    adapters.create_tables().await.expect("tables");
    (adapters, bus)
}

/// The DynamoDB adapter over a fresh in-memory dynoxide.
pub async fn store() -> DynamoStore {
    adapters()
        .await
        .0
        .store()
        .await
        .expect("the tables are set")
}

/// A company's user, as history entries name them: `{company}-admin`.
pub fn actor(company: &str) -> domain::history::Actor {
    domain::history::Actor {
        sub: format!("{company}-admin"),
        company_id: CompanyId::parse(company).expect("valid company"),
    }
}

pub fn time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z")
        .expect("valid time")
        .to_utc()
}

pub fn product(id: &str, company: &str, minor: i64, stock: u32) -> Product {
    Product {
        id: ProductId::parse(id).expect("valid id"),
        company_id: CompanyId::parse(company).expect("valid company"),
        name: format!("Product {id}"),
        description: String::new(),
        price: Money::from_minor(minor, Currency::Usd),
        stock,
        available: true,
        stock_shards: 1,
        version: 1,
        updated_at: time(),
    }
}

/// An accepted order of `customer` for `quantity` pizzas at 12.50, placed and recorded at
/// `at` (its id is the one a request without an `Idempotency-Key` gets: new each time).
pub fn accepted_order(customer: &str, quantity: u32, at: DateTime<Utc>) -> Order {
    let customer = CustomerId::parse(customer).expect("valid customer");
    let total = Money::from_minor(1250 * i64::from(quantity), Currency::Usd);
    Order {
        id: OrderId::for_request(&customer, None),
        customer_id: customer,
        lines: vec![OrderLine {
            product_id: ProductId::parse("pizza").expect("valid id"),
            name: Some("Pizza".into()),
            quantity,
            unit_price: Some(Money::from_minor(1250, Currency::Usd)),
            line_total: Some(total),
        }],
        total: Some(total),
        delivery: Delivery {
            address: "1 Main St".into(),
            phone: Phone::parse("+15551234567").expect("valid phone"),
        },
        status: OrderStatus::Accepted,
        reason: None,
        carrier: None,
        created_at: at,
        recorded_at: Some(at),
        announced_at: None,
        texted_at: None,
        dispatched_at: None,
    }
}

/// The authorizer context of a principal, as API Gateway passes it on.
pub fn principal(sub: &str, scope: &str, company: Option<&str>) -> HashMap<String, Value> {
    HashMap::from([
        ("principalId".to_owned(), Value::from(sub)),
        ("sub".to_owned(), Value::from(sub)),
        ("scope".to_owned(), Value::from(scope)),
        ("company_id".to_owned(), Value::from(company.unwrap_or(""))),
    ])
}

/// A v1 proxy request for `method path` on `resource`, with a JSON body when given.
pub fn request(
    method: &str,
    path: &str,
    resource: &str,
    authorizer: HashMap<String, Value>,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> Request {
    let params = path
        .trim_start_matches('/')
        .split('/')
        .zip(resource.trim_start_matches('/').split('/'))
        .filter(|(_, r)| r.starts_with('{'))
        .map(|(p, r)| {
            (
                r.trim_matches(|c| c == '{' || c == '}').to_owned(),
                p.to_owned(),
            )
        })
        .collect();
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let query = query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect();
    let mut all_headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    if body.is_some()
        && !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        all_headers.push(("content-type".to_owned(), "application/json".to_owned()));
    }
    ProxyEvent {
        method: Method::from_bytes(method.as_bytes()).expect("method"),
        path: path.to_owned(),
        resource: resource.to_owned(),
        path_parameters: params,
        query,
        headers: all_headers,
        body: body.map(str::to_owned),
        authorizer,
        request_id: "test-request".to_owned(),
        stage: "test".to_owned(),
        base_path: "/test".to_owned(),
    }
    .to_request()
    .expect("a valid event")
}

/// Status, headers and parsed JSON body of a response.
pub fn parts(response: &Response<Body>) -> (u16, &http::HeaderMap, Value) {
    let body: &[u8] = response.body().as_ref();
    let json = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(body).expect("a JSON body")
    };
    (response.status().as_u16(), response.headers(), json)
}

/// The `field`s of a problem's `errors`.
pub fn error_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
