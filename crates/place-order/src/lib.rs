//! `place-order`: `POST /orders`. Validated and priced exactly like a bill, then the
//! `order.placed` message (with the prices quoted) is enqueued and the order id returned at
//! once (202); the processor records it at those prices. The order id is derived from the
//! customer and the `Idempotency-Key`, so a retried request names the same order and never
//! makes a second one; the key is looked up before anything is priced, so a retry gets the
//! first answer whatever the catalog says by then.

use std::sync::Arc;

use chrono::Utc;
use composition::{Adapters, App};
use domain::auth::Function;
use domain::bill::quote;
use domain::order::{Delivery, Order, OrderPlaced, OrderRequest, Quote};
use domain::ports::{
    Catalog, KeyUse, KeyUses, OrderQueue, OrderStore, OutgoingMessage, Remembered,
};
use domain::rate::OrderRate;
use domain::{CustomerId, Error, IdempotencyKey, OrderId, PortError};
use http_kit::{ApiRequest, HttpFunction, Reply};
use retry_policy::PIPELINE;
use serde_json::json;
use settings::ConfigError;

pub struct PlaceOrder {
    pub catalog: Arc<dyn Catalog>,
    /// Read when a key's use is forgotten: the key still names the order it placed.
    pub orders: Arc<dyn OrderStore>,
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
            orders: adapters.order_store().await?,
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
        let customer = &request.principal.sub;
        let order_id = OrderId::for_request(customer, key.as_ref());
        tracing::Span::current().record("order_id", order_id.to_string());
        let fingerprint = fingerprint(&order);
        // The key first: a retry of an order already placed gets its first answer, whatever
        // the catalog says now (the stock it finds gone may be that very order's).
        if key.is_some()
            && let Some(answer) = self.replay(order_id, &fingerprint).await?
        {
            return Ok(queued(order_id, &answer));
        }
        let bill = quote(self.catalog.as_ref(), &order.basket).await?;
        // The prices of the 202 travel with the order: the processor honours them.
        let message = OrderPlaced::new(
            order_id,
            customer.clone(),
            &order,
            Some(Quote::of(&bill)),
            Utc::now(),
        );
        let mut sent = KeyUse {
            order_id,
            fingerprint,
            answer: json!({"order_id": order_id, "status": "queued", "total": bill.total}),
            message: Some(
                serde_json::to_string(&message).map_err(|e| Error::Internal(e.to_string()))?,
            ),
        };
        // Counted before the key is bound: a refused order binds nothing, and its key may be
        // sent again later. A retry of a counted order is not counted again.
        self.within_rate(customer, order_id).await?;
        if key.is_some() {
            sent = self.first_use(sent).await?;
        }
        self.enqueue(sent.message.as_deref().unwrap_or_default())
            .await?;
        telemetry::count(telemetry::metric::ORDERS_PLACED);
        tracing::info!(%customer, "order queued");
        Ok(queued(order_id, &sent.answer))
    }
}

fn queued(order_id: OrderId, answer: &serde_json::Value) -> Reply {
    Reply::json(202, answer).location(&format!("/orders/{order_id}"))
}

/// A digest of the request as validated: the basket's lines (merged, in order) and the
/// delivery, so that a retry differing only in spacing or key order is the same request.
fn fingerprint(order: &OrderRequest) -> String {
    let lines = order
        .basket
        .lines()
        .iter()
        .map(|l| (l.product_id.to_string(), l.quantity));
    digest(lines.collect(), &order.delivery)
}

/// The digest of a recorded order: its request's, for the lines are the basket's, in order.
fn order_fingerprint(order: &Order) -> String {
    let lines = order
        .lines
        .iter()
        .map(|l| (l.product_id.to_string(), l.quantity));
    digest(lines.collect(), &order.delivery)
}

fn digest(lines: Vec<(String, u32)>, delivery: &Delivery) -> String {
    let canonical = json!({"items": lines, "delivery": delivery}).to_string();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn key_reused() -> Error {
    Error::IdempotencyKeyReused(
        "This Idempotency-Key was used for another order request: use a new key for a new order"
            .to_owned(),
    )
}

impl PlaceOrder {
    /// The first answer to a key already used: from its remembered use (its message sent
    /// again: the first attempt may have died before sending it; the processor records an
    /// order once whatever the copies), or, once that is forgotten, from the order it placed,
    /// which it names for as long as the order exists. `None`: the key is new.
    async fn replay(
        &self,
        order_id: OrderId,
        fingerprint: &str,
    ) -> Result<Option<serde_json::Value>, Error> {
        let recalled = PIPELINE
            .run("recall the key", PortError::is_transient, || {
                self.key_uses.recall(order_id)
            })
            .await?;
        if let Some(earlier) = recalled {
            if earlier.fingerprint != fingerprint {
                return Err(key_reused());
            }
            return match &earlier.message {
                Some(message) => {
                    self.enqueue(message).await?;
                    Ok(Some(earlier.answer))
                }
                // A use remembered before messages were kept: priced and sent as before.
                None => Ok(None),
            };
        }
        let placed = PIPELINE
            .run("read the order", PortError::is_transient, || {
                self.orders.get(order_id)
            })
            .await?;
        let Some(placed) = placed else {
            return Ok(None);
        };
        if order_fingerprint(&placed) != fingerprint {
            return Err(key_reused());
        }
        Ok(answer_of(&placed))
    }

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
        telemetry::count(telemetry::metric::ORDERS_RATE_LIMITED);
        Err(rate.refused(&window))
    }

    /// Binds the key to this use, or, when a concurrent request with the same key got there
    /// first, to that one's (the same request: its answer and message; another: 422).
    async fn first_use(&self, key_use: KeyUse) -> Result<KeyUse, Error> {
        let remembered = PIPELINE
            .run("remember the key", PortError::is_transient, || {
                self.key_uses.remember(&key_use)
            })
            .await?;
        match remembered {
            Remembered::First => Ok(key_use),
            Remembered::Before(earlier) if earlier.fingerprint == key_use.fingerprint => {
                Ok(KeyUse {
                    message: earlier.message.or(key_use.message),
                    ..earlier
                })
            }
            Remembered::Before(_) => Err(key_reused()),
        }
    }

    /// Sends the message, retrying a refused entry or a throttle inside the invocation. A
    /// retry after an unknown outcome may enqueue the order twice: the processor records it
    /// once (the order id is the message's).
    async fn enqueue(&self, body: &str) -> Result<(), Error> {
        let entry = [OutgoingMessage {
            id: "0".to_owned(),
            body: body.to_owned(),
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

/// The 202 of an order the key placed, from the order as recorded: its total, or for a
/// rejected one (recorded without a total) the sum of its priced lines. `None` when it has
/// neither (a product unknown by then): the request is then priced again.
fn answer_of(order: &Order) -> Option<serde_json::Value> {
    let total = order.total.or_else(|| {
        let mut lines = order.lines.iter().map(|l| l.line_total);
        let first = lines.next()??;
        lines.try_fold(first, |sum, line| sum.checked_add(line?).ok())
    })?;
    Some(json!({"order_id": order.id, "status": "queued", "total": total}))
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
