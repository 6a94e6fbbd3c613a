//! `order-processor` fed real SQS event JSON, over the DynamoDB adapter (dynoxide) and the
//! embedded bus.

use std::sync::Arc;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use bus_embedded::{Bus, EmbeddedQueue, EmbeddedTopic, NOTIFICATIONS, ORDERS, Subscription};
use composition::lambda::EventFunction;
use domain::ports::{Catalog, OrderStore};
use domain::{CustomerId, OrderId, ProductId};
use order_processor::Processor;
use serde_json::{Value, json};
use store_dynamodb::DynamoStore;
use test_support::{product, store};

/// What this test binary's processors emitted, by metric name (a process has one sink, which
/// the first setup installs).
static SEEN: std::sync::OnceLock<std::sync::Mutex<Vec<String>>> = std::sync::OnceLock::new();

fn metrics() -> Vec<String> {
    SEEN.get_or_init(|| {
        telemetry::set_sink(|metric, _, _| {
            if let Some(seen) = SEEN.get() {
                seen.lock().unwrap().push(metric.to_owned());
            }
        });
        std::sync::Mutex::default()
    })
    .lock()
    .unwrap()
    .clone()
}

async fn setup() -> (Processor, DynamoStore, Bus) {
    metrics();
    let store = store().await;
    store
        .save(&product("pizza", "acme", 1250, 5), None)
        .await
        .unwrap();
    let bus = Bus::memory().unwrap();
    let app = Processor {
        catalog: Arc::new(store.clone()),
        orders: Arc::new(store.clone()),
        queue: Arc::new(EmbeddedQueue {
            bus: bus.clone(),
            queue: ORDERS.name,
        }),
        events: Arc::new(EmbeddedTopic {
            bus: bus.clone(),
            subscriptions: vec![Subscription {
                queue: NOTIFICATIONS.name,
                type_filter: Some("order.accepted"),
            }],
        }),
    };
    (app, store, bus)
}

fn placed(customer: &str, product: &str, quantity: i64) -> (OrderId, String) {
    let id = OrderId::for_request(&CustomerId::parse(customer).unwrap(), None);
    let body = json!({"type": "order.placed", "version": 1, "order_id": id, "customer_id": customer,
        "items": [{"product_id": product, "quantity": quantity}],
        "delivery": {"address": "1 Main St", "phone": "+15551234567"}, "placed_at": "2026-11-22T10:00:00.000000Z"});
    (id, body.to_string())
}

/// A version 2 message: the order quoted at `unit` (minor units of USD) a pizza.
fn quoted(customer: &str, quantity: i64, unit: i64) -> (OrderId, String) {
    let (id, body) = placed(customer, "pizza", quantity);
    let mut v: Value = serde_json::from_str(&body).unwrap();
    let money = |minor: i64| json!({"amount": format!("{}.{:02}", minor / 100, minor % 100), "currency": "USD"});
    v["version"] = json!(2);
    v["unit_prices"] = json!([money(unit)]);
    v["total"] = money(unit * quantity);
    (id, v.to_string())
}

/// An SQS event exactly as Lambda receives it from the event source mapping.
fn sqs_event(bodies: &[&str]) -> SqsEvent {
    received(bodies, 1)
}

