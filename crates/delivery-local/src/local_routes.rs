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
    pub async fn answer(
        &self,
        parts: &http::request::Parts,
        path: &str,
    ) -> axum::response::Response {
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
            (&Method::GET, "/_local/tokens") => return self.demo_tokens(parts),
            (_, path) => return gateway_error(&refusal(path)),
        };
        match result {
            Ok(value) => json_response(&value),
            Err(e) => gateway_error(&Error::from(e)),
        }
    }

    /// The demo principals with fresh tokens, for the page's one-click sign-in. Only for a
    /// request addressed to this machine by name (`Host: 127.0.0.1:…` or `localhost:…`): a
    /// page elsewhere that rebinds its DNS name to 127.0.0.1 gets nothing.
    fn demo_tokens(&self, parts: &http::request::Parts) -> axum::response::Response {
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        let loopback = ["127.0.0.1", "localhost", "[::1]"]
            .iter()
            .any(|name| host == *name || host.starts_with(&format!("{name}:")));
        if !loopback {
            return gateway_error(&Error::Forbidden(
                "Demo tokens are only for http://127.0.0.1 or http://localhost".to_owned(),
            ));
        }
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
