//! Rehearsals under the faults AWS shows (docs/rehearsal.md), each alone and all at once (`default`): the
//! `simulate` command finds every invariant holding, computed from the stores (no valid order
//! lost, stuck or dead-lettered, stock conserved and never oversold, one SMS per dispatched
//! order), and `GET /_local/faults` shows the fault was injected. A `kill -9` in the middle of
//! a rehearsal under faults loses nothing either.

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{BIN, Server};
use serde_json::{Value, json};

/// Invocations of 3 s: short, so that failed messages come back quickly, yet long enough that
/// a machine busy with a dozen servers at once (the test binary runs them in parallel on two
/// cores) does not cut healthy invocations short, which would leave SMS outcomes unknown and
/// valid orders dead-lettered for no fault of the code. (At 1 s, a loaded run saw both.)
fn serve(faults: &str) -> Server {
    serve_with_invocations_of(faults, "3")
}

/// A server with `faults` whose queued invocations last (and whose failed messages come back
/// after) `seconds`.
fn serve_with_invocations_of(faults: &str, seconds: &str) -> Server {
    let flags = [
        "--faults",
        faults,
        "--faults-seed",
        "42",
        "--visibility-timeout",
        seconds,
    ];
    Server::start_in(tempfile::tempdir().unwrap(), &flags)
}

/// Runs `simulate` against a server with `faults`; its output and what was injected.
fn rehearse(faults: &str, orders: u32) -> (String, Value) {
    rehearse_on(serve(faults), faults, orders)
}

fn rehearse_on(server: Server, faults: &str, orders: u32) -> (String, Value) {
    let orders = orders.to_string();
    let args = [
        "--orders",
        &orders,
        "--invalid-ratio",
        "0.05",
        "--seed",
        "5",
    ];
    let stdout = simulate_on(&server, faults, &args);
    let injected = server.call("GET", "/_local/faults", None, None, &[]).json;
    (stdout, injected["injected"].clone())
}

/// Runs `simulate` with `args` against `server` (a rehearsal named `what`): it must pass, every
/// invariant holding. Its output.
fn simulate_on(server: &Server, what: &str, args: &[&str]) -> String {
    let port = server.base.rsplit(':').next().unwrap().to_owned();
    let out = Command::new(BIN)
        .arg("simulate")
        .args(args)
        .args(["--port", &port, "--data-dir"])
        .arg(server.dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!stdout.contains("FAILED"), "{what}: {stdout}");
    stdout
}

fn alone(fault: &str) -> String {
    let (stdout, injected) = rehearse(&format!("{fault}=0.25"), 200);
    assert!(
        injected[fault].as_u64().unwrap() > 0,
        "{fault} was never injected: {injected}"
    );
    stdout
}

#[test]
fn transaction_conflicts_never_oversell() {
    // The demo stock runs out within these orders: hot products, conflicting transactions.
    let stdout = alone("dynamodb.conflict");
    assert!(stdout.contains("[ok] stock conserved"), "{stdout}");
}

#[test]
fn throttled_dynamodb() {
    alone("dynamodb.throttle");
}

#[test]
fn dynamodb_errors_after_the_write() {
    alone("dynamodb.error");
}

#[test]
fn failed_send_entries() {
    alone("sqs.send");
}

#[test]
fn duplicate_deliveries_send_no_second_sms() {
    let stdout = alone("sqs.duplicate");
    assert!(stdout.contains(": 0 repeated, 0 windows"), "{stdout}");
}

/// Calls that answer nothing until the SDK's timeout, their outcome unknown: a stalled SMS may
/// have gone out, and its order be texted again, but only within the windows the layer counted.
#[test]
fn stalled_calls() {
    let stalls = ["dynamodb.stall", "sqs.stall", "sns.stall", "sms.stall"];
    let faults = "dynamodb.stall=0.01,sqs.stall=0.05,sns.stall=0.05,sms.stall=0.3";
    // As in Lambda, an invocation outlasts a stalled call (the SDK's 5 s operation timeout).
    let server = serve_with_invocations_of(faults, "6");
    let (stdout, injected) = rehearse_on(server, faults, 100);
    for stall in stalls {
        assert!(injected[stall].as_u64().unwrap() > 0, "{stall}: {injected}");
    }
    assert!(
        stdout.contains("[ok] an SMS repeated only where its outcome was unknown"),
        "{stdout}"
    );
}

#[test]
fn throttled_topic() {
    alone("sns.publish");
}

#[test]
fn failed_sms() {
    alone("sms.fail");
}

#[test]
fn crashed_invocations() {
    alone("lambda.crash");
}

