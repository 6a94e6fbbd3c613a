//! Simulations through `delivery-local`: malformed orders land
//! in the DLQ with their reasons; a `kill -9` after the simulation was acknowledged loses no
//! order, and stock is conserved.

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{BIN, Server};
use serde_json::{Value, json};

fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn ops(s: &Server) -> String {
    s.token_args(&[
        "--sub",
        "ops",
        "--scope",
        "products:read orders:read simulations:run",
    ])
}

/// Waits until both queues are empty and nothing is in flight.
fn drained(s: &Server) -> Value {
    eventually("the queues to drain", || {
        let stats = s.call("GET", "/_local/stats", None, None, &[]).json;
        let busy = |q: &str| {
            stats[q]["visible"].as_u64().unwrap_or(1) + stats[q]["in_flight"].as_u64().unwrap_or(1)
        };
        (busy("orders_queue") == 0 && busy("notifications_queue") == 0).then_some(stats)
    })
}

fn stocks(s: &Server, token: &str) -> HashMap<String, i64> {
    let items = s
        .call("GET", "/products?limit=100", Some(token), None, &[])
        .json["items"]
        .clone();
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().to_owned(),
                p["stock"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// Every recorded order of the simulated customers.
fn simulated_orders(s: &Server) -> Vec<Value> {
    let mut orders = Vec::new();
    for i in 0..50 {
        let token = s.token_args(&["--sub", &format!("sim-{i}"), "--scope", "orders:read"]);
        let mut path = "/orders?limit=100".to_owned();
        loop {
            let page = s.call("GET", &path, Some(&token), None, &[]).json;
            orders.extend(page["items"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => path = format!("/orders?limit=100&cursor={c}"),
                None => break,
            }
        }
    }
    orders
}

#[test]
fn exactly_the_invalid_orders_land_in_the_dlq_with_reasons() {
    let s = Server::start();
    let token = ops(&s);
    let body = json!({"orders": 300, "invalid_ratio": 0.1, "seed": 7}).to_string();
    let r = s.call("POST", "/simulations", Some(&token), Some(&body), &[]);
    assert_eq!(
        (r.status, &r.json["enqueued"], &r.json["invalid"]),
        (202, &json!(300), &json!(30))
    );
    assert_eq!(r.json["order_ids"].as_array().unwrap().len(), 270);
    let stats = drained(&s);
    let dlq = s.call("GET", "/_local/dlq", None, None, &[]).json;
    let dead = dlq.as_array().unwrap();
    assert_eq!(dead.len(), 30, "{stats}");
    assert!(
        dead.iter()
            .all(|d| d["queue"] == "orders" && !d["reason"].as_str().unwrap().is_empty())
    );
    let reasons: std::collections::HashSet<&str> = dead
        .iter()
        .map(|d| d["reason"].as_str().unwrap().split(':').next().unwrap())
        .collect();
    assert!(
        reasons.len() >= 4,
        "several kinds of malformed message: {reasons:?}"
    );
    let events = stats["events"]["accepted"].as_u64().unwrap()
        + stats["events"]["rejected"].as_u64().unwrap();
    assert_eq!(events, 270, "every valid order was recorded");
    // Redriven, malformed messages are dead-lettered again, never recorded.
    let r = s.call("POST", "/_local/dlq/redrive", None, None, &[]);
    assert_eq!(r.json["redriven"], 30);
    drained(&s);
    assert_eq!(
        s.call("GET", "/_local/dlq", None, None, &[])
            .json
            .as_array()
            .unwrap()
            .len(),
        30
    );
}

#[test]
fn kill_9_after_acknowledgement_loses_no_order_and_conserves_stock() {
    let s = Server::start();
    let token = ops(&s);
    let before = stocks(&s, &token);
    let body = json!({"orders": 1500, "invalid_ratio": 0.02, "seed": 99}).to_string();
    let r = s.call("POST", "/simulations", Some(&token), Some(&body), &[]);
    assert_eq!(
        (r.status, &r.json["enqueued"], &r.json["invalid"]),
        (202, &json!(1500), &json!(30))
    );
    // Acknowledged: now the process dies in the middle of processing.
    let dir = s.kill_9();
    let s = Server::start_in(dir, &[]);
    drained(&s);

    let orders = simulated_orders(&s);
    assert_eq!(
        orders.len(),
        1470,
        "every valid order acknowledged was recorded, once"
    );
    let dead = s.call("GET", "/_local/dlq", None, None, &[]).json;
    assert_eq!(
        dead.as_array()
            .unwrap()
            .iter()
            .filter(|d| d["queue"] == "orders")
            .count(),
        30
    );
    let mut sold: HashMap<String, i64> = HashMap::new();
    for order in orders.iter().filter(|o| o["status"] != "rejected") {
        for line in order["lines"].as_array().unwrap() {
            *sold
                .entry(line["product_id"].as_str().unwrap().to_owned())
                .or_default() += line["quantity"].as_i64().unwrap();
        }
    }
    let after = stocks(&s, &token);
    for (product, initial) in &before {
        let final_stock = after[product];
        assert!(final_stock >= 0);
        assert_eq!(
            initial - sold.get(product).copied().unwrap_or(0),
            final_stock,
            "stock of {product} is conserved"
        );
    }
    // Every accepted order was dispatched, with exactly one SMS each.
    assert!(
        orders.iter().all(|o| o["status"] != "accepted"),
        "all accepted orders were dispatched"
    );
    let dispatched = orders
        .iter()
        .filter(|o| o["status"] == "dispatched")
        .count();
    let sms = s
        .call("GET", "/_local/sms", None, None, &[])
        .json
        .as_array()
        .unwrap()
        .len();
    assert!(
        sms >= dispatched,
        "{sms} SMS for {dispatched} dispatched orders (an SMS may repeat after a kill -9, never be lost)"
    );
}

#[test]
fn the_simulate_command_reports_what_happened() {
    let s = Server::start();
    let port = s.base.rsplit(':').next().unwrap().to_owned();
    let out = Command::new(BIN)
        .args([
            "simulate",
            "--orders",
            "200",
            "--invalid-ratio",
            "0.05",
            "--seed",
            "1",
            "--port",
            &port,
            "--data-dir",
        ])
        .arg(s.dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("Simulated 200 orders (10 malformed)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("10 dead-lettered") && stdout.contains("orders/s"),
        "{stdout}"
    );
    // Against nothing, it says so instead of hanging.
    let out = Command::new(BIN)
        .args(["simulate", "--orders", "1", "--port", "1", "--data-dir"])
        .arg(s.dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot reach delivery-local"));
}
