//! The order pipeline through `delivery-local`: place → queue → process
//! → event → SMS → dispatched, as a client sees it over HTTP.

use std::time::{Duration, Instant};

use crate::common::Server;
use serde_json::{Value, json};

fn order_body(product: &str, quantity: u32) -> String {
    json!({"items": [{"product_id": product, "quantity": quantity}],
           "delivery": {"address": "742 Evergreen Terrace, Springfield", "phone": "+15551234567"}})
    .to_string()
}

/// Polls until `check` returns a value, for at most 60 s.
fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn final_order(s: &Server, token: &str, id: &str) -> Value {
    eventually(&format!("order {id} to be settled"), || {
        let r = s.call("GET", &format!("/orders/{id}"), Some(token), None, &[]);
        (r.status == 200 && r.json["status"] != "accepted").then_some(r.json)
    })
}

fn sms_for(s: &Server, id: &str) -> Vec<Value> {
    let r = s.call("GET", "/_local/sms", None, None, &[]);
    r.json
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["order_id"] == id)
        .cloned()
        .collect()
}

fn stock(s: &Server, token: &str, product: &str) -> u64 {
    s.call(
        "GET",
        &format!("/products/{product}"),
        Some(token),
        None,
        &[],
    )
    .json["stock"]
        .as_u64()
        .unwrap()
}

