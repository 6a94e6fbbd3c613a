//! `order-total`: `POST /orders/total`, the bill for a basket in exact money.

use std::sync::Arc;

use domain::Error;
use domain::auth::Scope;
use domain::bill::{Basket, quote};
use domain::ports::Catalog;
use http_kit::{Cors, json_body, json_response, principal};
use lambda_http::{Body, Request, Response};

pub struct OrderTotal {
    pub catalog: Arc<dyn Catalog>,
    pub cors: Cors,
}

pub async fn handler(app: &OrderTotal, req: Request) -> Response<Body> {
    http_kit::respond(&app.cors, req, |req| handle(app, req)).await
}

async fn handle(app: &OrderTotal, req: Request) -> Result<Response<Body>, Error> {
    principal(&req)?.require(Scope::OrdersWrite)?;
    if req.method() != http::Method::POST {
        return Err(Error::MethodNotAllowed {
            allowed: vec!["POST"],
        });
    }
    let basket = Basket::from_json(&json_body(&req)?).map_err(Error::Validation)?;
    let bill = quote(app.catalog.as_ref(), &basket).await?;
    Ok(json_response(200, &bill))
}
