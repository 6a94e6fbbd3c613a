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
use domain::ports::{Catalog, OrderQueue, OutgoingMessage};
use domain::{Error, IdempotencyKey, OrderId, PortError};
use http_kit::{ApiRequest, HttpFunction, Reply};
use retry_policy::PIPELINE;
use serde_json::json;
use settings::ConfigError;

pub struct PlaceOrder {
    pub catalog: Arc<dyn Catalog>,
    pub queue: Arc<dyn OrderQueue>,
}

impl App for PlaceOrder {
    const NAME: &'static str = "place-order";

    async fn new(adapters: &Adapters) -> Result<PlaceOrder, ConfigError> {
        Ok(PlaceOrder {
            catalog: adapters.catalog().await?,
            queue: adapters.order_queue().await?,
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
        let message = OrderPlaced::new(order_id, customer.clone(), &order, Utc::now());
        self.enqueue(&message).await?;
        tracing::info!(%customer, "order queued");
        Ok(Reply::json(
            202,
            &json!({"order_id": order_id, "status": "queued", "total": bill.total}),
        )
        .location(&format!("/orders/{order_id}")))
    }
}

impl PlaceOrder {
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