#[test]
fn an_order_goes_queued_accepted_dispatched_with_exactly_one_sms() {
    let s = Server::start();
    let alice = s.customer();
    let r = s.call(
        "POST",
        "/orders",
        Some(&alice),
        Some(&order_body("pizza-pepperoni", 2)),
        &[],
    );
    assert_eq!(r.status, 202, "{}", r.json);
    let id = r.json["order_id"].as_str().unwrap().to_owned();
    assert_eq!(r.header("location"), format!("/orders/{id}"));
    assert_eq!(
        (r.json["status"].as_str(), &r.json["total"]),
        (
            Some("queued"),
            &json!({"amount": "28.00", "currency": "USD"})
        )
    );

    let order = final_order(&s, &alice, &id);
    assert_eq!(order["status"], "dispatched", "{order}");
    assert_eq!(order["customer_id"], "alice");
    assert!(order["carrier"]["id"].is_string() && order["dispatched_at"].is_string());
    assert_eq!(
        order["total"],
        json!({"amount": "28.00", "currency": "USD"})
    );
    // Where the order spent its time: every step reached, each no earlier than the one before
    // (to the millisecond: SNS's publish time, which announced_at is, has no finer grain).
    let steps = [
        "placed_at",
        "recorded_at",
        "announced_at",
        "texted_at",
        "dispatched_at",
    ];
    let times: Vec<i64> = steps
        .iter()
        .map(|step| {
            let at = order["timeline"][step]
                .as_str()
                .unwrap_or_else(|| panic!("{step}: {order}"));
            at.parse::<chrono::DateTime<chrono::Utc>>()
                .unwrap()
                .timestamp_millis()
        })
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "{}",
        order["timeline"]
    );
    assert_eq!(order["timeline"]["dispatched_at"], order["dispatched_at"]);
    let sms = eventually("the SMS", || {
        let sms = sms_for(&s, &id);
        (!sms.is_empty()).then_some(sms)
    });
    s.drained();
    assert_eq!(sms_for(&s, &id).len(), 1, "exactly one SMS");
    let text = sms[0]["message"].as_str().unwrap();
    assert!(
        text.contains(&id)
            && text.contains("2 items")
            && text.contains("28.00 USD")
            && text.contains("742 Evergreen"),
        "{text}"
    );
    assert!(text.chars().count() <= 160);
    assert!(sms[0]["to"].as_str().unwrap().starts_with("+1555010000"));

    // The customer's list, newest first; another customer cannot see it at all.
    let r = s.call(
        "POST",
        "/orders",
        Some(&alice),
        Some(&order_body("tiramisu", 1)),
        &[],
    );
    let second = r.json["order_id"].as_str().unwrap().to_owned();
    final_order(&s, &alice, &second);
    let list = s.call("GET", "/orders?limit=10", Some(&alice), None, &[]);
    let ids: Vec<&str> = list.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [second.as_str(), id.as_str()]);
    let bob = s.token_args(&["--sub", "bob", "--scope", "orders:read orders:write"]);
    assert_eq!(
        s.call("GET", &format!("/orders/{id}"), Some(&bob), None, &[])
            .status,
        404
    );
    assert_eq!(
        s.call("GET", "/orders/not-an-id", Some(&bob), None, &[])
            .status,
        404
    );
    assert!(
        s.call("GET", "/orders", Some(&bob), None, &[]).json["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn the_same_idempotency_key_makes_one_order_and_one_decrement() {
    let s = Server::start();
    let alice = s.customer();
    let before = stock(&s, &alice, "calzone");
    let key = [("idempotency-key", "checkout-42")];
    let first = s.call(
        "POST",
        "/orders",
        Some(&alice),
        Some(&order_body("calzone", 3)),
        &key,
    );
    let second = s.call(
        "POST",
        "/orders",
        Some(&alice),
        Some(&order_body("calzone", 3)),
        &key,
    );
    assert_eq!((first.status, second.status), (202, 202));
    assert_eq!(first.json, second.json, "the first answer, again");
    // The same key with another basket: refused, and nothing enqueued.
    let other = s.call(
        "POST",
        "/orders",
        Some(&alice),
        Some(&order_body("calzone", 5)),
        &key,
    );
    assert_eq!(other.status, 422, "{}", other.json);
    assert_eq!(other.json["type"], "/problems/idempotency-key-reused");
    let id = first.json["order_id"].as_str().unwrap();
    assert_eq!(final_order(&s, &alice, id)["status"], "dispatched");
    s.drained();
    assert_eq!(stock(&s, &alice, "calzone"), before - 3, "one decrement");
    assert_eq!(sms_for(&s, id).len(), 1, "one SMS");
    assert_eq!(
        s.call("GET", "/orders?limit=100", Some(&alice), None, &[])
            .json["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Another customer with the same key is another order.
    let bob = s.token_args(&["--sub", "bob", "--scope", "orders:read orders:write"]);
    let theirs = s.call(
        "POST",
        "/orders",
        Some(&bob),
        Some(&order_body("calzone", 1)),
        &key,
    );
    assert_ne!(theirs.json["order_id"], first.json["order_id"]);
    // Bad keys are 400 naming the header.
    let long = "k".repeat(129);
    let r = s.call(
        "POST",
        "/orders",
        Some(&alice),
        Some(&order_body("calzone", 1)),
        &[("idempotency-key", long.as_str())],
    );
    assert_eq!(
        (r.status, r.fields()),
        (400, vec!["Idempotency-Key".to_owned()])
    );
}

#[test]
fn placing_validates_like_a_bill() {
    let s = Server::start();
    let alice = s.customer();
    let r = s.call(
        "POST",
        "/orders",
        Some(&alice),
        Some(&order_body("ghost", 1)),
        &[],
    );
    assert_eq!(
        (r.status, r.fields()),
        (422, vec!["items[0].product_id".to_owned()])
    );
    let r = s.call(
        "POST",
        "/orders",
        Some(&alice),
        Some(&order_body("tiramisu", 31)),
        &[],
    );
    assert_eq!(
        (r.status, r.fields()),
        (422, vec!["items[0].quantity".to_owned()])
    );
    let bad = json!({"items": [{"product_id": "tiramisu", "quantity": 1}], "delivery": {"address": "", "phone": "12"}}).to_string();
    let r = s.call("POST", "/orders", Some(&alice), Some(&bad), &[]);
    assert_eq!(
        (r.status, r.fields()),
        (
            400,
            vec!["delivery.address".to_owned(), "delivery.phone".to_owned()]
        )
    );
    let reader = s.token_args(&["--sub", "carol", "--scope", "products:read orders:read"]);
    assert_eq!(
        s.call(
            "POST",
            "/orders",
            Some(&reader),
            Some(&order_body("tiramisu", 1)),
            &[]
        )
        .status,
        403
    );
}

#[test]
fn the_oversell_race_accepts_exactly_the_stock() {
    let s = Server::start();
    let acme = s.company("acme");
    let body = json!({"name": "Limited edition", "price": {"amount": "5.00", "currency": "USD"}, "stock": 20}).to_string();
    assert_eq!(
        s.call("PUT", "/products/limited", Some(&acme), Some(&body), &[])
            .status,
        201
    );
    let tokens: Vec<String> = (0..35)
        .map(|i| {
            s.token_args(&[
                "--sub",
                &format!("buyer-{i}"),
                "--scope",
                "orders:write orders:read",
            ])
        })
        .collect();
    let placed: Vec<(String, String)> = std::thread::scope(|scope| {
        let handles: Vec<_> = tokens
            .iter()
            .map(|t| {
                let s = &s;
                scope.spawn(move || {
                    let r = s.call(
                        "POST",
                        "/orders",
                        Some(t),
                        Some(&order_body("limited", 1)),
                        &[],
                    );
                    assert_eq!(r.status, 202, "{}", r.json);
                    (t.clone(), r.json["order_id"].as_str().unwrap().to_owned())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let finals: Vec<Value> = placed
        .iter()
        .map(|(t, id)| final_order(&s, t, id))
        .collect();
    let dispatched = finals
        .iter()
        .filter(|o| o["status"] == "dispatched")
        .count();
    let out_of_stock = finals
        .iter()
        .filter(|o| o["status"] == "rejected" && o["reason"] == "out_of_stock")
        .count();
    assert_eq!((dispatched, out_of_stock), (20, 15));
    assert_eq!(stock(&s, &acme, "limited"), 0);
    let texted = eventually("20 SMS", || {
        let n = s
            .call("GET", "/_local/sms", None, None, &[])
            .json
            .as_array()
            .unwrap()
            .len();
        (n >= 20).then_some(n)
    });
    assert_eq!(texted, 20);
}
