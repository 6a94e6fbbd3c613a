//! `place-order` fed API Gateway REST (v1) events over the real DynamoDB adapter (dynoxide):
//! the hourly limit of orders per principal.

use domain::rate::OrderRate;
use http_kit::{Cors, Endpoint};
use place_order::PlaceOrder;
use serde_json::{Value, json};
use test_support::{adapters, parts, principal, product, request};

async fn app(per_hour: &str) -> Endpoint<PlaceOrder> {
    let (adapters, _bus) = adapters().await;
    let catalog = adapters.catalog().await.unwrap();
    catalog
        .save(&product("pizza", "acme", 1250, 100), None)
        .await
        .unwrap();
    Endpoint::new(
        PlaceOrder {
            catalog,
            queue: adapters.order_queue().await.unwrap(),
            key_uses: adapters.key_uses().await.unwrap(),
            rate: Some(OrderRate::parse(per_hour).unwrap()),
        },
        Cors::new(vec!["*".into()]),
    )
}

fn order(quantity: u32) -> String {
    json!({"items": [{"product_id": "pizza", "quantity": quantity}],
           "delivery": {"address": "1 Main St", "phone": "+15551234567"}})
    .to_string()
}

async fn place(
    app: &Endpoint<PlaceOrder>,
    customer: &str,
    body: &str,
    key: Option<&str>,
) -> (u16, Option<String>, Value) {
    let headers: Vec<(&str, &str)> = key.map(|k| ("Idempotency-Key", k)).into_iter().collect();
    let response = app
        .call(request(
            "POST",
            "/orders",
            "/orders",
            principal(customer, "orders:write", None),
            Some(body),
            &headers,
        ))
        .await;
    let (status, headers, json) = parts(&response);
    let retry_after = headers
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, retry_after, json)
}

#[tokio::test]
async fn past_its_hourly_limit_a_customer_is_told_when_to_come_back() {
    let app = app("2").await;
    assert_eq!(place(&app, "alice", &order(1), Some("a")).await.0, 202);
    assert_eq!(place(&app, "alice", &order(1), None).await.0, 202);

    let (status, retry_after, problem) = place(&app, "alice", &order(1), Some("c")).await;
    assert_eq!(status, 429, "{problem}");
    assert_eq!(problem["type"], "/problems/too-many-requests");
    let seconds: u64 = retry_after.expect("Retry-After").parse().unwrap();
    assert!((1..=3600).contains(&seconds), "{seconds}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("At most 2 orders an hour")
    );

    // Another customer has an hour of their own.
    assert_eq!(place(&app, "bob", &order(1), None).await.0, 202);
}

#[tokio::test]
async fn a_retried_order_is_not_counted_again_and_a_refusal_binds_no_key() {
    let app = app("1").await;
    let (status, _, first) = place(&app, "alice", &order(1), Some("k")).await;
    assert_eq!(status, 202);
    // The same request again (a lost answer): the same order, within the limit.
    let (status, _, again) = place(&app, "alice", &order(1), Some("k")).await;
    assert_eq!(status, 202, "{again}");
    assert_eq!(again["order_id"], first["order_id"]);

    // A new order past the limit is refused, and its key is left unbound.
    let (status, _, _) = place(&app, "alice", &order(2), Some("later")).await;
    assert_eq!(status, 429);
    let (status, _, problem) = place(&app, "alice", &order(3), Some("later")).await;
    assert_eq!(status, 429, "not 422 idempotency-key-reused: {problem}");
}

#[tokio::test]
async fn bad_input_is_refused_before_it_counts() {
    let app = app("1").await;
    let (status, _, _) = place(&app, "alice", r#"{"items": []}"#, None).await;
    assert_eq!(status, 400);
    assert_eq!(place(&app, "alice", &order(1), None).await.0, 202);
}
