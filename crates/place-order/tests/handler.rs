//! `place-order` fed API Gateway REST (v1) events over the real DynamoDB adapter (dynoxide)
//! and the embedded bus: a retry's answer, the quote the message carries, and the hourly
//! limit of orders per principal.

use std::sync::Arc;

use async_trait::async_trait;
use bus_embedded::{Bus, ORDERS};
use composition::Adapters;
use domain::order::{Order, OrderPlaced};
use domain::ports::{KeyUse, KeyUses, Remembered};
use domain::rate::{OrderRate, OrderWindow};
use domain::{CustomerId, Money, OrderId, PortError, ProductId};
use http_kit::{Cors, Endpoint};
use place_order::PlaceOrder;
use serde_json::{Value, json};
use test_support::{adapters, parts, principal, product, request};

struct World {
    adapters: Adapters,
    bus: Bus,
}

async fn world() -> World {
    let (adapters, bus) = adapters().await;
    let catalog = adapters.catalog().await.unwrap();
    catalog
        .save(&product("pizza", "acme", 1000, 100), None)
        .await
        .unwrap();
    World { adapters, bus }
}

impl World {
    async fn app(&self, per_hour: Option<&str>) -> PlaceOrder {
        PlaceOrder {
            catalog: self.adapters.catalog().await.unwrap(),
            orders: self.adapters.order_store().await.unwrap(),
            queue: self.adapters.order_queue().await.unwrap(),
            key_uses: self.adapters.key_uses().await.unwrap(),
            rate: per_hour.map(|n| OrderRate::parse(n).unwrap()),
        }
    }

    /// The pizza's price and stock changed by its company.
    async fn pizza_now(&self, minor: i64, stock: u32) {
        let catalog = self.adapters.catalog().await.unwrap();
        let current = catalog
            .get(&ProductId::parse("pizza").unwrap())
            .await
            .unwrap()
            .unwrap();
        let mut next = current.clone();
        next.price = Money::from_minor(minor, next.price.currency());
        next.stock = stock;
        next.version += 1;
        catalog.save(&next, Some(current.version)).await.unwrap();
    }

    /// The messages on the orders queue, parsed.
    fn queued(&self) -> Vec<OrderPlaced> {
        self.bus
            .receive(ORDERS, 10)
            .unwrap()
            .iter()
            .map(|m| OrderPlaced::parse(&m.body).unwrap().0)
            .collect()
    }
}

fn endpoint(app: PlaceOrder) -> Endpoint<PlaceOrder> {
    Endpoint::new(app, Cors::new(vec!["*".into()]))
}

async fn app(per_hour: &str) -> Endpoint<PlaceOrder> {
    let world = world().await;
    endpoint(world.app(Some(per_hour)).await)
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

#[tokio::test]
async fn a_retry_after_the_order_took_the_last_stock_gets_its_first_answer() {
    let world = world().await;
    world.pizza_now(1000, 1).await;
    let app = endpoint(world.app(None).await);
    let (status, _, first) = place(&app, "alice", &order(1), Some("k")).await;
    assert_eq!(status, 202, "{first}");
    // The order is accepted: its stock is taken. The client, its answer lost, retries.
    world.pizza_now(1000, 0).await;
    let (status, _, again) = place(&app, "alice", &order(1), Some("k")).await;
    assert_eq!(
        status, 202,
        "the retry of an accepted order is no 422: {again}"
    );
    assert_eq!(again, first);
    // Its message is sent again, the very same (the first attempt may have died before).
    let sent = world.queued();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0], sent[1]);
}

#[tokio::test]
async fn the_message_carries_the_quote_of_the_answer() {
    let world = world().await;
    let app = endpoint(world.app(None).await);
    let (status, _, answer) = place(&app, "alice", &order(2), Some("k")).await;
    assert_eq!(status, 202);
    assert_eq!(
        answer["total"],
        json!({"amount": "20.00", "currency": "USD"})
    );
    // The price changes; a retry is answered, and sent, at the first quote.
    world.pizza_now(9900, 100).await;
    let (_, _, again) = place(&app, "alice", &order(2), Some("k")).await;
    assert_eq!(again["total"], answer["total"]);
    for message in world.queued() {
        assert_eq!(message.version, 2);
        let quote = message.quote.expect("a quote");
        assert_eq!(quote.total.amount_string(), "20.00");
        assert_eq!(quote.unit_prices[0].amount_string(), "10.00");
    }
}

/// The key uses of a day gone by: nothing is remembered any more.
struct Forgetful(Arc<dyn KeyUses>);

#[async_trait]
impl KeyUses for Forgetful {
    async fn remember(&self, key_use: &KeyUse) -> Result<Remembered, PortError> {
        let _kept = self.0.remember(key_use).await?;
        Ok(Remembered::First)
    }
    async fn recall(&self, _: OrderId) -> Result<Option<KeyUse>, PortError> {
        Ok(None)
    }
    async fn count_order(
        &self,
        principal: &CustomerId,
        order: OrderId,
        window: &OrderWindow,
    ) -> Result<bool, PortError> {
        self.0.count_order(principal, order, window).await
    }
}

