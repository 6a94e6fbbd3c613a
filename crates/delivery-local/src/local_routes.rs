//! Local-only, unauthenticated routes under `/_local` (the server listens on loopback only):
//! health, the SMS outbox, dead letters and their redrive, stats, the faults injected, every
//! order and every product's stock as stored (for a rehearsal's invariants, read past the
//! fault layer), and the demo tokens.

use std::sync::Arc;

use bus_embedded::{Bus, NOTIFICATIONS, ORDERS};
use domain::ports::{Catalog, PageRequest};
use domain::{Error, PortError};
use http::{Method, StatusCode, header};
use serde_json::{Value, json};
use store_dynamodb::DynamoStore;

use crate::gateway::gateway_error;
use crate::tokens;

pub struct LocalRoutes {
    pub bus: Bus,
    /// The store itself, without the fault layer (`GET /_local/orders`).
    pub store: DynamoStore,
    /// Signs the demo principals' tokens the page offers (`GET /_local/tokens`).
    pub key: Arc<token_signer::SigningKey>,
    /// What `--faults` injects, and has injected (`GET /_local/faults`).
    pub faults: Arc<faults::Faults>,
}

impl LocalRoutes {
    /// The answer of a local route, to a request addressed to this machine by name (a page
    /// that rebinds its DNS name to 127.0.0.1 gets nothing) and, for a `POST`, sent from a
    /// loopback page (no other site can trigger a redrive).
    pub async fn answer(
        &self,
        parts: &http::request::Parts,
        path: &str,
    ) -> axum::response::Response {
        if let Err(refusal) = guard(parts) {
            return gateway_error(&refusal);
        }
        let result = match (&parts.method, path) {
            (&Method::GET, "/_local/orders") => self.orders().await,
            (&Method::GET, "/_local/stock") => self.stock().await,
            (&Method::GET, "/_local/health") => Ok(json!({"status": "ok"})),
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
            })),
            (&Method::GET, "/_local/tokens") => return self.demo_tokens(),
            (_, path) => return gateway_error(&refusal(path)),
        };
        match result {
            Ok(value) => json_response(&value),
            Err(e) => gateway_error(&Error::from(e)),
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
                    json!({"id": o.id, "status": o.status.as_str(), "lines": lines})
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
        }))
    }
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
    match path {
        "/_local/health" | "/_local/sms" | "/_local/dlq" | "/_local/stats" | "/_local/tokens"
        | "/_local/faults" | "/_local/orders" | "/_local/stock" => Error::MethodNotAllowed {
            allowed: vec!["GET"],
        },
        "/_local/dlq/redrive" => Error::MethodNotAllowed {
            allowed: vec!["POST"],
        },
        _ => Error::NotFound("No such local route".to_owned()),
    }
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
