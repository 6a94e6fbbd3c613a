//! Local-only, unauthenticated routes under `/_local` (the server listens on loopback only):
//! health, the SMS outbox, dead letters and their redrive, stats, the faults injected, every
//! order and every product's stock as stored (for a rehearsal's invariants, read past the
//! fault layer), the demo tokens; and for the operator console, the metrics stream, the fault
//! profile, and a rehearsal's invariants (a baseline before it, the verdict after).

use std::str::FromStr;
use std::sync::{Arc, Mutex};

use bus_embedded::{Bus, NOTIFICATIONS, ORDERS};
use domain::ports::{Catalog, PageRequest};
use domain::{Error, PortError};
use http::{Method, StatusCode, header};
use serde_json::{Value, json};
use store_dynamodb::DynamoStore;

use crate::audit::{Audit, Snapshot};
use crate::gateway::gateway_error;
use crate::metrics::Metrics;
use crate::simulate::{Client, Enqueued};
use crate::tokens;

pub struct LocalRoutes {
    pub bus: Bus,
    /// The store itself, without the fault layer (`GET /_local/orders`).
    pub store: DynamoStore,
    /// Signs the demo principals' tokens the page offers (`GET /_local/tokens`).
    pub key: Arc<token_signer::SigningKey>,
    /// What `--faults` injects, and has injected (`GET /_local/faults`).
    pub faults: Arc<faults::Faults>,
    /// The console's samples (`GET /_local/metrics/stream`).
    pub metrics: Arc<Metrics>,
    /// This server's own URL: a rehearsal's invariants are read from the local routes, as
    /// `simulate` reads them.
    pub base: String,
    /// The stores before the console's rehearsal.
    pub baseline: Mutex<Option<Snapshot>>,
    /// The functions' settings and the DynamoDB endpoint (`GET /_local/environment`).
    pub environment: Value,
    /// How often the reconciler runs and how long an accepted order waits for it, in seconds
    /// (`GET /_local/stats`: `simulate` waits that long for a lost event to be healed).
    pub reconciler: (u64, u64),
}

impl LocalRoutes {
    /// The answer of a local route, to a request addressed to this machine by name (a page
    /// that rebinds its DNS name to 127.0.0.1 gets nothing) and, for a `POST`, sent from a
    /// loopback page (no other site can trigger a redrive).
    pub async fn answer(
        &self,
        parts: &http::request::Parts,
        path: &str,
        body: &[u8],
    ) -> axum::response::Response {
        if let Err(refusal) = guard(parts) {
            return gateway_error(&refusal);
        }
        let result = match (&parts.method, path) {
            (&Method::GET, "/_local/metrics/stream") => return self.metrics.stream(),
            (&Method::POST, "/_local/faults") => return self.set_faults(body),
            (&Method::POST, "/_local/rehearsal/baseline") => return self.baseline().await,
            (&Method::POST, "/_local/rehearsal/verdict") => return self.verdict(body).await,
            (&Method::GET, "/_local/orders") => self.orders().await,
            (&Method::GET, "/_local/stock") => self.stock().await,
            (&Method::GET, "/_local/health") => Ok(json!({"status": "ok"})),
            (&Method::GET, "/_local/environment") => Ok(self.environment.clone()),
            (&Method::GET, "/_local/sms") => self.bus.sms().map(|sms| json!(sms)),
            (&Method::GET, "/_local/dlq") => self.bus.dead_letters().map(|dead| json!(dead)),
            (&Method::POST, "/_local/dlq/redrive") => {
                self.bus.redrive().map(|n| json!({"redriven": n}))
            }
            (&Method::GET, "/_local/stats") => self.stats(),
            (&Method::GET, "/_local/faults") => Ok(json!({
                "probabilities": self.faults.probabilities(),
                "seed": self.faults.seed(),
                "injected": self.faults.injected(),
                // Orders whose SMS may have gone out unknown to its sender, with how often: a
                // rehearsal allows a repeated SMS only within these windows.
                "unknown_sms_outcomes": self.faults.unknown_sms_outcomes(),
                // DynamoDB's per-item write limit (null when off), and its refusals per item.
                "item_write_limit": self.faults.item_limit().map(|limit| json!({
                    "units_per_second": limit.per_second(),
                    "refused": limit.refused(),
                })),
            })),
            // The grants each function's DynamoDB calls needed: what its role must allow.
            (&Method::GET, "/_local/calls") => Ok(json!(self.faults.calls().needed())),
            (&Method::GET, "/_local/tokens") => return self.demo_tokens(),
            (_, path) => return gateway_error(&refusal(path)),
        };
        match result {
            Ok(value) => json_response(&value),
            Err(e) => gateway_error(&Error::from(e)),
        }
    }