/// The same, each message on its `count`th receive.
fn received(bodies: &[&str], count: u32) -> SqsEvent {
    let records: Vec<Value> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            json!({
                "messageId": format!("059f36b4-87a3-44ab-83d2-66197{i:07}"),
                "receiptHandle": format!("AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a{i}"),
                "body": body,
                "attributes": {"ApproximateReceiveCount": count.to_string(), "SentTimestamp": "1545082649183",
                    "SenderId": "AIDAIENQZJOLO23YVJ4VO", "ApproximateFirstReceiveTimestamp": "1545082649185"},
                "messageAttributes": {},
                "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:orders",
                "awsRegion": "eu-west-1"
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

/// The handler as Lambda calls it (it never fails: failures are batch item failures).
async fn handle(app: &Processor, event: SqsEvent) -> SqsBatchResponse {
    match app.handle(event).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

#[tokio::test]
async fn a_mixed_batch_is_handled_message_by_message() {
    let (app, store, bus) = setup().await;
    let (ok, ok_body) = placed("alice", "pizza", 2);
    let (ghost, ghost_body) = placed("bob", "ghost", 1);
    let (_, negative) = placed("carol", "pizza", -1);
    let event = sqs_event(&[
        &ok_body,
        "{not json",
        &negative,
        &ghost_body,
        r#"{"type": "order.placed"}"#,
    ]);
    let response = handle(&app, event).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "malformed messages are dead-lettered, not retried"
    );

    let accepted = OrderStore::get(&store, ok).await.unwrap().unwrap();
    assert_eq!(accepted.status.as_str(), "accepted");
    let rejected = OrderStore::get(&store, ghost).await.unwrap().unwrap();
    // Both recorded, each at its recording, after its 202.
    for order in [&accepted, &rejected] {
        let recorded = order.recorded_at.expect("recorded_at");
        assert!(order.created_at <= recorded && recorded <= chrono::Utc::now());
    }
    // Counted as the dashboard reads them (other tests of this binary count too: at least).
    let seen = metrics();
    for metric in ["OrdersAccepted", "OrdersRejected", "ProcessingLatency"] {
        assert!(seen.iter().any(|m| m == metric), "{metric}: {seen:?}");
    }
    assert_eq!(
        (
            rejected.status.as_str(),
            rejected.reason.map(|r| r.as_str())
        ),
        ("rejected", Some("unknown_product"))
    );
    let pizza = Catalog::get(&store, &ProductId::parse("pizza").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pizza.stock, 3);

    let dead = bus.dead_letters().unwrap();
    assert_eq!(dead.len(), 3);
    assert!(
        dead.iter()
            .any(|d| d.body == "{not json" && d.reason.contains("not JSON"))
    );
    assert!(dead.iter().any(|d| d.reason.contains("items[0].quantity")));
    assert!(
        dead.iter()
            .any(|d| d.reason.contains("order_id: is required"))
    );
    // Only the accepted order's event reaches the notify-carrier subscription.
    assert_eq!(bus.counts(NOTIFICATIONS.name).unwrap().visible, 1);
}

#[tokio::test]
async fn a_redelivery_records_nothing_twice_and_publishes_again() {
    let (app, store, bus) = setup().await;
    let (id, body) = placed("alice", "pizza", 2);
    assert!(
        handle(&app, sqs_event(&[&body]))
            .await
            .batch_item_failures
            .is_empty()
    );
    assert!(
        handle(&app, sqs_event(&[&body, &body]))
            .await
            .batch_item_failures
            .is_empty()
    );
    let pizza = Catalog::get(&store, &ProductId::parse("pizza").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pizza.stock, 3, "stock decremented once");
    assert_eq!(
        OrderStore::get(&store, id)
            .await
            .unwrap()
            .unwrap()
            .status
            .as_str(),
        "accepted"
    );
    assert_eq!(
        bus.counts(NOTIFICATIONS.name).unwrap().visible,
        3,
        "the event is published on every delivery"
    );
}

#[tokio::test]
async fn a_transient_failure_retries_only_that_message() {
    let (mut app, _store, bus) = setup().await;
    // The store goes away: valid messages fail (and will be retried), malformed ones are still
    // dead-lettered at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let gone = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&composition::local_sdk_config(&format!(
            "http://127.0.0.1:{port}"
        ))),
        store_dynamodb::Tables {
            products: "p".into(),
            orders: "o".into(),
            carriers: "c".into(),
        },
    );
    app.catalog = Arc::new(gone.clone());
    app.orders = Arc::new(gone);
    let (_, body) = placed("alice", "pizza", 1);
    let event = sqs_event(&[&body, "garbage"]);
    let failed_id = event.records[0].message_id.clone().unwrap();
    let response = handle(&app, event).await;
    let failures: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(failures, [failed_id]);
    assert_eq!(bus.dead_letters().unwrap().len(), 1);
}