#[tokio::test]
async fn a_key_names_its_order_as_long_as_the_order_exists() {
    let world = world().await;
    let mut app = world.app(None).await;
    app.key_uses = Arc::new(Forgetful(app.key_uses.clone()));
    let app = endpoint(app);
    let (status, _, first) = place(&app, "alice", &order(2), Some("k")).await;
    assert_eq!(status, 202);
    // The processor records it; a day later the key's use is forgotten.
    let (placed, basket) =
        OrderPlaced::parse(&world.bus.receive(ORDERS, 1).unwrap()[0].body).unwrap();
    let catalog = world.adapters.catalog().await.unwrap();
    let products = catalog.get_many(&basket.product_ids()).await.unwrap();
    let by_id = products.into_iter().map(|p| (p.id.clone(), p)).collect();
    let orders = world.adapters.order_store().await.unwrap();
    orders
        .record(&Order::decide(&placed, &basket, &by_id))
        .await
        .unwrap();

    // The same key with another basket: refused, never queued as a new order for the old id.
    let (status, _, problem) = place(&app, "alice", &order(3), Some("k")).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["type"], "/problems/idempotency-key-reused");
    // The same request again, after the price changed: its first answer, from the order as
    // recorded, never priced again.
    world.pizza_now(1500, 100).await;
    let (status, _, again) = place(&app, "alice", &order(2), Some("k")).await;
    assert_eq!((status, again), (202, first));
}

/// A concurrent request with the same key got there first: the lookup saw no use, and
/// remembering finds this one (kept, as an old use was, without its message).
struct RaceLost(KeyUse);

#[async_trait]
impl KeyUses for RaceLost {
    async fn remember(&self, _: &KeyUse) -> Result<Remembered, PortError> {
        Ok(Remembered::Before(self.0.clone()))
    }
    async fn recall(&self, _: OrderId) -> Result<Option<KeyUse>, PortError> {
        Ok(None)
    }
    async fn count_order(
        &self,
        _: &CustomerId,
        _: OrderId,
        _: &OrderWindow,
    ) -> Result<bool, PortError> {
        Ok(true)
    }
}

#[tokio::test]
async fn losing_the_race_for_a_key_answers_as_the_winner_did() {
    let world = world().await;
    let first = endpoint(world.app(None).await);
    let (status, _, answer) = place(&first, "alice", &order(2), Some("k")).await;
    assert_eq!(status, 202);
    let won = world.queued();
    let order_id = OrderId::parse(answer["order_id"].as_str().unwrap()).unwrap();
    let key_uses = world.adapters.key_uses().await.unwrap();
    let winner = key_uses.recall(order_id).await.unwrap().unwrap();

    let mut app = world.app(None).await;
    app.key_uses = Arc::new(RaceLost(KeyUse {
        message: None,
        ..winner
    }));
    let app = endpoint(app);
    // The same request: the winner's answer, and a message for the order (its own, since the
    // winner's use kept none).
    let (status, _, again) = place(&app, "alice", &order(2), Some("k")).await;
    assert_eq!((status, &again), (202, &answer));
    let queued = world.queued();
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(queued[0].order_id, won[0].order_id);
    // Another request with that key: refused.
    let (status, _, problem) = place(&app, "alice", &order(3), Some("k")).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["type"], "/problems/idempotency-key-reused");
}

/// The orders queue refusing the first sends of each message, as SQS reports a batch entry
/// it failed (`transient`: a service fault, worth a retry; else the sender's, which is not).
struct Refusing {
    queue: Arc<dyn domain::ports::OrderQueue>,
    transient: bool,
    refusals: std::sync::atomic::AtomicUsize,
    calls: std::sync::atomic::AtomicUsize,
}

#[async_trait]
impl domain::ports::OrderQueue for Refusing {
    async fn send_batch(
        &self,
        messages: &[domain::ports::OutgoingMessage],
    ) -> Result<Vec<domain::ports::SendFailure>, PortError> {
        use std::sync::atomic::Ordering::SeqCst;
        self.calls.fetch_add(1, SeqCst);
        if self.refusals.load(SeqCst) > 0 {
            self.refusals.fetch_sub(1, SeqCst);
            return Ok(vec![domain::ports::SendFailure {
                id: messages[0].id.clone(),
                reason: "InternalError: try again".into(),
                transient: self.transient,
            }]);
        }
        self.queue.send_batch(messages).await
    }
    async fn dead_letter(&self, body: &str, reason: &str) -> Result<(), PortError> {
        self.queue.dead_letter(body, reason).await
    }
}

#[tokio::test]
async fn a_refused_send_is_retried_only_when_the_refusal_is_transient() {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    for (transient, status, calls, queued) in [(true, 202, 3, 1), (false, 500, 1, 0)] {
        let world = world().await;
        let mut app = world.app(None).await;
        let refusing = Arc::new(Refusing {
            queue: app.queue.clone(),
            transient,
            refusals: AtomicUsize::new(2),
            calls: AtomicUsize::new(0),
        });
        app.queue = refusing.clone();
        let app = endpoint(app);
        let (got, _, body) = place(&app, "alice", &order(1), None).await;
        assert_eq!(got, status, "transient {transient}: {body}");
        assert_eq!(refusing.calls.load(SeqCst), calls, "transient {transient}");
        assert_eq!(world.queued().len(), queued);
    }
}
