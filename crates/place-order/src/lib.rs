//! `place-order`: `POST /orders`. Validated and priced exactly like a bill, then the
//! `order.placed` message is enqueued and the order id returned at once (202); the processor
//! records it. The order id is derived from the customer and the `Idempotency-Key`, so a
//! retried request names the same order and never makes a second one.

use std::sync::Arc;

use chrono::Utc;
use composition::{Adapters, App};
use domain::auth::Function;
use domain::bill::quote;
use domain::order::{OrderPlaced, OrderRequest};
use domain::ports::{Catalog, KeyUse, KeyUses, OrderQueue, OutgoingMessage, Remembered};
use domain::rate::OrderRate;
use domain::{CustomerId, Error, IdempotencyKey, OrderId, PortError};
use http_kit::{ApiRequest, HttpFunction, Reply};
use retry_policy::PIPELINE;
use serde_json::json;
use settings::ConfigError;

pub struct PlaceOrder {
    pub catalog: Arc<dyn Catalog>,
    pub queue: Arc<dyn OrderQueue>,
    pub key_uses: Arc<dyn KeyUses>,
    /// `ORDERS_PER_PRINCIPAL_PER_HOUR`; none when unset (Terraform always sets it).
    pub rate: Option<OrderRate>,
}

impl App for PlaceOrder {
    const NAME: &'static str = "place-order";

    async fn new(adapters: &Adapters) -> Result<PlaceOrder, ConfigError> {
        let rate = settings::optional(adapters.settings(), "ORDERS_PER_PRINCIPAL_PER_HOUR")
            .map(|v| {
                OrderRate::parse(&v)
                    .map_err(|e| ConfigError::malformed("ORDERS_PER_PRINCIPAL_PER_HOUR", e))
            })
            .transpose()?;
        Ok(PlaceOrder {
            catalog: adapters.catalog().await?,
            queue: adapters.order_queue().await?,
            key_uses: adapters.key_uses().await?,
            rate,
        })
    }
}

fn idempotency_key(request: &ApiRequest) -> Result<Option<IdempotencyKey>, Error> {
    request
        .header("Idempotency-Key")?
        .map(|value| {
            IdempotencyKey::parse(value).map_err(|e| Error::validation("Idempotency-Key", e.0))
        })
        .transpose()
}

impl HttpFunction for PlaceOrder {
    const FUNCTION: Function = Function::PlaceOrder;

    async fn handle(&self, request: ApiRequest) -> Result<Reply, Error> {
        let key = idempotency_key(&request)?;
        let order = request.json(OrderRequest::from_json)?;
        let bill = quote(self.catalog.as_ref(), &order.basket).await?;
        let customer = &request.principal.sub;
        let order_id = OrderId::for_request(customer, key.as_ref());
        tracing::Span::current().record("order_id", order_id.to_string());
        let mut answer = json!({"order_id": order_id, "status": "queued", "total": bill.total});
        // Counted before the key is bound: a refused order binds nothing, and its key may be
        // sent again later. A retry of a counted order is not counted again.
        self.within_rate(customer, order_id).await?;
        if key.is_some() {
            answer = self.first_answer(order_id, &order, answer).await?;
        }
        let message = OrderPlaced::new(order_id, customer.clone(), &order, Utc::now());
        // Again for a repeated request: its first attempt may have died before enqueueing, and
        // the processor records an order once whatever the copies.
        self.enqueue(&message).await?;
        telemetry::count("OrdersPlaced");
        tracing::info!(%customer, "order queued");
        Ok(Reply::json(202, &answer).location(&format!("/orders/{order_id}")))
    }
}

