//! From an order's 202 to its carrier's SMS, at fixed rates: orders placed through the API open
//! loop (`load`), the pipeline drained, then each order's timeline read from the stores
//! (`GET /_local/orders`: `placed_at`, `texted_at`). The same span as `OrderToSmsLatency`.

use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use crate::load;

/// One rate's run.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub rate: u32,
    pub placed: usize,
    pub refused: usize,
    /// Orders of the run whose SMS went out.
    pub texted: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Places orders of `basket` at `rate` for `duration` as `token`'s customer, waits for the
/// pipeline to drain, and measures the orders placed during the run.
pub async fn measure(
    url: &str,
    token: &str,
    basket: &Value,
    rate: u32,
    duration: Duration,
) -> Result<Row, String> {
    let target: SocketAddr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .map_err(|e| format!("{url}: {e}"))?;
    let request = load::Request {
        method: "POST",
        path: "/orders".to_owned(),
        headers: vec![
            ("authorization".to_owned(), format!("Bearer {token}")),
            ("content-type".to_owned(), "application/json".to_owned()),
        ],
        body: Some(basket.to_string()),
    };
    let started = Utc::now();
    let sent = load::run(target, &request, rate, duration).await;
    let local = url.to_owned();
    let orders = tokio::task::spawn_blocking(move || drained_orders(&local))
        .await
        .map_err(|e| e.to_string())??;
    let mut took: Vec<Duration> = orders
        .iter()
        .filter_map(|o| {
            let placed = time(&o["placed_at"])?;
            let texted = time(&o["texted_at"])?;
            (placed >= started).then(|| (texted - placed).to_std().unwrap_or_default())
        })
        .collect();
    took.sort();
    let ms = |d: Duration| (d.as_secs_f64() * 1e5).round() / 100.0;
    Ok(Row {
        rate,
        placed: sent.ok,
        refused: sent.errors,
        texted: took.len(),
        p50_ms: ms(crate::nearest_rank(&took, 0.50)),
        p99_ms: ms(crate::nearest_rank(&took, 0.99)),
        max_ms: ms(took.last().copied().unwrap_or_default()),
    })
}

fn time(value: &Value) -> Option<DateTime<Utc>> {
    value.as_str()?.parse().ok()
}

/// Every order as stored, once both queues have held nothing for three polls in a row.
fn drained_orders(url: &str) -> Result<Vec<Value>, String> {
    let get = |path: &str| -> Result<Value, String> {
        ureq::get(&format!("{url}{path}"))
            .call()
            .map_err(|e| format!("GET {path}: {e}"))?
            .body_mut()
            .read_json()
            .map_err(|e| format!("GET {path}: {e}"))
    };
    let mut quiet = 0;
    while quiet < 3 {
        let stats = get("/_local/stats")?;
        let busy: u64 = ["orders_queue", "notifications_queue"]
            .iter()
            .map(|q| {
                stats[q]["visible"].as_u64().unwrap_or(0)
                    + stats[q]["in_flight"].as_u64().unwrap_or(0)
            })
            .sum();
        quiet = if busy == 0 { quiet + 1 } else { 0 };
        std::thread::sleep(Duration::from_millis(100));
    }
    match get("/_local/orders")? {
        Value::Array(orders) => Ok(orders),
        other => Err(format!("GET /_local/orders: not a list: {other}")),
    }
}

/// The table `scripts/bench` prints.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| orders/s | placed | refused | texted | order → SMS p50 | p99 | max |\n|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {:.1} ms | {:.1} ms | {:.1} ms |\n",
            r.rate, r.placed, r.refused, r.texted, r.p50_ms, r.p99_ms, r.max_ms
        ));
    }
    out
}

/// The rows as JSON.
pub fn json(rows: &[Row]) -> Value {
    json!(rows)
}