#[test]
fn timed_out_invocations() {
    alone("lambda.timeout");
}

#[test]
fn a_bad_day() {
    let (stdout, injected) = rehearse("default", 600);
    let total: u64 = injected
        .as_object()
        .unwrap()
        .values()
        .filter_map(Value::as_u64)
        .sum();
    assert!(total > 0, "{injected}");
    assert!(stdout.contains("Invariants, from the stores"), "{stdout}");
}

#[test]
fn kill_9_mid_rehearsal_under_faults_loses_nothing() {
    let server = serve("default");
    let stock_before: HashMap<String, i64> =
        serde_json::from_value(server.local("/_local/stock")).unwrap();
    let ops = server.token_args(&["--sub", "ops", "--scope", "simulations:run"]);
    let body = json!({"orders": 800, "invalid_ratio": 0.02, "seed": 11}).to_string();
    let r = server.call("POST", "/simulations", Some(&ops), Some(&body), &[]);
    assert_eq!(r.status, 202, "{}", r.json);
    let ids: Vec<String> = serde_json::from_value(r.json["order_ids"].clone()).unwrap();
    // Killed mid-flight: once the first orders are recorded, with most still queued.
    let started = Instant::now();
    while server
        .local("/_local/orders")
        .as_array()
        .unwrap()
        .is_empty()
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no order was ever recorded"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let server = Server::start_in(
        server.kill_9(),
        &["--faults", "default", "--visibility-timeout", "2"],
    );
    server.drained();

    let orders: Vec<Value> = serde_json::from_value(server.local("/_local/orders")).unwrap();
    let by_id: HashMap<&str, &Value> = orders
        .iter()
        .map(|o| (o["id"].as_str().unwrap(), o))
        .collect();
    let mut reserved: HashMap<String, i64> = HashMap::new();
    let mut dispatched = Vec::new();
    for id in &ids {
        let order = by_id
            .get(id.as_str())
            .unwrap_or_else(|| panic!("order {id} lost"));
        assert_ne!(order["status"], "accepted", "order {id} stuck");
        if order["status"] == "dispatched" {
            dispatched.push(id.as_str());
            for line in order["lines"].as_array().unwrap() {
                *reserved
                    .entry(line["product_id"].as_str().unwrap().to_owned())
                    .or_default() += line["quantity"].as_i64().unwrap();
            }
        }
    }
    let stock_after: HashMap<String, i64> =
        serde_json::from_value(server.local("/_local/stock")).unwrap();
    for (product, before) in &stock_before {
        let sold = reserved.get(product).copied().unwrap_or(0);
        assert_eq!(stock_after[product], before - sold, "stock of {product}");
    }
    let sms = server.local("/_local/sms");
    let texted: Vec<&str> = sms
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["order_id"].as_str().unwrap())
        .collect();
    for id in dispatched {
        assert!(texted.contains(&id), "dispatched order {id} has no SMS");
    }
    // A valid order may leave a dead letter behind only if it was handled anyway (its last
    // delivery finished past its invocation's timeout, as `simulate` counts it), never instead.
    let dead = server.local("/_local/dlq");
    for letter in dead.as_array().unwrap() {
        let body = letter["body"].as_str().unwrap();
        if let Some(id) = ids.iter().find(|id| body.contains(id.as_str())) {
            let status = &by_id[id.as_str()]["status"];
            assert!(
                status == "dispatched" || status == "rejected",
                "a valid order, {status}, is in the DLQ: {letter}"
            );
        }
    }
}

/// A flash sale: every order for one product (stock 120, 150 ordered), whose item takes 50
/// write units a second (25 orders, the rehearsal's stand-in for DynamoDB's 1,000), on a bad
/// day. Throttled reservations are retried, the last 30 are refused as out of stock, and
/// nothing is lost or oversold; `GET /_local/faults` counts the refusals against the hot
/// product's item. (A sale that outlasts the retries, five receives of the visibility timeout
/// at the item's rate, sends orders to the DLQ: docs/rehearsal.md says when to shard.)
#[test]
fn a_flash_sale_past_the_item_write_limit_on_a_bad_day() {
    let flags = [
        "--faults",
        "default",
        "--faults-seed",
        "42",
        "--visibility-timeout",
        "3",
        "--item-write-limit",
        "50",
    ];
    let server = Server::start_in(tempfile::tempdir().unwrap(), &flags);
    let args = [
        "--orders",
        "150",
        "--seed",
        "5",
        "--hot",
        "pizza-margherita",
    ];
    simulate_on(&server, "a flash sale", &args);
    let limit = server.local("/_local/faults")["item_write_limit"].clone();
    assert_eq!(limit["units_per_second"], 50, "{limit}");
    let refused = limit["refused"].as_object().unwrap();
    assert!(
        refused["delivery-products/pizza-margherita"]
            .as_u64()
            .unwrap()
            > 0,
        "{limit}"
    );
}