/// A digest of the request as validated: the basket's lines (merged, in order) and the
/// delivery, so that a retry differing only in spacing or key order is the same request.
fn fingerprint(order: &OrderRequest) -> String {
    let lines: Vec<(String, u32)> = order
        .basket
        .lines()
        .iter()
        .map(|l| (l.product_id.to_string(), l.quantity))
        .collect();
    let canonical = json!({"items": lines, "delivery": order.delivery}).to_string();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

impl PlaceOrder {
    /// Counts the order against its principal's hour, or refuses it (429) past the limit.
    async fn within_rate(&self, customer: &CustomerId, order_id: OrderId) -> Result<(), Error> {
        let Some(rate) = self.rate else {
            return Ok(());
        };
        let window = rate.window(Utc::now());
        let counted = PIPELINE
            .run("count the order", PortError::is_transient, || {
                self.key_uses.count_order(customer, order_id, &window)
            })
            .await?;
        if counted {
            return Ok(());
        }
        tracing::info!(%customer, limit = rate.per_hour(), "order refused: hourly limit reached");
        telemetry::count("OrdersRateLimited");
        Err(rate.refused(&window))
    }

    /// The answer for a request with an `Idempotency-Key`: this one, remembered, on the key's
    /// first use; the first answer again for the same request; 422 for another request.
    async fn first_answer(
        &self,
        order_id: OrderId,
        order: &OrderRequest,
        answer: serde_json::Value,
    ) -> Result<serde_json::Value, Error> {
        let key_use = KeyUse {
            order_id,
            fingerprint: fingerprint(order),
            answer,
        };
        let remembered = PIPELINE
            .run("remember the key", PortError::is_transient, || {
                self.key_uses.remember(&key_use)
            })
            .await?;
        match remembered {
            Remembered::First => Ok(key_use.answer),
            Remembered::Before(earlier) if earlier.fingerprint == key_use.fingerprint => {
                Ok(earlier.answer)
            }
            Remembered::Before(_) => Err(Error::IdempotencyKeyReused(
                "This Idempotency-Key was used for another order request: use a new key for a new order".to_owned(),
            )),
        }
    }

    /// Sends the message, retrying a refused entry or a throttle inside the invocation. A
    /// retry after an unknown outcome may enqueue the order twice: the processor records it
    /// once (the order id is the message's).
    async fn enqueue(&self, message: &OrderPlaced) -> Result<(), Error> {
        let body = serde_json::to_string(message).map_err(|e| Error::Internal(e.to_string()))?;
        let entry = [OutgoingMessage {
            id: "0".to_owned(),
            body,
        }];
        let send = || async {
            match self.queue.send_batch(&entry).await?.first() {
                None => Ok(()),
                Some(f) if f.transient => Err(PortError::Transient(f.reason.clone())),
                Some(f) => Err(PortError::Permanent(f.reason.clone())),
            }
        };
        PIPELINE
            .run("enqueue the order", PortError::is_transient, send)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "the order could not be enqueued");
                Error::from(e)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(body: &str) -> OrderRequest {
        OrderRequest::from_json(&serde_json::from_str(body).unwrap()).unwrap()
    }

    #[test]
    fn the_fingerprint_is_the_request_as_validated() {
        let a = request(
            r#"{"items": [{"product_id": "p1", "quantity": 2}, {"product_id": "p2", "quantity": 1}],
                "delivery": {"address": "1 Main St", "phone": "+15551234567"}}"#,
        );
        let spaced = request(
            r#"{"delivery": {"phone": "+15551234567", "address": "1 Main St"},
                "items": [ {"quantity": 2, "product_id": "p1"}, {"product_id": "p2", "quantity": 1} ]}"#,
        );
        let other = request(
            r#"{"items": [{"product_id": "p1", "quantity": 3}, {"product_id": "p2", "quantity": 1}],
                "delivery": {"address": "1 Main St", "phone": "+15551234567"}}"#,
        );
        assert_eq!(fingerprint(&a), fingerprint(&spaced));
        assert_ne!(fingerprint(&a), fingerprint(&other));
        assert_eq!(fingerprint(&a).len(), 64, "SHA-256, in hex");
    }
}
