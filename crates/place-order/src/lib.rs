//! `place-order`: `POST /orders`. Validated and priced exactly like a bill, then the
//! `order.placed` message is enqueued and the order id returned at once (202); the processor
//! records it. The order id is derived from the customer and the `Idempotency-Key`, so a
//! retried request names the same order and never makes a second one.

use std::sync::Arc;

use chrono::Utc;
use domain::auth::Scope;
use domain::bill::quote;
use domain::order::{OrderPlaced, OrderRequest};
use domain::ports::{Catalog, OrderQueue, OutgoingMessage};
use domain::{Error, IdempotencyKey, OrderId};
use http::HeaderValue;
use http_kit::{Cors, json_body, json_response, principal};
use lambda_http::{Body, Request, Response};
use serde_json::json;

pub struct PlaceOrder {
    pub catalog: Arc<dyn Catalog>,
    pub queue: Arc<dyn OrderQueue>,
    pub cors: Cors,
}

pub async fn handler(app: &PlaceOrder, req: Request) -> Response<Body> {
    http_kit::respond(&app.cors, req, |req| handle(app, req)).await
}

fn idempotency_key(req: &Request) -> Result<Option<IdempotencyKey>, Error> {
    let Some(value) = req.headers().get("idempotency-key") else {
        return Ok(None);
    };
    let invalid = |m: &str| Error::validation("Idempotency-Key", m);
    let value = value
        .to_str()
        .map_err(|_| invalid("must be visible ASCII"))?;
    IdempotencyKey::parse(value)
        .map(Some)
        .map_err(|e| invalid(e.0))
}

async fn handle(app: &PlaceOrder, req: Request) -> Result<Response<Body>, Error> {
    let principal = principal(&req)?;
    principal.require(Scope::OrdersWrite)?;
    if req.method() != http::Method::POST {
        return Err(Error::MethodNotAllowed {
            allowed: vec!["POST"],
        });
    }
    let key = idempotency_key(&req)?;
    let request = OrderRequest::from_json(&json_body(&req)?).map_err(Error::Validation)?;
    let bill = quote(app.catalog.as_ref(), &request.basket).await?;
    let order_id = OrderId::for_request(&principal.sub, key.as_ref());
    let message = OrderPlaced::new(order_id, principal.sub.clone(), &request, Utc::now());
    let body = serde_json::to_string(&message).map_err(|e| Error::Internal(e.to_string()))?;
    let failures = app
        .queue
        .send_batch(&[OutgoingMessage {
            id: "0".to_owned(),
            body,
        }])
        .await?;
    if let Some(failure) = failures.first() {
        return Err(Error::Transient(format!(
            "enqueueing order {order_id}: {}",
            failure.reason
        )));
    }
    tracing::info!(order_id = %order_id, customer_id = %principal.sub, "order queued");
    let mut response = json_response(
        202,
        &json!({"order_id": order_id, "status": "queued", "total": bill.total}),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("/orders/{order_id}")) {
        response.headers_mut().insert(http::header::LOCATION, v);
    }
    Ok(response)
}