/// The company raised the price while the order waited in the queue: the customer was told
/// 25.00 (2 × 12.50) and is charged 25.00, not 2 × 99.00.
#[tokio::test]
async fn a_quoted_order_is_recorded_at_the_price_it_was_quoted() {
    let (app, store, _bus) = setup().await;
    let pizza = Catalog::get(&store, &ProductId::parse("pizza").unwrap())
        .await
        .unwrap()
        .unwrap();
    let mut raised = pizza.clone();
    raised.price = domain::Money::from_minor(9900, pizza.price.currency());
    raised.version += 1;
    store.save(&raised, Some(pizza.version)).await.unwrap();

    let (id, body) = quoted("alice", 2, 1250);
    let response = handle(&app, sqs_event(&[&body])).await;
    assert!(response.batch_item_failures.is_empty());
    let order = OrderStore::get(&store, id).await.unwrap().unwrap();
    assert_eq!(order.status.as_str(), "accepted");
    assert_eq!(order.total.unwrap().amount_string(), "25.00");
    assert_eq!(order.lines[0].unit_price.unwrap().amount_string(), "12.50");

    // A quote that does not add up is dead-lettered, not recorded at any price.
    let (forged, body) = quoted("bob", 2, 1250);
    let mut v: Value = serde_json::from_str(&body).unwrap();
    v["total"] = json!({"amount": "0.01", "currency": "USD"});
    let response = handle(&app, sqs_event(&[&v.to_string()])).await;
    assert!(response.batch_item_failures.is_empty());
    assert!(OrderStore::get(&store, forged).await.unwrap().is_none());
}

/// The events topic, unreachable for as long as the test lasts.
struct Unreachable;

#[async_trait::async_trait]
impl domain::ports::EventPublisher for Unreachable {
    async fn publish(&self, _: &domain::order::OrderEvent) -> Result<(), domain::PortError> {
        Err(domain::PortError::Transient(
            "SNS: ServiceUnavailable".to_owned(),
        ))
    }
}

/// A valid order that keeps failing is retried, and on its last receive dead-lettered by the
/// processor with the reason (SQS's own redrive would move it bare).
#[tokio::test]
async fn a_valid_order_failing_on_its_last_receive_is_dead_lettered_with_its_reason() {
    let (mut app, _store, bus) = setup().await;
    app.events = Arc::new(Unreachable);
    let (_, body) = placed("alice", "pizza", 1);

    let response = handle(&app, received(&[&body], 4)).await;
    assert_eq!(
        response.batch_item_failures.len(),
        1,
        "retried before its last receive"
    );
    assert!(bus.dead_letters().unwrap().is_empty());

    let response = handle(&app, received(&[&body], 5)).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "not left to the queue's redrive"
    );
    let dead = bus.dead_letters().unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, body);
    assert!(
        dead[0].reason.starts_with("gave up after 5 receives: "),
        "{}",
        dead[0].reason
    );
    assert!(
        dead[0].reason.contains("ServiceUnavailable"),
        "{}",
        dead[0].reason
    );
}

/// The events topic, keeping the trace header each event was published in.
#[derive(Default)]
struct TraceRecorder(std::sync::Mutex<Vec<(OrderId, Option<String>)>>);

#[async_trait::async_trait]
impl domain::ports::EventPublisher for TraceRecorder {
    async fn publish(&self, event: &domain::order::OrderEvent) -> Result<(), domain::PortError> {
        let trace = telemetry::trace::current();
        self.0.lock().unwrap().push((event.order.id, trace));
        Ok(())
    }
}

/// Each order's event goes out in the trace its message carried (SQS's `AWSTraceHeader`, the
/// sender's: `place-order`'s), not in the batch's; a message without one stays in the
/// invocation's.
#[tokio::test]
async fn each_order_s_event_is_published_in_the_trace_its_message_carried() {
    let (mut app, _store, _bus) = setup().await;
    let recorder = Arc::new(TraceRecorder::default());
    app.events = recorder.clone();
    let (first, one) = placed("alice", "pizza", 1);
    let (second, two) = placed("bob", "pizza", 1);
    let mut event = sqs_event(&[&one, &two]);
    let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    event.records[0]
        .attributes
        .insert("AWSTraceHeader".to_owned(), header.to_owned());
    let response = handle(&app, event).await;
    assert!(response.batch_item_failures.is_empty());
    let mut published = recorder.0.lock().unwrap().clone();
    published.sort_by_key(|(id, _)| *id != first);
    assert_eq!(
        published,
        vec![(first, Some(header.to_owned())), (second, None)]
    );
}