    /// `{"faults": "default" | "none" | "name=p,…"}`: the fault profile from now on.
    fn set_faults(&self, body: &[u8]) -> axum::response::Response {
        let spec = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v["faults"].as_str().map(str::to_owned))
            .ok_or_else(|| Error::validation("faults", "is required: default, none or name=p,…"))
            .and_then(|s| {
                faults::FaultSpec::from_str(&s).map_err(|e| Error::validation("faults", e))
            });
        match spec {
            Ok(spec) => {
                self.faults.set_spec(spec);
                tracing::warn!(faults = ?self.faults.probabilities(), "fault profile changed");
                json_response(&json!({"probabilities": self.faults.probabilities()}))
            }
            Err(e) => gateway_error(&e),
        }
    }

    /// The stores as they are before a rehearsal (replacing any earlier baseline).
    async fn baseline(&self) -> axum::response::Response {
        let client = Client::local(&self.base);
        match tokio::task::spawn_blocking(move || Snapshot::take(&client)).await {
            Ok(Ok(snapshot)) => {
                if let Ok(mut baseline) = self.baseline.lock() {
                    *baseline = Some(snapshot);
                }
                json_response(&json!({"baseline": "taken"}))
            }
            Ok(Err(e)) => gateway_error(&Error::Internal(e)),
            Err(e) => gateway_error(&Error::Internal(e.to_string())),
        }
    }

    /// `{"invalid": n, "order_ids": [...]}` (what `POST /simulations` answered), once the
    /// queues have drained: the rehearsal's invariants (`audit.rs`) against the baseline.
    async fn verdict(&self, body: &[u8]) -> axum::response::Response {
        let Some(run) = enqueued(body) else {
            return gateway_error(&Error::validation(
                "body",
                "must be POST /simulations's answer",
            ));
        };
        let Some(before) = self.baseline.lock().ok().and_then(|mut b| b.take()) else {
            return gateway_error(&Error::PreconditionFailed(
                "Take a baseline (POST /_local/rehearsal/baseline) before the rehearsal".to_owned(),
            ));
        };
        let client = Client::local(&self.base);
        match tokio::task::spawn_blocking(move || Snapshot::take(&client)).await {
            Ok(Ok(after)) => {
                let audit = Audit::of(&before, &after, &run);
                let failures = audit.failures();
                json_response(&json!({
                    "passed": failures.is_empty(),
                    "failures": failures,
                    "invariants": audit.report().lines().collect::<Vec<_>>(),
                }))
            }
            Ok(Err(e)) => gateway_error(&Error::Internal(e)),
            Err(e) => gateway_error(&Error::Internal(e.to_string())),
        }
    }

    /// The demo principals with fresh tokens, for the page's one-click sign-in.
    fn demo_tokens(&self) -> axum::response::Response {
        match tokens::demo_tokens(&self.key) {
            Ok(tokens) => json_response(&json!(tokens)),
            Err(e) => gateway_error(&Error::Internal(e)),
        }
    }

    /// Every order as stored, compactly: what a rehearsal's invariants are computed from.
    async fn orders(&self) -> Result<Value, PortError> {
        let orders = self.store.all_orders().await?;
        Ok(Value::from(
            orders
                .iter()
                .map(|o| {
                    let lines: Vec<Value> = o
                        .lines
                        .iter()
                        .map(|l| json!({"product_id": l.product_id, "quantity": l.quantity}))
                        .collect();
                    json!({"id": o.id, "status": o.status.as_str(), "lines": lines,
                           "placed_at": o.created_at, "texted_at": o.texted_at,
                           "dispatched_at": o.dispatched_at})
                })
                .collect::<Vec<_>>(),
        ))
    }

    /// Every product's stock, as stored: `{"product id": stock}`.
    async fn stock(&self) -> Result<Value, PortError> {
        let mut stock = serde_json::Map::new();
        let mut page = PageRequest {
            limit: 100,
            cursor: None,
        };
        loop {
            let listed = self.store.list(None, &page).await?;
            for product in listed.items {
                stock.insert(product.id.to_string(), json!(product.stock));
            }
            match listed.next_cursor {
                Some(cursor) => page.cursor = Some(cursor),
                None => return Ok(Value::Object(stock)),
            }
        }
    }

    fn stats(&self) -> Result<Value, PortError> {
        // Counted in SQL: `simulate` polls this while the tables grow.
        let (orders, notifications) = (
            self.bus.counts(ORDERS.name)?,
            self.bus.counts(NOTIFICATIONS.name)?,
        );
        Ok(json!({
            "orders_queue": orders,
            "notifications_queue": notifications,
            "dead_letters": orders.dead + notifications.dead,
            "sms_sent": self.bus.sms_count()?,
            "events": self.bus.published(),
            // Commits that changed something: the bus's (queues, topic, outbox) and DynamoDB's.
            "writes": {"bus": self.bus.writes(), "store": self.faults.store_writes()},
            "reconciler": {"every_s": self.reconciler.0, "after_s": self.reconciler.1},
        }))
    }
}