/// The company's write of `body` to a product, retried while it is refused for the moment (a
/// sale's reservations keep moving the version; a bad day throttles and fails calls).
fn patch_until_written(server: &Server, token: &str, id: &str, body: &str) -> Value {
    for _ in 0..60 {
        let path = format!("/products/{id}");
        let reply = server.call("PATCH", &path, Some(token), Some(body), &[]);
        match reply.status {
            200 => return reply.json,
            429 | 500 | 502 | 503 | 504 => std::thread::sleep(Duration::from_millis(250)),
            other => panic!("PATCH {path}: {other} {}", reply.json),
        }
    }
    panic!("PATCH /products/{id} never went through");
}

/// A sale over 8 shards, the count lowered to 3 by the company while orders take from them
/// (every shard rewritten under the version check), on a bad day at the item write limit:
/// every invariant holds, the sum of the shards included, and only the hot product's items
/// were throttled.
#[test]
fn a_flash_sale_over_shards_whose_count_changes_mid_sale() {
    let flags = [
        "--faults",
        "default",
        "--faults-seed",
        "7",
        "--item-write-limit",
        "50",
    ];
    let server = Server::start_in(tempfile::tempdir().unwrap(), &flags);
    let acme = server.company("acme");
    let hot = "pizza-margherita";
    let body = r#"{"stock": 1000, "stock_shards": 8}"#;
    let sharded = patch_until_written(&server, &acme, hot, body);
    assert_eq!(sharded["stock_shards"], 8, "{sharded}");
    let args = ["--orders", "600", "--seed", "9", "--hot", hot];
    let lowered = std::thread::scope(|scope| {
        let company = scope.spawn(|| {
            // Once the sale is under way: the stock is moving.
            let path = format!("/products/{hot}");
            while server.call("GET", &path, Some(&acme), None, &[]).json["stock"] == 1000 {
                std::thread::sleep(Duration::from_millis(20));
            }
            patch_until_written(&server, &acme, hot, r#"{"stock_shards": 3}"#)
        });
        simulate_on(&server, "a sharded flash sale", &args);
        company.join().unwrap()
    });
    // Written mid-sale: orders had taken some stock, and took more after.
    let left = server.call("GET", &format!("/products/{hot}"), Some(&acme), None, &[]);
    let (at_change, after) = (
        lowered["stock"].as_u64().unwrap(),
        left.json["stock"].as_u64().unwrap(),
    );
    assert!(
        after < at_change && at_change < 1000,
        "{after} < {at_change} < 1000"
    );
    assert_eq!(
        (
            lowered["stock_shards"].as_u64(),
            left.json["stock_shards"].as_u64()
        ),
        (Some(3), Some(3))
    );
    let limit = server.local("/_local/faults")["item_write_limit"].clone();
    for item in limit["refused"].as_object().unwrap().keys() {
        assert!(
            item.starts_with(&format!("delivery-products/{hot}")),
            "{limit}"
        );
    }
}

/// A rehearsal that loses events between the topic and `notify-carrier` (`sns.lose`, which no
/// retry can see): the reconciler, run every second and announcing again any order accepted
/// two seconds ago and not dispatched, heals every loss. `simulate` waits for it, and finds
/// every accepted order dispatched, one SMS each; the reconciler's calls are the ones its
/// role grants.
#[test]
fn events_lost_after_the_topic_are_healed_by_the_reconciler() {
    let flags = [
        "--faults",
        "sns.lose=0.1",
        "--faults-seed",
        "42",
        "--reconcile-every",
        "1",
        "--reconcile-after",
        "2",
    ];
    let server = Server::start_in(tempfile::tempdir().unwrap(), &flags);
    let args = ["--orders", "150", "--seed", "5"];
    let stdout = simulate_on(&server, "lost events", &args);
    assert!(
        stdout.contains("none stuck: 0 accepted but not dispatched"),
        "{stdout}"
    );
    let injected = server.local("/_local/faults")["injected"].clone();
    assert!(injected["sns.lose"].as_u64().unwrap() > 0, "{injected}");
    let calls = server.assert_calls_granted();
    let reconciler = &calls["reconciler"];
    assert!(
        reconciler.contains(&(
            "dynamodb:Query".to_owned(),
            "orders/index/awaiting_dispatch".to_owned()
        )),
        "{reconciler:?}"
    );
}
