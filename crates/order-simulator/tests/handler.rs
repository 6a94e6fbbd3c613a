//! `order-simulator` over the DynamoDB adapter (dynoxide) and the embedded queue: what it puts
//! on the queue is what the processor will accept or dead-letter.

use std::sync::Arc;

use bus_embedded::{Bus, EmbeddedQueue, ORDERS};
use domain::order::OrderPlaced;
use domain::ports::Catalog;
use http_kit::{Cors, Endpoint};
use order_simulator::Simulator;
use serde_json::json;
use test_support::{parts, principal, product, request, store};

async fn app() -> (Endpoint<Simulator>, Bus) {
    let store = store().await;
    for i in 0..6 {
        store
            .save(&product(&format!("p{i}"), "acme", 100, 1000), None)
            .await
            .unwrap();
    }
    let bus = Bus::memory().unwrap();
    let app = Simulator {
        catalog: Arc::new(store),
        queue: Arc::new(EmbeddedQueue {
            bus: bus.clone(),
            queue: ORDERS.name,
        }),
    };
    (Endpoint::new(app, Cors::new(vec!["*".into()])), bus)
}

fn drain(bus: &Bus) -> Vec<String> {
    let mut bodies = Vec::new();
    loop {
        let batch = bus.receive(ORDERS, 10).unwrap();
        if batch.is_empty() {
            return bodies;
        }
        for m in batch {
            bus.delete(&m.receipt).unwrap();
            bodies.push(m.body);
        }
    }
}

#[tokio::test]
async fn enqueues_exactly_the_requested_share_of_malformed_orders() {
    let (app, bus) = app().await;
    let ops = principal("ops", "simulations:run", None);
    let body = json!({"orders": 250, "invalid_ratio": 0.1, "seed": 42}).to_string();
    let response = app
        .call(request(
            "POST",
            "/simulations",
            "/simulations",
            ops,
            Some(&body),
            &[],
        ))
        .await;
    let (status, _, json) = parts(&response);
    assert_eq!(
        (status, &json["enqueued"], &json["invalid"]),
        (202, &json!(250), &json!(25))
    );
    let valid_ids = json["order_ids"].as_array().unwrap();
    assert_eq!(valid_ids.len(), 225);
    let bodies = drain(&bus);
    assert_eq!(bodies.len(), 250);
    let valid: Vec<OrderPlaced> = bodies
        .iter()
        .filter_map(|b| OrderPlaced::parse(b).ok().map(|(p, _)| p))
        .collect();
    assert_eq!(valid.len(), 225, "exactly the invalid ones are malformed");
    let mut enqueued_ids: Vec<String> = valid.iter().map(|o| o.order_id.to_string()).collect();
    let mut answered: Vec<String> = valid_ids
        .iter()
        .map(|id| id.as_str().unwrap().to_owned())
        .collect();
    enqueued_ids.sort();
    answered.sort();
    assert_eq!(answered, enqueued_ids, "the answer names the valid orders");
    assert!(
        valid
            .iter()
            .all(|o| o.customer_id.as_str().starts_with("sim-"))
    );
    let catalog_ids: Vec<_> = (0..6).map(|i| format!("p{i}")).collect();
    assert!(
        valid
            .iter()
            .flat_map(|o| &o.items)
            .all(|l| catalog_ids.contains(&l.product_id.to_string()))
    );
}

#[tokio::test]
async fn direct_invocation_and_refusals() {
    let (app, bus) = app().await;
    let outcome = app
        .function()
        .invoke(&json!({"orders": 12, "invalid_ratio": 0.5}))
        .await
        .unwrap();
    assert_eq!((outcome.enqueued, outcome.invalid), (12, 6));
    assert_eq!(drain(&bus).len(), 12);
    let refused = app.function().invoke(&json!({"orders": 0})).await;
    assert_eq!(http_kit::status(&refused.unwrap_err()), 400);
    let customer = principal("alice", "orders:write", None);
    let response = app
        .call(request(
            "POST",
            "/simulations",
            "/simulations",
            customer,
            Some("{\"orders\": 1}"),
            &[],
        ))
        .await;
    assert_eq!(parts(&response).0, 403);
}

#[tokio::test]
async fn a_sale_orders_one_product_one_at_a_time() {
    let (app, bus) = app().await;
    let outcome = app
        .function()
        .invoke(&json!({"orders": 40, "product": "p3", "seed": 7}))
        .await
        .unwrap();
    assert_eq!((outcome.enqueued, outcome.invalid), (40, 0));
    let orders: Vec<OrderPlaced> = drain(&bus)
        .iter()
        .map(|b| OrderPlaced::parse(b).unwrap().0)
        .collect();
    assert_eq!(orders.len(), 40);
    for order in &orders {
        let lines: Vec<(String, u32)> = order
            .items
            .iter()
            .map(|l| (l.product_id.to_string(), l.quantity))
            .collect();
        assert_eq!(lines, [("p3".to_owned(), 1)]);
    }

    // A product that is not on offer is refused, naming the field, and nothing is sent.
    let store = store().await;
    let mut hidden = product("hidden", "acme", 100, 5);
    hidden.available = false;
    store.save(&hidden, None).await.unwrap();
    let app = Simulator {
        catalog: Arc::new(store),
        queue: Arc::new(EmbeddedQueue {
            bus: bus.clone(),
            queue: ORDERS.name,
        }),
    };
    for id in ["hidden", "nowhere"] {
        let refused = order_simulator::simulate(
            app.catalog.as_ref(),
            app.queue.as_ref(),
            &order_simulator::Simulation::from_json(&json!({"orders": 3, "product": id})).unwrap(),
        )
        .await
        .unwrap_err();
        assert_eq!(http_kit::status(&refused), 422, "{id}");
        assert_eq!(
            http_kit::problem(&refused).errors.unwrap()[0].field,
            "product"
        );
    }
    assert!(drain(&bus).is_empty());
}
