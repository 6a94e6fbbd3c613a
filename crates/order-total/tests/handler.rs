//! `order-total` fed API Gateway REST (v1) events over the real DynamoDB adapter (dynoxide).

use std::sync::Arc;

use domain::ports::Catalog;
use domain::{Currency, Money};
use http_kit::{Cors, Endpoint};
use order_total::OrderTotal;
use serde_json::json;
use test_support::{error_fields, parts, principal, product, request, store};

async fn app() -> Endpoint<OrderTotal> {
    let store = store().await;
    store
        .save(&product("pizza", "acme", 1250, 10), None)
        .await
        .unwrap();
    store
        .save(&product("soda", "acme", 199, 3), None)
        .await
        .unwrap();
    let mut off = product("off", "acme", 100, 5);
    off.available = false;
    store.save(&off, None).await.unwrap();
    let mut euro = product("euro", "globex", 100, 5);
    euro.price = Money::from_minor(100, Currency::Eur);
    store.save(&euro, None).await.unwrap();
    Endpoint::new(
        OrderTotal {
            catalog: Arc::new(store),
        },
        Cors::new(vec!["*".into()]),
    )
}

async fn post(app: &Endpoint<OrderTotal>, body: &str) -> (u16, serde_json::Value) {
    let customer = principal("alice", "orders:write", None);
    let response = app
        .call(request(
            "POST",
            "/orders/total",
            "/orders/total",
            customer,
            Some(body),
            &[],
        ))
        .await;
    let (status, headers, json) = parts(&response);
    assert_eq!(headers["access-control-allow-origin"], "*");
    (status, json)
}

#[tokio::test]
async fn bills_exactly_and_merges_duplicate_lines() {
    let app = app().await;
    let body = json!({"items": [{"product_id": "pizza", "quantity": 2}, {"product_id": "soda", "quantity": 3},
                                 {"product_id": "pizza", "quantity": 1}]});
    let (status, bill) = post(&app, &body.to_string()).await;
    assert_eq!(status, 200, "{bill}");
    assert_eq!(
        bill["lines"][0],
        json!({"product_id": "pizza", "name": "Product pizza", "quantity": 3,
        "unit_price": {"amount": "12.50", "currency": "USD"}, "line_total": {"amount": "37.50", "currency": "USD"}})
    );
    assert_eq!(bill["total"], json!({"amount": "43.47", "currency": "USD"}));
}

#[tokio::test]
async fn unservable_lines_are_422_each_named() {
    let app = app().await;
    let body = json!({"items": [{"product_id": "pizza", "quantity": 1}, {"product_id": "ghost", "quantity": 1},
        {"product_id": "off", "quantity": 1}, {"product_id": "soda", "quantity": 4}, {"product_id": "euro", "quantity": 1}]});
    let (status, problem) = post(&app, &body.to_string()).await;
    assert_eq!(status, 422);
    assert_eq!(
        error_fields(&problem),
        [
            "items[1].product_id",
            "items[2].product_id",
            "items[3].quantity",
            "items[4].product_id"
        ]
    );
}

#[tokio::test]
async fn malformed_baskets_are_400_and_never_5xx() {
    let app = app().await;
    let cases = [
        ("", vec!["body"]),
        ("{", vec!["body"]),
        ("[]", vec!["body"]),
        ("null", vec!["body"]),
        ("{}", vec!["items"]),
        (r#"{"items": []}"#, vec!["items"]),
        (
            r#"{"items": [{"product_id": "pizza", "quantity": 1.5}]}"#,
            vec!["items[0].quantity"],
        ),
        (
            r#"{"items": [{"product_id": "pizza", "quantity": 1001}]}"#,
            vec!["items[0].quantity"],
        ),
        (
            r#"{"items": [{"product_id": "", "quantity": 1}]}"#,
            vec!["items[0].product_id"],
        ),
        (
            r#"{"items": [{"product_id": "pizza"}], "extra": true}"#,
            vec!["extra", "items[0].quantity"],
        ),
    ];
    for (body, fields) in cases {
        let (status, problem) = post(&app, body).await;
        assert_eq!(status, 400, "{body}: {problem}");
        assert_eq!(error_fields(&problem), fields, "{body}");
    }
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    assert_eq!(post(&app, &deep).await.0, 400);
}

#[tokio::test]
async fn body_limits_and_media_type() {
    let app = app().await;
    let customer = principal("alice", "orders:write", None);
    let big = format!(r#"{{"items": [], "pad": "{}"}}"#, "x".repeat(64 * 1024));
    let response = app
        .call(request(
            "POST",
            "/orders/total",
            "/orders/total",
            customer.clone(),
            Some(&big),
            &[],
        ))
        .await;
    assert_eq!(parts(&response).0, 413);
    let form = request(
        "POST",
        "/orders/total",
        "/orders/total",
        customer,
        Some("a=b"),
        &[("content-type", "application/x-www-form-urlencoded")],
    );
    assert_eq!(parts(&app.call(form).await).0, 415);
}

#[tokio::test]
async fn a_product_over_the_quantity_limit_once_merged_is_unprocessable() {
    let app = app().await;
    // Each line is within 1–1000, so the body fits its schema; merged, pizza totals 1,200.
    let body = json!({"items": [{"product_id": "pizza", "quantity": 600}, {"product_id": "pizza", "quantity": 600}]});
    let (status, problem) = post(&app, &body.to_string()).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(error_fields(&problem), ["items[1].quantity"]);
}