/// A simulation's answer, as the console hands it back for the verdict.
fn enqueued(body: &[u8]) -> Option<Enqueued> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let order_ids: Vec<String> = v["order_ids"]
        .as_array()?
        .iter()
        .filter_map(|id| id.as_str().map(str::to_owned))
        .collect();
    let invalid = v["invalid"].as_u64()?;
    Some(Enqueued {
        orders: order_ids.len() as u64 + invalid,
        invalid,
        order_ids,
    })
}

/// Whether `host` (a `Host` header, or an origin's host) names this machine: `127.0.0.1`,
/// `localhost` or `[::1]`, with or without a port.
fn is_loopback(host: &str) -> bool {
    ["127.0.0.1", "localhost", "[::1]"].iter().any(|name| {
        host.strip_prefix(name).is_some_and(|rest| {
            rest.is_empty()
                || rest
                    .strip_prefix(':')
                    .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
        })
    })
}

/// The local routes answer only requests addressed to this machine by name; a `POST` only
/// from a page on this machine (its `Origin`, when a browser sends one, is a loopback origin).
fn guard(parts: &http::request::Parts) -> Result<(), Error> {
    let header = |name| {
        parts
            .headers
            .get(name)
            .and_then(|h: &http::HeaderValue| h.to_str().ok())
    };
    if !header(header::HOST).is_some_and(is_loopback) {
        return Err(Error::Forbidden(
            "The local routes answer only requests to http://127.0.0.1 or http://localhost"
                .to_owned(),
        ));
    }
    let cross_site = header(header::ORIGIN).is_some_and(|origin| {
        let host = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"));
        !host.is_some_and(is_loopback)
    });
    if parts.method == Method::POST && cross_site {
        return Err(Error::Forbidden(
            "A local route takes a POST only from a page on this machine".to_owned(),
        ));
    }
    Ok(())
}

/// 405 on a local route with the wrong method, else 404.
fn refusal(path: &str) -> Error {
    let allowed = match path {
        "/_local/health"
        | "/_local/sms"
        | "/_local/dlq"
        | "/_local/stats"
        | "/_local/tokens"
        | "/_local/orders"
        | "/_local/stock"
        | "/_local/environment"
        | "/_local/metrics/stream" => vec!["GET"],
        "/_local/faults" => vec!["GET", "POST"],
        "/_local/dlq/redrive" | "/_local/rehearsal/baseline" | "/_local/rehearsal/verdict" => {
            vec!["POST"]
        }
        _ => return Error::NotFound("No such local route".to_owned()),
    };
    Error::MethodNotAllowed { allowed }
}

fn json_response(value: &Value) -> axum::response::Response {
    axum::response::Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(axum::body::Body::from(value.to_string()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(method: &str, host: &str, origin: Option<&str>) -> http::request::Parts {
        let mut request = http::Request::builder().method(method).header("host", host);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.body(()).unwrap().into_parts().0
    }

    #[test]
    fn only_this_machine_by_name_and_no_cross_site_post() {
        for host in ["127.0.0.1:3000", "localhost", "localhost:1", "[::1]:8080"] {
            assert!(guard(&parts("GET", host, None)).is_ok(), "{host}");
        }
        for host in [
            "evil.example",
            "127.0.0.1.evil.example",
            "localhost:1@evil",
            "127.0.0.2",
        ] {
            assert!(guard(&parts("GET", host, None)).is_err(), "{host}");
        }
        let host = "127.0.0.1:3000";
        assert!(guard(&parts("POST", host, Some("http://127.0.0.1:3000"))).is_ok());
        assert!(guard(&parts("POST", host, Some("http://localhost:5173"))).is_ok());
        assert!(
            guard(&parts("POST", host, None)).is_ok(),
            "curl sends no Origin"
        );
        for origin in [
            "https://evil.example",
            "http://localhost.evil.example",
            "null",
        ] {
            assert!(
                guard(&parts("POST", host, Some(origin))).is_err(),
                "{origin}"
            );
        }
        assert!(guard(&parts("GET", host, Some("https://evil.example"))).is_ok());
    }
}
